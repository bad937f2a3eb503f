# SPDX-License-Identifier: MIT
"""Per-component checks of the RTL in the Amaranth simulator (no Verilator)."""

import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.sim import Simulator

from firstspike.model import spec
from firstspike.rtl.bits import at_most_one_bit, first_set
from firstspike.rtl.decision import DecisionUnit
from firstspike.rtl.encoder import InputEncoder


class _Lowest(wiring.Component):
    def __init__(self, width):
        self.width = width
        super().__init__({"vector": wiring.In(width), "index": wiring.Out(max(1, (width - 1).bit_length())),
                          "onehot": wiring.Out(width), "single": wiring.Out(1), "any": wiring.Out(1),
                          "single_flat": wiring.Out(1)})

    def elaborate(self, platform):
        m = Module()
        found = first_set(m, self.vector, "t")
        m.d.comb += [self.index.eq(found.index), self.onehot.eq(found.onehot), self.single.eq(found.single),
                     self.any.eq(found.any), self.single_flat.eq(at_most_one_bit(m, self.vector, "t"))]
        return m


@pytest.mark.parametrize("width", [1, 7, 16, 17, 64, 600])
def test_lowest_set_bit(width):
    rng = np.random.default_rng(width)
    dut = _Lowest(width)
    sim = Simulator(dut)

    async def bench(ctx):
        for trial in range(40):
            density = [0.0, 0.0, 0.01, 0.5][trial % 4] if trial < 8 else rng.uniform(0.0, 0.5)
            bits = rng.random(width) < density
            if trial % 4 == 1 or not bits.any():
                bits[rng.integers(width)] = True   # single bits, also in the last chunk
            value = sum(1 << int(i) for i in np.flatnonzero(bits))
            ctx.set(dut.vector, value)
            low = int(np.flatnonzero(bits)[0])
            assert ctx.get(dut.index) == low, f"width {width} trial {trial}"
            assert ctx.get(dut.onehot) == 1 << low, f"width {width} trial {trial}"
            assert ctx.get(dut.single) == (bits.sum() <= 1), f"width {width} trial {trial}"
            assert ctx.get(dut.single_flat) == (bits.sum() <= 1), f"width {width} trial {trial}"
            assert ctx.get(dut.any) == 1
        ctx.set(dut.vector, 0)
        assert ctx.get(dut.single) == 1 and ctx.get(dut.onehot) == 0 and ctx.get(dut.any) == 0

    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("seed", range(6))
def test_encoder_emits_time_ordered_groups_with_last_flags_and_documented_timing(seed):
    rng = np.random.default_rng(seed)
    n_in, T = int(rng.integers(1, 40)), int(rng.integers(4, 40))
    encoding = "s4nn" if seed < 4 else "bs4nn"   # bs4nn: the table-free complement path
    if encoding == "bs4nn":
        T = spec.T_DEFAULT
    lut = [int(t) for t in spec.encode(np.arange(256), encoding, T)]
    pixels = rng.integers(0, 256, n_in)
    pixels[rng.random(n_in) < 0.3] = 0
    pixels[rng.random(n_in) < 0.2] = 255
    dut = InputEncoder(n_in, T, lut, 8, 8)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    got = []  # (cycle after the last pixel, neuron, time, last, done)
    stall = seed % 2 == 1

    async def bench(ctx):
        ctx.set(dut.load, 1)
        for p in pixels:
            ctx.set(dut.pixels.valid, 1)
            ctx.set(dut.pixels.payload, int(p))
            await ctx.tick().until(dut.pixels.ready)
        ctx.set(dut.pixels.valid, 0)
        ctx.set(dut.load, 0)
        cycle = 0
        while True:
            ready = not stall or rng.random() < 0.5
            ctx.set(dut.tokens.ready, ready)
            valid, tok = ctx.get(dut.tokens.valid), ctx.get(dut.tokens.payload)
            if valid and ready:
                got.append((cycle, tok.neuron, tok.time, tok.last, tok.done))
                if tok.done:
                    break
            await ctx.tick()
            cycle += 1
            assert cycle < 10 * (n_in + T) + 10

    sim.add_testbench(bench)
    sim.run()
    times = spec.encode(pixels, encoding, T)
    keep = [i for i in range(n_in) if spec.is_effective(int(times[i]), T)]
    expected_groups = sorted({int(times[i]) for i in keep})
    assert got[-1][4] == 1 and all(g[4] == 0 for g in got[:-1]), f"seed {seed}"
    events = got[:-1]
    assert sorted(e[1] for e in events) == keep, f"seed {seed}: dropped or duplicated pixels"
    assert [e[2] for e in events] == sorted(e[2] for e in events), f"seed {seed}: not time-ordered"
    for e in events:
        assert e[2] == times[e[1]], f"seed {seed}: wrong time for pixel {e[1]}"
    lasts = [e[2] for e in events if e[3]]
    assert lasts == expected_groups, f"seed {seed}: 'last' must close every time group exactly once"
    if not stall:  # first token in cycle 2, then one per cycle (also the done token)
        assert [g[0] for g in got] == list(range(2, 2 + len(got))), f"seed {seed}"


@pytest.mark.parametrize("n_out,lanes", [(11, 4), (10, 10), (7, 5), (13, 13)])
def test_decision_unit_keeps_the_lowest_index_among_equal_maxima_across_groups(n_out, lanes):
    rng = np.random.default_rng(7 + n_out)
    groups = -(-n_out // lanes)
    dut = DecisionUnit(n_out, lanes, groups, 8)
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def bench(ctx):
        for trial in range(40):
            v = rng.integers(-5, 5, n_out)
            if trial % 3 == 0:  # force a tie (between groups, or inside one group)
                v[n_out - 2] = v[2] = v.max() + 1
            elif trial % 3 == 1:
                v[rng.integers(n_out)] = v[rng.integers(n_out)] = v.max() + 1
            padded = np.concatenate([v, rng.integers(50, 60, groups * lanes - n_out)])  # padding must lose
            for g in range(groups):
                ctx.set(dut.valid, 1)
                ctx.set(dut.group, g)
                ctx.set(dut.potentials, [int(x) for x in padded[g * lanes:(g + 1) * lanes]])
                tail = n_out - (groups - 1) * lanes
                ctx.set(dut.lane_mask, (1 << lanes) - 1 if g < groups - 1 else (1 << tail) - 1)
                ctx.set(dut.cross, 0)
                await ctx.tick()
            ctx.set(dut.valid, 0)
            assert ctx.get(dut.best) == int(np.argmax(v)), f"n_out {n_out} trial {trial}: {v.tolist()}"

    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("lanes", [1, 3, 7])
def test_layer_engine_spikes_tokens_and_documented_costs(lanes):
    from firstspike.export.rom import pack_layer
    from firstspike.model.infer import run_times
    from firstspike.model.network import Network
    from firstspike.rtl.layer import LayerEngine

    rng = np.random.default_rng(lanes)
    n_in, n_out, T, theta = 9, 7, 20, 1
    w = np.where(rng.random((n_out, n_in)) < 0.6, 1, -1).astype(np.int8)
    in_times = np.array([0, 0, 3, 3, 3, 7, 18, 12, 20])          # 20 = T: no event; 18 = T-2
    golden = run_times(Network([w], [theta], binary=True, encoding="s4nn", T=T), in_times[None])
    spikes = sorted((int(t), int(n)) for n, t in enumerate(golden.times[0][0]) if t < T)
    G = -(-n_out // lanes)
    dut = LayerEngine(n_in=n_in, n_out=n_out, lanes=lanes, threshold=theta, T=T,
                      rom=pack_layer(w, lanes), neuron_bits=8, time_bits=8, is_output=False)
    order = sorted((int(t), i) for i, t in enumerate(in_times) if spec.is_effective(int(t), T))
    tokens = [(i, t, k == len(order) - 1 or order[k + 1][0] != t) for k, (t, i) in enumerate(order)]
    out, recs, accepted = [], [], []
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def bench(ctx):
        while not ctx.get(dut.ready_state):   # clearing the potential memory
            await ctx.tick()
        cycle, pos = 0, 0
        while cycle < 400:
            done = pos == len(tokens)
            ctx.set(dut.inp.valid, 1)
            if not done:
                ctx.set(dut.inp.payload, {"neuron": tokens[pos][0], "time": tokens[pos][1],
                                          "last": tokens[pos][2], "done": 0})
            else:
                ctx.set(dut.inp.payload, {"neuron": 0, "time": 0, "last": 0, "done": 1})
            if ctx.get(dut.out.valid):
                p = ctx.get(dut.out.payload)
                out.append((cycle, int(p.neuron), int(p.time), int(p.last), int(p.done)))
            if ctx.get(dut.rec.valid):
                recs.append((int(ctx.get(dut.rec.payload).time), int(ctx.get(dut.rec.payload).neuron)))
            if ctx.get(dut.inp.ready):
                accepted.append(cycle)
                if done:
                    break
                pos += 1
            await ctx.tick()
            cycle += 1

    sim.add_testbench(bench)
    sim.run()
    assert recs == spikes, f"lanes {lanes}"                                 # every spike, in order
    effective = [(t, n) for t, n in spikes if spec.is_effective(t, T)]
    assert [(o[2], o[1]) for o in out if not o[4]] == effective             # tokens for the next layer
    for k, o in enumerate(out[:-1]):                                        # 'last' closes each time
        assert o[3] == (k == len(effective) - 1 or out[k + 1][2] != o[2])
    assert out[-1][4] == 1                                                  # done is passed on
    # documented costs: an event G cycles; closing a step G compare + 1 drain + 1 per spike
    free, expect = 0, []
    crossing = {t - 1: sum(1 for s, _ in spikes if s == t) for t, _ in spikes}
    for k, (_, t, last) in enumerate(tokens):
        expect.append(free)
        free += G
        if last:
            free += G + 1 + crossing.get(t, 0)
    expect.append(free)
    assert accepted == expect, f"lanes {lanes}"
