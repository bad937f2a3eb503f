# SPDX-License-Identifier: MIT
"""ULX3S (LFE5U-25F / 85F, 25 MHz oscillator, FTDI FT231X UART on the USB port, 8 LEDs)."""

from amaranth_boards.ulx3s import ULX3S_25F_Platform, ULX3S_85F_Platform

from .base import LFE5U_25F, LFE5U_85F, Board, build_only

_common = dict(
    osc_hz=25e6,
    clock_mhz=16.0,  # PLL from 25 MHz; the core closes timing at 17-19 MHz on the speed-6 parts
    bitstream="top.bit",
    programmers=(("openFPGALoader", ["openFPGALoader", "-b", "ulx3s", "{bitstream}"]),),
    leds={0: ("led", 0), 1: ("led", 1), 2: ("led", 2), 3: ("led", 3), 7: ("led", 7)},
    notes="UART through the board's USB port (FT231X); LEDs 0-3 show the class, LED 7 busy.",
)

BOARDS = [
    Board(name="ulx3s-25f", platform=build_only(ULX3S_25F_Platform), device=LFE5U_25F, **_common),
    Board(name="ulx3s-85f", platform=build_only(ULX3S_85F_Platform), device=LFE5U_85F, **_common),
]
