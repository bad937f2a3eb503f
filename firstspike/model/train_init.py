# SPDX-License-Identifier: MIT
"""Starting point of a training run beyond the papers' ``U[low, high)``: Che et al.'s threshold
calibration (our reading)."""

from __future__ import annotations

import numpy as np

from . import spec
from .infer import run_times


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
