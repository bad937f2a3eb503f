# SPDX-License-Identifier: MIT
"""The command line: train -> eval --json on the shipped mini set, and readable errors."""

import json

from firstspike.cli import main


def test_train_then_eval_json(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--dataset", "mnist-mini", "--arch", "784-16-10", "--epochs", "2",
                 "--val-size", "200", "--quiet", "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["epochs"] == 2 and (out / "checkpoint.npz").is_file()
    assert main(["eval", "--model", str(out / "model"), "--dataset", "mnist-mini", "--rule",
                 "hardware", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["images"] == 500 and 0.0 <= result["accuracy"] <= 1.0
    assert result["accuracy"] == result["accuracy_hardware"]
    assert len(result["mean_spikes_per_layer"]) == 2
    for key in ("mean_decision_step", "share_ties", "share_no_output_spike"):
        assert key in result
    # the same model evaluated twice gives the same numbers (deterministic inference)
    assert main(["eval", "--model", str(out / "model.npz"), "--dataset", "mnist-mini", "--rule",
                 "hardware", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert {k: v for k, v in again.items() if k != "model"} == {k: v for k, v in result.items() if k != "model"}


def test_errors_are_one_line_with_a_fix(tmp_path, capsys):
    assert main(["eval", "--model", str(tmp_path / "nope"), "--dataset", "mnist-mini"]) == 1
    err = capsys.readouterr().err
    assert "no model at" in err and "firstspike train" in err and "Traceback" not in err
    assert main(["train", "--dataset", "mnist-mini", "--arch", "100-10", "--epochs", "1",
                 "--out", str(tmp_path / "r"), "--quiet"]) == 1
    assert "784 pixels" in capsys.readouterr().err
    assert main(["train", "--dataset", "mnist-mini", "--epochs", "1", "--resume",
                 "--out", str(tmp_path / "fresh"), "--quiet"]) == 1
    assert "no checkpoint" in capsys.readouterr().err


def test_init_from_is_recorded_as_an_absolute_path(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    base = ["train", "--dataset", "mnist-mini", "--arch", "784-16-10", "--epochs", "1", "--val-size", "200",
            "--quiet"]
    assert main(base + ["--out", "a"]) == 0
    assert main(base + ["--out", "b", "--init-from", "a"]) == 0
    capsys.readouterr()
    recorded = json.loads((tmp_path / "b" / "config.json").read_text())["init_from"]
    assert recorded == str((tmp_path / "a").resolve())
