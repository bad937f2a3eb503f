# SPDX-License-Identifier: MIT
"""Numba primitives shared by the training kernels (:mod:`.sgd_kernels`, :mod:`.batch_kernels`).

Ref: S4NN (doi:10.1142/S0129065720500276) relative targets and normalised temporal error
(``shared/reference/ttfs-algorithms.md`` 2.2); BS4NN (doi:10.1007/s11063-021-10680-x) learned
per-layer scale (3.3); Adam (Kingma and Ba 2015) on clipped latent weights (BinaryConnect).
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: What an all-silent output teaches (``--push-silent-label``): nothing (BS4NN), a pull of the
#: label neuron to ``T - gamma`` (S4NN), or that pull plus a push on every wrong output the hardware
#: rule's fallback would pick over the label (ours, see :func:`target_error`).
SILENT_OFF, SILENT_LABEL, SILENT_RANK = 0, 1, 2

#: Smallest per-layer scale alpha: keeps the integer threshold ``floor(theta / alpha)`` finite.
ALPHA_MIN = 1e-3


@njit(cache=True)
def scale_step(alpha, eta_alpha, grad_sum, n_connections):
    """BS4NN's scale update ``alpha -= eta_alpha * mean over connections of (grad * sign(w))``,
    with ``grad_sum`` that sum over the layer's ``n_connections``; floored at ``ALPHA_MIN``."""
    return max(alpha - eta_alpha * grad_sum / n_connections, ALPHA_MIN)


@njit(cache=True)
def target_error(out_times, v_end, label, T, gamma, push_silent_label):
    """Output error ``e_k = (T_k - t_k) / T`` from the S4NN relative targets (margin ``gamma``).

    All outputs silent, by mode ``push_silent_label``: nothing is learned (``SILENT_OFF``, BS4NN),
    the label is pulled to ``T - gamma`` (``e = -gamma / T``; ``SILENT_LABEL``, S4NN), or with that
    pull (``SILENT_RANK``, ours) every wrong output whose final potential ``v_end`` is at least the
    label's gets ``e = +gamma / T``: the hardware rule then picks ``argmax V(T - 2)``, lowest index on
    equal potential; with ``dt/dV = -1`` these are the temporal errors the firing samples use.
    """
    K = out_times.shape[0]
    e = np.zeros(K)
    t_min = out_times.min()
    if t_min == T:
        if push_silent_label == SILENT_RANK:
            for k in range(K):
                if k != label and v_end[k] >= v_end[label]:
                    e[k] = gamma / T
        if push_silent_label != SILENT_OFF:
            e[label] = -gamma / T
        return e
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
    return v / norm if norm > 0 else v


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


#: Adam's moment decay rates (Kingma and Ba's defaults).
ADAM_BETAS = (0.9, 0.999)


@njit(cache=True)
def adam_step(w, s, binary, g, m, v, lr, beta1, beta2, step, clip):
    """One Adam step ``w -= lr * m_hat / (sqrt(v_hat) + eps)`` then clip to ``[-clip, clip]``
    (``clip <= 0``: no clipping); refreshes the signs ``s`` (binary); zeroes ``g``. Contiguous arrays
    of any shape."""
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
