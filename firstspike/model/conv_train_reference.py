# SPDX-License-Identifier: MIT
"""Slow, obvious restatement of one conv training step, for testing :mod:`.conv_train_kernels`.

Every neuron layer is unrolled into its dense ``(n_out, n_in)`` matrix (:mod:`.reference`);
a kernel tap's gradient is the sum of the dense per-connection gradients
``delta_k [t_i < t_k]`` over the connections that use it (weight sharing, sum pooling). The output
error of the ``s4nn`` decoding comes from :func:`train_kernels.relative_error`, which the FC
tests check against :mod:`.train_reference`; the batch path's all-silent samples take the targets
of :func:`.train_reference.silent_targets` (``rank`` included) on the potentials restated here.
"""

from __future__ import annotations

import numpy as np

from .reference import tap_index, unrolled_matrix
from .reference import dense_forward
from .train_kernels import ALPHA_MIN, relative_error
from .train_reference import silent_targets


def _normalise(v):
    norm = np.sqrt(np.sum(v * v))
    return v / norm if norm > 0 else v


def _relative_error(t_out, v_end, label, T, gamma, push_silent_label):
    """S4NN relative-target error; all outputs silent: the ``silent_targets`` (False, True or
    ``"rank"``) on ``v_end``, the potentials the hardware fallback compares."""
    if t_out.min() == T:
        return (silent_targets(v_end, label, T, gamma, push_silent_label) - T) / T
    return relative_error(t_out.astype(np.int16), label, T, float(gamma), bool(push_silent_label))


def _temporal_error(t_out, label, T, lam, eta_lam):
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


def reference_step(in_times, label, layers, kernels, alphas, thetas, T, gamma, push_silent_label,
                   etas, eta_alphas, lambdas, decoding="s4nn", lam=None, eta_lam=0.0, backward="s4nn"):
    """One online step; updates ``kernels`` ((c_out, c_in, kh, kw) floats), ``alphas``, ``lam``.

    Returns the spike times of every layer before the update.
    """
    taps = [tap_index(layer) for layer in layers]
    fwd = [unrolled_matrix(layer, np.where(k >= 0, 1, -1)) for layer, k in zip(layers, kernels)]
    thr = [thetas[i] / alphas[i] for i in range(len(layers))]
    times, _ = dense_forward(in_times, fwd, thr, T)
    if decoding == "temporal":
        e = _temporal_error(times[-1], label, T, lam, eta_lam)
    elif decoding == "mixed":
        e = _normalise(_temporal_error(times[-1], label, T, lam, eta_lam)) + _normalise(
            relative_error(times[-1].astype(np.int16), label, T, float(gamma), push_silent_label))
    else:
        e = relative_error(times[-1].astype(np.int16), label, T, float(gamma), push_silent_label)
    for index in range(len(layers) - 1, -1, -1):
        layer, tap, kernel = layers[index], taps[index], kernels[index]
        t_pre = np.asarray(in_times) if index == 0 else times[index - 1]
        t_post = times[index]
        if backward == "stidi":
            t_first = min(int(t_pre.min()), T)
            e = e * np.maximum(t_post - t_first, 1) / max(thr[index], 1.0)
        delta = _normalise(e)
        contrib = delta[:, None] * (t_pre[None, :] < t_post[:, None])  # (n_out, n_in)
        grad = np.zeros(kernel.size)
        used = tap >= 0
        np.add.at(grad, tap[used], contrib[used])
        flat = kernel.reshape(-1)
        flat -= etas[index] * grad
        alphas[index] -= eta_alphas[index] * np.sum(grad * np.where(flat >= 0, 1.0, -1.0)) / (
            layer.n_out * layer.fan_in)
        alphas[index] = max(alphas[index], ALPHA_MIN)
        if lambdas[index] > 0:
            flat *= 1.0 - etas[index] * lambdas[index]
        if index > 0:
            weights = unrolled_matrix(layer, kernel)
            source = delta if backward == "s4nn" else e
            e = (weights * source[:, None] * (t_pre[None, :] < t_post[:, None])).sum(axis=0)
    return times


def reference_sample_gradients(in_times, label, layers, kernels, thetas, alphas, T, loss, tau,
                               hw_scale, ce_weight, gamma, fire_reg=0.0, fire_low=0.3, fire_high=0.3,
                               push_silent_label=False, real_errors=False, fired_mask=False,
                               silent_margin=0.0, dropped=None):
    """Summed-gradient restatement of :func:`conv_batch_kernels.sample_gradients` for one sample.

    ``push_silent_label``: False, True or ``"rank"`` (the kernel takes the ``SILENT_*`` mode);
    ``real_errors``: errors go down through the real kernels instead of their signs;
    ``fired_mask``: they reach every input neuron that fired, whatever the time of the one above;
    ``silent_margin``: a silent neuron within ``silent_margin * sqrt(fan_in)`` of its threshold at
    the end, ``V(T - 2)``, gets the errors of all the neurons it feeds, times a linear gate;
    ``dropped``: one boolean mask per hidden layer, those neurons silent for this sample (dropout).
    Returns ``(times, grads)`` with ``grads[l]`` shaped like ``kernels[l]`` ``(c_out, c_in, kh, kw)``.
    """
    taps = [tap_index(layer) for layer in layers]
    signs = [np.where(k >= 0, 1, -1) for k in kernels]
    fwd = [unrolled_matrix(layer, s) for layer, s in zip(layers, signs)]
    thr = [thetas[i] / alphas[i] for i in range(len(layers))]
    times, _ = dense_forward(in_times, fwd, thr, T, dropped)
    t_out = times[-1]
    K = len(t_out)
    y = np.zeros(K)
    y[label] = 1.0

    def softmax_minus_y(z):
        p = np.exp(z - z.max())
        return p / p.sum() - y

    fired = t_out.min() < T
    t_dec = np.full(K, t_out.min() if fired else T - 1)
    # potentials the hardware rule compares: at the first crossing index (t_min - 1) or at T - 2
    index_read = t_dec - 1
    pre = np.asarray(in_times) if len(layers) == 1 else times[-2]
    v = (fwd[-1] * (pre[None, :] <= index_read[:, None])).sum(axis=1).astype(float)
    e = np.zeros(K)
    e_hw = np.zeros(K)
    if loss in ("ce", "ce+hw"):
        e = softmax_minus_y(-t_out / tau) * (ce_weight if loss == "ce+hw" else 1.0)
    elif loss in ("relative", "relative+hw"):
        e = _normalise(_relative_error(t_out, v, label, T, gamma, push_silent_label))
        e = e * (ce_weight if loss == "relative+hw" else 1.0)
    if loss in ("hw", "ce+hw", "relative+hw"):
        e_hw = softmax_minus_y(v / hw_scale)
    scale = np.sqrt(np.sum(e * e) + np.sum(e_hw * e_hw))
    grads = [np.zeros(k.shape) for k in kernels]
    if scale == 0:
        return times, grads
    for index in range(len(layers) - 1, -1, -1):
        t_pre = np.asarray(in_times) if index == 0 else times[index - 1]
        masks = [(e, times[index])] + ([(e_hw, t_dec)] if index == len(layers) - 1 else [])
        below = np.zeros(len(t_pre))
        carrier = unrolled_matrix(layers[index], kernels[index]) if real_errors else fwd[index]
        for err, t_post in masks:
            contrib = err[:, None] * (t_pre[None, :] < t_post[:, None])
            used = taps[index] >= 0
            np.add.at(grads[index].reshape(-1), taps[index][used], contrib[used])
            if fired_mask:
                contrib = err[:, None] * (t_pre[None, :] < T)
            below += (carrier * contrib).sum(axis=0)
        if silent_margin > 0 and index > 0:
            t_in = np.asarray(in_times) if index == 1 else times[index - 2]
            v_end = (fwd[index - 1] * (t_in[None, :] <= T - 2)).sum(axis=1)
            width = silent_margin * np.sqrt(layers[index - 1].fan_in)
            gap = thr[index - 1] - v_end
            gate = np.where((t_pre >= T) & (gap < width), np.minimum(1.0, 1.0 - gap / width), 0.0)
            if dropped is not None:
                gate[dropped[index - 1]] = 0.0
            for err, _ in masks:
                below += gate * (carrier * err[:, None]).sum(axis=0)
        e = _normalise(below) * scale
        if fire_reg > 0:
            f = (t_pre < T).mean()
            bound = min(max(f, fire_low), fire_high)
            e = e + fire_reg * (f - bound) * scale / np.sqrt(len(t_pre))
        e_hw = np.zeros(0)
    return times, grads
