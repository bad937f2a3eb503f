# SPDX-License-Identifier: MIT
"""Small combinational helpers: lowest set bit (find-first-set) of a wide vector."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal, Value

__all__ = ["lowest_set_bit"]


def lowest_set_bit(m: Module, vector: Value, name: str) -> tuple[Value, Value]:
    """Return ``(index, one_hot)`` of the lowest set bit of ``vector`` (index 0 when it is 0).

    ``one_hot = vector & -vector`` isolates the bit; index bit ``b`` is set when the one-hot
    vector meets the constant mask of all positions whose bit ``b`` is set. Only wide AND/OR
    reductions, no priority chain and no per-bit logic, so it stays small in Verilator too.
    """
    width = len(vector)
    bits = max(1, (width - 1).bit_length())
    onehot_sig = Signal(width, name=f"{name}_onehot")
    index = Signal(bits, name=f"{name}_index")
    m.d.comb += onehot_sig.eq(vector & (~vector + 1)[:width])
    masks = [sum(1 << i for i in range(width) if (i >> b) & 1) for b in range(bits)]
    m.d.comb += index.eq(Cat(*[(onehot_sig & Const(mask, width)).any() for mask in masks]))
    return index, onehot_sig
