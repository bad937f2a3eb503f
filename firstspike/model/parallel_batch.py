# SPDX-License-Identifier: MIT
"""The mini-batch gradients of :func:`.batch_kernels.batch_gradients`, to the bit, faster.

Within a batch the weights are fixed, so each sample's forward pass and error propagation are
independent: they run in parallel over the batch (:func:`sample_errors`). Only the sums into
``grads`` must keep their order (floating-point addition is not associative): they run after, in
parallel over kernel rows ``(c_in, kh)`` (no two threads write one element), each thread adding
the samples in batch order and the inputs in index order, as the reference does.

The per-input error sums (``below``, the silent-neuron surrogate) skip the outputs without an
error (:func:`conv_errors`), and inputs of one pooling window share the surrogate's sum. Terms
left out or added as ``+0.0`` are zeros: the same bits, as no sum here (all start at ``+0.0``,
rounding to nearest) can ever be ``-0.0``. Tested with ``==`` against
:mod:`.batch_kernels` (tests/test_parallel_batch.py).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange
from numba.typed import List

from .kernels import G_CIN, G_COUT, G_HIN, G_HOUT, G_KH, G_KW, G_PAD, G_POOL, G_STRIDE, G_WIN, G_WOUT
from .kernels import SNAP_END, SNAP_FIRST_CROSS, input_reach, window_range
from .sgd_kernels import fan_in_of, forward_sample
from .train_kernels import normalise, target_error

@njit(cache=True)
def output_rows(g, t_out, delta):
    """Outputs as ``(position, channel)`` rows (errors, times) and the latest time of an output with
    an error (inputs at or after it meet no mask)."""
    c_out, n_pos = g[G_COUT], g[G_HOUT] * g[G_WOUT]
    d_pc = np.empty((n_pos, c_out))
    t_pc = np.empty((n_pos, c_out), dtype=t_out.dtype)
    t_max = t_out.dtype.type(0)
    for co in range(c_out):
        for pos in range(n_pos):
            k = co * n_pos + pos
            d_pc[pos, co] = delta[k]
            t_pc[pos, co] = t_out[k]
            if delta[k] != 0.0 and t_out[k] > t_max:
                t_max = t_out[k]
    return d_pc, t_pc, t_max


@njit(cache=True)
def nonzero_rows(d_pc, t_pc):
    """Per output position, the channels with a nonzero error, in channel order: ``count[pos]``
    entries of ``channel``, ``err``, ``time`` (a zero error adds ``+-0.0``: nothing)."""
    n_pos, c_out = d_pc.shape
    count = np.zeros(n_pos, dtype=np.int64)
    channel = np.empty((n_pos, c_out), dtype=np.int64)
    err = np.empty((n_pos, c_out))
    time = np.empty((n_pos, c_out), dtype=t_pc.dtype)
    for pos in range(n_pos):
        c = 0
        for co in range(c_out):
            if d_pc[pos, co] != 0.0:
                channel[pos, c], err[pos, c], time[pos, c] = co, d_pc[pos, co], t_pc[pos, co]
                c += 1
        count[pos] = c
    return count, channel, err, time


@njit(cache=True)
def conv_errors(g, t_in, t_out, delta, w, delta_in):
    """``delta_in[i] += sum w[q] delta_k [t_i < t_k]`` over the (output k, tap q) pairs input i
    meets: :func:`.sgd_kernels.conv_backward` with ``want_grad=False``, to the bit (the same sum
    in the same order, without its zero terms)."""
    d_pc, t_pc, t_max = output_rows(g, t_out, delta)
    count, channel, err, time = nonzero_rows(d_pc, t_pc)
    stride, pad, w_out = g[G_STRIDE], g[G_PAD], g[G_WOUT]
    for i in range(t_in.shape[0]):
        ti = t_in[i]
        if ti >= t_max:
            continue
        ci, py, px, oy_lo, oy_hi, ox_lo, ox_hi = input_reach(i, g)
        if ci < 0:
            continue
        acc = 0.0
        for oy in range(oy_lo, oy_hi + 1):
            dy = py + pad - oy * stride
            for ox in range(ox_lo, ox_hi + 1):
                dx = px + pad - ox * stride
                pos = oy * w_out + ox
                w_row, ch, d_row, t_row = w[ci, dy, dx], channel[pos], err[pos], time[pos]
                for j in range(count[pos]):
                    if t_row[j] > ti:
                        acc += w_row[ch[j]] * d_row[j]
        delta_in[i] += acc


@njit(cache=True)
def silent_errors(g_hid, g, t_hid, v_hid, theta, margin, T, e, carrier):
    """:func:`.batch_kernels.silent_errors`, to the bit: every open-gated input fires at 0 against
    outputs at ``T``, so its sum is the full window's; inputs of one pooling window share it."""
    width = margin * np.sqrt(fan_in_of(g_hid))
    n = t_hid.shape[0]
    gate = np.zeros(n)
    t_gate = np.full(n, T, dtype=t_hid.dtype)
    for i in range(n):
        gap = theta - v_hid[i]
        if t_hid[i] >= T and gap < width:
            gate[i] = 1.0 - gap / width if gap > 0.0 else 1.0
            t_gate[i] = 0
    out = np.zeros(n)
    if gate.max() == 0.0:
        return out
    # one representative input per (channel, pooling window) holding an open gate
    pool, plane = g[G_POOL], g[G_HIN] * g[G_WIN]
    first = np.full(n, -1, dtype=np.int64)
    t_rep = np.full(n, T, dtype=t_hid.dtype)
    for i in range(n):
        if t_gate[i] == 0:
            r = i % plane
            y, x = (r // g[G_WIN]) // pool * pool, (r % g[G_WIN]) // pool * pool
            rep = (i // plane) * plane + y * g[G_WIN] + x
            first[i] = rep
            t_rep[rep] = 0
    sums = np.zeros(n)
    conv_errors(g, t_rep, np.full(e.shape[0], T, dtype=t_hid.dtype), e, carrier, sums)
    for i in range(n):
        if first[i] >= 0:
            out[i] = sums[first[i]] * gate[i]
    return out


@njit(cache=True)
def sample_errors(in_times, label, geoms, weights, signs, binary, carriers, thetas, alphas, T, gamma,
                  push_silent_label, silent_margin, times, pots, snaps, errors, drop):
    """The forward pass and error propagation of :func:`.batch_kernels.sample_gradients` without the
    weight gradients: ``errors[l]`` gets the error of layer l's outputs (zeros when the sample
    teaches nothing). Returns (class, loss)."""
    if silent_margin > 0.0:
        forward_sample(in_times, geoms, weights, signs, thetas, alphas, binary, T, times, snaps, pots, drop)
    else:
        forward_sample(in_times, geoms, weights, signs, thetas, alphas, binary, T, times, snaps, None, drop)
    n_layers = geoms.shape[0]
    out_times = times[n_layers - 1]
    pred = np.argmax(snaps[SNAP_FIRST_CROSS]) if out_times.min() < T else np.argmax(snaps[SNAP_END])
    e = target_error(out_times, snaps[SNAP_END], label, T, gamma, push_silent_label)
    loss = 0.5 * np.sum(e * e)
    e = normalise(e)
    scale = np.sqrt(np.sum(e * e))
    for layer in range(n_layers):
        errors[layer][:] = 0.0
    if scale == 0.0:
        return pred, loss
    for layer in range(n_layers - 1, -1, -1):
        errors[layer][:] = e
        if layer > 0:
            g = geoms[layer]
            t_in = times[layer - 1]
            below = np.zeros(t_in.shape[0])
            conv_errors(g, t_in, times[layer], e, carriers[layer], below)
            if silent_margin > 0.0:
                below += silent_errors(geoms[layer - 1], g, t_in, pots[layer - 1],
                                       thetas[layer - 1] / alphas[layer - 1], silent_margin, T, e,
                                       carriers[layer])
            e = normalise(below) * scale
    return pred, loss


@njit(cache=True)
def add_grads(g, t_in_b, d_pc_b, t_pc_b, t_max_b, grad, ci, dy):
    """Kernel row ``grad[ci, dy]`` += ``sum delta_k [t_i < t_k]`` over the batch's samples in order
    (rows of ``t_in_b`` and of the :func:`output_rows` arrays ``*_b``), inputs of channel ``ci`` in
    index order."""
    stride, pad, w_out, c_out = g[G_STRIDE], g[G_PAD], g[G_WOUT], g[G_COUT]
    plane = g[G_HIN] * g[G_WIN]
    pool, hp, wp = g[G_POOL], g[G_HIN] // g[G_POOL], g[G_WIN] // g[G_POOL]
    for s in range(t_in_b.shape[0]):
        d_pc, t_pc, t_max = d_pc_b[s], t_pc_b[s], t_max_b[s]
        t_in = t_in_b[s]
        for r in range(plane):
            ti = t_in[ci * plane + r]
            if ti >= t_max:
                continue
            py, px = (r // g[G_WIN]) // pool, (r % g[G_WIN]) // pool
            if py >= hp or px >= wp:
                continue
            # the one output row oy whose window meets this input at kernel row dy
            a = py + pad - dy
            if a < 0 or a % stride != 0 or a // stride >= g[G_HOUT]:
                continue
            oy = a // stride
            ox_lo, ox_hi = window_range(px, pad, g[G_KW], stride, w_out)
            for ox in range(ox_lo, ox_hi + 1):
                dx = px + pad - ox * stride
                pos = oy * w_out + ox
                d_row, t_row, g_row = d_pc[pos], t_pc[pos], grad[ci, dy, dx]
                for co in range(c_out):
                    g_row[co] += d_row[co] if t_row[co] > ti else 0.0


@njit(parallel=True, cache=True)
def batch_gradients(all_times, labels, batch, geoms, weights, signs, binary, carriers, thetas, alphas, T,
                    gamma, push_silent_label, silent_margin, grads, fire_counts, drops):
    """:func:`.batch_kernels.batch_gradients` (same arguments less its scratch buffers), to the bit."""
    n_layers = geoms.shape[0]
    nb = batch.shape[0]
    times_b, errors_b, pots_b = List(), List(), List()
    for layer in range(n_layers):
        n_out = geoms[layer, G_COUT] * geoms[layer, G_HOUT] * geoms[layer, G_WOUT]
        times_b.append(np.empty((nb, n_out), dtype=all_times.dtype))
        errors_b.append(np.zeros((nb, n_out)))
        pots_b.append(np.zeros((nb, n_out)))
    preds = np.zeros(nb, dtype=np.int64)
    losses = np.zeros(nb)
    no_drop = np.zeros(0, dtype=np.uint8)
    for q in prange(nb):
        times, errors, pots = List(), List(), List()
        for layer in range(n_layers):
            times.append(times_b[layer][q])
            errors.append(errors_b[layer][q])
            pots.append(pots_b[layer][q])
        snaps = np.zeros((3, geoms[n_layers - 1, G_COUT]))
        n = batch[q]
        preds[q], losses[q] = sample_errors(all_times[n], labels[n], geoms, weights, signs, binary, carriers,
                                            thetas, alphas, T, gamma, push_silent_label, silent_margin, times,
                                            pots, snaps, errors, drops[q] if drops.shape[0] > 0 else no_drop)
    in_b = np.empty((nb, all_times.shape[1]), dtype=all_times.dtype)
    for q in range(nb):
        in_b[q] = all_times[batch[q]]
    for layer in range(n_layers):
        g = geoms[layer]
        grad = grads[layer]
        grad[:] = 0.0
        n_pos, c_out = g[G_HOUT] * g[G_WOUT], g[G_COUT]
        d_pc_b = np.empty((nb, n_pos, c_out))
        t_pc_b = np.empty((nb, n_pos, c_out), dtype=all_times.dtype)
        t_max_b = np.empty(nb, dtype=all_times.dtype)
        for q in prange(nb):
            d_pc_b[q], t_pc_b[q], t_max_b[q] = output_rows(g, times_b[layer][q], errors_b[layer][q])
        t_in_b = in_b if layer == 0 else times_b[layer - 1]
        for task in prange(g[G_CIN] * g[G_KH]):
            add_grads(g, t_in_b, d_pc_b, t_pc_b, t_max_b, grad, task // g[G_KH], task % g[G_KH])
    correct, total = 0, 0.0
    for q in range(nb):
        total += losses[q]
        if preds[q] == labels[batch[q]]:
            correct += 1
        offset = 0
        for layer in range(n_layers):
            t = times_b[layer][q]
            for j in range(t.shape[0]):
                if t[j] < T:
                    fire_counts[offset + j] += 1
            offset += t.shape[0]
    return correct, total
