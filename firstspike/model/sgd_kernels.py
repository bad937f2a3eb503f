# SPDX-License-Identifier: MIT
"""Numba kernels for the papers' per-sample SGD step over any architecture of :mod:`.arch`.

Ref: S4NN (doi:10.1142/S0129065720500276) and BS4NN (doi:10.1007/s11063-021-10680-x), in the
update order of the authors' code (``shared/reference/ttfs-algorithms.md`` 2.2 and 3.3): relative
targets with margin gamma, ``delta = e / ||e||`` (``e_k = (T_k - t_k) / T``), then per layer, last
first, ``w -= eta * grad``, the scale step, L2 decay ``w *= 1 - eta * lambda`` and
``delta_i = normalise(sum_k w_ki delta_k [t_i < t_k])`` with the updated weights (``dt/dV = -1``,
``dV_k/dw = [t_i < t_k]``). BS4NN (``binary``): signs in the forward pass, real weights backward,
learned per-layer scale alpha; S4NN: real weights and float potentials both ways. Every layer is
"sum pooling, then a convolution" (an FC layer's kernel covers the whole map), weights
``(c_in, kh, kw, c_out)``; a kernel tap's update is the sum of the updates of the connections that
meet it (weight sharing; with pooling every input of a window, each with its own mask).

Output errors (``decoding``): ``DECODE_S4NN``, the relative targets of
:func:`.train_kernels.target_error`; ``DECODE_TEMPORAL``, Che et al. 2024 temporal-weighting decoding
(:func:`temporal_error`); ``DECODE_MIXED`` (ours), the sum of the two, each L2-normalised: the
cross-entropy pulls the label earlier on every sample, the relative targets add the margin ``gamma``
against first-spike ties, which the hardware rule would otherwise break by potential. Backward
(``backward``): ``BACKWARD_S4NN`` as above (DS4NN-style temporal backprop through conv layers) or
``BACKWARD_STIDI``, STiDi-BP (:func:`stidi_slopes`).

:mod:`.train_reference` restates one step with dense unrolled matrices; tested against it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .kernels import (G_CIN, G_COUT, G_HOUT, G_KH, G_KW, G_PAD, G_POOL, G_STRIDE, G_WOUT, input_reach,
                      is_dense, layer_forward, scratch)
from .kernels import SNAP_END, SNAP_FIRST_CROSS
from .train_kernels import normalise, scale_step, softmax_error, target_error

DECODE_S4NN, DECODE_TEMPORAL, DECODE_MIXED = 0, 1, 2
BACKWARD_S4NN, BACKWARD_STIDI = 0, 1
DECODINGS_BY_NAME = {"s4nn": DECODE_S4NN, "temporal": DECODE_TEMPORAL, "mixed": DECODE_MIXED}
BACKWARDS_BY_NAME = {"s4nn": BACKWARD_S4NN, "stidi": BACKWARD_STIDI}


@njit(cache=True)
def forward_sample(in_times, geoms, weights, signs, thetas, alphas, binary, T, times, snaps, pots=None,
                   drop=None):
    """Forward one sample; fills ``times[l]`` and ``snaps``. Binary (BS4NN): the signs, integer
    potentials, threshold ``theta / alpha``; real (S4NN): the real weights, float potentials, ``theta``.

    With ``pots`` (a list shaped like ``times``), ``pots[l]`` gets every neuron's potential after
    the last effective event, ``V(T - 2)``, in spike-time order.
    ``drop`` (uint8, one entry per hidden neuron, hidden layers concatenated; empty = none)
    silences the marked neurons after their layer ran (dropout, Srivastava et al., JMLR 2014; not
    in the papers): they count as ``T`` downstream, and their ``pots`` entry as far below threshold.
    """
    n_layers = geoms.shape[0]
    order, starts, dirty, touched = scratch(in_times.shape[0], geoms, T)
    cur = in_times
    offset = 0
    for layer in range(n_layers):
        g = geoms[layer]
        last = layer == n_layers - 1
        if binary:
            V = np.zeros((g[G_HOUT] * g[G_WOUT], g[G_COUT]), dtype=np.int32)
            layer_forward(cur, g, signs[layer], thetas[layer] / alphas[layer], T, V, times[layer],
                               order, starts, dirty, touched, snaps, last)
            if pots is not None:
                pots[layer][:] = np.ascontiguousarray(V.T).reshape(-1)
        else:
            Vr = np.zeros((g[G_HOUT] * g[G_WOUT], g[G_COUT]))
            layer_forward(cur, g, weights[layer], thetas[layer], T, Vr, times[layer], order, starts,
                               dirty, touched, snaps, last)
            if pots is not None:
                pots[layer][:] = np.ascontiguousarray(Vr.T).reshape(-1)
        if drop is not None and drop.shape[0] > 0 and not last:
            t = times[layer]
            for j in range(t.shape[0]):
                if drop[offset + j]:
                    t[j] = T
                    if pots is not None:
                        pots[layer][j] = -np.inf
            offset += t.shape[0]
        cur = times[layer]


@njit(cache=True)
def fan_in_of(g):
    """Inputs a neuron of geometry ``g`` sums: ``c_in * kh * kw`` taps, each a ``pool x pool`` window."""
    return g[G_CIN] * g[G_KH] * g[G_KW] * g[G_POOL] * g[G_POOL]


@njit(cache=True)
def conv_backward(g, t_in, t_out, delta, w, grad, delta_in, want_grad):
    """``grad[q] += sum delta_k [t_i < t_k]`` (want_grad) or ``delta_in[i] += w[q] delta_k [t_i < t_k]``.

    The sums run over every (output k, input i) pair that meets kernel tap q; ``w``/``grad`` are
    ``(c_in, kh, kw, c_out)``. Event-driven: only inputs earlier than the latest output time can
    meet the mask, so the loop runs over those inputs (the spikes of the layer below) and, for
    each, over the output positions whose window covers it, all channels at once. The dense
    restatement is :func:`.train_reference.reference_sample_gradients`.
    """
    stride, pad = g[G_STRIDE], g[G_PAD]
    c_out, w_out = g[G_COUT], g[G_WOUT]
    n_pos = g[G_HOUT] * w_out
    # outputs as (position, channel) rows so the channel loop reads contiguous memory
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
    for i in range(t_in.shape[0]):
        ti = t_in[i]
        if ti >= t_max:  # [t_i < t_k] fails for every output with an error
            continue
        ci, py, px, oy_lo, oy_hi, ox_lo, ox_hi = input_reach(i, g)
        if ci < 0:  # cropped by the pooling
            continue
        acc = 0.0
        for oy in range(oy_lo, oy_hi + 1):
            dy = py + pad - oy * stride
            for ox in range(ox_lo, ox_hi + 1):
                dx = px + pad - ox * stride
                pos = oy * w_out + ox
                d_row, t_row = d_pc[pos], t_pc[pos]
                if want_grad:
                    g_row = grad[ci, dy, dx]
                    for co in range(c_out):
                        if t_row[co] > ti:
                            g_row[co] += d_row[co]
                else:
                    w_row = w[ci, dy, dx]
                    for co in range(c_out):
                        if t_row[co] > ti:
                            acc += w_row[co] * d_row[co]
        if not want_grad:
            delta_in[i] += acc


@njit(cache=True)
def apply_update(w, s, grad, eta, lam):
    """``w -= eta * grad`` (then L2 decay), refresh the signs; returns ``sum(grad * sign(w))``."""
    wf, sf, gf = w.reshape(-1), s.reshape(-1), grad.reshape(-1)
    alpha_grad = 0.0
    for q in range(wf.shape[0]):
        gq = gf[q]
        if gq != 0.0:
            wf[q] -= eta * gq
            sq = 1 if wf[q] >= 0.0 else -1
            sf[q] = sq
            alpha_grad += gq * sq
    decay(wf, sf, eta, lam)
    return alpha_grad


@njit(cache=True)
def decay(wf, sf, eta, lam):
    """S4NN's L2 decay ``w *= 1 - eta * lambda`` on flat weights, signs refreshed (``lam = 0``: none)."""
    if lam > 0.0:
        for q in range(wf.shape[0]):
            wf[q] *= 1.0 - eta * lam
            sf[q] = 1 if wf[q] >= 0.0 else -1


@njit(cache=True)
def dense_update(t_in, t_out, delta, w2, s2, eta):
    """:func:`conv_backward` then :func:`apply_update` (without decay) for a dense layer, ``w2`` its
    ``(n_in, c_out)`` kernel: ``w_ik -= eta * delta_k`` where ``t_i < t_k``, only on the rows of
    inputs that spiked early enough, in the same order, so the result is the same to the bit."""
    t_max = t_out.dtype.type(0)
    for k in range(t_out.shape[0]):
        if delta[k] != 0.0 and t_out[k] > t_max:
            t_max = t_out[k]
    alpha_grad = 0.0
    for i in range(t_in.shape[0]):
        ti = t_in[i]
        if ti >= t_max:
            continue
        row, srow = w2[i], s2[i]
        for k in range(t_out.shape[0]):
            if t_out[k] > ti and delta[k] != 0.0:
                row[k] -= eta * delta[k]
                sk = 1 if row[k] >= 0.0 else -1
                srow[k] = sk
                alpha_grad += delta[k] * sk
    return alpha_grad


@njit(cache=True)
def temporal_error(out_times, label, T, lam_table, eta_lam):
    """Che et al. temporal-weighting decoding, our reading (their code is not available): logits
    ``z_k = lam[t_k]``, a learned non-increasing weight per time step (earlier = larger, so the first
    spike keeps the largest logit and the hardware rule is unchanged), softmax cross-entropy. Returns
    the desired time shifts ``-dL/dt_k = (p_k - y_k) * (-dlam/dt)`` (a central difference of ``lam``,
    floored at ``1/T``; none for silent wrong neurons); trains ``lam`` end to end (``dL/dlam[t] =
    sum_k (p_k - y_k) [t_k = t]``), then makes it non-increasing again."""
    K = out_times.shape[0]
    z = np.empty(K)
    for k in range(K):
        z[k] = lam_table[out_times[k]]
    err, _ = softmax_error(z, label)  # p - y
    e = np.zeros(K)
    for k in range(K):
        t = out_times[k]
        if t < T or k == label:  # silent wrong neurons get no shift
            lo, hi = max(t - 1, 0), min(t + 1, T)
            e[k] = err[k] * max((lam_table[lo] - lam_table[hi]) / max(hi - lo, 1), 1.0 / T)
    if eta_lam > 0.0:
        for k in range(K):
            lam_table[out_times[k]] -= eta_lam * err[k]
        for t in range(1, T + 1):  # non-increasing again
            lam_table[t] = min(lam_table[t], lam_table[t - 1])
    return e


@njit(cache=True)
def stidi_slopes(g, t_in, t_out, theta, T):
    """STiDi-BP, our reading (paper body not available; ttfs-algorithms.md 4.3): ``1 / s_j`` of the
    linear latency approximation ``dt_j/dV_j = -1/s_j``, mean potential slope ``s_j = theta / (t_j -
    t_first)`` (``t_first``: the layer's earliest input spike; a silent neuron has ``t_j = T``). Every
    layer then minimises its own squared timing error: ``w -= eta * (e_j / s_j) [t_i < t_j]``, and the
    layer below gets the displacement that realises it in the linear model, ``e_i = sum_j w_ji
    [t_i < t_j] e_j / s_j`` (desired times passed down, not chained gradients), normalised per layer."""
    t_first = T
    for i in range(t_in.shape[0]):
        if t_in[i] < t_first:
            t_first = t_in[i]
    inv = np.empty(t_out.shape[0])
    th = max(theta, 1.0)
    for k in range(t_out.shape[0]):
        inv[k] = max(t_out[k] - t_first, 1) / th
    return inv


@njit(cache=True)
def train_sample(in_times, label, geoms, weights, signs, grads, thetas, alphas, binary, T, gamma,
                 push_silent_label, etas, eta_alphas, lambdas, times, snaps, decoding, lam_table,
                 eta_lam, backward, drop):
    """One online SGD step on one sample. Returns the hardware-rule class of the forward pass.

    ``drop`` (see :func:`forward_sample`): the silenced hidden neurons get no update, their time
    ``T`` masks them out of both ``[t_i < t_k]`` terms."""
    forward_sample(in_times, geoms, weights, signs, thetas, alphas, binary, T, times, snaps, None, drop)
    n_layers = geoms.shape[0]
    out_times = times[n_layers - 1]
    fired = out_times.min() < T
    pred = np.argmax(snaps[SNAP_FIRST_CROSS]) if fired else np.argmax(snaps[SNAP_END])
    if decoding == DECODE_TEMPORAL:
        e = temporal_error(out_times, label, T, lam_table, eta_lam)
    elif decoding == DECODE_MIXED:
        e = normalise(temporal_error(out_times, label, T, lam_table, eta_lam)) + normalise(
            target_error(out_times, snaps[SNAP_END], label, T, gamma, push_silent_label))
    else:
        e = target_error(out_times, snaps[SNAP_END], label, T, gamma, push_silent_label)
    for layer in range(n_layers - 1, -1, -1):
        g = geoms[layer]
        t_in = in_times if layer == 0 else times[layer - 1]
        t_out = times[layer]
        if backward == BACKWARD_STIDI:
            theta_l = thetas[layer] / alphas[layer]
            e = e * stidi_slopes(g, t_in, t_out, theta_l, T)
        delta = normalise(e)
        grad = grads[layer]
        w = weights[layer]
        if is_dense(g):  # the same step without a pass over the whole kernel
            alpha_grad = dense_update(t_in, t_out, delta, w.reshape(-1, g[G_COUT]),
                                      signs[layer].reshape(-1, g[G_COUT]), etas[layer])
            decay(w.reshape(-1), signs[layer].reshape(-1), etas[layer], lambdas[layer])
        else:
            grad[:] = 0.0
            conv_backward(g, t_in, t_out, delta, w, grad, grad.reshape(-1), True)
            alpha_grad = apply_update(w, signs[layer], grad, etas[layer], lambdas[layer])
        if binary:
            alphas[layer] = scale_step(alphas[layer], eta_alphas[layer], alpha_grad,
                                       t_out.shape[0] * fan_in_of(g))
        if layer > 0:
            below = np.zeros(t_in.shape[0])
            conv_backward(g, t_in, t_out, delta if backward == BACKWARD_S4NN else e, w, grad,
                          below, False)
            e = below
    return pred


@njit(cache=True)
def count_spikes(times, T, fire_counts):
    """``fire_counts[offset_l + j] += 1`` for every neuron j of layer l that fired (time < T); the
    layers are concatenated in ``fire_counts``."""
    offset = 0
    for layer in range(len(times)):
        t = times[layer]
        for j in range(t.shape[0]):
            if t[j] < T:
                fire_counts[offset + j] += 1
        offset += t.shape[0]


@njit(cache=True)
def train_chunk(all_times, labels, order, geoms, weights, signs, grads, thetas, alphas, binary, T, gamma,
                push_silent_label, etas, eta_alphas, lambdas, times, snaps, decoding, lam_table,
                eta_lam, backward, fire_counts, drops):
    """Train on ``all_times[order]`` in sequence; returns the number predicted right. ``drops``:
    one dropout mask row per entry of ``order``, or ``(0, 0)`` for none."""
    correct = 0
    no_drop = np.zeros(0, dtype=np.uint8)
    for q in range(order.shape[0]):
        n = order[q]
        pred = train_sample(all_times[n], labels[n], geoms, weights, signs, grads, thetas, alphas, binary,
                            T, gamma, push_silent_label, etas, eta_alphas, lambdas, times, snaps,
                            decoding, lam_table, eta_lam, backward,
                            drops[q] if drops.shape[0] > 0 else no_drop)
        if pred == labels[n]:
            correct += 1
        count_spikes(times, T, fire_counts)
    return correct
