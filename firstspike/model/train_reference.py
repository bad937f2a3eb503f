# SPDX-License-Identifier: MIT
"""Slow, obvious restatement of one training step, for testing :mod:`.sgd_kernels` and
:mod:`.batch_kernels`.

Ref: S4NN (doi:10.1142/S0129065720500276), BS4NN (doi:10.1007/s11063-021-10680-x), steps as in
``shared/reference/ttfs-algorithms.md`` sections 2.2 and 3.3. Every layer is unrolled into its dense
``(n_out, n_in)`` matrix (:func:`.reference.unrolled_matrix`; an fc layer's is its kernel) and
the papers' dense step runs on it: per connection ``g_ki = delta_k [t_i < t_k]``. A kernel tap's
gradient is the sum of ``g_ki`` over the connections that use it (:func:`fold`: weight sharing, sum
pooling; an fc layer has one connection per tap). Kernels are ``(c_out, c_in, kh, kw)`` floats.
"""

from __future__ import annotations

import numpy as np

from .reference import dense_forward, tap_index, unrolled_matrix
from .train_kernels import ALPHA_MIN


def _normalise(v):
    norm = np.sqrt(np.sum(v * v))
    return v / norm if norm > 0 else v


def fold(layer, dense: np.ndarray, shape) -> np.ndarray:
    """Per kernel tap, the sum of a dense ``(n_out, n_in)`` per-connection array over its connections."""
    tap = tap_index(layer)
    out = np.zeros(int(np.prod(shape)))
    np.add.at(out, tap[tap >= 0], dense[tap >= 0])
    return out.reshape(shape)


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


def relative_error(t_out, v_end, label, T, gamma, mode):
    """``e_k = (T_k - t_k) / T`` from the S4NN relative targets (margin ``gamma``); all outputs
    silent: the :func:`silent_targets` on ``v_end``, the potentials the hardware fallback compares."""
    t_out = np.asarray(t_out, dtype=float)
    t_min = t_out.min()
    if t_min == T:
        target = silent_targets(v_end, label, T, gamma, mode)
    else:
        target = t_out.copy()
        target[t_out - t_min < gamma] = min(t_min + gamma, T)
        target[label] = t_min
    return (target - t_out) / T


def temporal_error(t_out, label, T, lam, eta_lam):
    """Che et al. temporal-weighting decoding (our reading): desired time shifts; updates ``lam``."""
    z = lam[t_out]
    p = np.exp(z - z.max())
    p /= p.sum()
    y = np.zeros(len(t_out))
    y[label] = 1.0
    e = np.zeros(len(t_out))
    for k, t in enumerate(t_out):
        if t >= T and k != label:
            continue
        lo, hi = max(t - 1, 0), min(t + 1, T)
        slope = max((lam[lo] - lam[hi]) / max(hi - lo, 1), 1.0 / T)
        e[k] = (p[k] - y[k]) * slope
    if eta_lam > 0:
        for k, t in enumerate(t_out):
            lam[t] -= eta_lam * (p[k] - y[k])
        lam[:] = np.minimum.accumulate(lam)
    return e


def forward(in_times, layers, kernels, alphas, thetas, binary, T, dropped=None):
    """Dense forward: binary nets on the signs with thresholds ``theta / alpha``, real ones on the
    kernels with ``theta``. Returns (times per layer, last layer's potentials ``V[0..T]``, thresholds)."""
    weights = [np.where(k >= 0, 1, -1) if binary else k for k in kernels]
    thr = [thetas[i] / alphas[i] for i in range(len(layers))] if binary else list(thetas)
    times, V = dense_forward(in_times, [unrolled_matrix(L, w) for L, w in zip(layers, weights)], thr, T, dropped)
    return times, V, thr


def reference_step(in_times, label, layers, kernels, alphas, thetas, binary, T, gamma, push_silent_label,
                   etas, eta_alphas, lambdas, decoding="s4nn", lam=None, eta_lam=0.0, backward="s4nn",
                   dropped=None):
    """One online SGD step; updates ``kernels``, ``alphas`` and ``lam`` in place.

    ``dropped``: one boolean mask per hidden layer, those neurons silent (dropout). Returns the
    spike times of every layer before the update.
    """
    times, V, thr = forward(in_times, layers, kernels, alphas, thetas, binary, T, dropped)
    relative = relative_error(times[-1], V[T - 2], label, T, gamma, push_silent_label)
    if decoding == "temporal":
        e = temporal_error(times[-1], label, T, lam, eta_lam)
    elif decoding == "mixed":
        e = _normalise(temporal_error(times[-1], label, T, lam, eta_lam)) + _normalise(relative)
    else:
        e = relative
    for index in range(len(layers) - 1, -1, -1):
        layer, kernel = layers[index], kernels[index]
        t_pre = np.asarray(in_times) if index == 0 else times[index - 1]
        t_post = times[index]
        if backward == "stidi":
            t_first = min(int(t_pre.min()), T)
            e = e * np.maximum(t_post - t_first, 1) / max(thr[index], 1.0)
        delta = _normalise(e)
        hf = t_pre[None, :] < t_post[:, None]  # (n_out, n_in)
        grad = fold(layer, delta[:, None] * hf, kernel.shape)
        kernel -= etas[index] * grad
        if binary:
            mean = np.sum(grad * np.where(kernel >= 0, 1.0, -1.0)) / (layer.n_out * layer.fan_in)
            alphas[index] = max(alphas[index] - eta_alphas[index] * mean, ALPHA_MIN)
        if lambdas[index] > 0:
            kernel *= 1.0 - etas[index] * lambdas[index]
        if index > 0:
            source = delta if backward == "s4nn" else e
            e = (unrolled_matrix(layer, kernel) * source[:, None] * hf).sum(axis=0)
    return times


def reference_sample_gradients(in_times, label, layers, kernels, thetas, alphas, T, gamma,
                               push_silent_label=False, real_errors=False, silent_margin=0.0, dropped=None,
                               binary=True):
    """Summed-gradient restatement of :func:`.batch_kernels.sample_gradients` for one sample.

    ``push_silent_label``: False, True or ``"rank"``; ``real_errors``: errors go down through the
    real kernels instead of their signs; ``silent_margin``: the surrogate's width factor; ``dropped``:
    one boolean mask per hidden layer (dropout). Returns ``(times, grads)``, ``grads[l]`` shaped like
    ``kernels[l]``.
    """
    times, V, thr = forward(in_times, layers, kernels, alphas, thetas, binary, T, dropped)
    fwd = [unrolled_matrix(L, np.where(k >= 0, 1, -1) if binary else k) for L, k in zip(layers, kernels)]
    e = _normalise(relative_error(times[-1], V[T - 2], label, T, gamma, push_silent_label))
    scale = np.sqrt(np.sum(e * e))
    grads = [np.zeros(k.shape) for k in kernels]
    if scale == 0:
        return times, grads
    for index in range(len(layers) - 1, -1, -1):
        t_pre = np.asarray(in_times) if index == 0 else times[index - 1]
        carrier = unrolled_matrix(layers[index], kernels[index]) if real_errors else fwd[index]
        contrib = e[:, None] * (t_pre[None, :] < times[index][:, None])
        grads[index] += fold(layers[index], contrib, kernels[index].shape)
        below = (carrier * contrib).sum(axis=0)
        if silent_margin > 0 and index > 0:
            t_in = np.asarray(in_times) if index == 1 else times[index - 2]
            v_end = (fwd[index - 1] * (t_in[None, :] <= T - 2)).sum(axis=1)
            width = silent_margin * np.sqrt(layers[index - 1].fan_in)
            gap = thr[index - 1] - v_end
            gate = np.where((t_pre >= T) & (gap < width), np.minimum(1.0, 1.0 - gap / width), 0.0)
            if dropped is not None:
                gate[dropped[index - 1]] = 0.0
            below += gate * (carrier * e[:, None]).sum(axis=0)
        e = _normalise(below) * scale
    return times, grads


def reference_adam_step(kernels, grads, alphas, eta_alphas, binary, layers, lrs, clips, moments, step,
                        beta1=0.9, beta2=0.999):
    """One Adam step ``w -= lr * m_hat / (sqrt(v_hat) + 1e-8)``, clipped to ``[-clip, clip]`` (0: no
    clip), after the BS4NN scale step on the mean of ``grad * sign(w)`` (signs before the step)."""
    for index, (kernel, grad) in enumerate(zip(kernels, grads)):
        if binary:
            alphas[index] = max(alphas[index] - eta_alphas[index] * np.sum(grad * np.where(kernel >= 0, 1, -1))
                                / (layers[index].n_out * layers[index].fan_in), ALPHA_MIN)
        m, v = moments[index]
        m[:] = beta1 * m + (1 - beta1) * grad
        v[:] = beta2 * v + (1 - beta2) * grad**2
        kernel -= lrs[index] * (m / (1 - beta1**step)) / (np.sqrt(v / (1 - beta2**step)) + 1e-8)
        if clips[index] > 0:
            np.clip(kernel, -clips[index], clips[index], out=kernel)
