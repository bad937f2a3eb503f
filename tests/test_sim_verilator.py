# SPDX-License-Identifier: MIT
"""cocotb on Verilator (cocotb_tools.runner): the generated Verilog equals the golden model.

Two builds only (each is a C++ compile): a random three-layer network with odd lane counts fed
many images with idle gaps and back-pressure, and a model trained on mnist-mini fed real images.
Every spike, decision and cycle count is compared with ``==``; a failure names image, event, seed.
"""

import json

import numpy as np
import pytest

from firstspike.export.plan import build_plan
from firstspike.model import data as datamod
from firstspike.model.network import Network
from firstspike.rtl.params import CoreParams
from firstspike.sim.check import compare

pytestmark = pytest.mark.verilator


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    import os

    if "FIRSTSPIKE_CACHE" not in os.environ:
        monkeypatch.setenv("FIRSTSPIKE_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def _random_case(seed, sizes, thresholds, T, n_images):
    """A seeded random binary network (65 % +1 weights) and images with 40 % black pixels."""
    rng = np.random.default_rng(seed)
    weights = [np.where(rng.random((sizes[i + 1], sizes[i])) < 0.65, 1, -1).astype(np.int8)
               for i in range(len(sizes) - 1)]
    net = Network(weights, thresholds, binary=True, encoding="s4nn", T=T)
    pixels = rng.integers(0, 256, (n_images, sizes[0])).astype(np.uint8)
    pixels[rng.random(pixels.shape) < 0.4] = 0
    return net, pixels


def test_random_network_many_images_with_gaps_and_backpressure():
    from firstspike.sim.verilator import run_images

    seed = 20260
    net, pixels = _random_case(seed, [37, 23, 11, 5], [3, 2, 1], T=64, n_images=400)
    lanes = [5, 4, 2]   # none divides its layer
    pixels[0] = 0        # all black
    pixels[1] = 255      # all white
    params = CoreParams.from_network(net, lanes)
    for gaps, bp, s in ((0.0, 0.0, 1), (0.3, 0.5, seed)):
        result = run_images(params, pixels, gaps=gaps, backpressure=bp, seed=s)
        cmp = compare(params.plan, pixels, result.images, seed=seed)
        assert cmp.ok, f"gaps {gaps}, back-pressure {bp}: {cmp.first_mismatch}"


def test_trained_mnist_mini_model_on_real_images(tmp_path, capsys, monkeypatch):
    from firstspike.cli import main
    from firstspike.model.trainer import TrainConfig, Trainer

    cfg = TrainConfig(algorithm="bs4nn", arch="784-24-10", dataset="mnist-mini", epochs=2, seed=3,
                      val_size=300, sampling="permutation")
    Trainer(cfg, tmp_path / "train", progress=False, log=lambda m: None).fit()
    model = tmp_path / "train" / "model.npz"
    assert main(["export", "--model", str(model), "--lanes", "7", "--out", str(tmp_path / "rom")]) == 0
    from firstspike.sim.cli import simulate_dataset

    plan = build_plan(Network.load(model), [7, 7])
    images = datamod.load("mnist-mini", "test").images[:120].reshape(120, -1)
    summary = simulate_dataset(plan, images, gaps=0.2, backpressure=0.2, seed=5)
    assert summary["mismatches"] == 0, summary["first_mismatch"]
    assert summary["cycle_model_equal"]

    # the CLI on the exported folder (same network and lanes: the cached build is reused), with a
    # work folder given relative to the current directory as `firstspike flow` does
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)
    code = main(["sim", "--manifest", "rom", "--dataset", "mnist-mini", "--limit", "30", "--json",
                 "--work-dir", "sim-out"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["images"] == 30 and report["mismatches"] == 0
    assert (tmp_path / "sim-out" / "records.txt").is_file()
    assert {"cycles_mean", "cycles_max", "images_per_second"} <= set(report)


@pytest.mark.parametrize("style", ["adder", "cells"])
def test_fully_parallel_layers_with_backpressure(style):
    """P = n_out in the first and last layer (counter banks outside the stall gating, emission
    from crossing & ~fired, 23 neurons = two find-first-set chunks), lane groups in between."""
    from firstspike.sim.verilator import run_images

    seed = 20261
    net, pixels = _random_case(seed, [41, 23, 11, 5], [2, 1, 0], T=48, n_images=300)
    lanes = [23, 4, 5]
    params = CoreParams.from_network(net, lanes, counter_style=style)
    result = run_images(params, pixels, gaps=0.2, backpressure=0.6, seed=seed)
    cmp = compare(params.plan, pixels, result.images, seed=seed)
    assert cmp.ok, f"seed {seed}: {cmp.first_mismatch}"


def test_deep_network_decided_correctly_is_not_flagged_for_spikes_that_come_too_late():
    """Issue 28's reproducer: 784-37-23-10 with lanes 7 on the mnist-mini test images. On image 246
    two layer-0 spikes at t = 121 reach the output potentials only at index 122, after the crossing
    at c* = 121; the core decides correctly without reporting them, and the checker must accept it
    (it once demanded every hidden spike before the decision step)."""
    from firstspike.sim.verilator import run_images

    rng = np.random.default_rng(2)
    weights = [np.where(rng.random((o, i)) < 0.5, 1, -1).astype(np.int8)
               for i, o in ((784, 37), (37, 23), (23, 10))]
    net = Network(weights, [13, 3, 0], binary=True)
    pixels = datamod.load("mnist-mini", "test").images.reshape(500, -1)
    params = CoreParams.from_network(net, 7)
    result = run_images(params, pixels)
    cmp = compare(params.plan, pixels, result.images)
    assert cmp.ok, cmp.first_mismatch
    assert (cmp.cycles == cmp.predicted_cycles).all()


@pytest.mark.parametrize("events, style", [(2, "cells"), (3, "adder")])
def test_several_events_per_cycle(events, style):
    """K events of one step per cycle (wide encoder, bundle queues, K ROM ports, popcount counters),
    fully parallel layers, with idle gaps and back-pressure; K = 2 through the carry-cell model."""
    from firstspike.sim.verilator import run_images

    seed = 20262
    net, pixels = _random_case(seed, [41, 23, 11, 5], [2, 1, 0], T=24, n_images=200)
    params = CoreParams.from_network(net, [23, 11, 5], counter_style=style, events=events)
    result = run_images(params, pixels, gaps=0.2, backpressure=0.4, seed=seed)
    cmp = compare(params.plan, pixels, result.images, seed=seed, events=events)
    assert cmp.ok, f"seed {seed}, K {events}: {cmp.first_mismatch}"
