# SPDX-License-Identifier: MIT
"""Mini-batch gradients (the ``--optimizer adam`` path, ours): the forward pass of :mod:`.sgd_kernels`,
per-sample temporal backprop (:func:`.sgd_kernels.conv_backward`) summed over a batch; the trainer
then takes one Adam step on the latent weights, clipped as in BinaryConnect (Courbariaux et al. 2015).

Output errors ``e_k`` (``dt/dV = -1``, S4NN sign convention ``w -= eta * e_k [t_i < t_k]``): the
S4NN relative targets (push-silent rule and ``rank`` included), L2-normalised. Errors go down
through the signs (straight-through) or the latent real weights (``carriers``, BS4NN's backward
pass), rescaled to the norm of the sample's output error. Silent-neuron surrogate
(``silent_margin``, after BinaryNet's straight-through estimator): a silent hidden neuron gets
``g_i * sum_k w_ki e_k`` over every neuron it feeds, ``g_i = max(0, 1 - (theta_i - V_i(T - 2)) /
(silent_margin * sqrt(fan_in)))``. Why each exists and what it measured: docs/research.md.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .kernels import SNAP_END, SNAP_FIRST_CROSS
from .sgd_kernels import conv_backward, count_spikes, fan_in_of, forward_sample
from .train_kernels import normalise, target_error


@njit(cache=True)
def sample_gradients(in_times, label, geoms, weights, signs, binary, carriers, thetas, alphas, T, gamma,
                     push_silent_label, silent_margin, times, pots, snaps, grads, drop):
    """Forward one sample, add its weight gradients to ``grads``; returns (class, loss).

    ``push_silent_label``: a ``train_kernels.SILENT_*`` mode; ``carriers[l]``: shaped like ``signs[l]``;
    ``pots``: shaped like ``times``, receives the final potentials (surrogate only). ``drop``: the
    sample's dropout mask (:func:`.sgd_kernels.forward_sample`; empty = none): no error reaches a
    dropped neuron or passes through it.
    """
    if silent_margin > 0.0:  # the surrogate reads the final potentials; otherwise skip the copies
        forward_sample(in_times, geoms, weights, signs, thetas, alphas, binary, T, times, snaps, pots, drop)
    else:
        forward_sample(in_times, geoms, weights, signs, thetas, alphas, binary, T, times, snaps, None, drop)
    n_layers = geoms.shape[0]
    out_times = times[n_layers - 1]
    pred = np.argmax(snaps[SNAP_FIRST_CROSS]) if out_times.min() < T else np.argmax(snaps[SNAP_END])
    e = target_error(out_times, snaps[SNAP_END], label, T, gamma, push_silent_label)
    loss = 0.5 * np.sum(e * e)
    e = normalise(e)  # as the FC mini-batch path: every sample with an error weighs 1
    scale = np.sqrt(np.sum(e * e))
    if scale == 0.0:
        return pred, loss
    for layer in range(n_layers - 1, -1, -1):
        g = geoms[layer]
        t_in = in_times if layer == 0 else times[layer - 1]
        conv_backward(g, t_in, times[layer], e, signs[layer], grads[layer], grads[layer].reshape(-1), True)
        if layer > 0:
            below = np.zeros(t_in.shape[0])
            conv_backward(g, t_in, times[layer], e, carriers[layer], grads[layer], below, False)
            if silent_margin > 0.0:
                below += silent_errors(geoms[layer - 1], g, t_in, pots[layer - 1],
                                       thetas[layer - 1] / alphas[layer - 1], silent_margin, T, e,
                                       carriers[layer], grads[layer])
            e = normalise(below) * scale
    return pred, loss


@njit(cache=True)
def silent_errors(g_hid, g, t_hid, v_hid, theta, margin, T, e, carrier, grad):
    """Errors of the silent neurons of a hidden layer under the surrogate (module docstring)."""
    width = margin * np.sqrt(fan_in_of(g_hid))
    gate = np.zeros(t_hid.shape[0])  # 0 outside ``width`` of the threshold, > 0 inside
    for i in range(t_hid.shape[0]):
        gap = theta - v_hid[i]
        if t_hid[i] >= T and gap < width:
            gate[i] = 1.0 - gap / width if gap > 0.0 else 1.0
    out = np.zeros(t_hid.shape[0])
    if gate.max() == 0.0:
        return out
    # an open gate counts the neuron as firing first: time 0 passes every [t_i < t_k]
    t_gate = np.where(gate > 0.0, 0, T).astype(t_hid.dtype)
    conv_backward(g, t_gate, np.full(e.shape[0], T, dtype=t_hid.dtype), e, carrier, grad, out, False)
    return out * gate


@njit(cache=True)
def batch_gradients(all_times, labels, batch, geoms, weights, signs, binary, carriers, thetas, alphas, T,
                    gamma, push_silent_label, silent_margin, times, pots, snaps, grads,
                    fire_counts, drops):
    """Sum the gradients of ``all_times[batch]`` into ``grads`` (zeroed here).

    Returns ``(n correct, summed loss)``; ``fire_counts`` counts every neuron's spikes (layers
    concatenated; dropped neurons count as silent). ``drops``: one dropout mask row per entry of
    ``batch``, or ``(0, 0)``.
    """
    for layer in range(len(grads)):
        grads[layer][:] = 0.0
    correct = 0
    total = 0.0
    no_drop = np.zeros(0, dtype=np.uint8)
    for q in range(batch.shape[0]):
        n = batch[q]
        pred, loss = sample_gradients(all_times[n], labels[n], geoms, weights, signs, binary, carriers,
                                      thetas, alphas, T, gamma, push_silent_label,
                                      silent_margin, times, pots, snaps, grads,
                                      drops[q] if drops.shape[0] > 0 else no_drop)
        total += loss
        if pred == labels[n]:
            correct += 1
        count_spikes(times, T, fire_counts)
    return correct, total
