# SPDX-License-Identifier: MIT
"""Small combinational helpers: lowest set bit (find-first-set) of a wide vector."""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal, Value

__all__ = ["lowest_set_bit"]


def lowest_set_bit(m: Module, vector: Value, name: str) -> tuple[Value, Value]:
    """Return ``(index, one_hot)`` of the lowest set bit of ``vector`` (index 0 when it is 0).

    ``one_hot = vector & -vector`` isolates the bit; index bit ``b`` is the OR of the one-hot
    bits whose position has bit ``b`` set, so no long priority chain is built.
    """
    width = len(vector)
    one_hot = (vector & (~vector + 1)[:width])[:width]
    bits = max(1, (width - 1).bit_length())
    index_bits = []
    for b in range(bits):
        terms = [one_hot[i] for i in range(width) if (i >> b) & 1]
        index_bits.append(Cat(*terms).any() if terms else Const(0, 1))

    index = Signal(bits, name=f"{name}_index")
    onehot_sig = Signal(width, name=f"{name}_onehot")
    m.d.comb += [index.eq(Cat(*index_bits)), onehot_sig.eq(one_hot)]
    return index, onehot_sig
