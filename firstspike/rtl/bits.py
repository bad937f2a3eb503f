# SPDX-License-Identifier: MIT
"""Small combinational helpers on wide bit vectors: find-first-set and "at most one bit set".

Both are built as two-level trees over chunks of :data:`CHUNK` bits, so a 600-bit vector costs a
short carry chain over the chunk flags plus one over a chunk instead of one 600-bit carry chain
(which was the critical path of the P = n_out hidden layer).
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Cat, Const, Module, Signal, Value

__all__ = ["CHUNK", "FirstSet", "first_set", "lowest_set_bit", "at_most_one_bit"]

#: bits per chunk of the two-level trees
CHUNK = 16


def _flat_lowest(m: Module, vector: Value, name: str) -> tuple[Value, Value]:
    """``(index, one_hot)`` by ``vector & -vector`` and constant OR masks (no per-bit chain)."""
    width = len(vector)
    bits = max(1, (width - 1).bit_length())
    onehot = Signal(width, name=f"{name}_onehot")
    index = Signal(bits, name=f"{name}_index")
    m.d.comb += onehot.eq(vector & (~vector + 1)[:width])
    masks = [sum(1 << i for i in range(width) if (i >> b) & 1) for b in range(bits)]
    m.d.comb += index.eq(Cat(*[(onehot & Const(mask, width)).any() for mask in masks]))
    return index, onehot


@dataclass
class FirstSet:
    index: Value   # position of the lowest set bit (0 when none)
    onehot: Value  # that bit alone
    any: Value     # some bit is set
    single: Value  # at most one bit is set
    chunk_onehot: Value  # the lowest bit's chunk of CHUNK bits, one-hot (one bit when width <= CHUNK)
    bit_onehot: Value    # its place within that chunk, one-hot (onehot = chunk x bit)


def first_set(m: Module, vector: Value, name: str) -> FirstSet:
    """Lowest set bit of ``vector``, with "any bit" and "at most one bit" beside it.

    Up to :data:`CHUNK` bits: isolate the bit with ``v & -v``. Wider: find the lowest non-empty
    chunk (flags = OR of each chunk), select that chunk's bits (AND-OR over the chunk one-hot), find
    its lowest bit; the index is ``chunk * CHUNK + bit`` and the one-hot the product of both. At
    most one bit is set when at most one chunk is non-empty and the selected chunk has at most one.
    """
    width = len(vector)
    if width <= CHUNK:
        index, onehot = _flat_lowest(m, vector, name)
        return FirstSet(index, onehot, vector.any(), at_most_one_bit(m, vector, name), Const(1, 1), onehot)
    n_chunks = -(-width // CHUNK)
    padded = Cat(vector, Const(0, n_chunks * CHUNK - width))
    chunks = [padded[c * CHUNK:(c + 1) * CHUNK] for c in range(n_chunks)]
    flags = Signal(n_chunks, name=f"{name}_flags")
    m.d.comb += flags.eq(Cat(*[chunk.any() for chunk in chunks]))
    c_index, c_onehot = _flat_lowest(m, flags, f"{name}_chunk")
    word = Signal(CHUNK, name=f"{name}_word")
    selected = 0
    for c, chunk in enumerate(chunks):
        selected = selected | (chunk & c_onehot[c].replicate(CHUNK))
    m.d.comb += word.eq(selected)
    b_index, b_onehot = _flat_lowest(m, word, f"{name}_bit")
    index = Signal(max(1, (width - 1).bit_length()), name=f"{name}_index")
    onehot = Signal(width, name=f"{name}_onehot")
    m.d.comb += [
        index.eq(Cat(b_index, c_index)),  # CHUNK is a power of two
        onehot.eq(Cat(*[b_onehot & c_onehot[c].replicate(CHUNK) for c in range(n_chunks)])[:width]),
    ]
    single = at_most_one_bit(m, flags, f"{name}_chunks") & at_most_one_bit(m, word, f"{name}_word")
    return FirstSet(index, onehot, flags.any(), single, c_onehot, b_onehot)


def lowest_set_bit(m: Module, vector: Value, name: str) -> tuple[Value, Value]:
    """``(index, one_hot)`` of the lowest set bit of ``vector`` (index 0 when it is 0)."""
    found = first_set(m, vector, name)
    return found.index, found.onehot


def at_most_one_bit(m: Module, vector: Value, name: str) -> Value:
    """1 when ``vector`` has no or one set bit: a balanced tree of (any, several) pairs."""
    nodes = [(vector[i], Const(0, 1)) for i in range(len(vector))]
    while len(nodes) > 1:
        merged = []
        for k in range(0, len(nodes) - 1, 2):
            (a_any, a_many), (b_any, b_many) = nodes[k], nodes[k + 1]
            merged.append((a_any | b_any, a_many | b_many | (a_any & b_any)))
        if len(nodes) % 2:
            merged.append(nodes[-1])
        nodes = merged
    result = Signal(name=f"{name}_single")
    m.d.comb += result.eq(~nodes[0][1])
    return result
