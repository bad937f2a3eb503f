# SPDX-License-Identifier: MIT
"""The conv layer engine in the Amaranth simulator against the golden model and the cycle model.

Each case draws a seeded random binary network of a conv-grammar architecture, runs the golden
model on random input times, and feeds one layer's golden input events to a
:class:`~firstspike.rtl.conv_layer.ConvLayerEngine` built from the layer's plan (its kernel ROM).
The engine's spikes must be the golden spikes of that layer in (time, neuron) order, its tokens the
effective ones with correct ``last`` flags, and, with streams that never wait, every accept and
emission cycle must equal :func:`~firstspike.rtl.conv_cycles.conv_layer_schedule`. Idle gaps on the
input and back-pressure on both outputs must leave the spikes unchanged.
"""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from firstspike.export.plan import build_plan
from firstspike.model import spec
from firstspike.model.arch import parse_arch
from firstspike.model.infer import run_times
from firstspike.model.network import Network
from firstspike.rtl.conv_cycles import conv_accumulate_bound, conv_layer_schedule
from firstspike.rtl.conv_geometry import ConvGeometry
from firstspike.rtl.conv_layer import ConvLayerEngine

T = 24


def _case(arch: str, layer: int, seed: int, lanes: int, taps: int):
    """Golden input and output times of ``layer`` of a random network, and its engine."""
    rng = np.random.default_rng(seed)
    layers = parse_arch(arch).layers
    kernels = [np.where(rng.random(layer.kernel_shape) < 0.58, 1, -1).astype(np.int8) for layer in layers]
    thresholds = [int(rng.integers(0, 2 + layer.fan_in // 6)) for layer in layers]
    net = Network(kernels, thresholds, arch=arch, binary=True, encoding="s4nn", T=T)
    in_times = np.where(rng.random(net.sizes[0]) < 0.45, rng.integers(0, T - 1, net.sizes[0]), T)
    golden = run_times(net, in_times[None].astype(np.int16))
    layer_in = in_times if layer == 0 else golden.times[layer - 1][0].astype(np.int64)
    layer_out = golden.times[layer][0].astype(np.int64)
    plan = build_plan(net, lanes)
    lp = plan.layers[layer]
    geo = ConvGeometry.from_plan(lp, min(taps, dict(lp.geometry)["w_out"]))
    bits = max(net.sizes).bit_length() + 1
    dut = ConvLayerEngine(geo, threshold=lp.threshold, T=T, rom=list(lp.rom), fan_in=lp.fan_in,
                          neuron_bits=bits, time_bits=max(1, T.bit_length()))
    return geo, dut, layer_in, layer_out


def _simulate(dut, in_times, *, gaps=0.0, backpressure=0.0, seed=0, max_cycles=20_000):
    """Feed the effective events in (time, neuron) order, then ``done``; collect everything."""
    order = sorted((int(t), i) for i, t in enumerate(in_times) if spec.is_effective(int(t), T))
    tokens = [{"neuron": i, "time": t, "last": int(k == len(order) - 1 or order[k + 1][0] != t), "done": 0}
              for k, (t, i) in enumerate(order)]
    tokens.append({"neuron": 0, "time": 0, "last": 0, "done": 1})
    rng = np.random.default_rng(seed)
    got = {"accepted": [], "recs": [], "rec_cycles": [], "out": []}

    async def bench(ctx):
        while not ctx.get(dut.ready_state):
            await ctx.tick()
        cycle, pos, offering = 0, 0, False
        while pos < len(tokens):
            if cycle > max_cycles:
                raise AssertionError(f"no progress after {max_cycles} cycles (seed {seed})")
            offering = offering or rng.random() >= gaps
            ctx.set(dut.inp.valid, offering)
            ctx.set(dut.inp.payload, tokens[pos])
            ctx.set(dut.out.ready, rng.random() >= backpressure)
            ctx.set(dut.rec.ready, rng.random() >= backpressure)
            _, _, i_rdy, o_v, o_r, o_p, r_v, r_r, r_p = await ctx.tick().sample(
                dut.inp.ready, dut.out.valid, dut.out.ready, dut.out.payload,
                dut.rec.valid, dut.rec.ready, dut.rec.payload)
            if o_v and o_r:
                got["out"].append((int(o_p.time), int(o_p.neuron), int(o_p.last), int(o_p.done)))
            if r_v and r_r:
                got["recs"].append((int(r_p.time), int(r_p.neuron)))
                got["rec_cycles"].append(cycle)
            if offering and i_rdy:
                got["accepted"].append(cycle)
                pos += 1
                offering = False
            cycle += 1

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return got


def _check_streams(got, layer_out, label):
    spikes = sorted((int(t), int(n)) for n, t in enumerate(layer_out) if t < T)
    assert got["recs"] == spikes, label
    effective = [(t, n) for t, n in spikes if spec.is_effective(t, T)]
    events = [o for o in got["out"] if not o[3]]
    assert [(o[0], o[1]) for o in events] == effective, label
    for k, o in enumerate(events):
        assert o[2] == int(k == len(events) - 1 or events[k + 1][0] != o[0]), label
    assert got["out"][-1][3] == 1 and sum(o[3] for o in got["out"]) == 1, label


# (architecture, layer): every option of the grammar: padding, stride, pooling before a conv layer
# (with rows/columns cropped), a conv layer after a pooled conv layer, an fc layer over a pooled map
CASES = [
    ("3x9x11-c5k3-fc2", 0),
    ("2x11x9-c3k3s2p1-fc2", 0),
    ("1x10x13-p2-c5k3p2-fc2", 0),
    ("2x8x7-p3-c3k2-fc2", 0),
    ("2x9x9-c3k1s2-fc2", 0),
    ("3x7x7-c5k5s3p4-fc2", 0),
    ("1x9x11-c3k3-p2-c5k2-fc3", 1),
    ("1x9x9-c3k3-p3-fc5", 1),
]


@pytest.mark.parametrize("arch,layer", CASES)
@pytest.mark.parametrize("lanes,taps", [(1, 1), (2, 2), (64, 3)])
def test_conv_engine_matches_golden_spikes_and_cycle_model(arch, layer, lanes, taps):
    seed = 7 * lanes + taps + len(arch)
    geo, dut, layer_in, layer_out = _case(arch, layer, seed, lanes, taps)
    label = f"{arch} layer {layer} P={geo.lanes} Q={geo.taps} seed {seed}"
    got = _simulate(dut, layer_in)
    _check_streams(got, layer_out, label)
    model = conv_layer_schedule(geo, layer_in, layer_out, T)
    assert got["accepted"] == model.accepted, label
    assert got["rec_cycles"] == model.emitted, label
    assert conv_accumulate_bound(geo, layer_in, T) <= model.accepted[-1], label


@pytest.mark.parametrize("arch,layer", [CASES[1], CASES[2], CASES[6]])
@pytest.mark.parametrize("seed", [1, 2])
def test_conv_engine_spikes_survive_idle_gaps_and_back_pressure(arch, layer, seed):
    geo, dut, layer_in, layer_out = _case(arch, layer, seed, 2, 2)
    label = f"{arch} layer {layer} P={geo.lanes} Q={geo.taps} seed {seed}"
    got = _simulate(dut, layer_in, gaps=0.4, backpressure=0.5, seed=seed, max_cycles=60_000)
    _check_streams(got, layer_out, label)
    assert got["recs"], f"{label}: the case should have spikes"
    calm = conv_layer_schedule(geo, layer_in, layer_out, T)
    assert got["accepted"][-1] > calm.accepted[-1], f"{label}: the gaps and back-pressure should cost cycles"


@pytest.mark.parametrize("arch", [a for a, _ in CASES])
def test_conv_geometry_reaches_what_the_golden_kernels_reach(arch):
    from firstspike.model.kernels import input_reach

    for layer in parse_arch(arch).layers:
        g = np.array(layer.geometry(), dtype=np.int64)
        for taps in {1, 2, layer.w_out}:
            geo = ConvGeometry(layer, lanes=1, taps=min(taps, layer.w_out))
            for i in range(layer.n_in):
                ci, py, px, oy_lo, oy_hi, ox_lo, ox_hi = input_reach(i, g)
                rows = range(oy_lo, oy_hi + 1) if ci >= 0 else range(0)
                cols = range(ox_lo, ox_hi + 1) if ci >= 0 else range(0)
                want = sorted({oy * geo.blocks_per_row + ox // geo.taps for oy in rows for ox in cols})
                assert sorted(geo.event_blocks(i)) == want, (arch, i, taps)
