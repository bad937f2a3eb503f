# SPDX-License-Identifier: MIT
"""1-bit weight ROM images for P parallel accumulate lanes.

Layout of the ROM of one layer with ``n_in`` inputs, ``n_out`` neurons and ``P`` lanes
(``G = ceil(n_out / P)`` lane groups):

* address map: word ``a = i * G + g`` holds the weights from input ``i`` to the neurons of
  lane group ``g``, i.e. neurons ``g * P .. g * P + P - 1``; the ROM has ``n_in * G`` words;
* bit order: bit ``j`` of a word (LSB = bit 0) is the weight of neuron ``g * P + j``;
* polarity: bit 1 = weight +1, bit 0 = weight -1 (``spec.sign_bits``); the padding bits of the
  last group (neurons ``>= n_out``) are 0 and the core never lets those lanes fire or win.

One input event therefore reads ``G`` consecutive words, one per clock, each giving every lane
its weight bit: the ROM word is exactly what the ``P`` lanes need in one clock.
"""

from __future__ import annotations

import numpy as np

__all__ = ["groups", "pack_layer", "unpack_layer", "words_to_hex", "words_to_bytes",
           "words_from_hex", "words_from_bytes"]


def groups(n_out: int, lanes: int) -> int:
    """Number of lane groups (ROM words per input) of a layer."""
    if not 1 <= lanes <= n_out:
        raise ValueError(f"lanes must lie in 1..{n_out} for a layer of {n_out} neurons, got {lanes}")
    return -(-n_out // lanes)


def pack_layer(weights: np.ndarray, lanes: int) -> list[int]:
    """Sign matrix ``(n_out, n_in)`` of +1/-1 -> ROM words (Python ints of ``lanes`` bits)."""
    w = np.asarray(weights)
    if w.ndim != 2 or not np.isin(w, (-1, 1)).all():
        raise ValueError("pack_layer needs a (n_out, n_in) matrix of +1/-1 sign weights")
    n_out, n_in = w.shape
    g_count = groups(n_out, lanes)
    bits = np.zeros((n_in, g_count * lanes), dtype=np.uint8)
    bits[:, :n_out] = (w.T > 0)
    bits = bits.reshape(n_in * g_count, lanes)
    # little-endian bit order inside a word: bit j <- lane j
    packed = np.packbits(bits, axis=1, bitorder="little")
    return [int.from_bytes(row.tobytes(), "little") for row in packed]


def unpack_layer(words: list[int], n_out: int, n_in: int, lanes: int) -> np.ndarray:
    """ROM words -> sign matrix ``(n_out, n_in)`` int8 (+1/-1); the inverse of :func:`pack_layer`."""
    g_count = groups(n_out, lanes)
    if len(words) != n_in * g_count:
        raise ValueError(f"expected {n_in * g_count} ROM words, got {len(words)}")
    nbytes = -(-lanes // 8)
    raw = np.frombuffer(b"".join(int(x).to_bytes(nbytes, "little") for x in words), dtype=np.uint8)
    bits = np.unpackbits(raw.reshape(len(words), nbytes), axis=1, bitorder="little")[:, :lanes]
    bits = bits.reshape(n_in, g_count * lanes)
    if bits[:, n_out:].any():
        raise ValueError("padding bits of the last lane group must be 0")
    return np.where(bits[:, :n_out].T == 1, 1, -1).astype(np.int8)


def words_to_hex(words: list[int], lanes: int) -> str:
    """``$readmemh`` text: one word per line, ``ceil(lanes / 4)`` hex digits, MSB first."""
    digits = -(-lanes // 4)
    return "".join(f"{w:0{digits}x}\n" for w in words)


def words_from_hex(text: str, lanes: int) -> list[int]:
    words = [int(line, 16) for line in text.split() if line]
    if any(w >> lanes for w in words):
        raise ValueError(f"hex ROM holds a word wider than {lanes} bits")
    return words


def words_to_bytes(words: list[int], lanes: int) -> bytes:
    """Raw binary: each word as ``ceil(lanes / 8)`` bytes, little-endian (bit j -> byte j//8, bit j%8)."""
    nbytes = -(-lanes // 8)
    return b"".join(int(w).to_bytes(nbytes, "little") for w in words)


def words_from_bytes(raw: bytes, lanes: int) -> list[int]:
    nbytes = -(-lanes // 8)
    if len(raw) % nbytes:
        raise ValueError(f"raw ROM size {len(raw)} is not a multiple of the word size {nbytes}")
    return [int.from_bytes(raw[i:i + nbytes], "little") for i in range(0, len(raw), nbytes)]
