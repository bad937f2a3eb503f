# SPDX-License-Identifier: MIT
"""Event-driven numba forward pass of TTFS networks (the contract of :mod:`.spec`).

One neuron layer (see :mod:`.arch`) is "sum pooling of the input map, then a convolution";
a fully connected layer is the convolution whose kernel covers the whole map. Per layer and
image: counting-sort the input spikes into the time bins ``0 .. T-2`` (:func:`sort_events`,
later events can never count), add every event of a bin as one group (each spike at
``(c, y, x)`` lands at pooled position ``(y // P, x // P)`` and adds its kernel column to every
output position whose window covers it), then test the strict threshold on the positions touched
in that bin only (binary and real potentials only change where an event landed). A neuron
crossing in bin ``t`` spikes at ``spec.spike_time(t)``.

Layouts: ``geom`` is :meth:`.arch.Layer.geometry` (indices ``G_*``); weights are ``(c_in, kh, kw,
c_out)`` so an event reads one contiguous row per kernel tap;
spike times are numbered row-major over ``(c_out, h_out, w_out)``; potentials are held as
``(h_out * w_out, c_out)``. Tested with ``==`` against the slow reference of :mod:`.reference`.
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


G_CIN, G_HIN, G_WIN, G_POOL, G_KH, G_KW, G_STRIDE, G_PAD, G_COUT, G_HOUT, G_WOUT = range(11)


@njit(cache=True)
def window_range(p, pad, k, stride, n_out):
    """Output rows ``lo .. hi`` (inclusive) whose kernel window covers pooled row ``p``."""
    a = p + pad - k + 1
    lo = 0 if a <= 0 else (a + stride - 1) // stride
    return lo, min((p + pad) // stride, n_out - 1)


@njit(cache=True)
def input_reach(i, g):
    """Where input neuron ``i`` (row-major ``(c, y, x)``) lands in a layer of geometry ``g``.

    Returns ``(ci, py, px, oy_lo, oy_hi, ox_lo, ox_hi)``: its channel, its pooled position and the
    output rows/columns whose kernel window covers it; ``ci = -1`` if pooling crops it away.
    """
    plane = g[G_HIN] * g[G_WIN]
    ci = i // plane
    r = i - ci * plane
    py = (r // g[G_WIN]) // g[G_POOL]
    px = (r % g[G_WIN]) // g[G_POOL]
    if py >= g[G_HIN] // g[G_POOL] or px >= g[G_WIN] // g[G_POOL]:
        return -1, py, px, 0, -1, 0, -1
    oy_lo, oy_hi = window_range(py, g[G_PAD], g[G_KH], g[G_STRIDE], g[G_HOUT])
    ox_lo, ox_hi = window_range(px, g[G_PAD], g[G_KW], g[G_STRIDE], g[G_WOUT])
    return ci, py, px, oy_lo, oy_hi, ox_lo, ox_hi


@njit(cache=True)
def is_dense(g):
    """A fully connected layer without pooling: one output position, every input meets its own tap,
    so the kernel reads as an ``(n_in, c_out)`` matrix (the kernels' fast path)."""
    return g[G_KH] == g[G_HIN] and g[G_KW] == g[G_WIN] and g[G_POOL] == 1 and g[G_PAD] == 0


@njit(cache=True)
def _conv_bin(order, lo, hi, g, w_t, theta, t, T, V, out_times, dirty, touched, first_cross):
    """Add the events ``order[lo:hi]`` of bin ``t`` to a conv layer's potentials ``(position,
    channel)``, then test the threshold on the positions they touched; returns the first crossing."""
    stride, pad = g[G_STRIDE], g[G_PAD]
    c_out, w_out = g[G_COUT], g[G_WOUT]
    n_pos = g[G_HOUT] * w_out
    n_touched = 0
    for q in range(lo, hi):
        ci, py, px, oy_lo, oy_hi, ox_lo, ox_hi = input_reach(order[q], g)
        if ci < 0:
            continue
        for oy in range(oy_lo, oy_hi + 1):
            dy = py + pad - oy * stride
            for ox in range(ox_lo, ox_hi + 1):
                dx = px + pad - ox * stride
                pos = oy * w_out + ox
                row = w_t[ci, dy, dx]
                for k in range(c_out):
                    V[pos, k] += row[k]
                if not dirty[pos]:
                    dirty[pos] = True
                    touched[n_touched] = pos
                    n_touched += 1
    for d in range(n_touched):
        pos = touched[d]
        dirty[pos] = False
        for k in range(c_out):
            idx = k * n_pos + pos
            if out_times[idx] == T and V[pos, k] > theta:
                out_times[idx] = spike_time(t, T)
                if first_cross < 0:
                    first_cross = t
    return first_cross


@njit(cache=True)
def layer_forward(in_times, g, w_t, theta, T, V, out_times, order, starts, dirty, touched,
                       snaps, want_snaps):
    """One layer, one image. Fills ``V`` (zeroed by the caller) and ``out_times``.

    Returns the first crossing index of the layer, or -1 if no neuron crosses.
    """
    c_out = g[G_COUT]
    dense = is_dense(g)
    w_dense = w_t.reshape(-1, c_out)
    sort_events(in_times, T, order, starts)
    out_times[:] = T
    first_cross = -1
    n_fired = 0
    for t in range(T - 1):
        if want_snaps and t == T - 2:
            snaps[SNAP_REFERENCE, :] = V[0]
        lo, hi = starts[t], starts[t + 1]
        if lo == hi:
            continue
        if dense:  # a plain fc layer: one kernel row per input, one position, no bookkeeping
            v0 = V[0]
            for q in range(lo, hi):
                row = w_dense[order[q]]
                for k in range(c_out):
                    v0[k] += row[k]
            if n_fired < c_out:
                for k in range(c_out):
                    if out_times[k] == T and v0[k] > theta:
                        out_times[k] = spike_time(t, T)
                        n_fired += 1
                        if first_cross < 0:
                            first_cross = t
        else:
            first_cross = _conv_bin(order, lo, hi, g, w_t, theta, t, T, V, out_times, dirty, touched,
                                    first_cross)
        if want_snaps and first_cross == t:
            snaps[SNAP_FIRST_CROSS, :] = V[0]
    if want_snaps:
        snaps[SNAP_END, :] = V[0]
    return first_cross


@njit(cache=True)
def scratch(n_in, geoms, T):
    """Work arrays of :func:`layer_forward` sized for every layer: order, starts, dirty, touched."""
    widest_in, widest_pos = n_in, 1
    for layer in range(geoms.shape[0]):
        g = geoms[layer]
        widest_in = max(widest_in, g[G_CIN] * g[G_HIN] * g[G_WIN])
        widest_pos = max(widest_pos, g[G_HOUT] * g[G_WOUT])
    return (np.empty(widest_in, dtype=np.int32), np.zeros(T + 1, dtype=np.int32),
            np.zeros(widest_pos, dtype=np.bool_), np.empty(widest_pos, dtype=np.int32))


@njit(cache=True)
def network_forward(in_times, geoms, weights_t, thetas, T, offsets, times_out, snaps):
    """All layers of one image; ``times_out[offsets[l]:offsets[l+1]]`` gets layer l's times."""
    n_layers = geoms.shape[0]
    order, starts, dirty, touched = scratch(in_times.shape[0], geoms, T)
    cur = in_times
    first = -1
    for layer in range(n_layers):
        g = geoms[layer]
        V = np.zeros((g[G_HOUT] * g[G_WOUT], g[G_COUT]), dtype=snaps.dtype)
        dst = times_out[offsets[layer] : offsets[layer + 1]]
        first = layer_forward(cur, g, weights_t[layer], thetas[layer], T, V, dst, order, starts,
                                   dirty, touched, snaps, layer == n_layers - 1)
        cur = dst
    return first


@njit(parallel=True, cache=True)
def forward_batch(in_times, geoms, weights_t, thetas, T, offsets, times_out, snaps, first_cross):
    """Forward every image (rows of ``in_times``) in parallel."""
    for n in prange(in_times.shape[0]):
        first_cross[n] = network_forward(in_times[n], geoms, weights_t, thetas, T, offsets,
                                              times_out[n], snaps[n])
