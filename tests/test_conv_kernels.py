# SPDX-License-Identifier: MIT
"""Convolution and sum-pooling kernels against the unrolled dense reference, and pooling semantics."""

import numpy as np
import pytest

from firstspike.model import spec
from firstspike.model.conv_arch import parse_conv_arch
from firstspike.model.conv_network import ConvNetwork
from firstspike.model.conv_reference import conv_dense_forward, unrolled_matrix
from firstspike.model.infer import event_trace, run_times
from firstspike.model.kernels import SNAP_END, SNAP_FIRST_CROSS, SNAP_REFERENCE


def _random_arch(rng):
    """A random small stack with strides, paddings, pooling and several channels."""
    c, h, w = int(rng.integers(1, 4)), int(rng.integers(5, 10)), int(rng.integers(5, 10))
    tokens = [f"{c}x{h}x{w}"]
    for _ in range(int(rng.integers(1, 3))):
        k = int(rng.integers(1, 4))
        s = int(rng.integers(1, 3))
        p = int(rng.integers(0, k))
        hp, wp = h, w
        if min(hp, wp) >= 4 and rng.random() < 0.5:
            pool = int(rng.integers(2, 4))
            if min(hp // pool, wp // pool) >= 1:
                tokens.append(f"p{pool}")
                hp, wp = hp // pool, wp // pool
        if (hp + 2 * p - k) // s + 1 < 1 or (wp + 2 * p - k) // s + 1 < 1:
            break
        out = int(rng.integers(1, 5))
        tokens.append(f"c{out}k{k}s{s}p{p}")
        c, h, w = out, (hp + 2 * p - k) // s + 1, (wp + 2 * p - k) // s + 1
    if min(h, w) >= 2 and rng.random() < 0.5:
        tokens.append("p2")
    tokens.append(f"fc{int(rng.integers(1, 6))}")
    return "-".join(tokens)


def _random_conv_network(rng, binary, T):
    arch = parse_conv_arch(_random_arch(rng))
    kernels, thresholds = [], []
    for layer in arch.layers:
        if binary:
            kernels.append(rng.choice(np.array([-1, 1], dtype=np.int8), size=layer.kernel_shape))
            thresholds.append(int(rng.integers(0, 4)))
        else:  # dyadic values: float sums are exact in any order
            kernels.append(rng.integers(-16, 33, size=layer.kernel_shape) / 8.0)
            thresholds.append(float(rng.integers(0, 24)) / 4.0)
    return ConvNetwork(arch.text, kernels, thresholds, binary=binary, T=T)


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("seed", range(16))
def test_conv_kernel_matches_unrolled_dense_reference(seed, binary):
    rng = np.random.default_rng(seed)
    T = int(rng.integers(6, 30))
    net = _random_conv_network(rng, binary, T)
    x = rng.integers(0, T + 3, size=(6, net.sizes[0]))  # includes T-2, T-1, T and later
    result = run_times(net, x)
    for n in range(len(x)):
        times, V = conv_dense_forward(x[n], net.layers, net.kernels, net.thresholds, T)
        for layer, expected in enumerate(times):
            got = result.times[layer][n]
            assert got.tolist() == expected.tolist(), f"seed {seed} {net.arch} image {n} layer {layer}"
        assert result.snaps[n, SNAP_REFERENCE].tolist() == V[T - 3].tolist(), f"seed {seed}"
        assert result.snaps[n, SNAP_END].tolist() == V[T - 2].tolist(), f"seed {seed}"
        out = times[-1]
        if out.min() < T:  # V at the first crossing index = first spike time - 1
            assert result.snaps[n, SNAP_FIRST_CROSS].tolist() == V[out.min() - 1].tolist(), f"seed {seed}"


def test_fc_only_conv_network_equals_the_fc_network():
    rng = np.random.default_rng(7)
    w0 = rng.choice(np.array([-1, 1], np.int8), size=(12, 20))
    w1 = rng.choice(np.array([-1, 1], np.int8), size=(4, 12))
    conv = ConvNetwork("20-fc12-fc4", [w0, w1], [2, 1], T=32)
    x = rng.integers(0, 35, size=(10, 20))
    a, b = run_times(conv, x), run_times(conv.to_network(), x)
    for la, lb in zip(a.times, b.times):
        assert (la == lb).all()
    assert (a.snaps == b.snaps).all()


def test_sum_pooling_routes_every_spike_of_the_window_to_one_position():
    # 1x2x2 input, p2, one fc neuron with weight +1, threshold 1: fires once two window spikes landed
    net = ConvNetwork("1x2x2-p2-fc1", [np.ones((1, 1, 1, 1), np.int8)], [1], T=16)
    r = run_times(net, [[3, 5, 9, 12]])
    assert r.out_times.tolist() == [[6]]  # V = 2 > 1 at index 5
    # pooling drops the odd last row and column: 3x3 input, p2 keeps only the top-left 2x2
    net = ConvNetwork("1x3x3-p2-fc1", [np.ones((1, 1, 1, 1), np.int8)], [0], T=16)
    assert run_times(net, [[9, 9, 2, 9, 9, 9, 2, 9, 2]]).out_times.tolist() == [[10]]


def test_pooling_emits_no_spikes_and_neurons_fire_once():
    rng = np.random.default_rng(3)
    net = _random_conv_network(rng, True, 20)
    r = run_times(net, rng.integers(0, 20, size=(1, net.sizes[0])))
    trace = event_trace(r, 0)
    assert len(r.times) == len(net.layers)  # one entry per neuron layer, none for pooling
    keys = [(e.layer, e.neuron) for e in trace]
    assert len(keys) == len(set(keys))
    assert all(1 <= e.time <= 19 for e in trace)


def test_unrolled_matrix_of_a_padded_strided_conv_by_hand():
    layer = parse_conv_arch("1x3x3-c1k2s2p1-fc1").layers[0]
    kernel = np.array([[[[1, 2], [3, 4]]]])
    m = unrolled_matrix(layer, kernel)
    # output (0,0) sees padded rows -1..0, cols -1..0: only input (0,0) with tap (1,1)
    assert layer.h_out == 2 and m.shape == (4, 9)
    assert m[0].tolist() == [4, 0, 0, 0, 0, 0, 0, 0, 0]
    assert m[3].tolist() == [0, 0, 0, 0, 1, 2, 0, 3, 4]


def test_accumulator_bits_count_the_pooled_fan_in():
    net = ConvNetwork("1x8x8-c2k3-p2-fc3", [np.ones((2, 1, 3, 3), np.int8), np.ones((3, 2, 3, 3), np.int8)],
                      [0, 0], T=16)
    assert net.accumulator_bits() == [spec.accumulator_bits(9), spec.accumulator_bits(2 * 9 * 4)]
