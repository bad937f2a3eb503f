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
def normalise(v):
    norm = np.sqrt(np.sum(v * v))
    if norm > 0:
        return v / norm
    return v


@njit(cache=True)
def forward_sample(in_times, weights, signs, thetas, alphas, binary, T, times, snaps):
    """Forward one sample with the current weights; fills ``times[l]`` and ``snaps``."""
    n_layers = len(weights)
    widest = in_times.shape[0]
    for layer in range(n_layers):
        widest = max(widest, weights[layer].shape[0])
    order = np.empty(widest, dtype=np.int32)
    starts = np.zeros(T + 1, dtype=np.int32)
    cur = in_times
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
        cur = times[layer]


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
                 push_silent_label, etas, eta_alphas, lambdas, times, snaps):
    """One online SGD step on one sample. Returns the hardware-rule predicted class."""
    forward_sample(in_times, weights, signs, thetas, alphas, binary, T, times, snaps)
    n_layers = len(weights)
    out_times = times[n_layers - 1]
    # hardware rule prediction on the pre-update forward pass (for running accuracy)
    fired = out_times.min() < T
    pred = np.argmax(snaps[SNAP_FIRST_CROSS]) if fired else np.argmax(snaps[SNAP_END])
    delta = normalise(relative_error(out_times, label, T, gamma, push_silent_label))
    for layer in range(n_layers - 1, -1, -1):
        t_in = in_times if layer == 0 else times[layer - 1]
        t_out = times[layer]
        w = weights[layer]
        alpha_grad = update_layer(w, signs[layer], binary, t_in, t_out, delta, etas[layer], T)
        if binary:
            alphas[layer] -= eta_alphas[layer] * alpha_grad / (w.shape[0] * w.shape[1])
        if lambdas[layer] > 0.0:
            w *= 1.0 - etas[layer] * lambdas[layer]
        if layer > 0:
            delta = normalise(backprop_delta(w, t_in, t_out, delta))
    return pred


@njit(cache=True)
def train_chunk(all_times, labels, order, weights, signs, thetas, alphas, binary, T, gamma,
                push_silent_label, etas, eta_alphas, lambdas, fire_counts, times, snaps):
    """Train on ``all_times[order]`` in sequence; returns the number predicted right."""
    correct = 0
    n_layers = len(weights)
    for q in range(order.shape[0]):
        n = order[q]
        pred = train_sample(all_times[n], labels[n], weights, signs, thetas, alphas, binary, T,
                            gamma, push_silent_label, etas, eta_alphas, lambdas, times, snaps)
        if pred == labels[n]:
            correct += 1
        offset = 0
        for layer in range(n_layers - 1):
            t = times[layer]
            for j in range(t.shape[0]):
                if t[j] < T:
                    fire_counts[offset + j] += 1
            offset += t.shape[0]
    return correct
