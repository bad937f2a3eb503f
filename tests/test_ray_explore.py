# SPDX-License-Identifier: MIT
"""``firstspike explore``: builds of boards x lanes as Ray tasks, one table, refusals with reasons."""

import csv
import json

import numpy as np
import pytest

from firstspike.cli import main
from firstspike.model.network import Network
from firstspike.orchestration.plots import pareto_front


def _net(tmp_path, hidden, seed):
    rng = np.random.default_rng(seed)
    net = Network([rng.choice([-1, 1], size=(hidden, 784)).astype(np.int8),
                   rng.choice([-1, 1], size=(10, hidden)).astype(np.int8)], [12, 1], binary=True)
    return net.save(tmp_path / f"net{hidden}.npz")


def _table(out):
    with open(out / "explore.csv") as handle:
        return list(csv.DictReader(handle))


def test_pareto_front_keeps_the_points_nothing_beats_on_both():
    points = [(100, 9.0), (200, 5.0), (150, 9.5), (300, 5.0), (400, 1.0)]
    assert pareto_front(points) == [0, 1, 4]


def test_a_combination_that_does_not_fit_is_refused_with_the_fit_checks_reason(tmp_path, capsys):
    """784-300-10 needs ~87 block RAMs of weights; the iCEBreaker has 30. Nothing is built, so Ray
    never starts."""
    model = _net(tmp_path, 300, 4)
    out = tmp_path / "out"
    assert main(["explore", "--model", str(model), "--board", "icebreaker", "--lanes", "300", "--out",
                 str(out), "--limit", "20"]) == 0
    (row,) = _table(out)
    assert row["status"] == "refused" and "does not fit icebreaker" in row["reason"]
    assert "block RAMs" in row["reason"] and row["luts"] == ""
    assert not (out / row["folder"]).exists()
    assert (out / "pareto.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_board_is_refused_before_any_work(tmp_path, capsys):
    model = _net(tmp_path, 8, 3)
    assert main(["explore", "--model", str(model), "--board", "icebreakr", "--lanes", "2", "--out",
                 str(tmp_path / "out")]) == 1
    assert "unknown board(s) ['icebreakr']" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.synth
def test_two_icebreaker_lane_counts_built_in_parallel(tmp_path, capsys, ray_local):
    model = _net(tmp_path, 8, 3)
    out = tmp_path / "out"
    assert main(["explore", "--model", str(model), "--board", "icebreaker", "--lanes", "2", "8", "--out",
                 str(out), "--limit", "50"]) == 0
    rows = _table(out)
    assert [(r["lanes"], r["status"]) for r in rows] == [("2", "built"), ("8", "built")]
    for row in rows:
        report = json.loads((out / row["folder"] / "report.json").read_text())
        assert int(row["luts"]) == report["luts"] > 0 and float(row["clock_mhz"]) == 12.0
        assert (out / row["folder"] / "top.bin").stat().st_size == 104090  # an iCE40UP5K image
    # four times the lanes: fewer cycles per image, at a cost in logic
    two, eight = rows
    assert float(eight["cycles_mean"]) < float(two["cycles_mean"])
    assert float(eight["latency_us_mean"]) < float(two["latency_us_mean"])
    assert (out / "pareto.png").read_bytes()[:4] == b"\x89PNG"
