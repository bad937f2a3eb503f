# SPDX-License-Identifier: MIT
"""Bit-level UART line model for testbenches (8N1, LSB first, idle high)."""


def char_bits(byte: int, stop: int = 1) -> list[int]:
    """The 10 line levels of one character; ``stop=0`` makes a framing error."""
    return [0] + [(byte >> i) & 1 for i in range(8)] + [stop]


def line_bits(data: bytes) -> list[int]:
    return [bit for byte in data for bit in char_bits(byte)]
