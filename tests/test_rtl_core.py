# SPDX-License-Identifier: MIT
"""The whole core in the Amaranth simulator against the golden model and the cycle model.

Every spike, decision and cycle count is compared with ``==`` (firstspike.sim.check). Stimuli:
seeded random networks of random shapes, depths and lane counts, with idle gaps on the pixel
stream and back-pressure on the result and spike streams; hand-made corner cases.
"""

import numpy as np
import pytest

from firstspike.export.plan import build_plan
from firstspike.model import spec
from firstspike.model.infer import run
from firstspike.model.network import Network
from firstspike.rtl.core import RESULT_LAYOUT, SPIKE_LAYOUT, TTFSCore
from firstspike.rtl.cycles import predict_cycles
from firstspike.sim.check import compare
from firstspike.sim.pysim import simulate


def _check(net, pixels, lanes, seed, gaps=0.0, backpressure=0.0, counter_style="auto", inputs="pixels"):
    core = TTFSCore.from_network(net, lanes, counter_style)
    hw = simulate(core, pixels, gaps=gaps, backpressure=backpressure, seed=seed, inputs=inputs)
    result = compare(core.params.plan, pixels, hw, seed=seed, inputs=inputs)
    assert result.ok, result.first_mismatch
    return hw


def _random_case(seed):
    rng = np.random.default_rng(seed)
    depth = int(rng.integers(1, 4))
    sizes = [int(rng.integers(2, 30))] + [int(rng.integers(1, 14)) for _ in range(depth)]
    T = int(rng.integers(4, 48))
    weights = [np.where(rng.random((sizes[i + 1], sizes[i])) < rng.uniform(0.3, 0.9), 1, -1)
               .astype(np.int8) for i in range(depth)]
    net = Network(weights, [int(rng.integers(0, 4)) for _ in weights], binary=True, encoding="s4nn", T=T)
    pixels = rng.integers(0, 256, (6, sizes[0])).astype(np.uint8)
    pixels[rng.random(pixels.shape) < 0.3] = 0
    lanes = [int(rng.integers(1, n + 1)) for n in sizes[1:]]
    return net, pixels, lanes


@pytest.mark.parametrize("seed", range(8))
def test_random_networks_bit_exact_with_gaps_and_backpressure(seed):
    net, pixels, lanes = _random_case(seed)
    _check(net, pixels, lanes, seed, gaps=0.3 * (seed % 2), backpressure=0.5 * (seed % 3 > 0))


@pytest.mark.parametrize("seed", range(4))
def test_random_networks_fed_as_events_bit_exact(seed):
    """The same images as input events: every spike and decision as the golden model, cycles as the
    cycle model's pixel-fed count plus one per event and one for ``end``."""
    net, pixels, lanes = _random_case(100 + seed)
    pixels[0] = 0  # an image without events
    hw = _check(net, pixels, lanes, seed, gaps=0.3 * (seed % 2), backpressure=0.5 * (seed % 3 > 0),
                inputs="events")
    pixel_fed = predict_cycles(build_plan(net, lanes), pixels)
    n_events = (spec.encode(pixels, net.encoding, net.T) <= net.T - 2).sum(axis=1)
    assert [h.cycles for h in hw] == (pixel_fed + n_events + 1).tolist()


def test_interface_layouts_are_the_published_contract():
    assert RESULT_LAYOUT.size == 8 + 16 + 32 and set(RESULT_LAYOUT.members) == {"cls", "step", "cycles"}
    assert set(SPIKE_LAYOUT.members) == {"layer", "neuron", "time"}


def _corner_net():
    """784 inputs would be slow here; 12 inputs with the bs4nn encoding (T = 256) instead."""
    w0 = np.ones((5, 12), dtype=np.int8)
    w0[0, 6:] = -1          # neuron 0: V = (#bright in 0..5) - (#bright in 6..11)
    w0[1, :] = 1            # neuron 1: V = #bright
    w0[2, ::2] = -1         # neuron 2
    w0[3, :3] = -1
    w0[4, 1::3] = -1
    w1 = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 1, 1], [1, -1, 1, -1, 1]], dtype=np.int8)  # rows 0, 1 tie
    return Network([w0, w1], [5, 1], binary=True, encoding="bs4nn", T=spec.T_DEFAULT)


def test_corner_images_black_white_threshold_exact_and_ties():
    net = _corner_net()
    black = np.zeros(12, np.uint8)
    white = np.full(12, 255, np.uint8)
    exact = np.zeros(12, np.uint8)
    exact[:6] = 200          # neuron 1 reaches V = 6 > 5, neuron 0 too; make one reach exactly 5:
    exact[5] = 0             # neuron 0 and 1 at V = 5 = threshold: no spike at that step
    exact[11] = 100          # a later event lifts neuron 1 to 6
    pixels = np.stack([black, white, exact, white // 2 + 1])
    golden = run(net, pixels)
    # the cases are what they claim to be (independent of the RTL)
    assert (golden.times[0][0] == net.T).all()                       # black: nothing fires
    cls, step = golden.hardware_decision()
    assert (cls[0], step[0]) == (0, net.T)                          # argmax of zeros -> class 0
    assert golden.times[1][1][0] == golden.times[1][1][1] < net.T   # white: outputs 0 and 1 tie
    assert cls[1] == 0
    # neuron 1: V = 5 = threshold at t = 55 (no spike), 6 at t = 155 -> spike at 156
    assert golden.times[0][2][1] == (255 - 100) + spec.SPIKE_DELAY
    for seed in range(2):
        _check(net, pixels, [2, 2], seed, gaps=0.25 * seed, backpressure=0.4 * seed)


def test_no_output_spike_falls_back_to_the_end_potentials():
    rng = np.random.default_rng(11)
    w0 = np.where(rng.random((9, 15)) < 0.7, 1, -1).astype(np.int8)
    w1 = np.where(rng.random((4, 9)) < 0.5, 1, -1).astype(np.int8)
    net = Network([w0, w1], [2, 9], binary=True, encoding="s4nn", T=20)   # 9 = fan-in: never crossed
    pixels = rng.integers(0, 256, (4, 15)).astype(np.uint8)
    golden = run(net, pixels)
    assert (golden.out_times == net.T).all()
    _check(net, pixels, [4, 3], seed=11, backpressure=0.3)


def test_predict_cycles_counts_every_lane_group():
    """Independent of the RTL: one event into one layer, G groups, no crossing -> cycles by hand."""
    w = np.ones((7, 3), dtype=np.int8)
    net = Network([w], [7], binary=True, encoding="s4nn", T=16)   # threshold 7 > fan-in: never fires
    pixel = np.array([[255, 0, 0]], np.uint8)                      # one event at t = 0
    for lanes in (1, 2, 3, 7):
        G = -(-7 // lanes)
        # first token in cycle 2, accepted at once; G accumulate cycles, G compare, 1 drain; the
        # 'done' token is then accepted (decision) and result.valid rises one cycle later
        assert predict_cycles(build_plan(net, lanes), pixel).tolist() == [2 + G + G + 1 + 1], lanes
        _check(net, pixel, lanes, seed=lanes)


@pytest.mark.parametrize("style", ["adder", "cells"])
@pytest.mark.parametrize("seed", range(3))
def test_fully_parallel_layers_with_wide_emission_and_extreme_thresholds(seed, style):
    """P = n_out everywhere (counter registers, sign-bit crossing, multi-chunk find-first-set), with
    both counter implementations (``cells``: the ECP5 carry-cell chains through their model)."""
    rng = np.random.default_rng(100 + seed)
    sizes = [int(rng.integers(20, 60)), int(rng.integers(33, 70)), int(rng.integers(2, 12))]
    weights = [np.where(rng.random((sizes[i + 1], sizes[i])) < 0.65, 1, -1).astype(np.int8) for i in range(2)]
    # thresholds at the edges (0; fan-in - 1; fan-in: never fires) and random
    theta0 = [0, sizes[0] - 1, int(rng.integers(0, 6))][seed]
    theta1 = [sizes[1] - 1, int(rng.integers(0, 4)), sizes[1]][seed]
    net = Network(weights, [theta0, theta1], binary=True, encoding="s4nn", T=int(rng.integers(8, 40)))
    pixels = rng.integers(0, 256, (5, sizes[0])).astype(np.uint8)
    pixels[rng.random(pixels.shape) < 0.3] = 0
    _check(net, pixels, list(sizes[1:]), seed, gaps=0.2 * seed, backpressure=0.3 * (seed % 2),
           counter_style=style)


@pytest.mark.parametrize("seed, events", [(0, 2), (1, 3), (2, 2)])
def test_multi_event_core_fed_as_events_bit_exact(seed, events):
    """A core taking ``events`` > 1 events per cycle (fully parallel layers) fed input events: every
    spike and decision as the golden model, cycles as the K-event cycle model's pixel-fed count plus
    one per event and one for ``end`` (the wide encoder links events in one per cycle, as pixels)."""
    net, pixels, _ = _random_case(200 + seed)
    pixels[1] = 0
    lanes = [w.shape[0] for w in net.weights]  # fully parallel: the only layers K > 1 takes
    core = TTFSCore.from_network(net, lanes, events=events)
    hw = simulate(core, pixels, gaps=0.3 * (seed % 2), backpressure=0.5, seed=seed, inputs="events")
    result = compare(core.params.plan, pixels, hw, seed=seed, inputs="events", events=events)
    assert result.ok, result.first_mismatch
    pixel_fed = predict_cycles(build_plan(net, lanes), pixels, events=events)
    n_events = (spec.encode(pixels, net.encoding, net.T) <= net.T - 2).sum(axis=1)
    assert [h.cycles for h in hw] == (pixel_fed + n_events + 1).tolist()
