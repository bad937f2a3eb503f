# SPDX-License-Identifier: MIT
"""The parallel mini-batch gradients equal the serial reference kernels to the bit (``==``)."""

import numpy as np
import pytest
from numba.typed import List

from firstspike.model import batch_kernels, parallel_batch
from firstspike.model.arch import parse_arch
from firstspike.model.parallel_adam import adam_update as fused_adam_update
from firstspike.model.parallel_adam import pairwise_dot
from firstspike.model.train_kernels import ADAM_BETAS
from firstspike.model.trainer import adam_update
from firstspike.model.sgd_kernels import conv_backward

# strides, padding, pooling that crops a row, dense and pooled fully connected layers
ARCHS = ["2x7x7-c3k3s2p1-p2-fc4", "1x8x8-p2-c2k3p1-c3k2s2-fc5", "6-fc5-fc3", "1x6x6-c2k2s2-fc3",
         "1x12x12-c4k3-p2-c6k3-p2-fc7-fc4", "2x9x9-p3-c5k2-fc3"]
VARIANTS = ["", "+real", "+rank", "+surrogate", "+real+surrogate", "+dropout", "+real+surrogate+dropout",
            "+float", "+float+surrogate"]


def network(arch, rng):
    kernels = [rng.uniform(-1, 1, size=layer.kernel_shape) for layer in arch.layers]
    geoms = np.array([layer.geometry() for layer in arch.layers], dtype=np.int64)
    latent, signs = List(), List()
    for k in kernels:
        w = np.ascontiguousarray(k.transpose(1, 2, 3, 0))
        latent.append(w)
        signs.append(np.where(w >= 0, 1, -1).astype(np.int8))
    return geoms, latent, signs


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("seed", range(6))
def test_parallel_batch_gradients_equal_the_serial_kernel(seed, variant):
    rng = np.random.default_rng(seed)
    print("seed", seed, "variant", variant)
    arch = parse_arch(ARCHS[seed % len(ARCHS)])
    T = 24
    geoms, latent, signs = network(arch, rng)
    binary = "+float" not in variant
    carriers = latent if "+real" in variant or not binary else signs
    alphas = rng.uniform(3.0, 12.0, size=len(latent)) if binary else np.ones(len(latent))
    thetas = np.full(len(latent), 8.0 if binary else 0.3)
    mode = 2 if "+rank" in variant else 1
    if mode == 2:  # a high output threshold: some samples leave every output silent
        thetas[-1] = alphas[-1] * 0.4 * arch.layers[-1].fan_in
    margin = 0.6 if "+surrogate" in variant else 0.0
    n = 23
    x = rng.integers(0, T + 2, size=(n + 4, arch.sizes[0])).astype(np.int16)
    labels = rng.integers(0, arch.sizes[-1], size=n + 4).astype(np.int64)
    batch = rng.permutation(n + 4)[:n]
    drops = np.zeros((0, 0), dtype=np.uint8)
    if "+dropout" in variant:
        drops = (rng.random((n, sum(arch.sizes[1:-1]))) < 0.4).astype(np.uint8)
    want_grads = List([np.full_like(w, 7.0) for w in latent])  # both kernels zero the gradients first
    got_grads = List([np.full_like(w, -3.0) for w in latent])
    want_fire = np.zeros(sum(arch.sizes[1:]), dtype=np.int64)
    got_fire = want_fire.copy()
    times = List([np.empty(s, dtype=np.int16) for s in arch.sizes[1:]])
    pots = List([np.zeros(s) for s in arch.sizes[1:]])
    want = batch_kernels.batch_gradients(x, labels, batch, geoms, latent, signs, binary, carriers, thetas, alphas,
                                         T, 2.0, mode, margin, times, pots, np.zeros((3, arch.sizes[-1])),
                                         want_grads, want_fire, drops)
    got = parallel_batch.batch_gradients(x, labels, batch, geoms, latent, signs, binary, carriers, thetas, alphas,
                                         T, 2.0, mode, margin, got_grads, got_fire, drops)
    assert got == want
    assert (got_fire == want_fire).all()
    assert any((g != 0).any() for g in want_grads)  # the case teaches something
    for g_got, g_want in zip(got_grads, want_grads):
        assert (g_got == g_want).all()
        assert np.array_equal(np.signbit(g_got), np.signbit(g_want))


@pytest.mark.parametrize("seed", range(12))
def test_conv_errors_equal_conv_backward(seed):
    rng = np.random.default_rng(seed)
    arch = parse_arch(ARCHS[seed % len(ARCHS)])
    geoms, latent, _ = network(arch, rng)
    layer = len(arch.layers) - 1 - seed % 2
    g = geoms[layer]
    n_in, n_out = arch.sizes[layer], arch.sizes[layer + 1]
    T = 16
    t_in = rng.integers(0, T + 1, size=n_in).astype(np.int16)
    t_out = rng.integers(0, T + 1, size=n_out).astype(np.int16)
    delta = rng.normal(size=n_out) * (rng.random(n_out) < 0.7)
    want = rng.normal(size=n_in)
    got = want.copy()
    conv_backward(g, t_in, t_out, delta, latent[layer], latent[layer], want, False)
    parallel_batch.conv_errors(g, t_in, t_out, delta, latent[layer], got)
    assert (got == want).all()


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_fused_adam_update_equals_the_per_layer_steps(seed, binary):
    # kernels of the conv recipe's sizes and odd ones (numpy's pairwise sum splits at 8 and 128)
    shapes = [(1, 5, 5, 32), (3, 2, 2, 5), (1, 1, 7, 1), (129, 1, 1, 3), (4, 4, 3, 1001)]
    rng = np.random.default_rng(seed)
    print("seed", seed)
    state = []
    for _ in range(2):
        r = np.random.default_rng(seed)
        w = List([r.uniform(-1.3, 1.3, size=s) for s in shapes])
        state.append(dict(w=w, s=List([np.where(x >= 0, 1, -1).astype(np.int8) for x in w]),
                          m=List([np.zeros(s) for s in shapes]), v=List([np.zeros(s) for s in shapes]),
                          alphas=np.linspace(2.0, 6.0, len(shapes))))
    lrs = rng.uniform(0.001, 0.01, size=len(shapes))
    eta_alphas = rng.uniform(0.0, 0.5, size=len(shapes))
    clips = np.array([1.0, 0.0, 0.5, 1.0, 1.2])
    connections = np.array([int(np.prod(s)) * 3 for s in shapes], dtype=np.int64)
    for step in range(1, 6):
        grads = [rng.normal(size=s) * (rng.random(s) < 0.6) for s in shapes]
        want, got = state
        want_g = List([g.copy() for g in grads])
        got_g = List([g.copy() for g in grads])
        adam_update(want["w"], want["s"], want_g, want["m"], want["v"], want["alphas"], binary, lrs, eta_alphas,
                    list(clips), step, list(connections))
        fused_adam_update(got["w"], got["s"], got_g, got["m"], got["v"], got["alphas"], binary, lrs, eta_alphas,
                          clips, step, connections, *ADAM_BETAS)
        assert (got["alphas"] == want["alphas"]).all()
        for key in "wsmv":
            assert all((a == b).all() for a, b in zip(got[key], want[key])), key
        assert all((g == 0).all() for g in got_g)
    assert binary == (want["alphas"] != np.linspace(2.0, 6.0, len(shapes))).any()


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 127, 128, 129, 136, 1000, 51200, 100003])
def test_pairwise_dot_is_numpys_sum_of_the_product(n):
    rng = np.random.default_rng(n)
    g = rng.normal(size=n) * np.exp(rng.normal(size=n) * 6) * (rng.random(n) < 0.7)
    s = np.where(rng.random(n) < 0.5, 1, -1).astype(np.int8)
    assert pairwise_dot(g, s, 0, n) == np.sum(g * s)
