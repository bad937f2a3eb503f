# SPDX-License-Identifier: MIT
"""iCEBreaker (iCE40UP5K, 12 MHz oscillator, FT2232H UART on the USB port, break-off PMOD LEDs)."""

from amaranth_boards.icebreaker import ICEBreakerPlatform

from .base import ICE40UP5K, Board, build_only

_Platform = build_only(ICEBreakerPlatform)

BOARDS = [
    Board(
        name="icebreaker",
        platform=_Platform,
        device=ICE40UP5K,
        osc_hz=12e6,
        clock_mhz=12.0,
        bitstream="top.bin",
        programmers=(("iceprog", ["iceprog", "{bitstream}"]),
                     ("openFPGALoader", ["openFPGALoader", "-b", "icebreaker", "{bitstream}"])),
        # break-off PMOD LEDs 2-5 show the class, the red on-board LED is busy
        leds={0: ("led", 2), 1: ("led", 3), 2: ("led", 4), 3: ("led", 5), 7: ("led_r", 0)},
        extra_resources=tuple(ICEBreakerPlatform.break_off_pmod),
        notes="UART through the board's USB port (FT2232H channel B); PMOD LEDs 2-5 show the class.",
    ),
]
