# SPDX-License-Identifier: MIT
"""k-means first-layer kernels (--init-kernels kmeans): patches, clustering, the trainer option."""

import numpy as np
import pytest

from firstspike.model.patch_init import MIN_CONTRAST, kmeans, kmeans_kernels, sample_patches
from firstspike.model.train_config import config_from_dict
from firstspike.model.trainer import Trainer


def test_patches_are_the_image_windows_minus_their_mean_and_flat_ones_are_dropped():
    rng = np.random.default_rng(0)
    images = rng.random((4, 9, 7))
    images[2] = 0.3  # a flat image: every patch of it has no contrast
    patches = sample_patches(images, 3, 2, 500, np.random.default_rng(1))
    assert patches.shape[1] == 6
    np.testing.assert_allclose(patches.mean(axis=1), 0.0, atol=1e-12)
    assert (np.abs(patches).sum(axis=1) >= MIN_CONTRAST).all()
    # every row is some window of some image, mean removed (searched by brute force)
    windows = np.array([im[y:y + 3, x:x + 2].ravel() for im in images for y in range(7) for x in range(6)])
    windows -= windows.mean(axis=1, keepdims=True)
    for p in patches[:20]:
        assert np.abs(windows - p).max(axis=1).min() < 1e-12
    # the draws that landed on the flat image are gone: fewer rows than asked, about 3/4 of them
    assert 300 < len(patches) < 450


def test_kmeans_recovers_separated_clusters_and_ends_at_its_own_fixed_point():
    rng = np.random.default_rng(3)
    means = np.array([[5.0, 0.0, 0.0], [0.0, 5.0, 0.0], [0.0, 0.0, 5.0]])
    points = np.concatenate([m + 0.1 * rng.standard_normal((200, 3)) for m in means])
    centroids = kmeans(points, 3, np.random.default_rng(4))
    order = np.argsort(centroids.argmax(axis=1))
    np.testing.assert_allclose(centroids[order], means, atol=0.05)
    nearest = ((points[:, None, :] - centroids[None]) ** 2).sum(-1).argmin(axis=1)
    for c in range(3):  # a converged Lloyd step: each centroid is the mean of its nearest points
        np.testing.assert_allclose(centroids[c], points[nearest == c].mean(axis=0), atol=1e-12)
    with pytest.raises(ValueError, match="at least 5 distinct"):
        kmeans(points[:4], 5, rng)


def test_kmeans_kernels_of_striped_images_are_the_four_stripe_patterns():
    # vertical and horizontal stripes of period 2: a 3x3 window sees one of 4 contrast patterns
    # (two phases each), so 4 centroids must be exactly those, up to the scale
    vertical = np.zeros((12, 12)) + np.arange(12)[None, :] % 2
    horizontal = np.zeros((12, 12)) + np.arange(12)[:, None] % 2
    images = np.stack([vertical, horizontal] * 10).astype(np.float64)
    kernels = kmeans_kernels(images, 4, 3, 3, np.random.default_rng(0), n_patches=2000)
    got = {tuple(np.sign(k).astype(int).ravel()) for k in kernels}
    patterns = set()
    for img in (vertical, horizontal):
        for y in range(2):
            for x in range(2):
                w = img[y:y + 3, x:x + 3].astype(float)
                patterns.add(tuple(np.sign(w - w.mean()).astype(int).ravel()))
    assert got == patterns
    np.testing.assert_allclose(np.abs(kernels).max(axis=(1, 2)), 1.0)


def _cfg(**kw):
    base = dict(arch="28x28-c6k5-p2-fc20-fc10", dataset="mnist-mini", epochs=1, val_size=300, init="che",
                init_high=[1.0], eta=[0.01], eta_alpha=0.0, seed=2, optimizer="adam", batch=8)
    base.update(kw)
    return config_from_dict(base)


def test_trainer_draws_the_first_conv_layer_from_patches_and_leaves_the_rest_alone(tmp_path):
    quiet = dict(progress=False, log=lambda m: None)
    plain = Trainer(_cfg(), tmp_path / "a", **quiet)
    km = Trainer(_cfg(init_kernels="kmeans"), tmp_path / "b", **quiet)
    again = Trainer(_cfg(init_kernels="kmeans"), tmp_path / "c", **quiet)
    w = km.weights[0]
    assert w.shape == plain.weights[0].shape and np.abs(w).max() == pytest.approx(1.0)
    # a centroid of zero-mean patches is itself zero-mean: every kernel has taps of both signs
    np.testing.assert_allclose(w.sum(axis=(0, 1, 2)), 0.0, atol=1e-9)
    assert ((km.signs[0] > 0).any(axis=(0, 1, 2)) & (km.signs[0] < 0).any(axis=(0, 1, 2))).all()
    assert (km.signs[0] == np.where(w >= 0, 1, -1)).all()
    assert all((a == b).all() for a, b in zip(km.weights, again.weights))  # seeded
    assert all((a == b).all() for a, b in zip(km.weights[1:], plain.weights[1:]))
    assert 0.2 < km.init_fractions[0] < 0.4  # the che thresholds still set the firing target (0.3)


@pytest.mark.parametrize("arch, fragment", [("784-fc20-fc10", "fc layer"),
                                            ("2x7x7-c3k3-p2-fc10", "2 input channel"),
                                            ("1x8x8-p2-c2k3p1-fc5", "after 2x2 pooling")])
def test_kmeans_kernels_need_a_single_channel_conv_first_layer(arch, fragment):
    with pytest.raises(ValueError, match=fragment):
        _cfg(arch=arch, init_kernels="kmeans").resolved()
    with pytest.raises(ValueError, match="choose one of"):
        _cfg(init_kernels="pca").resolved()
