# SPDX-License-Identifier: MIT
"""Numba kernels for per-sample temporal backprop: S4NN and BS4NN (binary forward, real backward).

Ref: S4NN (doi:10.1142/S0129065720500276) relative targets, normalised temporal error and
``dt/dV = -1`` approximation; BS4NN (doi:10.1007/s11063-021-10680-x) signs in the forward pass,
real weights in the backward pass, learned per-layer scale alpha. The update order follows the
authors' code (see ``shared/reference/ttfs-algorithms.md`` sections 2.2 and 3.3):

1. relative targets with margin gamma from the current output times;
2. ``delta = e / ||e||`` with ``e_k = (T_k - t_k) / T`` (no step if ``||e|| = 0``);
3. per layer, last first: ``w_kj -= eta * delta_k * [t_j < t_k]``; BS4NN: ``alpha -= eta_alpha *
   mean(delta_k [t_j < t_k] sign(w_kj))``; L2 decay ``W *= 1 - eta * lambda``;
   ``delta_j = normalise(sum_k w_kj delta_k [t_j < t_k])`` with the updated weights.

Weights are held transposed, ``(n_in, n_out)``; binary layers keep their signs in a parallel
int8 array that is updated in place with the real weights.

:mod:`.train_reference` restates one step in plain numpy; the two are tested against each other.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .kernels import SNAP_END, SNAP_FIRST_CROSS, layer_forward

#: What an all-silent output teaches (``--push-silent-label``): nothing (BS4NN), a pull of the
#: label neuron to ``T - gamma`` (S4NN), or that pull plus a push on every wrong output the hardware
#: rule's fallback would pick over the label (ours, see :func:`silent_rank_error`).
SILENT_OFF, SILENT_LABEL, SILENT_RANK = 0, 1, 2

#: Output losses of the mini-batch trainer (see :func:`output_delta`).
LOSS_RELATIVE, LOSS_CE = 0, 1

#: Smallest per-layer scale alpha: keeps the integer threshold ``floor(theta / alpha)`` finite.
ALPHA_MIN = 1e-3


@njit(cache=True)
def scale_step(alpha, eta_alpha, grad_sum, n_connections):
    """BS4NN's scale update ``alpha -= eta_alpha * mean over connections of (grad * sign(w))``,
    with ``grad_sum`` that sum over the layer's ``n_connections``; floored at ``ALPHA_MIN``."""
    return max(alpha - eta_alpha * grad_sum / n_connections, ALPHA_MIN)


@njit(cache=True)
def relative_error(out_times, label, T, gamma, push_silent_label):
    """Output error ``e_k = (T_k - t_k) / T`` from the S4NN relative targets."""
    K = out_times.shape[0]
    e = np.zeros(K)
    t_min = T
    for k in range(K):
        if out_times[k] < t_min:
            t_min = out_times[k]
    if t_min == T:
        if push_silent_label:  # S4NN: pull the label neuron to T - gamma
            e[label] = -gamma / T
        return e  # BS4NN: nothing is learned from an all-silent sample
    for k in range(K):
        target = out_times[k]
        if out_times[k] - t_min < gamma:
            target = min(t_min + gamma, T)
        if k == label:
            target = t_min
        e[k] = (target - out_times[k]) / T
    return e


@njit(cache=True)
def silent_rank_error(v_end, label, T, gamma):
    """Output error for an all-silent sample under ``SILENT_RANK`` (ours, not in the papers).

    With no output spike the hardware rule picks ``argmax V(T - 2)`` (lowest index on equal
    potential), so the label neuron is pulled as in S4NN (``e = -gamma / T``: raise its potential,
    fire earlier) and every wrong neuron whose final potential is at least the label's gets
    ``e = +gamma / T`` (lower its potential); with ``dt/dV = -1`` these are the same temporal
    errors the firing samples use.
    """
    e = np.zeros(v_end.shape[0])
    for k in range(v_end.shape[0]):
        if k != label and v_end[k] >= v_end[label]:
            e[k] = gamma / T
    e[label] = -gamma / T
    return e


@njit(cache=True)
def target_error(out_times, v_end, label, T, gamma, push_silent_label):
    """The relative-target error of :func:`relative_error` for mode ``push_silent_label``
    (``SILENT_*``); an all-silent sample under ``SILENT_RANK``: :func:`silent_rank_error` on the
    final output potentials ``v_end``."""
    if push_silent_label == SILENT_RANK and out_times.min() == T:
        return silent_rank_error(v_end, label, T, gamma)
    return relative_error(out_times, label, T, gamma, push_silent_label)


@njit(cache=True)
def normalise(v):
    norm = np.sqrt(np.sum(v * v))
    if norm > 0:
        return v / norm
    return v


@njit(cache=True)
def forward_sample(in_times, weights, signs, thetas, alphas, binary, T, times, snaps, drop):
    """Forward one sample with the current weights; fills ``times[l]`` and ``snaps``.

    ``drop`` (uint8, one entry per hidden neuron, hidden layers concatenated; empty = none) silences
    the marked hidden neurons after their layer ran (dropout, Srivastava et al., JMLR 2014; not in
    S4NN/BS4NN): they count as ``T`` downstream.
    """
    n_layers = len(weights)
    widest = in_times.shape[0]
    for layer in range(n_layers):
        widest = max(widest, weights[layer].shape[0])
    order = np.empty(widest, dtype=np.int32)
    starts = np.zeros(T + 1, dtype=np.int32)
    cur = in_times
    offset = 0
    for layer in range(n_layers):
        last = layer == n_layers - 1
        if binary:
            V = np.zeros(signs[layer].shape[1], dtype=np.int32)
            theta = thetas[layer] / alphas[layer]
            layer_forward(cur, signs[layer], theta, T, V, times[layer], order, starts, snaps, last)
        else:
            V = np.zeros(weights[layer].shape[1], dtype=np.float64)
            layer_forward(cur, weights[layer], thetas[layer], T, V, times[layer], order, starts,
                          snaps, last)
        if drop.shape[0] > 0 and not last:
            silence_dropped(times[layer], drop, offset, T)
            offset += times[layer].shape[0]
        cur = times[layer]


@njit(cache=True)
def silence_dropped(t, drop, offset, T):
    """``t[j] = T`` (silent) where ``drop[offset + j]`` is set."""
    for j in range(t.shape[0]):
        if drop[offset + j]:
            t[j] = T


@njit(cache=True)
def update_layer(w, s, binary, t_in, t_out, delta, eta, T):
    """``w_jk -= eta * delta_k * [t_in_j < t_out_k]``; returns sum of ``delta_k HF sign(w)``.

    Whole rows are updated with branch-free inner loops (entries with ``delta_k = 0`` subtract an
    exact 0.0), so the compiler can vectorise them; the scale gradient is gathered per output
    neuron as integer counts and weighted by ``delta_k`` once at the end.
    """
    if not (delta != 0.0).any():
        return 0.0
    n_out = w.shape[1]
    step = eta * delta
    counts = np.zeros(n_out)
    for j in range(w.shape[0]):
        tj = t_in[j]
        if tj >= T:
            continue
        row = w[j]
        for k in range(n_out):
            row[k] -= step[k] if tj < t_out[k] else 0.0
        if binary:
            srow = s[j]
            for k in range(n_out):
                sk = 1 if row[k] >= 0.0 else -1
                srow[k] = sk
                counts[k] += sk if tj < t_out[k] else 0
    alpha_grad = 0.0
    if binary:
        for k in range(n_out):
            alpha_grad += delta[k] * counts[k]
    return alpha_grad


@njit(cache=True)
def backprop_delta(w, t_in, t_out, delta):
    """``delta_j = sum_k w_jk delta_k [t_in_j < t_out_k]`` (before normalisation)."""
    out = np.zeros(w.shape[0])
    for j in range(w.shape[0]):
        tj = t_in[j]
        acc = 0.0
        for k in range(w.shape[1]):
            if delta[k] != 0.0 and tj < t_out[k]:
                acc += w[j, k] * delta[k]
        out[j] = acc
    return out


@njit(cache=True)
def train_sample(in_times, label, weights, signs, thetas, alphas, binary, T, gamma,
                 push_silent_label, etas, eta_alphas, lambdas, times, snaps, drop):
    """One online SGD step on one sample. Returns the hardware-rule predicted class.

    With a non-empty ``drop`` (see :func:`forward_sample`) the silenced hidden neurons get no
    update: their time ``T`` masks them out of both ``[t_j < t_k]`` terms."""
    forward_sample(in_times, weights, signs, thetas, alphas, binary, T, times, snaps, drop)
    n_layers = len(weights)
    out_times = times[n_layers - 1]
    # hardware rule prediction on the pre-update forward pass (for running accuracy)
    fired = out_times.min() < T
    pred = np.argmax(snaps[SNAP_FIRST_CROSS]) if fired else np.argmax(snaps[SNAP_END])
    delta = output_delta(out_times, snaps[SNAP_END], label, T, gamma, push_silent_label,
                         LOSS_RELATIVE, 0.0)
    for layer in range(n_layers - 1, -1, -1):
        t_in = in_times if layer == 0 else times[layer - 1]
        t_out = times[layer]
        w = weights[layer]
        alpha_grad = update_layer(w, signs[layer], binary, t_in, t_out, delta, etas[layer], T)
        if binary:
            alphas[layer] = scale_step(alphas[layer], eta_alphas[layer], alpha_grad, w.size)
        if lambdas[layer] > 0.0:
            w *= 1.0 - etas[layer] * lambdas[layer]
        if layer > 0:
            delta = normalise(backprop_delta(w, t_in, t_out, delta))
    return pred


@njit(cache=True)
def train_chunk(all_times, labels, order, weights, signs, thetas, alphas, binary, T, gamma,
                push_silent_label, etas, eta_alphas, lambdas, fire_counts, times, snaps, drops):
    """Train on ``all_times[order]`` in sequence; returns the number predicted right.

    ``drops``: one dropout mask row per entry of ``order`` (see :func:`forward_sample`), or an
    empty ``(0, 0)`` array for none."""
    correct = 0
    no_drop = np.zeros(0, dtype=np.uint8)
    for q in range(order.shape[0]):
        n = order[q]
        drop = drops[q] if drops.shape[0] > 0 else no_drop
        pred = train_sample(all_times[n], labels[n], weights, signs, thetas, alphas, binary, T,
                            gamma, push_silent_label, etas, eta_alphas, lambdas, times, snaps, drop)
        if pred == labels[n]:
            correct += 1
        count_hidden_spikes(times, T, fire_counts)
    return correct


@njit(cache=True)
def count_hidden_spikes(times, T, fire_counts):
    """Add one to ``fire_counts`` (hidden layers concatenated) for every hidden neuron that fired."""
    offset = 0
    for layer in range(len(times) - 1):
        t = times[layer]
        for j in range(t.shape[0]):
            if t[j] < T:
                fire_counts[offset + j] += 1
        offset += t.shape[0]


# ---------------------------------------------------------------------------------------------
# Mini-batch variant (an addition of ours, not in S4NN/BS4NN): the same per-sample temporal
# gradient, summed over a batch and applied by Adam to clipped latent weights (BinaryConnect).


@njit(cache=True)
def output_delta(out_times, v_end, label, T, gamma, push_silent_label, loss, tau):
    """``delta_k = -dL/dt_k`` up to scale for one sample.

    ``relative``: the S4NN/BS4NN relative-target error of :func:`target_error`, L2-normalised.
    ``ce``: softmax cross-entropy on the logits ``-t_k / tau`` (silent outputs count as ``t = T``):
    ``delta_k = p_k - [k = label]``, so a tie among the first spikers is pushed apart.
    """
    if loss == LOSS_RELATIVE:
        return normalise(target_error(out_times, v_end, label, T, gamma, push_silent_label))
    K = out_times.shape[0]
    logits = np.empty(K)
    for k in range(K):
        logits[k] = -out_times[k] / tau
    p = np.exp(logits - logits.max())
    p /= p.sum()
    p[label] -= 1.0
    return p


@njit(cache=True)
def accumulate_layer(g, binary, s, t_in, t_out, delta, T):
    """``g_jk += delta_k [t_in_j < t_out_k]``; returns ``sum delta_k HF sign(w)`` like
    :func:`update_layer` but without touching the weights."""
    n_out = g.shape[1]
    counts = np.zeros(n_out)
    for j in range(g.shape[0]):
        tj = t_in[j]
        if tj >= T:
            continue
        row = g[j]
        for k in range(n_out):
            row[k] += delta[k] if tj < t_out[k] else 0.0
        if binary:
            srow = s[j]
            for k in range(n_out):
                counts[k] += srow[k] if tj < t_out[k] else 0
    alpha_grad = 0.0
    for k in range(n_out):
        alpha_grad += delta[k] * counts[k]
    return alpha_grad


@njit(cache=True)
def grad_sample(in_times, label, weights, signs, thetas, alphas, binary, T, gamma,
                push_silent_label, loss, tau, grads, alpha_grads, times, snaps, drop):
    """Forward one sample and add its temporal gradient to ``grads``; returns the hw prediction.

    Hidden errors are back-propagated through the real weights (BS4NN) and normalised per layer
    to the norm of the output error, so every layer gets the same share of each sample.
    """
    forward_sample(in_times, weights, signs, thetas, alphas, binary, T, times, snaps, drop)
    n_layers = len(weights)
    out_times = times[n_layers - 1]
    fired = out_times.min() < T
    pred = np.argmax(snaps[SNAP_FIRST_CROSS]) if fired else np.argmax(snaps[SNAP_END])
    delta = output_delta(out_times, snaps[SNAP_END], label, T, gamma, push_silent_label, loss, tau)
    size = np.sqrt(np.sum(delta * delta))
    if size == 0.0:
        return pred
    for layer in range(n_layers - 1, -1, -1):
        t_in = in_times if layer == 0 else times[layer - 1]
        t_out = times[layer]
        alpha_grads[layer] += accumulate_layer(grads[layer], binary, signs[layer], t_in, t_out,
                                               delta, T)
        if layer > 0:
            delta = normalise(backprop_delta(weights[layer], t_in, t_out, delta)) * size
    return pred


#: Adam's moment decay rates (Kingma and Ba's defaults), shared by the FC and conv trainers.
ADAM_BETAS = (0.9, 0.999)


@njit(cache=True)
def adam_step(w, s, binary, g, m, v, lr, beta1, beta2, step, clip):
    """One Adam step ``w -= lr * m_hat / (sqrt(v_hat) + eps)`` then clip to ``[-clip, clip]``
    (``clip <= 0``: no clipping); refreshes the signs ``s`` (binary); zeroes ``g``. Arrays of any
    shape (contiguous): FC matrices and conv kernels share this step."""
    c1 = 1.0 - beta1 ** step
    c2 = 1.0 - beta2 ** step
    eps = 1e-8
    wf, gf, mf, vf = w.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1)
    sf = s.reshape(-1)
    for q in range(wf.shape[0]):
        gi = gf[q]
        mi = beta1 * mf[q] + (1.0 - beta1) * gi
        vi = beta2 * vf[q] + (1.0 - beta2) * gi * gi
        mf[q] = mi
        vf[q] = vi
        x = wf[q] - lr * (mi / c1) / (np.sqrt(vi / c2) + eps)
        if clip > 0.0:
            x = min(max(x, -clip), clip)
        wf[q] = x
        if binary:
            sf[q] = 1 if x >= 0.0 else -1
        gf[q] = 0.0


@njit(cache=True)
def train_chunk_batched(all_times, labels, order, batch, weights, signs, thetas, alphas, binary, T,
                        gamma, push_silent_label, loss, tau, lrs, eta_alphas, clips, beta1, beta2,
                        step0, grads, adam_m, adam_v, fire_counts, times, snaps, drops):
    """Mini-batch training on ``all_times[order]`` (``len(order)`` a multiple of ``batch`` except
    maybe the last batch); returns ``(n predicted right, Adam steps taken)``. ``drops`` as in
    :func:`train_chunk`."""
    correct = 0
    no_drop = np.zeros(0, dtype=np.uint8)
    n_layers = len(weights)
    alpha_grads = np.zeros(n_layers)
    step = step0
    n = order.shape[0]
    for lo in range(0, n, batch):
        hi = min(lo + batch, n)
        for q in range(lo, hi):
            i = order[q]
            drop = drops[q] if drops.shape[0] > 0 else no_drop
            pred = grad_sample(all_times[i], labels[i], weights, signs, thetas, alphas, binary, T,
                               gamma, push_silent_label, loss, tau, grads, alpha_grads, times,
                               snaps, drop)
            if pred == labels[i]:
                correct += 1
            count_hidden_spikes(times, T, fire_counts)
        step += 1
        for layer in range(n_layers):
            w = weights[layer]
            adam_step(w, signs[layer], binary, grads[layer], adam_m[layer], adam_v[layer],
                      lrs[layer], beta1, beta2, step, clips[layer])
            if binary:
                alphas[layer] = scale_step(alphas[layer], eta_alphas[layer], alpha_grads[layer], w.size)
            alpha_grads[layer] = 0.0
    return correct, step - step0
