# SPDX-License-Identifier: MIT
"""First-layer conv kernels from k-means on image patches (ours; an ``--init-kernels`` option).

Coates & Ng (AISTATS 2011) show that the centroids of k-means on brightness-normalised image
patches make good first-layer features. Here each patch has its mean subtracted (so a centroid
is a contrast pattern, not a brightness level), near-flat patches are left out, and the centroids'
signs become the binary kernels; the trainer keeps the centroid magnitudes as latent weights, so
taps near zero are the ones training flips first.
"""

from __future__ import annotations

import numpy as np

__all__ = ["sample_patches", "kmeans", "kmeans_kernels"]

MIN_CONTRAST = 0.5  # sum |p - mean(p)| (pixels in [0, 1]) below which a patch counts as flat


def sample_patches(images: np.ndarray, kh: int, kw: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` random ``kh x kw`` patches of ``images`` ``(N, H, W)`` (brightness in [0, 1]),
    zero-mean, flattened, with the flat ones dropped (so fewer than ``n`` rows may come back)."""
    N, H, W = images.shape
    if kh > H or kw > W:
        raise ValueError(f"a {kh}x{kw} kernel does not fit a {H}x{W} image")
    which, ys, xs = rng.integers(0, N, n), rng.integers(0, H - kh + 1, n), rng.integers(0, W - kw + 1, n)
    rows = ys[:, None, None] + np.arange(kh)[None, :, None]
    cols = xs[:, None, None] + np.arange(kw)[None, None, :]
    patches = images[which[:, None, None], rows, cols].reshape(n, -1).astype(np.float64)
    patches -= patches.mean(axis=1, keepdims=True)
    return patches[np.abs(patches).sum(axis=1) >= MIN_CONTRAST]


def kmeans(points: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 30) -> np.ndarray:
    """Lloyd's k-means seeded by k-means++ (Arthur & Vassilvitskii 2007: each next seed drawn with
    probability proportional to its squared distance from the seeds so far); an empty cluster
    restarts at a random point. Returns the ``(k, d)`` centroids."""
    sq = (points * points).sum(axis=1)

    def distances(centroids):  # (n, k) squared distances, without an (n, k, d) intermediate
        return np.maximum(sq[:, None] - 2.0 * points @ centroids.T + (centroids * centroids).sum(1), 0.0)

    if len(points) == 0:
        raise ValueError(f"k-means needs at least {k} distinct patches with contrast, got none")
    centroids = points[[rng.integers(len(points))]]
    for _ in range(1, k):
        d = distances(centroids).min(axis=1)
        if d.sum() <= 0.0:
            raise ValueError(f"k-means needs at least {k} distinct patches with contrast, got "
                             f"{len(centroids)}")
        centroids = np.vstack([centroids, points[rng.choice(len(points), p=d / d.sum())]])
    for _ in range(iterations):
        nearest = distances(centroids).argmin(axis=1)
        for c in range(k):
            members = points[nearest == c]
            centroids[c] = members.mean(axis=0) if len(members) else points[rng.integers(len(points))]
    return centroids


def kmeans_kernels(images: np.ndarray, c_out: int, kh: int, kw: int, rng: np.random.Generator,
                   n_patches: int = 20000) -> np.ndarray:
    """``(c_out, kh, kw)`` centroids of zero-mean patches of ``images`` ``(N, H, W)`` (brightness
    in [0, 1]), each scaled to a largest magnitude of 1 (their signs are the binary kernels)."""
    centroids = kmeans(sample_patches(images, kh, kw, n_patches, rng), c_out, rng)
    peak = np.abs(centroids).max(axis=1, keepdims=True)
    return (centroids / np.where(peak > 0, peak, 1.0)).reshape(c_out, kh, kw)
