# SPDX-License-Identifier: MIT
"""OrangeCrab r0.2 (LFE5U-25F / 85F, 48 MHz oscillator, RGB LED, DFU bootloader on USB).

Its USB port is the FPGA's own (no serial bridge), so the UART sits on the Feather header:
pin 0 = RX (host TX -> board), pin 1 = TX; connect a 3.3 V USB-serial adapter there.
"""

from amaranth.build import Attrs
from amaranth_boards.orangecrab_r0_2 import OrangeCrabR0_2_25FPlatform, OrangeCrabR0_2_85FPlatform

from .base import LFE5U_25F, LFE5U_85F, Board, build_only, header_uart

_common = dict(
    osc_hz=48e6,
    clock_mhz=20.0,  # PLL from 48 MHz; see BENCHMARKS.md for the measured Fmax
    bitstream="top.bit",
    programmers=(("dfu-util", ["dfu-util", "-a", "0", "-D", "{bitstream}"]),
                 ("openFPGALoader", ["openFPGALoader", "-b", "orangecrab", "{bitstream}"])),
    leds={0: ("rgb_led", 0, "r"), 1: ("rgb_led", 0, "g"), 2: ("rgb_led", 0, "b")},
    extra_resources=(header_uart(0, rx="0", tx="1", conn=("io", 0), attrs=Attrs(IO_TYPE="LVCMOS33")),),
    # the platform's script appends a DFU suffix with dfu-suffix; a build does not need it
    build_env={"DFU_SUFFIX": "true"},
    notes="UART on Feather pins 0 (RX) / 1 (TX); the RGB LED shows class bits 0-2.",
)

BOARDS = [
    Board(name="orangecrab-25f", platform=build_only(OrangeCrabR0_2_25FPlatform), device=LFE5U_25F,
          **_common),
    Board(name="orangecrab-85f", platform=build_only(OrangeCrabR0_2_85FPlatform), device=LFE5U_85F,
          **_common),
]
