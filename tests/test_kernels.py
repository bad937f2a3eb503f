# SPDX-License-Identifier: MIT
"""Event-driven numba kernels against the dense reference, and hand-made off-by-one cases."""

import numpy as np
import pytest

from firstspike.model import spec
from firstspike.model.infer import event_trace, first_difference, run_times
from firstspike.model.kernels import SNAP_END, SNAP_REFERENCE
from firstspike.model.network import Network
from firstspike.model.reference import dense_forward


def _random_network(rng, binary):
    n_layers = int(rng.integers(1, 4))
    sizes = [int(s) for s in rng.integers(1, 13, size=n_layers + 1)]
    weights, thresholds = [], []
    for i in range(n_layers):
        shape = (sizes[i + 1], sizes[i])
        if binary:
            weights.append(rng.choice(np.array([-1, 1], dtype=np.int8), size=shape))
            thresholds.append(int(rng.integers(0, 4)))
        else:  # dyadic values: sums are exact in float64 in any order
            weights.append(rng.integers(-16, 33, size=shape) / 8.0)
            thresholds.append(float(rng.integers(0, 24)) / 4.0)
    return weights, thresholds


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("seed", range(12))
def test_kernel_matches_dense_reference(seed, binary):
    rng = np.random.default_rng(seed)
    T = int(rng.integers(6, 40))
    weights, thresholds = _random_network(rng, binary)
    net = Network(weights, thresholds, binary=binary, T=T)
    n_img = 8
    # times 0..T+2: includes the edge times T-2, T-1, T and beyond
    x = rng.integers(0, T + 3, size=(n_img, net.sizes[0]))
    result = run_times(net, x)
    for n in range(n_img):
        times, V = dense_forward(x[n], weights, thresholds, T)
        for layer, expected in enumerate(times):
            got = result.times[layer][n]
            assert got.tolist() == expected.tolist(), f"seed {seed} image {n} layer {layer}"
        assert result.snaps[n, SNAP_REFERENCE].tolist() == V[T - 3].tolist(), f"seed {seed}"
        assert result.snaps[n, SNAP_END].tolist() == V[T - 2].tolist(), f"seed {seed}"


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
