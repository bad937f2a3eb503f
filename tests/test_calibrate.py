# SPDX-License-Identifier: MIT
"""Threshold calibration: the validation split it rebuilds, the choice it makes, the command."""

import json

import numpy as np
import pytest

from firstspike.cli import main
from firstspike.model.calibrate import (calibrate, holdout_split, score, threshold_candidates,
                                        validation_images)
from firstspike.model.network import load_model
from firstspike.model.infer import run_times
from firstspike.model.network import Network


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("calib") / "run"
    assert main(["train", "--dataset", "mnist-mini", "--arch", "784-16-10", "--epochs", "2",
                 "--val-size", "300", "--seed", "5", "--quiet", "--out", str(out)]) == 0
    return out / "model.npz"


def test_validation_images_are_the_split_the_model_was_selected_on(trained):
    net = load_model(trained)
    x, y = validation_images(net)
    assert len(y) == 300
    # the trainer recorded the validation accuracy of the model it kept: the rebuilt split gives it back
    assert score(net, x, y, net.rule)[0] == net.meta["selected_on"]["accuracy"]


def _random_net(seed):
    rng = np.random.default_rng(seed)
    weights = [rng.choice([-1, 1], size=(12, 30)), rng.choice([-1, 1], size=(4, 12))]
    weights[0][:, :20] = np.abs(weights[0][:, :20])  # enough positive input that neurons fire
    weights[1][:, :8] = np.abs(weights[1][:, :8])
    return Network(weights, [3, 2], binary=True, T=40), rng


@pytest.mark.parametrize("seed", range(5))
def test_calibrate_finds_the_output_threshold_that_generated_the_labels(seed):
    net, rng = _random_net(seed)
    x = rng.integers(0, 42, size=(300, 30)).astype(np.int16)
    # labels = the decisions of the same net with output threshold 4: that threshold scores 100 %
    truth = Network(net.weights, [3, 4], binary=True, T=40)
    y = run_times(truth, x).hardware_decision()[0]
    result = calibrate(net, x, y, span=[1.0, 1.5, 2.0, 2.5, 3.0])
    where = f"seed {seed}"
    assert result.after == 1.0 and score(result.net, x, y, "hardware")[0] == 1.0, where
    assert result.before == score(net, x, y, "hardware")[0] < 1.0, where  # starts wrong
    assert result.net.thresholds[0] == 3, where  # only the output layer was searched
    assert result.step_after == score(result.net, x, y, "hardware")[1] != result.step_before, where
    # among the candidates that score 100 %, the one nearest the starting threshold 2 is kept
    perfect = [r["threshold"] for r in result.scans[1] if r["accuracy"] == 1.0]
    assert 4 in perfect and result.net.thresholds[1] == min(perfect, key=lambda t: abs(t - 2)), where
    assert net.thresholds == [3, 2], where  # the input network is left alone


def test_calibrate_keeps_the_current_threshold_on_a_tie_and_never_loses_accuracy():
    net, rng = _random_net(11)
    x = rng.integers(0, 42, size=(200, 30)).astype(np.int16)
    y = run_times(net, x).hardware_decision()[0]  # the net is already perfect
    result = calibrate(net, x, y, layers=[0, 1], rounds=2)
    assert result.net.thresholds == [3, 2] and result.changes == [] and result.after == 1.0
    assert result.step_after == result.step_before == score(net, x, y, "hardware")[1]
    y = rng.integers(0, 4, size=200)  # labels it cannot learn: any change must still not lose accuracy
    result = calibrate(net, x, y, layers=[0, 1], rounds=3)
    assert result.after >= result.before
    assert result.after == score(result.net, x, y, "hardware")[0]


@pytest.mark.parametrize("seed", range(3))
def test_a_latency_budget_excludes_the_slow_thresholds(seed):
    net, rng = _random_net(seed)
    x = rng.integers(0, 42, size=(300, 30)).astype(np.int16)
    y = run_times(Network(net.weights, [3, 4], binary=True, T=40), x).hardware_decision()[0]
    steps = {t: score(Network(net.weights, [3, t], binary=True, T=40), x, y, "hardware")[1] for t in (2, 3, 4)}
    assert steps[2] <= steps[3] < steps[4], seed  # a higher output threshold decides later
    budget = (steps[3] + steps[4]) / 2
    result = calibrate(net, x, y, span=[1.0, 1.5, 2.0, 2.5, 3.0], max_step=budget)
    allowed = [r for r in result.scans[1] if r["mean_decision_step"] <= budget]
    assert result.net.thresholds[1] != 4 and result.step_after <= budget, seed
    assert result.after == max(r["accuracy"] for r in allowed) < 1.0, seed
    assert result.step_after == score(result.net, x, y, "hardware")[1], seed
    nothing = calibrate(net, x, y, span=[1.5, 2.0], max_step=-1.0)  # no threshold meets it: keep the net
    assert nothing.net.thresholds == [3, 2] and nothing.changes == [], seed


def test_threshold_candidates():
    assert threshold_candidates(10, [0.5, 1.26, 2.0], binary=True) == [5, 10, 13, 20]
    assert threshold_candidates(1, [0.0, 0.2], binary=True) == [0, 1]
    assert threshold_candidates(2.0, [0.5], binary=False) == [1.0, 2.0]
    assert threshold_candidates(100.0, [1.1], binary=False) == [100.0, 110.0]  # not 110.00000000000001


def test_calibrate_command_writes_a_model_and_refuses_one_without_a_split(trained, tmp_path, capsys):
    out = tmp_path / "cal.npz"
    assert main(["calibrate", "--model", str(trained), "--out", str(out), "--layers", "all",
                 "--json", "--plot", str(tmp_path / "scan.png")]) == 0
    summary = json.loads(capsys.readouterr().out)
    calibrated = load_model(out)
    assert calibrated.thresholds == summary["thresholds_after"]
    assert summary["validation_after"] >= summary["validation_before"]
    assert calibrated.meta["calibrated"]["thresholds_before"] == load_model(trained).thresholds
    assert (tmp_path / "scan.png").stat().st_size > 0
    x, y = validation_images(calibrated)
    assert score(calibrated, x, y, "hardware")[0] == summary["validation_after"]
    again = tmp_path / "again.npz"  # calibrating again keeps the first record
    assert main(["calibrate", "--model", str(out), "--out", str(again), "--json"]) == 0
    capsys.readouterr()
    record = load_model(again).meta["calibrated"]
    assert record["from"] == str(out) and record["previous"]["from"] == str(trained)
    bare = tmp_path / "bare.npz"
    Network([np.ones((10, 784), dtype=np.int8)], [5], binary=True).save(bare)
    assert main(["calibrate", "--model", str(bare), "--out", str(tmp_path / "x.npz")]) == 1
    err = capsys.readouterr().err
    assert "validation split is unknown" in err and "firstspike train" in err
    assert not (tmp_path / "x.npz").exists()
    assert main(["calibrate", "--model", str(trained), "--out", str(tmp_path / "y.npz"), "--layers", "one"]) == 1
    assert "--layers" in capsys.readouterr().err


@pytest.mark.parametrize("seed", range(3))
def test_holdout_split_partitions_the_validation_images(seed):
    search, held = holdout_split(101, 0.3, seed)
    assert len(held) == 30 and len(search) == 71, seed
    assert sorted(np.concatenate([search, held]).tolist()) == list(range(101)), seed
    again = holdout_split(101, 0.3, seed)
    assert np.array_equal(again[0], search) and np.array_equal(again[1], held), seed
    other = holdout_split(101, 0.3, seed + 10)[1]
    assert not np.array_equal(other, held), seed  # the seed chooses the images
    for bad in (0.0, 1.0, -0.2, 1.5, 0.001):
        with pytest.raises(ValueError, match="fraction"):
            holdout_split(101, bad, seed)


def test_calibrate_command_scores_the_held_out_images_it_did_not_search_on(trained, tmp_path, capsys):
    out = tmp_path / "held.npz"
    assert main(["calibrate", "--model", str(trained), "--out", str(out), "--layers", "all",
                 "--holdout", "0.5", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    net, calibrated = load_model(trained), load_model(out)
    x, y = validation_images(net)
    search, held = holdout_split(len(y), 0.5, net.meta["config"]["seed"])
    assert summary["images"] == len(search) == 150 and summary["holdout"]["images"] == len(held) == 150
    # the search saw only its half: its figures are those of that half, the held-out ones of the other
    assert summary["validation_before"] == score(net, x[search], y[search], net.rule)[0]
    assert summary["validation_after"] == score(calibrated, x[search], y[search], net.rule)[0]
    assert summary["holdout"]["before"] == score(net, x[held], y[held], net.rule)[0]
    assert summary["holdout"]["after"] == score(calibrated, x[held], y[held], net.rule)[0]
    assert calibrated.meta["calibrated"]["holdout"] == summary["holdout"]
    # searching on one half picks what that half prefers: the same as calibrating on it directly
    direct = calibrate(net, x[search], y[search], layers=list(range(len(net.thresholds))), rule=net.rule)
    assert direct.net.thresholds == calibrated.thresholds
    assert main(["calibrate", "--model", str(trained), "--out", str(tmp_path / "x.npz"),
                 "--holdout", "1.0"]) == 1
    assert "fraction" in capsys.readouterr().err and not (tmp_path / "x.npz").exists()
