# SPDX-License-Identifier: MIT
"""The two decision rules on ties and on all-silent outputs."""

import numpy as np

from firstspike.model import spec
from firstspike.model.infer import run_times
from firstspike.model.network import Network

T = 16


def test_hardware_rule_breaks_a_first_spike_tie_by_potential_then_index():
    out_times = np.array([[5, 5, 5, 9]])
    v_first = np.array([[3, 4, 4, 1]])
    v_end = np.zeros((1, 4))
    cls, step = spec.decide_hardware(out_times, v_first, v_end, T)
    assert cls.tolist() == [1] and step.tolist() == [5]


def test_hardware_rule_all_silent_uses_end_potentials():
    out_times = np.full((1, 3), T)
    cls, step = spec.decide_hardware(out_times, np.zeros((1, 3)), np.array([[-1, 2, 2]]), T)
    assert cls.tolist() == [1] and step.tolist() == [T]


def test_reference_rule_counts_ties_as_correct_and_falls_back_to_T_minus_3():
    out_times = np.array([[5, 5, 9], [T, T, T], [4, 6, 6]])
    v_ref = np.array([[0, 0, 0], [0, 1, 3], [0, 0, 0]])
    labels = np.array([1, 2, 2])
    assert spec.reference_correct(out_times, v_ref, labels, T).tolist() == [True, True, False]


def test_rules_end_to_end_on_a_hand_made_network():
    # input 0 at t=1 drives outputs 0 and 1 equally (tie at step 2); output 1 also gets input 1
    # at t=1, so its potential at the crossing is higher: hardware picks 1, reference accepts 0 or 1.
    w = np.array([[1, -1], [1, 1], [-1, -1]], dtype=np.int8)
    net = Network([w], [0], binary=True, T=T)
    r = run_times(net, [[1, 1]])
    assert r.out_times.tolist() == [[T, 2, T]]  # output 0 has V = 0, not > 0
    w = np.array([[1, 1], [1, 1], [1, -1]], dtype=np.int8)
    net = Network([w], [0], binary=True, T=T)
    r = run_times(net, [[1, 1]])
    assert r.out_times.tolist() == [[2, 2, T]]
    cls, step = r.hardware_decision()
    assert cls.tolist() == [0] and step.tolist() == [2]  # equal potentials 2, 2: lowest index
    assert r.correct([1], "reference").tolist() == [True]
    assert r.correct([1], "hardware").tolist() == [False]


def test_all_silent_network_uses_fallbacks():
    # threshold never reached; potentials differ only by an input at T-2, seen by V(T-2) not V(T-3)
    w = np.array([[1, 0 + 1], [1, -1]], dtype=np.int8).T.copy()  # (2 outputs, 2 inputs)
    net = Network([w], [5], binary=True, T=T)
    r = run_times(net, [[0, T - 2]])
    assert (r.out_times == T).all()
    # V(T-3): output0 = 1, output1 = 1 (both get input 0 with +1) -> tie -> class 0
    # V(T-2): input 1 adds +1 to output 0 and -1 to output 1 -> class 0 both ways
    assert r.hardware_decision()[0].tolist() == [0]
    assert r.correct([0], "reference").tolist() == [True]
