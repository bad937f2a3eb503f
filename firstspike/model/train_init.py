# SPDX-License-Identifier: MIT
"""Starting points of a training run beyond the papers' ``U[low, high)``: Che et al.'s threshold
calibration (our reading) and k-means first-layer kernels (ours, after Coates & Ng 2011)."""

from __future__ import annotations

import numpy as np

from . import spec
from .infer import run_times
from .patch_init import kmeans_kernels


def che_low(high: float, positive: float) -> float:
    """Lower bound of the che init's ``U(low, high)`` that makes a share ``positive`` of the latent
    weights (hence of the +1 signs) positive: ``high / (high - low) = positive``; 0.5 gives ``-high``."""
    return -high * (1.0 - positive) / positive


def init_firing_fractions(net, in_times: np.ndarray) -> list[float]:
    """Mean share of each neuron layer's neurons that fire, over the given encoded images."""
    return [float((t < net.T).mean()) for t in run_times(net, in_times).times]


def che_scales(alphas: np.ndarray, layers, theta: float, targets: list[float], fractions) -> None:
    """Che-style init (our reading): per layer, first to last, set ``alphas[l]`` in place to the scale
    of the integer threshold at which a share ``targets[l]`` of the layer's neurons fires on the
    calibration images; ``fractions()`` measures the current net. Bisection: the share firing is
    non-increasing in the threshold."""
    for index, layer in enumerate(layers):
        lo, hi = 0, layer.fan_in
        while lo < hi:
            mid = (lo + hi) // 2
            alphas[index] = spec.scale_for_threshold(theta, mid)
            if fractions()[index] > targets[index]:
                lo = mid + 1
            else:
                hi = mid
        alphas[index] = spec.scale_for_threshold(theta, lo)


def kmeans_first_layer(x_train: np.ndarray, layer, high: float, rng) -> np.ndarray:
    """``--init-kernels kmeans``: latent weights ``(1, kh, kw, c_out)`` of the first conv layer, the
    k-means centroids of training-image patches (:mod:`.patch_init`) times ``high``; brightness is
    read back from the encoded spike times (earlier = brighter)."""
    some = rng.choice(len(x_train), size=min(len(x_train), 10000), replace=False)
    t = x_train[np.sort(some)].reshape(-1, layer.h_in, layer.w_in).astype(np.float64)
    latest = max(float(t.max()), 1.0)
    centroids = kmeans_kernels(1.0 - t / latest, layer.c_out, layer.kh, layer.kw, rng)
    return np.ascontiguousarray(high * centroids.transpose(1, 2, 0)[None])
