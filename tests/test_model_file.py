# SPDX-License-Identifier: MIT
"""Model files: round trip, self-description, clear errors on corrupt or foreign files."""

import json

import numpy as np
import pytest

from firstspike.model.network import ModelFileError, Network, parse_arch


def _binary_net(rng):
    w0 = rng.choice(np.array([-1, 1], dtype=np.int8), size=(7, 13))
    w1 = rng.choice(np.array([-1, 1], dtype=np.int8), size=(3, 7))
    return Network([w0, w1], [4, 1], binary=True, meta={"note": "test"})


def test_binary_round_trip_and_extensionless_path(tmp_path):
    net = _binary_net(np.random.default_rng(1))
    net.save(tmp_path / "m.npz")
    back = Network.load(tmp_path / "m")  # 'models/x' finds 'models/x.npz'
    assert back.sizes == [13, 7, 3] and back.thresholds == [4, 1] and back.binary
    for a, b in zip(net.weights, back.weights):
        assert a.dtype == b.dtype == np.int8 and (a == b).all()
    assert back.meta == {"note": "test"} and back.encoding == "bs4nn" and back.T == 256


def test_real_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    net = Network([rng.normal(size=(4, 5))], [1.5], binary=False, encoding="s4nn")
    back = Network.load(net.save(tmp_path / "r.npz"))
    assert (back.weights[0] == net.weights[0]).all() and back.thresholds == [1.5]


def test_binary_file_is_small(tmp_path):
    w = np.ones((600, 784), dtype=np.int8)
    path = Network([w, np.ones((10, 600), dtype=np.int8)], [24, 11], binary=True).save(tmp_path / "b.npz")
    assert path.stat().st_size < 600 * 784 // 8 + 2000  # one bit per weight plus a header


def test_corrupt_and_foreign_files(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"garbage")
    with pytest.raises(ModelFileError, match="not a readable"):
        Network.load(bad)
    other = tmp_path / "other.npz"
    np.savez(other, header=np.frombuffer(json.dumps({"format": "x"}).encode(), dtype=np.uint8))
    with pytest.raises(ModelFileError, match="not a firstspike model"):
        Network.load(other)
    newer = tmp_path / "newer.npz"
    np.savez(newer, header=np.frombuffer(json.dumps({"format": "firstspike-model", "version": 99}).encode(),
                                         dtype=np.uint8))
    with pytest.raises(ModelFileError, match="version 99"):
        Network.load(newer)
    with pytest.raises(ModelFileError, match="no model at"):
        Network.load(tmp_path / "missing")


def test_truncated_sign_bits_are_reported(tmp_path):
    net = _binary_net(np.random.default_rng(3))
    path = net.save(tmp_path / "m.npz")
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    arrays["w0"] = arrays["w0"][:-1]
    np.savez(tmp_path / "short.npz", **arrays)
    with pytest.raises(ModelFileError, match="corrupt"):
        Network.load(tmp_path / "short.npz")


def test_shape_and_value_checks():
    with pytest.raises(ValueError, match="layer 1 expects 6 inputs but layer 0 has 5 neurons"):
        Network([np.ones((5, 3), np.int8), np.ones((2, 5 + 1), np.int8)], [1, 1], binary=True)
    with pytest.raises(ValueError, match=r"\+1/-1"):
        Network([np.zeros((2, 3), np.int8)], [1], binary=True)
    with pytest.raises(ValueError, match="784-600-10"):
        parse_arch("784x600")
