# SPDX-License-Identifier: MIT
"""``firstspike sim --workers N``: images sharded over Ray workers give what one process gives."""

import json

import numpy as np
import pytest

from firstspike.model.network import Network
from firstspike.sim.parallel import shard_bounds

#: fields that measure time (or say how the run was spread), not what the core computed
TIMING = {"sim_seconds", "images_per_second", "build_seconds", "workers"}


def test_shards_cover_every_image_once_in_order():
    for n, k in ((10, 3), (7, 7), (3, 5), (1, 2), (1000, 2)):
        bounds = shard_bounds(n, k)
        assert bounds[0][0] == 0 and bounds[-1][1] == n
        assert all(b == c for (_, b), (c, _) in zip(bounds, bounds[1:]))
        sizes = [b - a for a, b in bounds]
        assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1 and len(bounds) == min(n, k)


@pytest.fixture
def _cache(tmp_path_factory, monkeypatch):
    import os

    if "FIRSTSPIKE_CACHE" not in os.environ:  # the folder the session's Ray workers were given
        monkeypatch.setenv("FIRSTSPIKE_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.mark.verilator
def test_two_workers_equal_one_process_field_for_field(tmp_path, capsys, ray_local, _cache):
    from firstspike.cli import main

    seed = 31
    rng = np.random.default_rng(seed)
    weights = [np.where(rng.random((o, i)) < 0.55, 1, -1).astype(np.int8) for i, o in ((784, 19), (19, 10))]
    model = Network(weights, [9, 1], binary=True).save(tmp_path / "random.npz")
    base = ["sim", "--model", str(model), "--lanes", "5", "--dataset", "mnist-mini", "--limit", "61",
            "--gaps", "0.2", "--backpressure", "0.3", "--seed", str(seed), "--json"]
    reports = []
    for workers in (1, 2):
        capsys.readouterr()
        assert main([*base, "--workers", str(workers), "--work-dir", str(tmp_path / f"w{workers}")]) == 0
        reports.append(json.loads(capsys.readouterr().out))
    one, two = ({k: v for k, v in r.items() if k not in TIMING} for r in reports)
    assert one == two
    assert one["images"] == 61 and one["mismatches"] == 0 and reports[1]["workers"] == 2
    # each shard ran in its own folder: images 0..29 and 30..60
    sizes = [len((tmp_path / "w2" / f"shard-{k}" / "images.bin").read_bytes()) // 784 for k in (0, 1)]
    assert sizes == [30, 31]


@pytest.mark.verilator
def test_a_mismatch_in_the_second_shard_names_its_global_image(tmp_path, ray_local, _cache):
    """The golden model differs from the built core (output threshold 3, not 1). The first 20 images
    are black (no spikes: decided alike by both), so every mismatch lies in the second shard of two
    (images 20..39), and the first one named must be the same global image with 1 and 2 workers."""
    from firstspike.export.plan import build_plan
    from firstspike.model import data as datamod
    from firstspike.sim.cli import simulate_dataset

    rng = np.random.default_rng(7)
    weights = [np.where(rng.random((o, i)) < 0.55, 1, -1).astype(np.int8) for i, o in ((784, 13), (13, 10))]
    net = Network(weights, [9, 1], binary=True)
    plan = build_plan(net, [4, 4])
    images = datamod.load("mnist-mini", "test").images[:40].reshape(40, -1).copy()
    images[:20] = 0
    wrong = Network(weights, [9, 3], binary=True)
    first = [simulate_dataset(plan, images, golden=wrong, workers=w)["first_mismatch"] for w in (1, 2)]
    assert first[0] is not None and first[0] == first[1]
    assert int(first[1].split()[1].rstrip(":")) >= 20, first[1]
