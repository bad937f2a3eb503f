# SPDX-License-Identifier: MIT
"""Event-driven numba kernels for the TTFS forward pass (the contract of :mod:`.spec`).

Per layer: counting-sort the input events into the time bins ``0 .. T-2`` (events at ``T-1``
or later can never count, :func:`spec.is_effective`), add each bin's weight rows as one group,
then test the strict threshold once per non-empty bin. A neuron crossing in bin ``t`` spikes
at ``spec.spike_time(t) = t + 1``. Tested with ``==`` against the dense reference in
:mod:`.reference`.

Weights are passed transposed, ``(n_in, n_out)``, so one input event reads one contiguous row.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .spec import is_effective, spike_time

# Rows of the per-image snapshot array ``snaps[3, K]`` of the last layer.
SNAP_FIRST_CROSS = 0  # V at the first crossing index (hardware rule)
SNAP_REFERENCE = 1  # V(T - 3) (reference rule fallback)
SNAP_END = 2  # V(T - 2) (hardware rule fallback)


@njit(cache=True)
def sort_events(in_times, T, order, starts):
    """Counting sort of the effective events by time; ``starts[t] .. starts[t+1]`` is bin t."""
    starts[:] = 0
    for i in range(in_times.shape[0]):
        t = in_times[i]
        if t >= 0 and is_effective(t, T):
            starts[t + 1] += 1
    for t in range(T):
        starts[t + 1] += starts[t]
    cursor = starts[:T].copy()
    for i in range(in_times.shape[0]):
        t = in_times[i]
        if t >= 0 and is_effective(t, T):
            order[cursor[t]] = i
            cursor[t] += 1


@njit(cache=True)
def layer_forward(in_times, w_t, theta, T, V, out_times, order, starts, snaps, want_snaps):
    """One layer, one image. Fills ``V`` (zeroed by the caller) and ``out_times``.

    Returns the first crossing index of the layer, or -1 if no neuron crosses.
    """
    n_out = w_t.shape[1]
    sort_events(in_times, T, order, starts)
    for k in range(n_out):
        out_times[k] = T
    first_cross = -1
    n_fired = 0
    last = T - 2
    for t in range(last + 1):
        if want_snaps and t == T - 2:
            snaps[SNAP_REFERENCE, :] = V
        lo = starts[t]
        hi = starts[t + 1]
        if lo == hi:
            continue
        for q in range(lo, hi):
            row = w_t[order[q]]
            for k in range(n_out):
                V[k] += row[k]
        if n_fired < n_out:
            for k in range(n_out):
                if out_times[k] == T and V[k] > theta:
                    out_times[k] = spike_time(t, T)
                    n_fired += 1
                    if first_cross < 0:
                        first_cross = t
            if want_snaps and first_cross == t:
                snaps[SNAP_FIRST_CROSS, :] = V
    if want_snaps:
        snaps[SNAP_END, :] = V
    return first_cross


@njit(cache=True)
def network_forward(in_times, weights_t, thetas, T, offsets, times_out, snaps):
    """All layers of one image. ``times_out[offsets[l]:offsets[l+1]]`` gets layer l's times."""
    n_layers = len(weights_t)
    order = np.empty(in_times.shape[0], dtype=np.int32)
    starts = np.zeros(T + 1, dtype=np.int32)
    cur = in_times
    first = -1
    for layer in range(n_layers):
        w_t = weights_t[layer]
        n_out = w_t.shape[1]
        if order.shape[0] < w_t.shape[0]:
            order = np.empty(w_t.shape[0], dtype=np.int32)
        V = np.zeros(n_out, dtype=snaps.dtype)
        dst = times_out[offsets[layer] : offsets[layer + 1]]
        is_last = layer == n_layers - 1
        first = layer_forward(cur, w_t, thetas[layer], T, V, dst, order, starts, snaps, is_last)
        cur = dst
    return first


@njit(parallel=True, cache=True)
def forward_batch(in_times, weights_t, thetas, T, offsets, times_out, snaps, first_cross):
    """Forward every image (rows of ``in_times``) in parallel."""
    for n in prange(in_times.shape[0]):
        first_cross[n] = network_forward(
            in_times[n], weights_t, thetas, T, offsets, times_out[n], snaps[n]
        )
