# SPDX-License-Identifier: MIT
"""Slow, obvious reference forward pass: the dense formulation of the SRKH code, literally.

Ref: S4NN / BS4NN official code (SRKH/S4NN ``S4NN.py``, SRKH/BS4NN notebook), as restated in
:mod:`.spec`. ``V[t] = sum_i w_i [t_i <= t]`` for ``t < T``, ``V[T]`` forced above threshold,
spike time = first ``t`` with ``V[t] > theta``, plus one, clipped to ``T``.

Only for testing the numba kernels; it makes no attempt to be fast.
"""

from __future__ import annotations

import numpy as np

__all__ = ["dense_forward", "dense_layer"]


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
