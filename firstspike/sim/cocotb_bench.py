# SPDX-License-Identifier: MIT
"""cocotb test module run inside Verilator: clock, reset, then wait (no per-cycle Python) until
the harness of :mod:`firstspike.sim.harness` has streamed every image through the core."""

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge


@cocotb.test()
async def run_images(dut):
    Clock(dut.clk, 10, unit="ns").start()
    dut.rst.value = 1
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    await RisingEdge(dut.finished)
    await ClockCycles(dut.clk, 2)
