# SPDX-License-Identifier: MIT
"""Export of convolutional binary TTFS networks: one 1-bit kernel ROM per neuron layer.

A conv layer's weights are its ``(c_out, c_in, kh, kw)`` sign kernel, shared by every output
position. Its ROM is the FC layout of :mod:`firstspike.export.rom` applied to the kernel seen as
a ``(c_out, c_in * kh * kw)`` matrix: the "input" of a word is a kernel *tap*
``(ci, dy, dx)`` and its bits are the output *channels*, so

* word ``a = tap * G + g`` with ``tap = (ci * kh + dy) * kw + dx`` and ``G = ceil(c_out / P)``;
* bit ``j`` of a word is the sign of output channel ``g * P + j`` (1 = +1, 0 = -1, padding 0).

An input event at ``(ci, y, x)`` lands at pooled position ``(y // pool, x // pool)``; for every
output position ``(oy, ox)`` whose window covers it, the core reads the ``G`` words of tap
``(ci, py + pad - oy * stride, px + pad - ox * stride)`` (the read of
:func:`firstspike.model.kernels.layer_forward`). An fc layer of a conv network is the
kernel covering the whole pooled map (``kh, kw = h_in // pool, w_in // pool``), so its taps are
the pooled inputs numbered row-major over ``(C, H, W)``.

The manifest (:mod:`.manifest`, ``"kind": "conv"``) is the :class:`~.plan.HardwarePlan`: per layer
the kind and the geometry (channels, map sizes, kernel, stride, padding, pooling of the layer's
input), ``inputs`` = taps, ``outputs`` = channels, the threshold and widths, plus the SHA-256 of
every image; the loader checks all of it against the architecture string.
"""

__all__ = ["LAYOUT"]

LAYOUT = {
    "address": "word a = tap * groups + group, tap = (c_in_index * kh + dy) * kw + dx",
    "bit_order": "bit j (LSB = 0) of a word = sign of output channel group * lanes + j",
    "polarity": "bit 1 = +1, bit 0 = -1; padding bits of the last group (channel >= c_out) are 0",
    "event": "an input spike at (c, y, x) sits at pooled (y // pool, x // pool) = (py, px); output "
             "(co, oy, ox) reads tap (c, py + pad - oy * stride, px + pad - ox * stride) if inside the kernel",
    "pooling": "pool = k x k sum pooling of the layer's input spikes (stride k, rows/columns beyond "
               "k * (H // k) dropped), folded into the layer's threshold",
    "neuron_numbering": "row-major over (c_out, h_out, w_out)",
    "hex": "one word per line, ceil(lanes/4) hex digits, most significant digit first ($readmemh)",
    "bin": "ceil(lanes/8) bytes per word, little-endian",
    "init": "JSON list of integers, one per word (amaranth.lib.memory.Memory init)",
}
