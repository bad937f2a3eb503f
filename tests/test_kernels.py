# SPDX-License-Identifier: MIT
"""The event-driven numba forward kernel against the slow reference (fully connected, conv and
pooling layers), and hand-made off-by-one cases."""

import numpy as np
import pytest

from firstspike.model import spec
from firstspike.model.arch import fc_arch, parse_arch
from firstspike.model.infer import event_trace, first_difference, run_times
from firstspike.model.kernels import SNAP_END, SNAP_FIRST_CROSS, SNAP_REFERENCE
from firstspike.model.network import Network
from firstspike.model.reference import network_forward, unrolled_matrix


def _random_fc_arch(rng):
    """A random fully connected stack of 1-3 layers of 1-12 neurons."""
    return fc_arch(rng.integers(1, 13, size=int(rng.integers(2, 5))))


def _random_conv_arch(rng):
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


def _random_network(rng, arch, binary, T):
    """Random kernels and thresholds for ``arch``: +1/-1 and small integers, or dyadic reals (their
    float sums are exact in any order, so the kernel and the reference must agree exactly)."""
    kernels, thresholds = [], []
    for layer in parse_arch(arch).layers:
        if binary:
            kernels.append(rng.choice(np.array([-1, 1], dtype=np.int8), size=layer.kernel_shape))
            thresholds.append(int(rng.integers(0, 4)))
        else:
            kernels.append(rng.integers(-16, 33, size=layer.kernel_shape) / 8.0)
            thresholds.append(float(rng.integers(0, 24)) / 4.0)
    return Network(kernels, thresholds, arch=arch, binary=binary, T=T)


@pytest.mark.parametrize("kind", ["fc", "conv"])
@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("seed", range(14))
def test_kernel_matches_the_reference(seed, binary, kind):
    rng = np.random.default_rng(seed)
    T = int(rng.integers(6, 40))
    net = _random_network(rng, (_random_fc_arch if kind == "fc" else _random_conv_arch)(rng), binary, T)
    # times 0..T+2: includes the edge times T-2, T-1, T and beyond
    x = rng.integers(0, T + 3, size=(8, net.sizes[0]))
    result = run_times(net, x)
    for n in range(len(x)):
        times, V = network_forward(x[n], net.layers, net.kernels, net.thresholds, T)
        for layer, expected in enumerate(times):
            got = result.times[layer][n]
            assert got.tolist() == expected.tolist(), f"seed {seed} {net.arch} image {n} layer {layer}"
        assert result.snaps[n, SNAP_REFERENCE].tolist() == V[T - 3].tolist(), f"seed {seed}"
        assert result.snaps[n, SNAP_END].tolist() == V[T - 2].tolist(), f"seed {seed}"
        out = times[-1]
        if out.min() < T:  # V at the first crossing index = first spike time - 1
            assert result.snaps[n, SNAP_FIRST_CROSS].tolist() == V[out.min() - 1].tolist(), f"seed {seed}"


def _one_neuron(weights, theta, T=16):
    return Network([np.array([weights], dtype=np.int8)], [theta], binary=True, T=T)


def test_input_at_zero_fires_at_one():
    net = _one_neuron([1, 1], theta=1)
    assert run_times(net, [[0, 0]]).out_times.tolist() == [[1]]


def test_strict_threshold_equal_potential_does_not_fire():
    net = _one_neuron([1, 1], theta=2)
    assert run_times(net, [[0, 0]]).out_times.tolist() == [[16]]


def test_crossing_at_T_minus_2_is_the_last_valid_spike():
    T = 16
    net = _one_neuron([1], theta=0, T=T)
    assert run_times(net, [[T - 2]]).out_times.tolist() == [[T - 1]]
    assert run_times(net, [[T - 1]]).out_times.tolist() == [[T]]  # crossing at T-1: silent
    assert run_times(net, [[T]]).out_times.tolist() == [[T]]


def test_equal_time_inputs_are_added_as_one_group():
    # +1 then -1 at the same time: a per-event threshold test would fire, the group test must not
    net = _one_neuron([1, -1], theta=0)
    assert run_times(net, [[3, 3]]).out_times.tolist() == [[16]]
    # one step apart, the +1 alone crosses at index 3: spike at 4
    assert run_times(net, [[3, 4]]).out_times.tolist() == [[4]]


def test_neuron_fires_at_most_once_and_silent_inputs_do_not_count():
    T = 16
    net = Network([np.array([[1], [1]], dtype=np.int8), np.array([[1, 1]], dtype=np.int8)],
                  [0, 1], binary=True, T=T)
    r = run_times(net, [[2]])
    assert r.times[0].tolist() == [[3, 3]]
    assert r.times[1].tolist() == [[4]]  # both hidden spikes at 3, grouped: V = 2 > 1 at index 3


def test_event_trace_and_first_difference():
    net = _one_neuron([1, 1], theta=0)
    r = run_times(net, [[0, 5]])
    trace = event_trace(r, 0)
    assert [(e.layer, e.neuron, e.time) for e in trace] == [(0, 0, 1)]
    assert first_difference(trace, trace) is None
    bad = [type(trace[0])(0, 2, 0)]
    assert "expected" in first_difference(trace, bad)
    assert "missing" in first_difference(trace, [])


def test_negative_threshold_is_rejected():
    with pytest.raises(ValueError, match=">= 0"):
        _one_neuron([1], theta=-1)


def test_wrong_input_width_is_a_clear_error():
    net = _one_neuron([1, 1], theta=0)
    with pytest.raises(ValueError, match="expects 2 inputs"):
        run_times(net, [[0, 1, 2]])


@pytest.mark.parametrize("arch", ["20-fc12-fc4", "1x4x5-fc12-fc4", "20x1-12-fc4"])
def test_ways_of_writing_an_fc_stack_are_the_same_network(arch):
    """``20-12-4`` (read off the matrices), ``20-fc12-fc4`` and a 4x5 map flattened row-major: one net."""
    rng = np.random.default_rng(7)
    w0 = rng.choice(np.array([-1, 1], np.int8), size=(12, 20))
    w1 = rng.choice(np.array([-1, 1], np.int8), size=(4, 12))
    plain = Network([w0, w1], [2, 1], T=32)
    other = Network([w0, w1], [2, 1], arch=arch, T=32)
    assert plain.arch == "20-12-4" and plain.sizes == other.sizes == [20, 12, 4]
    x = rng.integers(0, 35, size=(10, 20))
    a, b = run_times(plain, x), run_times(other, x)
    for la, lb in zip(a.times, b.times):
        assert (la == lb).all()
    assert (a.snaps == b.snaps).all()


def test_sum_pooling_routes_every_spike_of_the_window_to_one_position():
    # 1x2x2 input, p2, one fc neuron with weight +1, threshold 1: fires once two window spikes landed
    net = Network([np.ones((1, 1, 1, 1), np.int8)], [1], arch="1x2x2-p2-fc1", T=16)
    r = run_times(net, [[3, 5, 9, 12]])
    assert r.out_times.tolist() == [[6]]  # V = 2 > 1 at index 5
    # pooling drops the odd last row and column: 3x3 input, p2 keeps only the top-left 2x2
    net = Network([np.ones((1, 1, 1, 1), np.int8)], [0], arch="1x3x3-p2-fc1", T=16)
    assert run_times(net, [[9, 9, 2, 9, 9, 9, 2, 9, 2]]).out_times.tolist() == [[10]]


def test_pooling_emits_no_spikes_and_neurons_fire_once():
    rng = np.random.default_rng(3)
    net = _random_network(rng, _random_conv_arch(rng), True, 20)
    r = run_times(net, rng.integers(0, 20, size=(1, net.sizes[0])))
    trace = event_trace(r, 0)
    assert len(r.times) == len(net.layers)  # one entry per neuron layer, none for pooling
    keys = [(e.layer, e.neuron) for e in trace]
    assert len(keys) == len(set(keys))
    assert all(1 <= e.time <= 19 for e in trace)


def test_unrolled_matrix_of_a_padded_strided_conv_by_hand():
    layer = parse_arch("1x3x3-c1k2s2p1-fc1").layers[0]
    kernel = np.array([[[[1, 2], [3, 4]]]])
    m = unrolled_matrix(layer, kernel)
    # output (0,0) sees padded rows -1..0, cols -1..0: only input (0,0) with tap (1,1)
    assert layer.h_out == 2 and m.shape == (4, 9)
    assert m[0].tolist() == [4, 0, 0, 0, 0, 0, 0, 0, 0]
    assert m[3].tolist() == [0, 0, 0, 0, 1, 2, 0, 3, 4]


def test_accumulator_bits_count_the_pooled_fan_in():
    net = Network([np.ones((2, 1, 3, 3), np.int8), np.ones((3, 2, 3, 3), np.int8)], [0, 0],
                  arch="1x8x8-c2k3-p2-fc3", T=16)
    assert net.accumulator_bits() == [spec.accumulator_bits(9), spec.accumulator_bits(2 * 9 * 4)]
