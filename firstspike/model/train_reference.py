# SPDX-License-Identifier: MIT
"""Slow, obvious restatement of one S4NN / BS4NN training step, for testing the numba kernel.

Ref: S4NN (doi:10.1142/S0129065720500276), BS4NN (doi:10.1007/s11063-021-10680-x); the steps are
numbered as in ``shared/reference/ttfs-algorithms.md`` sections 2.2 and 3.3. Weights here are in
the papers' orientation ``(n_out, n_in)``; the forward pass is the dense reference.
"""

from __future__ import annotations

import numpy as np

from .reference import dense_forward


def reference_step(in_times, label, weights, alphas, thetas, binary, T, gamma, push_silent_label,
                   etas, eta_alphas, lambdas, dropped=None):
    """One online step; updates ``weights`` (list of (n_out, n_in) float arrays) and ``alphas``.

    ``dropped``: one boolean mask per hidden layer; the marked neurons are set silent (``T``) before
    the next layer sees them (dropout). Returns the spike times of every layer before the update.
    """
    if binary:
        fwd = [np.where(w >= 0, 1, -1) for w in weights]
        thr = [thetas[i] / alphas[i] for i in range(len(weights))]
    else:
        fwd, thr = weights, thetas
    times, V = dense_forward(in_times, fwd, thr, T, dropped)
    t_out = times[-1]
    # 1. relative targets
    t_min = t_out.min()
    if t_min == T:
        target = silent_targets(V[T - 2], label, T, gamma, push_silent_label)
    else:
        target = t_out.astype(float).copy()
        for k in range(len(t_out)):
            if t_out[k] - t_min < gamma:
                target[k] = min(t_min + gamma, T)
        target[label] = t_min
    # 2. normalised error
    delta = (target - t_out) / T
    norm = np.sqrt(np.sum(delta * delta))
    if norm > 0:
        delta = delta / norm
    # 3-5. layer by layer, last first
    for layer in range(len(weights) - 1, -1, -1):
        t_pre = np.asarray(in_times) if layer == 0 else times[layer - 1]
        t_post = times[layer]
        hf = (t_pre[None, :] < t_post[:, None]).astype(float)  # (n_out, n_in)
        w = weights[layer]
        w -= etas[layer] * delta[:, None] * hf
        if binary:
            grad = delta[:, None] * hf * np.where(w >= 0, 1.0, -1.0)
            alphas[layer] -= eta_alphas[layer] * grad.sum() / grad.size
        if lambdas[layer] > 0:
            w *= 1.0 - etas[layer] * lambdas[layer]
        if layer > 0:
            delta = (w * delta[:, None] * hf).sum(axis=0)
            norm = np.sqrt(np.sum(delta * delta))
            if norm > 0:
                delta = delta / norm
    return times


def silent_targets(v_end, label, T, gamma, mode):
    """Targets of an all-silent sample (every output at ``T``): unchanged (``False``, BS4NN), the
    label pulled to ``T - gamma`` (``True``, S4NN), or also every wrong output whose potential at
    ``T - 2`` is at least the label's pushed to ``T + gamma`` (``"rank"``, ours)."""
    target = np.full(len(v_end), float(T))
    if mode:
        target[label] = T - gamma
    if mode == "rank":
        beats = (v_end >= v_end[label]) & (np.arange(len(v_end)) != label)
        target[beats] = T + gamma
    return target


def reference_batch_step(batch, weights, alphas, thetas, binary, T, gamma, push_silent_label,
                         loss, tau, lrs, eta_alphas, clips, moments, step, beta1=0.9, beta2=0.999,
                         dropped=None):
    """One mini-batch Adam step (our addition, see ``train_kernels.train_chunk_batched``).

    ``batch`` is a list of ``(in_times, label)``; ``moments`` a list of ``[m, v]`` per layer in
    the ``(n_out, n_in)`` orientation; ``step`` the Adam step number after this one (1 first);
    ``dropped`` one list of hidden-layer masks per sample (see :func:`reference_step`).
    Returns the spike times of every sample, before the update.
    """
    grads = [np.zeros_like(w) for w in weights]
    alpha_grads = np.zeros(len(weights))
    fwd = [np.where(w >= 0, 1, -1) for w in weights] if binary else weights
    thr = [thetas[i] / alphas[i] for i in range(len(weights))] if binary else thetas
    all_times = []
    for n, (in_times, label) in enumerate(batch):
        times, V = dense_forward(in_times, fwd, thr, T, None if dropped is None else dropped[n])
        all_times.append(times)
        t_out = times[-1].astype(float)
        if loss == "ce":
            p = np.exp(-t_out / tau - np.max(-t_out / tau))
            delta = p / p.sum()
            delta[label] -= 1.0
        else:
            t_min = t_out.min()
            target = t_out.copy()
            if t_min == T:
                target = silent_targets(V[T - 2], label, T, gamma, push_silent_label)
            else:
                target[t_out - t_min < gamma] = min(t_min + gamma, T)
                target[label] = t_min
            delta = (target - t_out) / T
            norm = np.linalg.norm(delta)
            delta = delta / norm if norm > 0 else delta
        size = np.linalg.norm(delta)
        if size == 0:
            continue
        for layer in range(len(weights) - 1, -1, -1):
            t_pre = np.asarray(in_times) if layer == 0 else times[layer - 1]
            hf = ((t_pre[None, :] < times[layer][:, None]) & (t_pre[None, :] < T)).astype(float)
            grads[layer] += delta[:, None] * hf
            if binary:
                alpha_grads[layer] += (delta[:, None] * hf * fwd[layer]).sum()
            if layer > 0:
                back = (weights[layer] * delta[:, None] * hf).sum(axis=0)
                norm = np.linalg.norm(back)
                delta = back / norm * size if norm > 0 else back
    for layer, w in enumerate(weights):
        m, v = moments[layer]
        m[:] = beta1 * m + (1 - beta1) * grads[layer]
        v[:] = beta2 * v + (1 - beta2) * grads[layer] ** 2
        w -= lrs[layer] * (m / (1 - beta1**step)) / (np.sqrt(v / (1 - beta2**step)) + 1e-8)
        if clips[layer] > 0:
            np.clip(w, -clips[layer], clips[layer], out=w)
        if binary:
            alphas[layer] -= eta_alphas[layer] * alpha_grads[layer] / w.size
    return all_times
