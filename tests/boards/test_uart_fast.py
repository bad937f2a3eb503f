# SPDX-License-Identifier: MIT
"""The fractional-period UART at 3 Mbaud on every board clock, against senders and receivers whose
rate is 2 % off (Amaranth simulator; line levels computed in continuous time)."""

import math

import numpy as np
import pytest
from amaranth.sim import Simulator

from firstspike.boards.uart import UARTRx, UARTTx, baud_divisor, sender_tolerance

BAUD = 3_000_000
#: board clocks: ULX3S/OrangeCrab PLL defaults, 20 MHz, iCEBreaker's 12 MHz oscillator
CLOCKS = [40e6, 20e6, 15.625e6, 12e6]
SEED = 30


def line_levels(data: bytes, cycles_per_bit: float, phase: float, gaps: list[float]) -> np.ndarray:
    """Line level in each clock cycle (sampled at the cycle's start) for 8N1 characters sent at
    ``cycles_per_bit``, the first start bit ``phase`` cycles in, ``gaps[i]`` idle bits after char i."""
    edges, t = [], phase + 3
    for byte, gap in zip(data, gaps):
        bits = [0] + [(byte >> i) & 1 for i in range(8)] + [1]
        for bit in bits:
            edges.append((t, bit))
            t += cycles_per_bit
        t += gap * cycles_per_bit
    levels = np.ones(math.ceil(t) + 4 * int(cycles_per_bit) + 8, dtype=np.uint8)
    for start, bit in edges:
        levels[math.ceil(start):math.ceil(start + cycles_per_bit)] = bit
    return levels


@pytest.mark.parametrize("clk", CLOCKS)
def test_divisor_accepts_3_mbaud(clk):
    divisor = baud_divisor(clk, BAUD)
    assert abs(divisor - clk / BAUD) <= 1 / 512  # held to 1/256 cycle
    assert sender_tolerance(divisor) > 0.02


def test_divisor_refuses_too_few_cycles_per_bit():
    with pytest.raises(ValueError, match="too slow.*choose at most 3000000 baud"):
        baud_divisor(12e6, 3_500_000)
    with pytest.raises(ValueError, match="baud must be a positive integer"):
        baud_divisor(12e6, 0)


@pytest.mark.parametrize("clk", CLOCKS)
@pytest.mark.parametrize("mismatch", [-0.02, 0.0, 0.02])
def test_rx_at_3_mbaud(clk, mismatch):
    rng = np.random.default_rng([SEED, int(clk), int(mismatch * 100) + 5])
    data = bytes(rng.integers(0, 256, 24).tolist()) + b"\x00\xff\x55\xaa"
    gaps = [0.0 if rng.random() < 0.7 else float(rng.random()) for _ in data]  # mostly back to back
    sender = clk / (BAUD * (1 + mismatch))  # cycles per bit of the sender
    levels = line_levels(data, sender, float(rng.random()), gaps)
    rx = UARTRx(baud_divisor(clk, BAUD))
    sim = Simulator(rx)
    sim.add_clock(1 / clk)
    got, errors = [], []

    async def drive(ctx):
        ctx.set(rx.data.ready, 1)
        for level in levels:
            ctx.set(rx.rx, int(level))
            await ctx.tick()
            if ctx.get(rx.data.valid):
                got.append(ctx.get(rx.data.payload))
            errors.append(ctx.get(rx.framing_error))

    sim.add_testbench(drive)
    sim.run()
    assert bytes(got) == data and not any(errors), f"clk {clk}, sender off by {mismatch:+.0%}, seed {SEED}"


def decode(levels: np.ndarray, cycles_per_bit: float, starts: list | None = None) -> list[int | None]:
    """An ideal receiver at ``cycles_per_bit``: finds each start edge (appended to ``starts``),
    samples bit middles."""
    out, c = [], 1
    while c < len(levels):
        if levels[c - 1] == 1 and levels[c] == 0:
            if starts is not None:
                starts.append(c)
            samples = [levels[int(c + (k + 0.5) * cycles_per_bit)] for k in range(10)]
            ok = samples[0] == 0 and samples[9] == 1
            out.append(sum(int(b) << i for i, b in enumerate(samples[1:9])) if ok else None)
            c = int(c + 9.5 * cycles_per_bit)
        c += 1
    return out


@pytest.mark.parametrize("clk", CLOCKS)
@pytest.mark.parametrize("mismatch", [-0.02, 0.02])
def test_tx_at_3_mbaud(clk, mismatch):
    rng = np.random.default_rng([SEED, int(clk)])
    data = [int(b) for b in rng.integers(0, 256, 24)] + [0x00, 0xFF, 0x55, 0xAA]
    divisor = baud_divisor(clk, BAUD)
    tx = UARTTx(divisor)
    sim = Simulator(tx)
    sim.add_clock(1 / clk)
    levels = []

    async def send(ctx):
        for byte in data:  # back to back: the next byte waits on valid
            ctx.set(tx.data.payload, byte)
            ctx.set(tx.data.valid, 1)
            while True:
                ready = ctx.get(tx.data.ready)
                levels.append(ctx.get(tx.tx))
                await ctx.tick()
                if ready:
                    break
        ctx.set(tx.data.valid, 0)
        for _ in range(int(12 * divisor)):
            levels.append(ctx.get(tx.tx))
            await ctx.tick()

    sim.add_testbench(send)
    sim.run()
    line = np.array(levels, dtype=np.uint8)
    starts = []
    assert decode(line, clk / (BAUD * (1 + mismatch)), starts) == data, \
        f"clk {clk}, receiver off by {mismatch:+.0%}"
    # the average rate is the wanted one: 27 characters between the first and last start edge
    assert abs((starts[-1] - starts[0]) - 27 * 10 * clk / BAUD) <= 1
