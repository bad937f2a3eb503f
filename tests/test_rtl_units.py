# SPDX-License-Identifier: MIT
"""Per-component checks of the RTL in the Amaranth simulator (no Verilator)."""

import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.sim import Simulator

from firstspike.model import spec
from firstspike.rtl.bits import lowest_set_bit
from firstspike.rtl.decision import DecisionUnit
from firstspike.rtl.encoder import InputEncoder


class _Lowest(wiring.Component):
    def __init__(self, width):
        self.width = width
        super().__init__({"vector": wiring.In(width), "index": wiring.Out(max(1, (width - 1).bit_length()))})

    def elaborate(self, platform):
        m = Module()
        index, _ = lowest_set_bit(m, self.vector, "t")
        m.d.comb += self.index.eq(index)
        return m


@pytest.mark.parametrize("width", [1, 7, 64, 600])
def test_lowest_set_bit(width):
    rng = np.random.default_rng(width)
    dut = _Lowest(width)
    sim = Simulator(dut)

    async def bench(ctx):
        for _ in range(30):
            bits = rng.random(width) < rng.uniform(0.01, 0.5)
            if not bits.any():
                bits[rng.integers(width)] = True
            value = sum(1 << int(i) for i in np.flatnonzero(bits))
            ctx.set(dut.vector, value)
            assert ctx.get(dut.index) == int(np.flatnonzero(bits)[0]), f"width {width}"

    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("seed", range(4))
def test_encoder_emits_time_ordered_groups_with_last_flags_and_documented_timing(seed):
    rng = np.random.default_rng(seed)
    n_in, T = int(rng.integers(1, 40)), int(rng.integers(4, 40))
    lut = [int(t) for t in spec.encode(np.arange(256), "s4nn", T)]
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
    times = spec.encode(pixels, "s4nn", T)
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


def test_decision_unit_keeps_the_lowest_index_among_equal_maxima_across_groups():
    rng = np.random.default_rng(7)
    n_out, lanes = 11, 4
    groups = 3
    dut = DecisionUnit(n_out, lanes, groups, 8)
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def bench(ctx):
        for trial in range(40):
            v = rng.integers(-5, 5, n_out)
            if trial % 3 == 0:  # force a tie between two groups
                v[9] = v[2] = v.max() + 1
            padded = np.concatenate([v, rng.integers(50, 60, groups * lanes - n_out)])  # padding must lose
            for g in range(groups):
                ctx.set(dut.valid, 1)
                ctx.set(dut.group, g)
                ctx.set(dut.potentials, [int(x) for x in padded[g * lanes:(g + 1) * lanes]])
                ctx.set(dut.lane_mask, 0b1111 if g < groups - 1 else 0b0111)
                ctx.set(dut.cross, 0)
                await ctx.tick()
            ctx.set(dut.valid, 0)
            assert ctx.get(dut.best) == int(np.argmax(v)), f"trial {trial}: {v.tolist()}"

    sim.add_testbench(bench)
    sim.run()
