# SPDX-License-Identifier: MIT
"""Model files: round trip, every earlier format version, clear errors on corrupt or foreign files."""

import io
import json
from pathlib import Path

import numpy as np
import pytest

from firstspike.cli import main
from firstspike.model.arch import parse_arch
from firstspike.model import data
from firstspike.model.infer import encode_images, run_times
from firstspike.model.network import FORMAT_VERSION, ModelFileError, Network, load_model


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
    with pytest.raises(ValueError, match="finite"):
        Network([np.array([[np.nan, 1.0]])], [1.0], binary=False)
    with pytest.raises(ValueError, match="finite"):
        Network([np.ones((1, 2))], [float("inf")], binary=False)


def _random_net(seed):
    rng = np.random.default_rng(seed)
    arch = parse_arch("2x9x9-c3k3s2p1-p2-fc4")
    kernels = [rng.choice(np.array([-1, 1], np.int8), size=layer.kernel_shape) for layer in arch.layers]
    return Network(kernels, [3, 2], arch=arch.text, T=40, meta={"seed": seed})


def test_model_file_round_trip(tmp_path):
    net = _random_net(0)
    path = net.save(tmp_path / "m.npz")
    back = load_model(tmp_path / "m")  # the suffix is optional
    assert back.arch == net.arch and back.thresholds == net.thresholds and back.T == 40
    for a, b in zip(net.kernels, back.kernels):
        assert a.dtype == b.dtype and (a == b).all()
    x = np.random.default_rng(1).integers(0, 42, size=(5, net.sizes[0]))
    assert all((p == q).all() for p, q in zip(run_times(net, x).times, run_times(back, x).times))
    assert json.loads(bytes(np.load(path)["header"]).decode())["version"] == FORMAT_VERSION


def _old_file(path, header, arrays):
    """A model file as versions 1 and 2 wrote it: JSON header bytes plus one array per layer."""
    np.savez_compressed(path, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8), **arrays)


def test_version_one_fc_files_load(tmp_path):
    """Version 1: fully connected, ``sizes`` in the header, (n_out, n_in) packed sign bits."""
    rng = np.random.default_rng(5)
    w0 = rng.choice(np.array([-1, 1], np.int8), size=(6, 9))
    w1 = rng.choice(np.array([-1, 1], np.int8), size=(3, 6))
    header = {"format": "firstspike-model", "version": 1, "sizes": [9, 6, 3], "binary": True,
              "thresholds": [2, 1], "encoding": "bs4nn", "T": 256, "rule": "hardware", "meta": {"k": 1}}
    _old_file(tmp_path / "v1.npz", header, {"w0": np.packbits(w0.reshape(-1) > 0),
                                            "w1": np.packbits(w1.reshape(-1) > 0)})
    net = load_model(tmp_path / "v1.npz")
    assert net.arch == "9-6-3" and net.thresholds == [2, 1] and net.meta == {"k": 1}
    assert (net.weights[0] == w0).all() and (net.weights[1] == w1).all()
    real = {**header, "binary": False, "thresholds": [0.5, 1.5], "encoding": "s4nn"}
    _old_file(tmp_path / "r1.npz", real, {"w0": w0 * 0.25, "w1": w1 * 1.0})
    back = load_model(tmp_path / "r1.npz")
    assert not back.binary and (back.weights[0] == w0 * 0.25).all() and back.thresholds == [0.5, 1.5]


def test_version_two_conv_files_load(tmp_path):
    """Version 2: ``"kind": "conv"`` and the arch string, (c_out, c_in, kh, kw) packed sign bits."""
    net = _random_net(3)
    header = {"format": "firstspike-model", "version": 2, "kind": "conv", "arch": net.arch,
              "sizes": net.sizes, "binary": True, "thresholds": net.thresholds, "encoding": "bs4nn",
              "T": 40, "rule": "hardware", "meta": {}}
    _old_file(tmp_path / "v2.npz", header, {f"w{i}": np.packbits(k.reshape(-1) > 0)
                                            for i, k in enumerate(net.kernels)})
    back = load_model(tmp_path / "v2.npz")
    assert back.arch == net.arch and all((a == b).all() for a, b in zip(net.kernels, back.kernels))


def test_truncated_kernel_file_is_a_clear_error(tmp_path):
    net = _random_net(2)
    with np.load(io.BytesIO(net.to_bytes())) as archive:
        arrays = {k: archive[k] for k in archive.files}
    arrays["w1"] = arrays["w1"][:2]
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ModelFileError, match="corrupt"):
        load_model(tmp_path / "bad.npz")


def test_eval_cli_reads_conv_models(tmp_path, capsys):
    rng = np.random.default_rng(4)
    arch = parse_arch("28x28-c2k5s3-p2-fc10")
    kernels = [rng.choice(np.array([-1, 1], np.int8), size=layer.kernel_shape) for layer in arch.layers]
    net = Network(kernels, [5, 3], arch=arch.text)
    net.save(tmp_path / "conv.npz")
    assert main(["eval", "--model", str(tmp_path / "conv"), "--dataset", "mnist-mini", "--json",
                 "--limit", "50"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["arch"] == arch.text and result["images"] == 50
    assert len(result["mean_spikes_per_layer"]) == 2


_MODELS = sorted((Path(__file__).resolve().parents[1] / "models").glob("*.npz"))


@pytest.mark.parametrize("path", _MODELS, ids=[p.stem for p in _MODELS])
def test_every_committed_model_survives_a_round_trip_through_the_current_format(path, tmp_path):
    """Each shipped file (written in format 1 or 2) loads, and saved again in the current version it
    is the same network: kernels, thresholds, contract and spike times on mnist-mini images."""
    net = load_model(path)
    back = load_model(net.save(tmp_path / "again.npz"))
    assert (back.arch, back.thresholds, back.binary, back.encoding, back.T, back.rule) == \
        (net.arch, net.thresholds, net.binary, net.encoding, net.T, net.rule)
    assert all(a.dtype == b.dtype and (a == b).all() for a, b in zip(net.kernels, back.kernels))
    images = data.load("mnist-mini", "test").images[:40]
    x = encode_images(net, images)
    a, b = run_times(net, x), run_times(back, x)
    assert all((p == q).all() for p, q in zip(a.times, b.times)) and (a.snaps == b.snaps).all()
