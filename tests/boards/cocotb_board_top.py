# SPDX-License-Identifier: MIT
"""cocotb bench of the whole board top on Verilator: drives the UART rx pin bit by bit with the
frames in $BOARD_TOP_STIMULUS, decodes every character on tx, writes them to $BOARD_TOP_REPLIES.
The pytest side (test_board_top_verilator.py) builds the stimulus and checks the replies against
the golden model."""

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, Event, FallingEdge, First, Timer

PERIOD_NS = 10  # one timer wait per UART bit, not one Python wake-up per clock


async def start(dut):
    """Clock the top, hold the rx line idle and reset for 4 cycles."""
    Clock(dut.clk, PERIOD_NS, unit="ns").start()
    dut.rx.value = 1
    dut.rst.value = 1
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0


async def capture(dut, divisor, chars, got_char):
    bit_ns = divisor * PERIOD_NS
    while True:
        await FallingEdge(dut.tx)
        await Timer(bit_ns // 2, unit="ns")
        bits = []
        for _ in range(9):
            await Timer(bit_ns, unit="ns")
            bits.append(int(dut.tx.value))
        chars.append(sum(b << i for i, b in enumerate(bits[:8])) if bits[8] else -1)
        got_char.set()


@cocotb.test()
async def board_top(dut):
    with open(os.environ["BOARD_TOP_STIMULUS"]) as f:
        stim = json.load(f)
    div, reply_bytes = stim["divisor"], stim["reply_bytes"]
    await start(dut)
    chars = []
    got_char = Event()
    cocotb.start_soon(capture(dut, div, chars, got_char))
    leds = []
    await FallingEdge(dut.clk)  # drive the line away from the sampling edge
    for step in stim["steps"]:
        for bit in step["bits"]:
            dut.rx.value = bit
            await Timer(div * PERIOD_NS, unit="ns")
        dut.rx.value = 1
        limit = Timer(stim["reply_timeout_cycles"] * PERIOD_NS, unit="ns")
        while len(chars) < step["replies_after"] * reply_bytes:
            got_char.clear()
            fired = await First(got_char.wait(), limit)
            assert fired is not limit, f"no complete reply {step['replies_after']} in time; got {chars}"
        await ClockCycles(dut.clk, div)
        leds.append(int(dut.leds.value))
    with open(os.environ["BOARD_TOP_REPLIES"], "w") as f:
        json.dump({"chars": chars, "leds": leds}, f)
