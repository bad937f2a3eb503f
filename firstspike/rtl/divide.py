# SPDX-License-Identifier: MIT
"""Division of a bounded unsigned value by a constant: a multiply by a reciprocal and a shift."""

from __future__ import annotations

from amaranth.hdl import Value

__all__ = ["divide_by_constant", "reciprocal"]


def reciprocal(divisor: int, limit: int) -> tuple[int, int]:
    """``(m, s)`` with ``(v * m) >> s == v // divisor`` for every ``0 <= v < limit`` (checked)."""
    if divisor < 1:
        raise ValueError(f"divisor must be >= 1, got {divisor}")
    if divisor & (divisor - 1) == 0:
        return 1, divisor.bit_length() - 1
    for s in range(1, 64):
        m = -(-(1 << s) // divisor)
        if all((v * m) >> s == v // divisor for v in range(limit)):
            return m, s
    raise ValueError(f"no reciprocal of {divisor} for values below {limit}")


def divide_by_constant(value: Value, divisor: int, limit: int) -> Value:
    """``value // divisor`` for ``0 <= value < limit`` without a divider."""
    m, s = reciprocal(divisor, limit)
    return (value * m) >> s
