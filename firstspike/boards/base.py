# SPDX-License-Identifier: MIT
"""What a board is to firstspike: an amaranth-boards platform, its clock, UART, LEDs, device
totals and programmer. A new board is one small file that fills in :class:`Board`."""

import math
import shutil
import sys
from dataclasses import dataclass, field

from amaranth.build import Attrs, Pins, Resource, Subsignal
from amaranth.hdl import ClockDomain, Elaboratable, Module

from .pll import ClockGen, ecp5_pll, ice40_pll
from .top import InferenceTop, protocol_timing
from .uart import baud_divisor

__all__ = ["Board", "BoardDesign", "build_only", "Device"]

#: Tools a build needs; everything else in a platform's ``required_tools`` programs a board.
BUILD_TOOL_PREFIXES = ("yosys", "nextpnr", "ecppack", "icepack")

#: The largest relative error between a requested core clock and the PLL's nearest one (the
#: ULX3S default asks 16 MHz and gets 15.625 MHz, 2.3 % off: the report states what was built).
CLOCK_TOLERANCE = 0.05


#: build-script step running :mod:`firstspike.boards.carry_chains` with this Python
CARRY_PASS = f'"{sys.executable}" -m firstspike.boards.carry_chains {{{{name}}}}.json'


def build_only(platform_cls: type) -> type:
    """A subclass of an amaranth-boards platform that does not demand programmer tools to build."""

    class BuildOnly(platform_cls):
        @property
        def required_tools(self):
            return [t for t in super().required_tools if t.startswith(BUILD_TOOL_PREFIXES)]

        @property
        def command_templates(self):
            templates = list(super().command_templates)
            if getattr(self, "family", None) == "ecp5" and getattr(self, "toolchain", None) == "Trellis":
                # between yosys and nextpnr: unhook carry pins that carry nothing (boards.carry_chains)
                templates.insert(1, CARRY_PASS)
            return templates

    BuildOnly.__name__ = BuildOnly.__qualname__ = f"BuildOnly{platform_cls.__name__}"
    return BuildOnly


@dataclass(frozen=True)
class Device:
    """Resource totals of an FPGA (checked against nextpnr's utilisation report)."""

    name: str
    family: str  # "ecp5" or "ice40"
    luts: int
    ffs: int
    ebr: int  # block RAMs: ECP5 DP16KD (18 kbit), iCE40 SB_RAM40_4K (4 kbit)
    ebr_kbit: int
    dsp: int


LFE5U_25F = Device("LFE5U-25F", "ecp5", luts=24288, ffs=24288, ebr=56, ebr_kbit=18, dsp=28)
LFE5U_85F = Device("LFE5U-85F", "ecp5", luts=83640, ffs=83640, ebr=208, ebr_kbit=18, dsp=156)
ICE40UP5K = Device("iCE40UP5K", "ice40", luts=5280, ffs=5280, ebr=30, ebr_kbit=4, dsp=8)


@dataclass(frozen=True)
class Board:
    """One build target.

    ``leds`` maps a bit of :attr:`InferenceTop.leds` (0-3 class, 7 busy) to a platform resource
    ``(name, number)``. ``extra_resources`` are added before the build (e.g. a UART on header pins).
    ``programmers`` lists ``(tool, argv template)`` tried in order; ``{bitstream}`` is replaced.
    """

    name: str
    platform: type
    device: Device
    osc_hz: float
    clock_mhz: float  # default core clock (through a PLL when it differs from the oscillator)
    bitstream: str  # product file name, e.g. "top.bit"
    programmers: tuple
    leds: dict
    uart: tuple = ("uart", 0)
    extra_resources: tuple = ()
    build_env: dict = field(default_factory=dict)
    notes: str = ""

    def make_platform(self):
        platform = self.platform()
        if self.extra_resources:
            platform.add_resources(list(self.extra_resources))
        return platform

    def pll(self, clock_mhz: float | None):
        """PLL setting for a wanted core clock (None: the board's default), or None to run from the
        oscillator. A request the PLL cannot reach within :data:`CLOCK_TOLERANCE` is refused."""
        if clock_mhz is not None and not (math.isfinite(clock_mhz) and clock_mhz > 0):
            raise ValueError(f"--clock-mhz {clock_mhz}: give a core clock in MHz > 0, e.g. {self.clock_mhz:g}")
        want = (self.clock_mhz if clock_mhz is None else clock_mhz) * 1e6
        if abs(want - self.osc_hz) < 1:
            return None
        search = ecp5_pll if self.device.family == "ecp5" else ice40_pll
        setting = search(self.osc_hz, want)
        if abs(setting.f_out - want) > CLOCK_TOLERANCE * want:
            raise ValueError(f"--clock-mhz {want / 1e6:g}: the nearest clock the {self.device.family} PLL makes "
                             f"from the {self.osc_hz / 1e6:g} MHz oscillator is {setting.f_out / 1e6:.4g} MHz, "
                             f"more than {CLOCK_TOLERANCE:.0%} off; ask for a reachable clock, e.g. "
                             f"{setting.f_out / 1e6:.4g}")
        return setting

    def programmer(self):
        """The first programming tool on PATH: ``(tool, argv template)``; None if there is none."""
        for tool, argv in self.programmers:
            if shutil.which(tool):
                return tool, argv
        return None


def header_uart(number: int, rx: str, tx: str, conn, attrs: Attrs) -> Resource:
    """A UART on two header pins (for boards whose USB port is not a serial bridge)."""
    return Resource("uart", number,
                    Subsignal("rx", Pins(rx, dir="i", conn=conn)),
                    Subsignal("tx", Pins(tx, dir="o", conn=conn)), attrs)


class BoardDesign(Elaboratable):
    """The whole FPGA: clock (PLL), :class:`InferenceTop` around ``core``, UART pins and LEDs."""

    def __init__(self, board: Board, core, n_pixels: int, baud: int = 115200,
                 clock_mhz: float | None = None):
        self.board = board
        self.pll = board.pll(clock_mhz)
        self.f_clk = self.pll.f_out if self.pll else board.osc_hz
        divisor = baud_divisor(self.f_clk, baud)
        timeout, gap = protocol_timing(self.f_clk)
        self.top = InferenceTop(core, n_pixels=n_pixels, divisor=divisor, timeout=timeout, gap=gap)

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain("sync")
        if self.pll is not None and self.pll.family == "ice40":
            clk = platform.request(platform.default_clk, dir="-").io
        else:
            clk = platform.request(platform.default_clk).i
        m.submodules.clockgen = ClockGen(clk, self.pll)
        m.submodules.top = top = self.top
        uart = platform.request(*self.board.uart)
        m.d.comb += [top.rx.eq(uart.rx.i), uart.tx.o.eq(top.tx)]
        requested = {}
        for bit, (name, number, *sub) in self.board.leds.items():
            if (name, number) not in requested:
                requested[name, number] = platform.request(name, number)
            pins = requested[name, number]
            m.d.comb += self._led_port(platform, pins, sub).eq(top.leds[bit])
        return m

    @staticmethod
    def _led_port(platform, pins, sub):
        return (getattr(pins, sub[0]) if sub else pins).o
        return m
