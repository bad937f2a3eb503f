# SPDX-License-Identifier: MIT
"""An image's input events in the order the core's encoder walks them (for event-fed images)."""

from __future__ import annotations

import numpy as np

from ..model import spec

__all__ = ["input_events"]


def input_events(pixels, encoding: str, T: int) -> tuple[np.ndarray, np.ndarray]:
    """``(addresses, times)``: the pixels whose spike time (``spec.encode``) is effective (at most
    ``T - 2``), by increasing time and, within a time step, by decreasing pixel index (the encoder
    links each pixel in front of its time bucket, so it walks a bucket last pixel first)."""
    flat = np.asarray(pixels).reshape(-1)
    times = spec.encode(flat, encoding, T).astype(np.int64)
    keep = np.flatnonzero(times <= spec.last_effective_time(T))
    order = np.lexsort((-keep, times[keep]))
    return keep[order], times[keep][order]
