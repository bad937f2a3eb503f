# SPDX-License-Identifier: MIT
"""cocotb bench of the board top on Verilator for the noisy-line test: drives the rx pin with the
run-length coded line levels in $LINK_NOISE_STIMULUS, decodes every character on tx and writes them
to $LINK_NOISE_REPLIES (-1 for a character without a stop bit). The pytest side is
test_link_noise.py."""

import json
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, Timer

from cocotb_board_top import PERIOD_NS, capture


@cocotb.test()
async def link_noise(dut):
    with open(os.environ["LINK_NOISE_STIMULUS"]) as f:
        stim = json.load(f)
    bit_ns = stim["divisor"] * PERIOD_NS
    Clock(dut.clk, PERIOD_NS, unit="ns").start()
    dut.rx.value = 1
    dut.rst.value = 1
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    chars = []
    cocotb.start_soon(capture(dut, stim["divisor"], chars, cocotb.triggers.Event()))
    await FallingEdge(dut.clk)  # drive the line away from the sampling edge
    for level, count in stim["runs"]:
        dut.rx.value = level
        await Timer(count * bit_ns, unit="ns")
    dut.rx.value = 1
    await ClockCycles(dut.clk, stim["tail_cycles"])
    with open(os.environ["LINK_NOISE_REPLIES"], "w") as f:
        json.dump({"chars": chars}, f)
