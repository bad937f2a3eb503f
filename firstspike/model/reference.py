# SPDX-License-Identifier: MIT
"""Slow, obvious reference forward pass: the dense formulation of the SRKH code, literally.

Ref: S4NN / BS4NN official code (SRKH/S4NN ``S4NN.py``, SRKH/BS4NN notebook), as restated in
:mod:`.spec`. ``V[t] = sum_i w_i [t_i <= t]`` for ``t < T``, ``V[T]`` forced above threshold,
spike time = first ``t`` with ``V[t] > theta``, plus one, clipped to ``T``.

One reference per layer kind: a fully connected layer is its ``(n_out, n_in)`` matrix; a conv
layer of :mod:`.arch` (sum pooling, then convolution) is a linear map of the input spike trains,
so it equals the fully connected layer whose matrix holds, for output ``(co, oy, ox)`` and input
``(ci, y, x)``, the kernel tap that the pooled position ``(y // P, x // P)`` meets, or 0
(:func:`unrolled_matrix`, plain loops). Only for testing the numba kernels; it makes no attempt
to be fast.
"""

from __future__ import annotations

import numpy as np

from .arch import Layer

__all__ = ["dense_forward", "dense_layer", "network_forward", "tap_index", "unrolled_matrix"]


def dense_layer(in_times, weights, theta, T):
    """One layer: returns (spike times, potentials ``V[0..T, n_out]``). ``weights`` is (n_out, n_in)."""
    weights = np.asarray(weights)
    n_out, n_in = weights.shape
    acc_dtype = np.float64 if weights.dtype.kind == "f" else np.int64
    V = np.zeros((T + 1, n_out), dtype=acc_dtype)
    for t in range(T):
        for i in range(n_in):
            if in_times[i] <= t:
                V[t] += weights[:, i]
    V[T] = theta + 1  # the reference code's forced spike at the end of the window
    times = np.empty(n_out, dtype=np.int64)
    for j in range(n_out):
        crossing = next(t for t in range(T + 1) if V[t, j] > theta)
        times[j] = min(crossing + 1, T)
    return times, V


def dense_forward(in_times, weights, thresholds, T, dropped=None):
    """All layers; returns (list of spike times per layer, potentials of the last layer).

    ``dropped`` (training only): one boolean mask per hidden layer; the marked neurons are set
    silent (``T``) before the next layer sees them (dropout)."""
    times = []
    cur = np.asarray(in_times)
    V = None
    for layer, (w, theta) in enumerate(zip(weights, thresholds)):
        cur, V = dense_layer(cur, w, theta, T)
        if dropped is not None and layer < len(weights) - 1:
            cur = np.where(dropped[layer], T, cur)
        times.append(cur)
    return times, V


def tap_index(layer: Layer) -> np.ndarray:
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


def unrolled_matrix(layer: Layer, kernel: np.ndarray) -> np.ndarray:
    """The layer as a dense ``(n_out, n_in)`` weight matrix (``kernel`` is (c_out, c_in, kh, kw))."""
    index = tap_index(layer)
    flat = np.asarray(kernel).reshape(-1)
    return np.where(index >= 0, flat[np.maximum(index, 0)], 0).astype(flat.dtype)


def network_forward(in_times, layers, kernels, thresholds, T, dropped=None):
    """All layers of a network given as :mod:`.arch` layers and kernels (see :func:`dense_forward`); a
    plain fc layer's matrix is its kernel reshaped (what :func:`unrolled_matrix` gives, faster)."""
    mats = [np.asarray(k).reshape(L.n_out, L.n_in) if L.kind == "fc" and L.pool == 1
            else unrolled_matrix(L, k) for L, k in zip(layers, kernels)]
    return dense_forward(in_times, mats, thresholds, T, dropped)
