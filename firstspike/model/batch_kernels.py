# SPDX-License-Identifier: MIT
"""Mini-batch gradients for binary conv TTFS networks (the ``--optimizer adam`` path).

The forward pass is the one of :mod:`.sgd_kernels` (binary: signs, integer potentials, threshold
``theta / alpha``; real: the weights and ``theta``; one spike per neuron), so whatever is trained
runs unchanged under :mod:`.spec`. Only the learning rule differs from the per-sample S4NN/BS4NN step:

* gradients of a whole mini-batch are *summed* first (per-sample temporal backprop with the same
  kernel, :func:`.sgd_kernels.conv_backward`), then one optimiser step (Adam, in
  :mod:`.trainer`) moves the latent real weights, which are clipped to ``[-1, 1]`` as in
  BinaryConnect (Courbariaux et al. 2015); the forward pass uses their signs;
* the output error can be the S4NN relative targets (``LOSS_S4NN``, ``--loss relative``;
  L2-normalised per sample and with the push-silent rule, ``rank`` included, exactly as the FC
  papers' per-sample step) or softmax cross-entropy on the negated spike times,
  ``z_k = -t_k / tau`` (``LOSS_CE``, ours): ``dL/dz_k = p_k - y_k``.
  With ``dt/dV = -1`` this is, in the S4NN sign convention (``w -= eta * delta [t_i < t_k]``), the
  error ``e_k = (p_k - y_k)`` (times ``1/tau``, absorbed in the rate). It rewards the label
  spiking *strictly* before every other output (a tie gives ``p_label < 1``), which is what the
  hardware decision rule needs;
* ``LOSS_HW`` (ours) optimises the hardware decision itself: the class is
  ``argmax_k V_k(c*)`` at the first crossing index ``c*`` (:func:`.spec.decide_hardware`), so the
  loss is softmax cross-entropy on ``V_k(c*) / hw_scale``; ``dV_k(c*)/dw_ki = [t_i < c* + 1]``,
  i.e. the S4NN mask with every output's time replaced by the first output spike time (``T - 1``
  when no output fires: the fallback reads ``V(T - 2)``). ``LOSS_CE_HW`` adds both, the time term weighted by ``ce_weight``;
  ``LOSS_REL_HW`` (``relative+hw``) adds the hw term to the relative targets (weighted by
  ``ce_weight``): the relative targets keep the hidden layers firing, which the hw term alone
  does not (BENCHMARKS.md), and the hw term's conv gradient predicts what a sign flip does to the
  hardware decision better than the relative one (``benchmarks/conv_gradient_check.py``);
* errors are passed down with the sign weights, ``e_i = sum_k s_ki e_k [t_i < t_k]`` (straight-
  through estimator), or with the latent real weights as BS4NN's backward pass does
  (``carriers``, ``--error-weights real``), then rescaled to the L2 norm of the sample's output
  error (S4NN normalises every layer to 1; keeping the output norm lets well-classified samples
  weigh less); with ``--error-mask fired`` (ours) the mask of that sum is ``[t_i < T]``: every
  neuron that fired gets the errors of the neurons it feeds, not only those it fed in time. The
  papers' mask starves deep networks: a neuron that fires after the neuron above can never learn
  to help it (measured in BENCHMARKS.md);
* activity term (ours, ``fire_reg > 0``): the losses above silence hidden layers (9 of 10 classes
  are wrong, so most of the error says "later"), and a silent neuron gets no error from above
  (``[t_k < t_j]`` is false for ``t_k = T``). Every neuron of hidden layer ``l`` therefore also
  gets ``fire_reg * (f_l - bound) * |e_out| / sqrt(n_l)`` when the sample's firing fraction
  ``f_l`` of that layer leaves the band ``[fire_low, fire_high]`` (``bound`` = the crossed edge;
  nothing inside the band, so the backward pass stays sparse): with ``dV/dw = [t_i < t_k]`` this
  moves silent neurons too (their inputs that fired). It also stops the opposite failure, a
  runaway towards most neurons firing in the first few steps (many output ties);
* silent-neuron surrogate (ours, ``silent_margin > 0``, ``--silent-surrogate``): with the masks above a
  silent hidden neuron gets no error at all (``[T < t_k]`` never holds), so a neuron that stays
  just below threshold can never be recruited: the straight-through estimator of binary networks
  (BinaryNet, Courbariaux et al. 2016) passes the gradient of an inactive unit when its
  pre-activation is near the threshold. Here a silent neuron ``i`` with final potential ``V_i(T - 2)``
  gets ``g_i * sum_k w_ki e_k`` over every neuron ``k`` it feeds (as if it had fired first), with the
  gate ``g_i = max(0, 1 - (theta_i - V_i) / (silent_margin * sqrt(fan_in)))``. Its own weights then
  move by ``e_i [t_j < T]`` like any silent neuron's (S4NN's ``dt/dV = -1``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .sgd_kernels import conv_backward, count_spikes, fan_in_of, forward_sample
from .kernels import SNAP_END, SNAP_FIRST_CROSS
from .train_kernels import normalise, target_error

LOSS_S4NN, LOSS_CE, LOSS_HW, LOSS_CE_HW, LOSS_REL_HW = 0, 1, 2, 3, 4
LOSSES_BY_NAME = {"relative": LOSS_S4NN, "ce": LOSS_CE, "hw": LOSS_HW, "ce+hw": LOSS_CE_HW,
                  "relative+hw": LOSS_REL_HW}


@njit(cache=True)
def ce_error(out_times, label, tau):
    """``p - y`` of the softmax over ``-t_k / tau``; also returns the loss ``-log p_label``."""
    K = out_times.shape[0]
    z = np.empty(K)
    for k in range(K):
        z[k] = -out_times[k] / tau
    return softmax_error(z, label)


@njit(cache=True)
def softmax_error(z, label):
    """``p - y`` of ``softmax(z)`` and the cross-entropy ``-log p_label``."""
    z = z - z.max()
    p = np.exp(z)
    s = p.sum()
    p /= s
    loss = -(z[label] - np.log(s))
    p[label] -= 1.0
    return p, loss


@njit(cache=True)
def silent_gates(t_hid, v_end, theta, width, T):
    """Surrogate gate of every silent neuron within ``width`` of its threshold (0 elsewhere, > 0 inside)."""
    gate = np.zeros(t_hid.shape[0])
    for i in range(t_hid.shape[0]):
        gap = theta - v_end[i]
        if t_hid[i] >= T and gap < width:
            gate[i] = 1.0 - gap / width if gap > 0.0 else 1.0
    return gate


@njit(cache=True)
def sample_gradients(in_times, label, geoms, weights, signs, binary, carriers, thetas, alphas, T, loss_kind,
                     tau,
                     hw_scale, ce_weight, gamma, push_silent_label, fired_mask, fire_reg, fire_low,
                     fire_high, silent_margin, times, pots, snaps, grads, drop):
    """Forward one sample, add its weight gradients to ``grads``; returns (class, loss).

    ``push_silent_label`` is the ``train_kernels.SILENT_*`` mode of the relative loss.
    ``carriers[l]`` are the weights that pass errors down from layer l (the signs, or the latent
    real weights as in BS4NN); same shape as ``signs[l]``. ``fired_mask``: errors go down to every
    neuron that fired (``[t_i < T]``) instead of only those that fired before the neuron above.
    ``silent_margin > 0``: the silent-neuron surrogate (module docstring); ``pots`` is shaped like
    ``times`` and receives the final potentials. ``drop``: the sample's dropout mask (see
    :func:`.sgd_kernels.forward_sample`; empty = none): a dropped neuron is silent for this
    sample, so no error reaches it or passes through it.
    """
    if silent_margin > 0.0:  # the surrogate reads the final potentials; otherwise skip the copies
        forward_sample(in_times, geoms, weights, signs, thetas, alphas, binary, T, times, snaps, pots, drop)
    else:
        forward_sample(in_times, geoms, weights, signs, thetas, alphas, binary, T, times, snaps, None, drop)
    n_layers = geoms.shape[0]
    out_times = times[n_layers - 1]
    fired = out_times.min() < T
    pred = np.argmax(snaps[SNAP_FIRST_CROSS]) if fired else np.argmax(snaps[SNAP_END])
    K = out_times.shape[0]
    e = np.zeros(K)
    e_hw = np.zeros(K)
    loss = 0.0
    if loss_kind == LOSS_CE or loss_kind == LOSS_CE_HW:
        e, loss = ce_error(out_times, label, tau)
    elif loss_kind == LOSS_S4NN or loss_kind == LOSS_REL_HW:
        e = target_error(out_times, snaps[SNAP_END], label, T, gamma, push_silent_label)
        loss = 0.5 * np.sum(e * e)
        e = normalise(e)  # as the FC mini-batch path: every sample with an error weighs 1
    if loss_kind == LOSS_CE_HW or loss_kind == LOSS_REL_HW:  # the time term beside the hw term
        e *= ce_weight
        loss *= ce_weight
    # the hardware decision reads V_k at the first crossing index (fallback T - 2): an input
    # counts there iff t_i < t_min (fallback t_i < T - 1)
    t_dec = np.full(K, out_times.min() if fired else T - 1, dtype=out_times.dtype)
    if loss_kind == LOSS_HW or loss_kind == LOSS_CE_HW or loss_kind == LOSS_REL_HW:
        v = (snaps[SNAP_FIRST_CROSS] if fired else snaps[SNAP_END]).astype(np.float64)
        e_hw, loss_hw = softmax_error(v / hw_scale, label)
        loss += loss_hw
    scale = np.sqrt(np.sum(e * e) + np.sum(e_hw * e_hw))
    if scale == 0.0:
        return pred, loss
    for layer in range(n_layers - 1, -1, -1):
        g = geoms[layer]
        t_in = in_times if layer == 0 else times[layer - 1]
        t_out = times[layer]
        last = layer == n_layers - 1
        conv_backward(g, t_in, t_out, e, signs[layer], grads[layer], grads[layer].reshape(-1), True)
        if last:
            conv_backward(g, t_in, t_dec, e_hw, signs[layer], grads[layer], grads[layer].reshape(-1), True)
        if layer > 0:
            below = np.zeros(t_in.shape[0])
            t_pass = np.full_like(t_out, T) if fired_mask else t_out
            conv_backward(g, t_in, t_pass, e, carriers[layer], grads[layer], below, False)
            if last:
                t_pass_hw = np.full_like(t_dec, T) if fired_mask else t_dec
                conv_backward(g, t_in, t_pass_hw, e_hw, carriers[layer], grads[layer], below, False)
            if silent_margin > 0.0:
                below += silent_errors(geoms[layer - 1], g, t_in, pots[layer - 1],
                                       thetas[layer - 1] / alphas[layer - 1], silent_margin, T, e,
                                       e_hw if last else e[:0], carriers[layer], grads[layer])
            e = normalise(below) * scale
            if fire_reg > 0.0:  # activity term: the whole layer towards the target firing fraction
                t_hid = times[layer - 1]
                n_fire = 0
                for j in range(t_hid.shape[0]):
                    if t_hid[j] < T:
                        n_fire += 1
                f = n_fire / t_hid.shape[0]
                excess = f - fire_high if f > fire_high else (f - fire_low if f < fire_low else 0.0)
                if excess != 0.0:
                    e = e + fire_reg * excess * scale / np.sqrt(t_hid.shape[0])
    return pred, loss


@njit(cache=True)
def silent_errors(g_hid, g, t_hid, v_hid, theta, margin, T, e, e_hw, carrier, grad):
    """Errors of the silent neurons of a hidden layer under the surrogate (module docstring)."""
    gate = silent_gates(t_hid, v_hid, theta, margin * np.sqrt(fan_in_of(g_hid)), T)
    out = np.zeros(t_hid.shape[0])
    if gate.max() == 0.0:
        return out
    # an open gate counts the neuron as firing first: time 0 passes every [t_i < t_k]
    t_gate = np.where(gate > 0.0, 0, T).astype(t_hid.dtype)
    t_any = np.full(e.shape[0], T, dtype=t_hid.dtype)
    conv_backward(g, t_gate, t_any, e, carrier, grad, out, False)
    if e_hw.shape[0] > 0:
        conv_backward(g, t_gate, t_any, e_hw, carrier, grad, out, False)
    return out * gate


@njit(cache=True)
def batch_gradients(all_times, labels, batch, geoms, weights, signs, binary, carriers, thetas, alphas, T,
                    loss_kind, tau, hw_scale, ce_weight, gamma, push_silent_label, fired_mask, fire_reg,
                    fire_low, fire_high, silent_margin, times, pots, snaps, grads, fire_counts, drops):
    """Sum the gradients of ``all_times[batch]`` into ``grads`` (zeroed here).

    Returns ``(n correct, summed loss)``; ``fire_counts`` counts every neuron's spikes (layers
    concatenated; dropped neurons count as silent). ``drops``: one dropout mask row per entry of ``batch``, or ``(0, 0)``.
    """
    for layer in range(len(grads)):
        grads[layer][:] = 0.0
    correct = 0
    total = 0.0
    n_layers = geoms.shape[0]
    no_drop = np.zeros(0, dtype=np.uint8)
    for q in range(batch.shape[0]):
        n = batch[q]
        pred, loss = sample_gradients(all_times[n], labels[n], geoms, weights, signs, binary, carriers,
                                      thetas, alphas, T, loss_kind, tau, hw_scale, ce_weight, gamma,
                                      push_silent_label, fired_mask, fire_reg, fire_low,
                                      fire_high, silent_margin, times, pots, snaps, grads,
                                      drops[q] if drops.shape[0] > 0 else no_drop)
        total += loss
        if pred == labels[n]:
            correct += 1
        count_spikes(times, T, fire_counts)
    return correct, total

