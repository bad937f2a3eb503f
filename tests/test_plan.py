# SPDX-License-Identifier: MIT
"""The hardware plan: resolved once, round trip through the manifest, and the one source of the lane
numbers the fit check, the cycle model and the RTL generator use."""

import gc
import json
import warnings

import numpy as np
import pytest
from amaranth.hdl import UnusedElaboratable

from firstspike.boards import fit
from firstspike.cli import build_parser, main
from firstspike.export import rom
from firstspike.export.manifest import export_network, load_export
from firstspike.export.plan import HardwarePlan, LayerPlan, build_plan, resolve_lanes
from firstspike.model import spec
from firstspike.model.arch import parse_arch
from firstspike.model.network import Network
from firstspike.model.infer import run
from firstspike.model.network import Network


def _random_net(rng, sizes, T=24):
    weights = [np.where(rng.random((sizes[i + 1], sizes[i])) < 0.6, 1, -1).astype(np.int8)
               for i in range(len(sizes) - 1)]
    return Network(weights, [int(rng.integers(0, 6)) for _ in weights], binary=True, encoding="s4nn", T=T)


def _random_conv(rng, arch="12x12-c3k3-p2-c4k2s2-fc5"):
    layers = parse_arch(arch).layers
    kernels = [np.where(rng.random(layer.kernel_shape) < 0.5, 1, -1).astype(np.int8) for layer in layers]
    return Network(kernels, [int(rng.integers(0, 4)) for _ in layers], arch=arch, binary=True)


def _expected_lanes(request, widths):
    """Independent statement of the lane rule: one number caps at each width, a list is per layer."""
    if isinstance(request, int):
        return [min(request, n) for n in widths]
    return list(request)


def test_parallel_counter_width_is_the_narrowest_that_holds_threshold_minus_v():
    for fan_in in (1, 2, 3, 7, 8, 25, 784):
        for threshold in (-fan_in - 3, -5, -1, 0, 1, 4, 63, fan_in, 300):
            lo, hi = threshold - fan_in, threshold + fan_in  # u = threshold - V, |V| <= fan_in
            width = next(w for w in range(1, 40) if -(2 ** (w - 1)) <= lo and hi <= 2 ** (w - 1) - 1)
            assert spec.parallel_counter_bits(fan_in, threshold) == width, (fan_in, threshold)
    assert spec.parallel_counter_bits(784, 0) == 11  # the README's example


def test_resolve_lanes():
    assert resolve_lanes([6, 9, 3], 4) == [4, 4, 3]
    assert resolve_lanes([6, 9, 3], [4]) == [4, 4, 3]          # one number on the command line
    assert resolve_lanes([6, 9, 3], [6, 1, 2]) == [6, 1, 2]
    with pytest.raises(ValueError, match="layer 1: lanes must lie in 1..9, got 10"):
        resolve_lanes([6, 9, 3], [6, 10, 2])
    with pytest.raises(ValueError, match="one per layer \\(3\\), got 2"):
        resolve_lanes([6, 9, 3], [6, 9])
    with pytest.raises(ValueError, match=">= 1"):
        resolve_lanes([6, 9, 3], 0)


@pytest.mark.parametrize("seed", range(3))
def test_fc_plan_round_trips_through_the_manifest(tmp_path, seed):
    rng = np.random.default_rng(seed)
    sizes = [int(rng.integers(3, 20)) for _ in range(int(rng.integers(2, 5)))]
    net = _random_net(rng, sizes)
    request = [int(rng.integers(1, n + 1)) for n in sizes[1:]] if seed % 2 else int(rng.integers(1, 12))
    plan = build_plan(net, request)
    export_network(net, request, tmp_path)
    back = load_export(tmp_path).plan
    assert back == plan, f"seed {seed}"
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert HardwarePlan.from_manifest(manifest, [layer.rom for layer in plan.layers]) == plan
    assert HardwarePlan.from_manifest(manifest) == plan.relaned(plan.lanes)  # layout: no ROMs
    for k, (layer, w) in enumerate(zip(plan.layers, net.weights)):
        assert list(layer.rom) == rom.pack_layer(w, layer.lanes)
        assert (layer.accumulator_bits, layer.counter_bits) == (
            spec.accumulator_bits(sizes[k]), spec.parallel_counter_bits(sizes[k], net.thresholds[k]))
    assert all((a == b).all() for a, b in zip(back.network.weights, net.weights))


def test_conv_plan_round_trips_and_describes_the_geometry(tmp_path):
    net = _random_conv(np.random.default_rng(4))
    plan = build_plan(net, 3)
    export_network(net, 3, tmp_path)
    assert load_export(tmp_path).plan == plan
    assert plan.kind == "conv" and [layer.kind for layer in plan.layers] == ["conv", "conv", "fc"]
    # 12x12 -> c3k3: 10x10 (taps 9); pool 2 -> 5x5, c4k2s2: 2x2 (taps 12); fc5 over 4x2x2 (taps 16)
    assert [(layer.inputs, layer.outputs, layer.neurons) for layer in plan.layers] == [
        (9, 3, 300), (12, 4, 16), (16, 5, 5)]
    assert plan.lanes == [3, 3, 3] and plan.groups == [1, 2, 2]
    assert dict(plan.layers[1].geometry)["pool"] == 2 and plan.layers[1].fan_in == 12 * 4


def test_a_plan_with_a_wrong_width_or_rom_is_refused():
    good = LayerPlan.make("fc", 5, 3, 3, 5, 2, 1, rom=[0] * 10)
    assert (good.groups, good.depth, good.accumulator_bits, good.counter_bits) == (2, 10, 4, 4)
    with pytest.raises(ValueError, match="accumulator_bits 5 != 4"):
        LayerPlan("fc", 5, 3, 3, 5, 2, 2, 10, 5, 4, 1)
    with pytest.raises(ValueError, match="9 ROM words != depth 10"):
        LayerPlan.make("fc", 5, 3, 3, 5, 2, 1, rom=[0] * 9)
    with pytest.raises(ValueError, match="do not match"):
        HardwarePlan("5-4", (5, 1, 1), 16, "s4nn", "hardware", (good,))


@pytest.mark.parametrize("seed", range(4))
def test_fit_cycle_model_and_rtl_see_the_same_lanes(seed):
    from firstspike.rtl.core import _Engine
    from firstspike.rtl.cycles import accumulate_bound
    from firstspike.rtl.params import CoreParams

    rng = np.random.default_rng(100 + seed)
    sizes = [int(rng.integers(4, 30))] + [int(rng.integers(2, 14)) for _ in range(int(rng.integers(1, 4)))]
    net = _random_net(rng, sizes)
    request = int(rng.integers(1, 16)) if seed < 2 else [int(rng.integers(1, n + 1)) for n in sizes[1:]]
    lanes = _expected_lanes(request, sizes[1:])
    groups = [-(-n // p) for n, p in zip(sizes[1:], lanes)]
    plan = build_plan(net, request)
    assert plan.lanes == lanes and plan.groups == groups

    assert fit.estimate(plan, "ecp5").lanes == lanes
    with warnings.catch_warnings():  # the engine's parts are inspected, never elaborated
        warnings.simplefilter("ignore", UnusedElaboratable)
        engine = _Engine(CoreParams(plan))
        built = [(e.lanes, e.groups, e.acc_bits, e.counters.width if e.counters else None)
                 for e in engine.layers]
        del engine
        gc.collect()
    assert built == [(p, g, spec.accumulator_bits(n), layer.counter_bits if g == 1 else None)
                     for p, g, n, layer in zip(lanes, groups, sizes[:-1], plan.layers)]

    pixels = rng.integers(0, 256, (5, sizes[0])).astype(np.uint8)
    golden = run(net, pixels)
    last = spec.last_effective_time(net.T)
    events = [(spec.encode(pixels, net.encoding, net.T) <= last).sum(axis=1)]
    events += [(t <= last).sum(axis=1) for t in golden.times[:-1]]
    bound = sum(e * g for e, g in zip(events, groups))
    assert accumulate_bound(plan, pixels).tolist() == bound.tolist()


def test_build_takes_per_layer_lanes_or_an_export_folder(tmp_path, monkeypatch):
    import firstspike.boards.build as board_build

    args = build_parser().parse_args(["build", "--board", "icebreaker", "--model", "m.npz",
                                      "--lanes", "4", "8", "--out", "bit"])
    assert args.lanes == [4, 8] and args.manifest is None

    net = _random_net(np.random.default_rng(7), [10, 6, 9])
    model = net.save(tmp_path / "m.npz")
    export_network(net, [5, 9], tmp_path / "rom")
    seen = []

    def fake_build(board_name, plan, out_dir, **kwargs):
        seen.append((plan, kwargs["source"]))
        return {"board": board_name, "luts": 0, "ffs": 0, "ebr": 0, "fmax_mhz": 1.0, "timing_met": True,
                "clock_mhz": 1.0, "cycles_mean": 1.0, "latency_us_mean": 1.0, "bitstream": "x.bin"}

    monkeypatch.setattr(board_build, "build", fake_build)
    common = ["build", "--board", "icebreaker", "--out", str(tmp_path / "bit")]
    assert main(common + ["--model", str(model), "--lanes", "4", "8"]) == 0
    assert main(common + ["--model", str(model)]) == 0
    assert main(common + ["--manifest", str(tmp_path / "rom")]) == 0
    assert [plan.lanes for plan, _ in seen] == [[4, 8], [6, 9], [5, 9]]  # default 16, capped
    assert seen[2] == (load_export(tmp_path / "rom").plan, str(tmp_path / "rom"))
    assert main(common + ["--manifest", str(tmp_path / "rom"), "--lanes", "4"]) == 1


def test_flow_builds_the_plan_its_simulation_checked(tmp_path, monkeypatch):
    import firstspike.boards.build as board_build
    from firstspike import flow

    net = _random_net(np.random.default_rng(8), [10, 6, 3])
    export_network(net, 4, tmp_path / "export")
    plan = load_export(tmp_path / "export").plan
    seen = []
    monkeypatch.setattr(board_build, "build", lambda board, p, out, **kw: seen.append((p, kw["source"])) or {
        "luts": 1, "ebr": 0, "fmax_mhz": 50.0, "timing_met": True, "clock_mhz": 25.0, "latency_us_mean": 1.0})
    ctx = {"out": tmp_path, "export": tmp_path / "export", "plan": plan}
    assert "bitstream of" in flow.stage_build(ctx)
    assert seen == [(plan, str(tmp_path / "export"))] and seen[0][0] is plan
