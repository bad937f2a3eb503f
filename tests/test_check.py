# SPDX-License-Identifier: MIT
"""The simulation checker: which hidden spikes it demands, derived and tested without Verilator.

A core is emulated by what the golden model and the cycle model say it reports; the checker must
accept that report, must not demand spikes that cannot reach the decision (deep networks), and must
still reject a report that lacks a spike that matters.
"""

import numpy as np
import pytest

from firstspike.model.infer import Event, encode_images, event_trace, run
from firstspike.model.network import Network
from firstspike.model.reference import dense_forward
from firstspike.export.plan import build_plan
from firstspike.rtl.cycles import predict
from firstspike.sim.check import HardwareImage, compare, influences_decision


def _random_net(seed, sizes, T=48):
    rng = np.random.default_rng(seed)
    weights = [np.where(rng.random((o, i)) < 0.6, 1, -1).astype(np.int8) for i, o in zip(sizes, sizes[1:])]
    thresholds = [int(rng.integers(0, 4)) for _ in weights]
    pixels = rng.integers(0, 256, (24, sizes[0])).astype(np.uint8)
    pixels[rng.random(pixels.shape) < 0.4] = 0
    return Network(weights, thresholds, binary=True, encoding="s4nn", T=T), pixels


def _decision(times, V, T):
    """The hardware rule read off the dense reference: (class, step)."""
    first = int(times[-1].min())
    if first < T:
        return int(np.argmax(V[first - 1])), first
    return int(np.argmax(V[T - 2])), T


def _emulated_core(plan, pixels):
    """What a correct core reports: the decision, the cycle model's count and its spike records."""
    net = plan.network
    golden = run(net, pixels)
    cls, step = golden.hardware_decision()
    out = []
    for i, sch in enumerate(predict(plan, pixels)):
        trace = event_trace(golden, i)
        spikes = []
        for layer in range(len(net.weights)):
            mine = [e for e in trace if e.layer == layer]
            if layer < len(net.weights) - 1:
                mine = mine[: sch.records[layer]]
            else:
                mine = [e for e in mine if e.time == step[i]]
            spikes += [(e.layer, e.neuron, e.time) for e in mine]
        out.append(HardwareImage(int(cls[i]), int(step[i]), sch.cycles, spikes))
    return out


@pytest.mark.parametrize("sizes", [[20, 9, 7, 4], [20, 11, 8, 6, 3]])
def test_a_spike_judged_irrelevant_never_changes_the_decision(sizes):
    """Soundness of the rule: silencing any hidden spike it calls irrelevant leaves class and step."""
    checked = 0
    for seed in range(4):
        checked += _silence_irrelevant_spikes(seed, sizes)
    assert checked > 0  # deep nets have such spikes: the rule was exercised


def _silence_irrelevant_spikes(seed, sizes) -> int:
    net, pixels = _random_net(seed, sizes)
    x = encode_images(net, pixels)
    hidden = sizes[1:-1]
    checked = 0
    for n in range(len(x)):
        times, V = dense_forward(x[n], net.weights, net.thresholds, net.T)
        decision = _decision(times, V, net.T)
        for layer, size in enumerate(hidden):
            for j in np.flatnonzero(times[layer] < net.T):
                event = Event(layer, int(times[layer][j]), int(j))
                if influences_decision(event, len(net.weights), decision[1], net.T):
                    continue
                dropped = [np.zeros(s, bool) for s in hidden]
                dropped[layer][j] = True
                t2, V2 = dense_forward(x[n], net.weights, net.thresholds, net.T, dropped=dropped)
                assert _decision(t2, V2, net.T) == decision, f"seed {seed} image {n} {event}"
                checked += 1
    return checked


def test_the_rule_is_tight_a_spike_at_the_limit_can_decide():
    """1-1-1-2 chain: the layer-0 spike at t reaches the output potentials at t + 1 = c*, and
    without it the other output wins; so a spike exactly at the limit can matter."""
    T = 16
    w = [np.array([[1]], np.int8), np.array([[1]], np.int8), np.array([[1], [-1]], np.int8)]
    net = Network(w, [0, 0, 0], binary=True, T=T)
    times, V = dense_forward(np.array([3]), net.weights, net.thresholds, T)
    assert times[0].tolist() == [4] and times[1].tolist() == [5] and times[2].tolist() == [6, T]
    step = 6  # output 0 crosses at c* = 5 = 4 + (3 - 2 - 0): exactly the limit
    assert influences_decision(Event(0, 4, 0), 3, step, T)
    assert not influences_decision(Event(0, 5, 0), 3, step, T)
    assert not influences_decision(Event(1, 6, 0), 3, step, T)
    # with no output spike the potentials are read at T - 2
    assert influences_decision(Event(1, T - 2, 0), 3, T, T)
    assert not influences_decision(Event(1, T - 1, 0), 3, T, T)


@pytest.mark.parametrize("lanes", [[3, 2, 2], [9, 7, 4], [1, 1, 1]])
def test_an_exact_core_passes_and_one_that_drops_a_spike_that_matters_fails(lanes):
    net, pixels = _random_net(11, [20, 9, 7, 4])
    plan = build_plan(net, lanes)
    hardware = _emulated_core(plan, pixels)
    assert compare(plan, pixels, hardware, seed=11).ok
    golden = run(net, pixels)
    _, step = golden.hardware_decision()
    mutated = 0
    for i, hw in enumerate(hardware):
        matters = [s for s in hw.spikes if s[0] < 2 and influences_decision(
            Event(s[0], s[2], s[1]), 3, int(step[i]), net.T)]
        if not matters:
            continue
        broken = [HardwareImage(h.cls, h.step, h.cycles, list(h.spikes)) for h in hardware]
        broken[i].spikes.remove(matters[-1])
        result = compare(plan, pixels, broken, seed=11)
        assert result.mismatched == [i] and f"image {i} (seed 11)" in result.first_mismatch
        mutated += 1
    assert mutated > 0
