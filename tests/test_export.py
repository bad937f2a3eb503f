# SPDX-License-Identifier: MIT
"""ROM packing round trip, the three image formats, and the verifying manifest loader."""

import json

import numpy as np
import pytest

from firstspike.export import rom
from firstspike.export.manifest import ExportError, export_network, load_export
from firstspike.model.network import Network


def _random_net(rng, sizes, T=32, encoding="s4nn"):
    weights = [np.where(rng.random((sizes[i + 1], sizes[i])) < 0.5, 1, -1).astype(np.int8)
               for i in range(len(sizes) - 1)]
    return Network(weights, [int(rng.integers(0, 5)) for _ in weights], binary=True,
                   encoding=encoding, T=T)


@pytest.mark.parametrize("seed", range(6))
def test_pack_unpack_round_trip_with_lanes_that_do_not_divide(seed):
    rng = np.random.default_rng(seed)
    n_out, n_in = int(rng.integers(1, 40)), int(rng.integers(1, 30))
    w = np.where(rng.random((n_out, n_in)) < 0.5, 1, -1).astype(np.int8)
    for lanes in {1, n_out, int(rng.integers(1, n_out + 1)), max(1, n_out - 1)}:
        words = rom.pack_layer(w, lanes)
        assert len(words) == n_in * rom.groups(n_out, lanes), f"seed {seed}"
        assert (rom.unpack_layer(words, n_out, n_in, lanes) == w).all(), f"seed {seed} lanes {lanes}"
        assert rom.words_from_hex(rom.words_to_hex(words, lanes), lanes) == words
        assert rom.words_from_bytes(rom.words_to_bytes(words, lanes), lanes) == words


def test_rom_bit_order_and_address_map_by_hand():
    # 5 neurons, 2 inputs, 2 lanes -> 3 groups; word i*3+g, bit j = neuron 2g+j, 1 = +1
    w = np.array([[1, -1], [-1, -1], [1, 1], [1, -1], [-1, 1]], dtype=np.int8)
    words = rom.pack_layer(w, 2)
    assert words == [0b01, 0b11, 0b00,   # input 0: neurons (0,1) (2,3) (4,pad)
                     0b00, 0b01, 0b01]   # input 1


def test_export_writes_every_format_and_loads_back_the_same_network(tmp_path):
    net = _random_net(np.random.default_rng(3), [13, 7, 3])
    export_network(net, 4, tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["lanes"] == [4, 3] and manifest["T"] == net.T
    assert manifest["thresholds"] == net.thresholds
    assert manifest["accumulator_bits"] == net.accumulator_bits()
    assert [layer["groups"] for layer in manifest["layers"]] == [2, 1]
    back = load_export(tmp_path)
    assert back.lanes == [4, 3]
    assert all((a == b).all() for a, b in zip(net.weights, back.network.weights))
    assert back.network.thresholds == net.thresholds and back.network.encoding == net.encoding


def test_loader_rejects_a_changed_image(tmp_path):
    net = _random_net(np.random.default_rng(4), [9, 5, 2])
    export_network(net, 2, tmp_path)
    path = tmp_path / "layer0.bin"
    raw = bytearray(path.read_bytes())
    raw[0] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(ExportError, match="SHA-256"):
        load_export(tmp_path)


def test_loader_rejects_an_unknown_version_and_a_missing_folder(tmp_path):
    net = _random_net(np.random.default_rng(5), [6, 4, 2])
    export_network(net, 3, tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["version"] = 99
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ExportError, match="version 99"):
        load_export(tmp_path)
    with pytest.raises(ExportError, match="no manifest.json"):
        load_export(tmp_path / "nowhere")


def test_lanes_out_of_range_is_a_clear_error(tmp_path):
    net = _random_net(np.random.default_rng(6), [6, 4, 2])
    with pytest.raises(ValueError, match="lanes must lie in 1..4"):
        export_network(net, [5, 2], tmp_path)


def test_rtl_cli_writes_verilog_from_an_export(tmp_path):
    from firstspike.cli import main

    net = _random_net(np.random.default_rng(8), [10, 6, 3])
    export_network(net, 4, tmp_path / "rom")
    assert main(["rtl", "--manifest", str(tmp_path / "rom"), "--out", str(tmp_path / "core.v")]) == 0
    text = (tmp_path / "core.v").read_text()
    assert "module firstspike_core(" in text and "pixels__ready" in text and "spikes__payload" in text
