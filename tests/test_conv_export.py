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


def test_fit_counts_conv_engine_memories():
    """conv-mnist (28x28-c32k5-p2-c64k5-p2-fc600-fc10, T 256) at 8 lanes, block RAMs by hand
    (ECP5 DP16KD: 16K x 1 .. 512 x 36; a memory takes the aspect ratio that needs the fewest)."""
    from firstspike.boards import fit
    from firstspike.boards.base import LFE5U_25F, LFE5U_85F
    from firstspike.boards.registry import BOARDS
    from firstspike.export.plan import build_plan

    plan = build_plan(Network.load("models/conv-mnist.npz"), 8)
    mem = fit.estimate(plan, "ecp5").memories
    # layer 0 (c32k5, 24x24 out): 4 groups; kernel 25 taps * 4 x 8 bits = 800 bits, LUTs;
    # potentials 576 blocks * 4 = 2304 words x (8 * 6-bit + 8 fired + 1 dirty = 57): 512 x 36 -> 5 * 2;
    # touched 576 x (10 + 10 + 5 bits) -> 1024 x 18 -> 1 * 2
    assert (mem["layer0_kernel"], mem["layer0_potentials"], mem["layer0_touched"]) == (0, 10, 2)
    # 18432 spikes x (15 neuron + 9 time + 2 flag bits) -> 2048 x 9 -> 9 * 3
    assert mem["queue0"] == 27
    # layer 1 (p2-c64k5, 8x8 out, fan-in 3200 -> 13 bits): kernel 800 * 8 words x 8 = 51,200 bits
    # -> 2048 x 9 -> 4 * 1; potentials 64 * 8 = 512 words x 113 -> 512 x 36 -> 1 * 4; touched 960 bits
    assert (mem["layer1_kernel"], mem["layer1_potentials"], mem["layer1_touched"]) == (4, 4, 0)
    # layer 2 (p2-fc600 over 64x4x4 pooled: the conv engine, one block): kernel 1024 * 75 words x 8
    # = 614,400 bits -> 2048 x 9 -> 38; potentials 75 words x (8 * 14 + 9 = 121) -> 512 x 36 -> 4
    assert (mem["layer2_kernel"], mem["layer2_potentials"], mem["layer2_touched"]) == (38, 4, 0)
    assert not any(mem[f"layer{i}_crossings"] for i in range(3)) and "layer3_weights" in mem
    assert fit.check_fit(plan, LFE5U_85F, "ulx3s-85f").ebr == sum(mem.values()) <= LFE5U_85F.ebr
    with pytest.raises(ValueError, match=r"does not fit ulx3s-25f: needs about \d+ block RAMs.*LUTs.*"
                                         r"What would fit: a larger part: .*ulx3s-85f"):
        fit.check_fit(plan, LFE5U_25F, "ulx3s-25f", other_boards=BOARDS.values())
    # more lanes, more banks' width: never fewer block RAMs or LUTs
    wide = fit.estimate(plan.relaned(32), "ecp5")
    assert wide.ebr > sum(mem.values()) and wide.luts > fit.estimate(plan, "ecp5").luts
    # 4 positions per cycle: 4 banks of 144 blocks * 4 groups = 576 words x 57 -> 4 blocks each
    assert fit.estimate(plan, "ecp5", taps=4).memories["layer0_potentials"] == 4 * 4

    # small banks: 28x28-c3k3s2p1 (14x14 out, fan-in 9 -> 5 bits) at 2 lanes: 196 blocks * 2 = 392
    # words x 13 bits; at 4 taps 4 banks of 56 * 2 = 112 words x 13 (1,456 bits), which yosys puts in
    # block RAM (LUT RAM: 7 * 4 cells + a 7-slice mux costs more than one DP16KD; ULX3S 25F build)
    small = build_plan(Network([np.ones((3, 1, 3, 3), np.int8), np.ones((10, 3, 7, 7), np.int8)], [0, 0],
                               arch="28x28-c3k3s2p1-p2-fc10", binary=True), 2)
    assert fit.estimate(small, "ecp5", taps=4).memories["layer0_potentials"] == 4
    # its touched list, 56 x (6 + 8 + 2) bits (4 x 4 cells), stays in LUT RAM
    assert fit.estimate(small, "ecp5", taps=4).memories["layer0_touched"] == 0


def test_build_checks_a_conv_model_fit_before_synthesis(tmp_path, capsys, monkeypatch):
    """A conv model too large for the board is refused by the fit check in one line, tools never run."""
    from firstspike.boards import build as build_module

    def reached(*args, **kwargs):
        raise AssertionError("the build went past its fit check")

    monkeypatch.setattr(build_module, "tool_env", reached)
    argv = ["build", "--board", "ulx3s-25f", "--model", "models/conv-mnist.npz", "--lanes", "8",
            "--out", str(tmp_path / "bit")]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert "does not fit ulx3s-25f" in err and "ulx3s-85f" in err and "\n" not in err, err


def test_taps_option_is_checked_before_any_work(tmp_path, capsys):
    """--taps: at least 1; more than 1 only for a plan with conv-engine layers; one line each."""
    fc = Network([np.ones((4, 784), dtype=np.int8), np.ones((10, 4), dtype=np.int8)], [1, 1], binary=True)
    model = fc.save(tmp_path / "fc.npz")
    cases = [(["rtl", "--model", str(model), "--lanes", "2", "--taps", "2", "--out", str(tmp_path / "a.v")],
              "--taps 2 applies to conv layers"),
             (["rtl", "--model", "models/conv-mnist.npz", "--lanes", "8", "--taps", "0",
               "--out", str(tmp_path / "b.v")], "--taps 0"),
             (["sim", "--model", str(model), "--lanes", "2", "--taps", "3", "--limit", "1"],
              "--taps 3 applies to conv layers")]
    for argv, message in cases:
        assert main(argv) == 1
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err, err
    assert not (tmp_path / "a.v").exists() and not (tmp_path / "b.v").exists()


def test_build_fit_check_uses_the_taps(tmp_path, capsys, monkeypatch):
    """build --taps 4 checks the fit of 4 potential banks per conv layer (and then would synthesise)."""
    from firstspike.boards import build as build_module
    from firstspike.boards import fit
    from firstspike.export.plan import build_plan

    def stop(*args, **kwargs):
        raise RuntimeError("stopped before the FPGA tools")

    monkeypatch.setattr(build_module, "tool_env", stop)
    plan = build_plan(Network.load("models/conv-mnist.npz"), 8)
    one, four = fit.estimate(plan, "ecp5"), fit.estimate(plan, "ecp5", taps=4)
    assert four.ebr > one.ebr and four.luts > one.luts
    for taps, est in ((1, one), (4, four)):
        argv = ["build", "--board", "ulx3s-85f", "--model", "models/conv-mnist.npz", "--lanes", "8",
                "--taps", str(taps), "--out", str(tmp_path / f"t{taps}"), "--limit", "2"]
        assert main(argv) == 1
        captured = capsys.readouterr()
        assert "stopped before the FPGA tools" in captured.err, captured.err
        assert f"about {est.luts} LUTs, {est.ebr} block RAMs" in captured.out, captured.out


def test_sim_runs_conv_layers_at_the_given_taps(tmp_path, capsys):
    """sim --taps 3: the Verilator core has 3 banks, and its cycles are the cycle model's at 3 taps
    (not at 1), with every spike bit-exact."""
    from firstspike.export.plan import build_plan
    from firstspike.rtl.cycles import predict_cycles

    arch = "28x28-p4-c2k3-fc10"
    net = _random_conv(np.random.default_rng(12), arch)
    model = net.save(tmp_path / "small.npz")
    assert main(["sim", "--model", str(model), "--lanes", "1", "--taps", "3", "--dataset", "mnist-mini",
                 "--limit", "6", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["taps"] == 3 and summary["mismatches"] == 0 and summary["cycle_model_equal"], summary
    images = datamod.load("mnist-mini", "test").images[:6].reshape(6, -1)
    plan = build_plan(net, 1)
    three, one = predict_cycles(plan, images, 3), predict_cycles(plan, images, 1)
    assert summary["cycles_mean"] == pytest.approx(three.mean()) and three.mean() < one.mean()
