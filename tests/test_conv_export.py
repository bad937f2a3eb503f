# SPDX-License-Identifier: MIT
"""Conv export: kernel ROM layout by hand, round trip to identical spike times, corrupt folders."""

import json
import re

import numpy as np
import pytest

from firstspike.cli import main
from firstspike.export.manifest import ExportError, export_network, load_export
from firstspike.export.seal import seal
from firstspike.model import data as datamod
from firstspike.model import spec
from firstspike.model.arch import parse_arch
from firstspike.model.infer import run_times
from firstspike.model.network import Network

ARCHS = ["28x28-c4k5-p2-c6k3s2p1-fc10", "28x28-p2-c5k3p1-c3k2s2-fc10", "28x28-c3k3s2p1-p2-fc10"]


def _resealed(manifest):
    return {**manifest, "seal": seal(manifest)}


def _images(n=40):
    images = datamod.load("mnist-mini", "test").images[:n].reshape(n, -1)
    return spec.encode(images, "bs4nn", spec.T_DEFAULT)


def _random_conv(rng, arch):
    """Random signs; each layer's threshold is the smallest that lets at most ~30 % of it fire."""
    layers = parse_arch(arch).layers
    kernels = [np.where(rng.random(layer.kernel_shape) < 0.5, 1, -1).astype(np.int8) for layer in layers]
    thresholds = [0] * len(layers)
    x = _images(16)
    for index, layer in enumerate(layers):
        while thresholds[index] < layer.fan_in:
            net = Network(kernels, thresholds, arch=arch, binary=True, encoding="bs4nn", T=spec.T_DEFAULT)
            if (run_times(net, x).times[index] < net.T).mean() <= 0.3:
                break
            thresholds[index] += 1
    return Network(kernels, thresholds, arch=arch, binary=True, encoding="bs4nn", T=spec.T_DEFAULT)


def test_kernel_rom_layout_by_hand(tmp_path):
    # 1 input channel, 2x2 kernel, 3 output channels, 2 lanes -> 2 groups; word tap*2+g
    kernel = np.array([[[[1, -1], [-1, 1]]], [[[1, 1], [-1, -1]]], [[[-1, 1], [1, -1]]]], dtype=np.int8)
    net = Network([kernel, np.ones((2, 3, 2, 2), dtype=np.int8)], [0, 1], arch="1x3x3-c3k2-fc2")
    export_network(net, [2, 2], tmp_path)
    words = json.loads((tmp_path / "layer0.init.json").read_text())
    # tap (0,0): channels 0,1,2 = +1,+1,-1; tap (0,1): -1,+1,+1; tap (1,0): -1,-1,+1; tap (1,1): +1,-1,-1
    assert words == [0b11, 0b0, 0b10, 0b1, 0b00, 0b1, 0b01, 0b0]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    first = manifest["layers"][0]
    assert (first["kind"], first["c_in"], first["kh"], first["stride"], first["pad"], first["pool"],
            first["c_out"], first["inputs"], first["groups"]) == ("conv", 1, 2, 1, 0, 1, 3, 4, 2)
    assert manifest["layers"][1]["kind"] == "fc" and manifest["thresholds"] == [0, 1]


@pytest.mark.parametrize("seed", range(3))
def test_round_trip_gives_identical_spike_times_on_images(tmp_path, seed):
    rng = np.random.default_rng(seed)
    arch = ARCHS[seed % len(ARCHS)]
    net = _random_conv(rng, arch)
    lanes = int(rng.integers(1, 7))
    export_network(net, lanes, tmp_path)
    back = load_export(tmp_path)
    assert back.manifest["kind"] == "conv" and back.network.arch == arch, f"seed {seed}"
    assert back.lanes == [min(lanes, layer.c_out) for layer in net.layers], f"seed {seed}"
    assert back.network.thresholds == net.thresholds, f"seed {seed}"
    x = _images()
    a, b = run_times(net, x), run_times(back.network, x)
    for layer, (ta, tb) in enumerate(zip(a.times, b.times)):
        assert (ta == tb).all(), f"seed {seed} layer {layer}"
        assert (ta < net.T).any() and (ta < net.T).mean() < 1, f"seed {seed}: layer {layer} is degenerate"
    assert (a.hardware_decision()[0] == b.hardware_decision()[0]).all(), f"seed {seed}"


def test_changed_rom_and_mismatched_manifest_are_refused(tmp_path):
    net = _random_conv(np.random.default_rng(7), ARCHS[0])
    export_network(net, 3, tmp_path)
    path = tmp_path / "layer1.hex"
    text = path.read_text()
    path.write_text(("1" if text[0] != "1" else "0") + text[1:])
    with pytest.raises(ExportError, match="SHA-256"):
        load_export(tmp_path)
    path.write_text(text)
    load_export(tmp_path)  # restored: loads again
    manifest_path = tmp_path / "manifest.json"
    good = json.loads(manifest_path.read_text())
    # an edit is named by the seal; resealed (a tool that rewrites the seal), the plan's own
    # consistency checks still refuse it
    for key, value, message in [("stride", 2, "stride 2 != 1"), ("c_out", 5, "c_out 5 != 4"),
                                ("pool", 1, "pool 1 != 2"), ("threshold", -3, "threshold -3")]:
        bad = json.loads(json.dumps(good))
        layer = 1 if key == "pool" else 0
        bad["layers"][layer][key] = value
        manifest_path.write_text(json.dumps(bad))
        with pytest.raises(ExportError, match=re.escape(f"field layers[{layer}].{key} does not match its seal")):
            load_export(tmp_path)
        manifest_path.write_text(json.dumps(_resealed(bad)))
        with pytest.raises(ExportError, match=message):
            load_export(tmp_path)
    bad = json.loads(json.dumps(good))
    bad["arch"] = ARCHS[1]
    manifest_path.write_text(json.dumps(_resealed(bad)))
    with pytest.raises(ExportError, match="do not match"):
        load_export(tmp_path)


def test_rom_swapped_between_layers_is_refused(tmp_path):
    net = _random_conv(np.random.default_rng(8), ARCHS[0])
    export_network(net, 2, tmp_path)
    manifest_path = tmp_path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["layers"][0]["files"] = manifest["layers"][1]["files"]  # checksums still match
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ExportError, match=re.escape("field layers[0].files.hex.name does not match")):
        load_export(tmp_path)
    manifest_path.write_text(json.dumps(_resealed(manifest)))
    with pytest.raises(ExportError, match="layer 0"):
        load_export(tmp_path)


def test_cli_exports_a_conv_model(tmp_path, capsys):
    net = _random_conv(np.random.default_rng(9), ARCHS[2])
    model = net.save(tmp_path / "conv.npz")
    assert main(["export", "--model", str(model), "--lanes", "2", "--out", str(tmp_path / "rom")]) == 0
    assert "verified" in capsys.readouterr().out
    back = load_export(tmp_path / "rom").network
    assert all((a == b).all() for a, b in zip(net.kernels, back.kernels))


def test_rtl_writes_the_core_of_a_conv_export(tmp_path, capsys):
    from firstspike.rtl.params import CoreParams

    net = _random_conv(np.random.default_rng(10), ARCHS[2])  # ...-p2-fc10: the output layer on the conv engine
    export_network(net, 2, tmp_path / "rom")
    assert CoreParams(load_export(tmp_path / "rom").plan).plan.kind == "conv"
    out = tmp_path / "core.v"
    assert main(["rtl", "--manifest", str(tmp_path / "rom"), "--out", str(out)]) == 0
    assert "module firstspike_core" in out.read_text()


def test_build_refuses_a_conv_export_before_synthesis(tmp_path, capsys, monkeypatch):
    """The fit model does not count conv-engine memories: a build is refused in one line, nothing run."""
    from firstspike.boards import build as build_module

    def reached(*args, **kwargs):
        raise AssertionError("the build went past its conv refusal")

    monkeypatch.setattr(build_module.fit, "check_fit", reached)
    net = _random_conv(np.random.default_rng(10), ARCHS[2])
    export_network(net, 2, tmp_path / "rom")
    argv = ["build", "--board", "ulx3s-85f", "--manifest", str(tmp_path / "rom"), "--out", str(tmp_path / "bit")]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert "does not count conv-engine memories yet (issue 29)" in err and "\n" not in err, err
