# SPDX-License-Identifier: MIT
"""Slow, obvious reference for convolutional TTFS networks: unroll, then the dense reference.

A neuron layer of :mod:`.conv_arch` (sum pooling, then convolution) is a linear map of the
input spike trains, so it equals a fully connected layer whose ``(n_out, n_in)`` matrix holds,
for output ``(co, oy, ox)`` and input ``(ci, y, x)``, the kernel tap that the pooled position
``(y // P, x // P)`` meets, or 0. :func:`unrolled_matrix` builds that matrix with plain loops
and :func:`dense_forward` of :mod:`.reference` does the rest. Only for testing the kernels.
"""

from __future__ import annotations

import numpy as np

from .conv_arch import NeuronLayer
from .reference import dense_forward

__all__ = ["tap_index", "unrolled_matrix", "conv_dense_forward"]


def tap_index(layer: NeuronLayer) -> np.ndarray:
    """``(n_out, n_in)`` array: flat index into the ``(c_out, c_in, kh, kw)`` kernel, or -1."""
    L = layer
    index = np.full((L.n_out, L.n_in), -1, dtype=np.int64)
    for co in range(L.c_out):
        for oy in range(L.h_out):
            for ox in range(L.w_out):
                k = (co * L.h_out + oy) * L.w_out + ox
                for ci in range(L.c_in):
                    for y in range(L.h_in):
                        for x in range(L.w_in):
                            py, px = y // L.pool, x // L.pool
                            if py >= L.hp or px >= L.wp:
                                continue  # dropped by the pooling
                            dy = py + L.pad - oy * L.stride
                            dx = px + L.pad - ox * L.stride
                            if 0 <= dy < L.kh and 0 <= dx < L.kw:
                                i = (ci * L.h_in + y) * L.w_in + x
                                index[k, i] = ((co * L.c_in + ci) * L.kh + dy) * L.kw + dx
    return index


def unrolled_matrix(layer: NeuronLayer, kernel: np.ndarray) -> np.ndarray:
    """The layer as a dense ``(n_out, n_in)`` weight matrix (``kernel`` is (c_out, c_in, kh, kw))."""
    index = tap_index(layer)
    flat = np.asarray(kernel).reshape(-1)
    return np.where(index >= 0, flat[np.maximum(index, 0)], 0).astype(flat.dtype)


def conv_dense_forward(in_times, layers, kernels, thresholds, T):
    """All layers; returns (spike times per layer, potentials ``V[0..T]`` of the last layer)."""
    mats = [unrolled_matrix(layer, k) for layer, k in zip(layers, kernels)]
    return dense_forward(in_times, mats, thresholds, T)
