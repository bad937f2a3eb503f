# SPDX-License-Identifier: MIT
"""K events per cycle (``CoreParams.events``): the core in the Amaranth simulator, fully parallel fc
layers, against the golden model and the cycle model with ``==`` (class, step, cycles, every spike)."""

import numpy as np
import pytest

from firstspike.export.plan import build_plan
from firstspike.model.network import Network
from firstspike.rtl.core import TTFSCore
from firstspike.rtl.cycles import predict_cycles
from firstspike.rtl.params import CoreParams
from firstspike.sim.check import compare
from firstspike.sim.pysim import simulate


def _check(net, pixels, events, seed, gaps=0.0, backpressure=0.0, counter_style="auto"):
    lanes = list(net.sizes[1:])
    core = TTFSCore.from_network(net, lanes, counter_style, events=events)
    hw = simulate(core, pixels, gaps=gaps, backpressure=backpressure, seed=seed)
    result = compare(core.params.plan, pixels, hw, seed=seed, events=events)
    assert result.ok, f"events {events}: {result.first_mismatch}"
    return hw


def _random_parallel_case(seed):
    """A random fully parallel fc net; dense bright pixels, so time steps hold many events (and
    the step sizes are rarely multiples of K)."""
    rng = np.random.default_rng(1000 + seed)
    depth = int(rng.integers(1, 4))
    sizes = [int(rng.integers(8, 40))] + [int(rng.integers(2, 24)) for _ in range(depth)]
    T = int(rng.integers(6, 24))
    weights = [np.where(rng.random((sizes[i + 1], sizes[i])) < rng.uniform(0.4, 0.9), 1, -1)
               .astype(np.int8) for i in range(depth)]
    net = Network(weights, [int(rng.integers(0, 5)) for _ in weights], binary=True, encoding="s4nn", T=T)
    pixels = rng.choice(np.array([0, 255, 250, 240, 128, 60], np.uint8), (5, sizes[0]))
    return net, pixels


@pytest.mark.parametrize("events", [1, 2, 3, 4])
@pytest.mark.parametrize("seed", range(3))
def test_random_parallel_nets_bit_exact_at_k_events(seed, events):
    net, pixels = _random_parallel_case(seed)
    _check(net, pixels, events, seed)


@pytest.mark.parametrize("events", [2, 3])
def test_gaps_and_backpressure_do_not_change_the_results(events):
    net, pixels = _random_parallel_case(7)
    calm = _check(net, pixels, events, seed=7)
    busy = _check(net, pixels, events, seed=8, gaps=0.3, backpressure=0.5)
    assert [(h.cls, h.step, h.cycles, h.spikes) for h in calm] == [(h.cls, h.step, h.cycles, h.spikes) for h in busy]


@pytest.mark.parametrize("style", ["adder", "cells"])
@pytest.mark.parametrize("seed", range(2))
def test_two_events_per_cycle_with_both_counter_styles(seed, style):
    """K = 2 through the carry-cell counters (their model: one chain per neuron adding 1 - w0 - w1
    with a shared carry-in) and through the adder, at thresholds from 0 to the fan-in."""
    rng = np.random.default_rng(300 + seed)
    sizes = [int(rng.integers(20, 50)), int(rng.integers(30, 70)), int(rng.integers(2, 12))]
    weights = [np.where(rng.random((sizes[i + 1], sizes[i])) < 0.65, 1, -1).astype(np.int8) for i in range(2)]
    net = Network(weights, [[0, sizes[0] - 1][seed], [int(rng.integers(0, 4)), sizes[1]][seed]],
                  binary=True, encoding="s4nn", T=int(rng.integers(8, 30)))
    pixels = rng.choice(np.array([0, 255, 254, 230, 128], np.uint8), (5, sizes[0]))
    _check(net, pixels, 2, seed, gaps=0.2, backpressure=0.3 * seed, counter_style=style)


def test_predict_cycles_one_step_in_bundles_by_hand():
    """Independent of the RTL: n events at t = 0 into one layer that never fires. Bundles of K are
    presented from cycle 2 and taken at once; after the last, 1 compare and 1 drain cycle; 'done'
    (presented the cycle after) is taken when the layer is free, result.valid one cycle later:
    cycles = 2 + ceil(n / K) - 1 + 3 + 1."""
    n = 7
    w = np.ones((5, n), dtype=np.int8)
    net = Network([w], [n], binary=True, encoding="s4nn", T=16)  # threshold n: never crossed
    pixels = np.full((1, n), 255, np.uint8)
    plan = build_plan(net, 5)
    for events in (1, 2, 3, 4, 8):
        expected = 2 + -(-n // events) - 1 + 3 + 1
        assert predict_cycles(plan, pixels, events=events).tolist() == [expected], events
        _check(net, pixels, events, seed=events)


def test_more_events_need_fully_parallel_layers():
    net, _ = _random_parallel_case(0)
    with pytest.raises(ValueError, match="fully parallel"):
        CoreParams(build_plan(net, 1), events=2)
    with pytest.raises(ValueError, match="integer >= 1"):
        CoreParams(build_plan(net, list(net.sizes[1:])), events=0)


def test_events_option_is_checked_before_any_work(tmp_path, capsys):
    """--events-per-cycle: at least 1; more than 1 only with one lane per neuron; one line each."""
    from firstspike.cli import main

    fc = Network([np.ones((4, 784), dtype=np.int8), np.ones((10, 4), dtype=np.int8)], [1, 1], binary=True)
    model = fc.save(tmp_path / "fc.npz")
    cases = [(["rtl", "--model", str(model), "--lanes", "2", "--events-per-cycle", "2",
               "--out", str(tmp_path / "a.v")], "--events-per-cycle 2: 2 events per cycle needs fully parallel"),
             (["rtl", "--model", str(model), "--lanes", "10", "--events-per-cycle", "0",
               "--out", str(tmp_path / "b.v")], "--events-per-cycle 0"),
             (["sim", "--model", str(model), "--lanes", "2", "--events-per-cycle", "3", "--limit", "1"],
              "use --lanes 10")]
    for argv, message in cases:
        assert main(argv) == 1
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err, err
    assert not (tmp_path / "a.v").exists() and not (tmp_path / "b.v").exists()
    assert main(["rtl", "--model", str(model), "--lanes", "10", "--events-per-cycle", "3",
                 "--out", str(tmp_path / "c.v")]) == 0
    assert "events/cycle 3" in capsys.readouterr().out


def test_fit_estimate_counts_read_ports_per_block_ram():
    """ECP5 block RAMs read on two ports: K = 2 costs no weight-ROM copy, K = 3 and 4 one more."""
    from firstspike.boards import fit

    net = Network([np.ones((600, 784), dtype=np.int8), np.ones((10, 600), dtype=np.int8)], [1, 1], binary=True)
    plan = build_plan(net, 600)
    rom = {k: fit.estimate(plan, "ecp5", events=k).memories["layer0_weights"] for k in (1, 2, 3, 4)}
    assert rom[2] == rom[1] and rom[3] == rom[4] == 2 * rom[1]
    assert fit.estimate(plan, "ecp5", events=2).luts == fit.estimate(plan, "ecp5").luts  # same chains
