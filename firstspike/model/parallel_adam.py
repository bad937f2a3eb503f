# SPDX-License-Identifier: MIT
"""One fused, parallel Adam step over every layer: :func:`.trainer.adam_update`, to the bit.

Per layer, BS4NN's scale step on ``sum(grad * sign(w))``, added up in numpy's pairwise order
(:func:`pairwise_dot`: ``np.sum`` of the product array, which the reference calls), then the
element-wise :func:`.train_kernels.adam_step` in parallel over blocks of weights (elements are
independent, so the order does not matter). Tested with ``==`` (tests/test_parallel_batch.py).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .train_kernels import scale_step

BLOCK = 1 << 14  # weights per parallel task
_PAIRWISE_BLOCK = 128  # numpy's PW_BLOCKSIZE


@njit(cache=True)
def _pairwise_leaf(g, s, lo, n):
    """numpy's pairwise sum of ``g * s`` over ``lo .. lo + n - 1`` for ``n <= 128``: in order below 8
    terms, else 8 running sums added as a tree, then the rest in order."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += g[i] * s[i]
        return res
    r0, r1, r2, r3 = g[lo] * s[lo], g[lo + 1] * s[lo + 1], g[lo + 2] * s[lo + 2], g[lo + 3] * s[lo + 3]
    r4, r5, r6, r7 = g[lo + 4] * s[lo + 4], g[lo + 5] * s[lo + 5], g[lo + 6] * s[lo + 6], g[lo + 7] * s[lo + 7]
    i = 8
    while i < n - n % 8:
        k = lo + i
        r0 += g[k] * s[k]
        r1 += g[k + 1] * s[k + 1]
        r2 += g[k + 2] * s[k + 2]
        r3 += g[k + 3] * s[k + 3]
        r4 += g[k + 4] * s[k + 4]
        r5 += g[k + 5] * s[k + 5]
        r6 += g[k + 6] * s[k + 6]
        r7 += g[k + 7] * s[k + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += g[lo + i] * s[lo + i]
        i += 1
    return res


@njit(cache=True)
def pairwise_dot(g, s, lo, n):
    """``np.sum(g[lo:lo+n] * s[lo:lo+n])`` for flat float64 ``g``: numpy's pairwise summation (blocks
    of at most 128 terms, :func:`_pairwise_leaf`; above, the sum of two halves, the first rounded
    down to a multiple of 8), term by term. Iterative: numba's cache mis-loads recursive functions."""
    task_lo = np.empty(64, dtype=np.int64)
    task_n = np.empty(64, dtype=np.int64)
    task_state = np.empty(64, dtype=np.int64)  # 0: new, 1: left half pushed, 2: both halves pushed
    values = np.empty(64)
    top, n_values = 0, 0
    task_lo[0], task_n[0], task_state[0] = lo, n, 0
    while top >= 0:
        size = task_n[top]
        half = size // 2
        half -= half % 8
        if size <= _PAIRWISE_BLOCK:
            values[n_values] = _pairwise_leaf(g, s, task_lo[top], size)
            n_values += 1
            top -= 1
        elif task_state[top] == 0:
            task_state[top] = 1
            top += 1
            task_lo[top], task_n[top], task_state[top] = task_lo[top - 1], half, 0
        elif task_state[top] == 1:
            task_state[top] = 2
            top += 1
            task_lo[top], task_n[top], task_state[top] = task_lo[top - 1] + half, size - half, 0
        else:
            n_values -= 1
            values[n_values - 1] = values[n_values - 1] + values[n_values]
            top -= 1
    return values[0]


@njit(cache=True)
def adam_block(wf, sf, binary, gf, mf, vf, lr, beta1, beta2, c1, c2, clip, lo, hi):
    """:func:`.train_kernels.adam_step` on elements ``lo .. hi - 1`` of flat arrays."""
    eps = 1e-8
    for q in range(lo, hi):
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


@njit(parallel=True, cache=True)
def adam_update(weights, signs, grads, adam_m, adam_v, alphas, binary, lrs, eta_alphas, clips, step,
                connections, beta1, beta2):
    """The scale steps and Adam steps of every layer (arguments of :func:`.trainer.adam_update`,
    the betas explicit); zeroes ``grads``."""
    c1 = 1.0 - beta1 ** step
    c2 = 1.0 - beta2 ** step
    for layer in range(len(weights)):
        wf, sf, gf = weights[layer].reshape(-1), signs[layer].reshape(-1), grads[layer].reshape(-1)
        mf, vf = adam_m[layer].reshape(-1), adam_v[layer].reshape(-1)
        n = wf.shape[0]
        if binary:
            alpha_grad = pairwise_dot(gf, sf, 0, n)
            alphas[layer] = scale_step(alphas[layer], eta_alphas[layer], alpha_grad, connections[layer])
        for block in prange((n + BLOCK - 1) // BLOCK):
            adam_block(wf, sf, binary, gf, mf, vf, lrs[layer], beta1, beta2, c1, c2, float(clips[layer]),
                       block * BLOCK, min(n, (block + 1) * BLOCK))
