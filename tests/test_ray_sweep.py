# SPDX-License-Identifier: MIT
"""``firstspike sweep``: trials on Ray Tune are the ordinary trainer; a killed sweep resumes."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from firstspike.cli import main
from firstspike.orchestration.sweep_file import read_sweep

ROOT = Path(__file__).resolve().parents[1]

#: a tiny network on the packaged mnist-mini, 2 epochs: a few seconds per trial (weights start with
#: both signs, so two seeds give different models even where two epochs teach it little)
RECIPE = """\
algorithm = "bs4nn"
arch = "784-16-10"
dataset = "mnist-mini"
epochs = 2
seed = 3
val_size = 300
train_limit = 1000
eta = [0.5, 0.1]
init_low = [-1.0, -10.0]
"""
#: 2 x 2 = 4 trials
GRID = """\
recipe = "tiny.toml"
search = "grid"
metric = "val_accuracy"
[params]
seed = [3, 4]
alpha_init = [[2.5, 5.0], [1.5, 3.0]]
[resources]
cpus = {cpus}
"""


def _files(folder: Path, recipe=RECIPE, sweep=GRID, cpus=1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "tiny.toml").write_text(recipe)
    (folder / "sweep.toml").write_text(sweep.format(cpus=cpus))
    return folder / "sweep.toml"


def _rows(out: Path) -> list[dict]:
    with open(out / "results.csv") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("text, expected", [
    ('recipe = "tiny.toml"\nsearch = "bayes"\n[params]\nseed = [1]\n', "choose one of ['grid', 'random', 'optuna']"),
    ('recipe = "tiny.toml"\n[params]\nlam = {low = 0.1, high = 1.0}\n', "a grid cannot enumerate"),
    ('recipe = "tiny.toml"\n[params]\nnot_a_field = [1, 2]\n', "not_a_field"),
    ('recipe = "tiny.toml"\nsearch = "random"\n[params]\nseed = [1, 2]\n', "needs trials = N"),
    ('recipe = "tiny.toml"\nmetric = "val_accuracy_at_step"\n[params]\nseed = [1]\n', "step_budget"),
    ('recipe = "tiny.toml"\n[params]\n', "[params] is empty"),
])
def test_a_bad_sweep_file_is_one_line_naming_the_fix(tmp_path, capsys, text, expected):
    _files(tmp_path)
    (tmp_path / "bad.toml").write_text(text)
    assert main(["sweep", str(tmp_path / "bad.toml"), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip()
    assert expected in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "out").exists()  # refused before the output folder is made


def test_random_plan_is_seeded_and_grid_is_every_combination(tmp_path):
    grid = read_sweep(_files(tmp_path))
    assert grid.trials == 4 and len({json.dumps(p, sort_keys=True) for p in grid.planned()}) == 4
    (tmp_path / "r.toml").write_text('recipe = "tiny.toml"\nsearch = "random"\ntrials = 5\nseed = 9\n'
                                     '[params]\nlam = {low = 1e-6, high = 1e-3, log = true}\n'
                                     'gamma = {low = 1, high = 4, int = true}\n')
    first, again = read_sweep(tmp_path / "r.toml").planned(), read_sweep(tmp_path / "r.toml").planned()
    assert first == again and len(first) == 5
    assert all(1e-6 <= p["lam"] <= 1e-3 and p["gamma"] in (1, 2, 3, 4) for p in first)


def test_four_trial_sweep_best_model_is_the_direct_training(tmp_path, capsys, ray_local):
    sweep = _files(tmp_path)
    out = tmp_path / "out"
    assert main(["sweep", str(sweep), "--out", str(out), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    rows = _rows(out)
    assert len(rows) == 4 and summary["trials"] == 4 and {r["status"] for r in rows} == {"done"}
    combos = {(r["seed"], r["alpha_init"]) for r in rows}
    assert combos == {(s, a) for s in ("3", "4") for a in ("[2.5, 5.0]", "[1.5, 3.0]")}
    best = json.loads((out / "best" / "trial.json").read_text())
    assert best["objective"] == max(float(r["objective"]) for r in rows)
    assert (out / "sweep.png").read_bytes()[:4] == b"\x89PNG"

    # the same recipe and overrides through 'firstspike train'
    from firstspike.orchestration.trial import equal_models

    params = best["params"]
    direct = tmp_path / "direct"
    assert main(["train", "--config", str(tmp_path / "tiny.toml"), "--seed", str(params["seed"]),
                 "--alpha-init", *map(str, params["alpha_init"]), "--out", str(direct), "--quiet"]) == 0
    assert equal_models(out / "best" / "model.npz", direct / "model.npz")
    # and a trial that was not the best differs from it (the comparison can fail)
    other = next(r for r in rows if r["trial_id"] != best["trial_id"] and r["seed"] != str(params["seed"]))
    assert not equal_models(out / "trials" / other["trial_id"] / "run" / "model.npz", direct / "model.npz")


def test_a_sweep_interrupted_after_its_first_trial_resumes_without_redoing_it(tmp_path, ray_local):
    """The sweep runs in its own process on the session's Ray cluster, one trial at a time (2 CPUs per
    trial); Ctrl-C (SIGINT) as soon as a trial is finished; ``--resume`` finishes the rest and leaves
    the finished trials' files untouched."""
    sweep = _files(tmp_path, cpus=2)
    out = tmp_path / "out"
    address = ray_local.get_runtime_context().gcs_address
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "firstspike", "sweep", str(sweep), "--out", str(out),
                             "--address", address], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    deadline = time.monotonic() + 300
    while not list(out.glob("trials/*/result.json")):
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0][-3000:]
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    output = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, output[-3000:]
    finished = {p.parent.name: (p.stat().st_mtime_ns, (p.parent / "run" / "model.npz").stat().st_mtime_ns)
                for p in out.glob("trials/*/result.json")}
    assert 1 <= len(finished) < 4, output[-3000:]
    assert len(_rows(out)) == len(finished)  # the table of what finished was written on the way out

    assert main(["sweep", str(sweep), "--out", str(out), "--resume"]) == 0
    rows = _rows(out)
    assert len(rows) == 4 and len({r["trial_id"] for r in rows}) == 4
    for tid, stamps in finished.items():
        folder = out / "trials" / tid
        assert ((folder / "result.json").stat().st_mtime_ns,
                (folder / "run" / "model.npz").stat().st_mtime_ns) == stamps, f"trial {tid} was run again"


def test_the_command_line_does_not_import_ray_until_a_ray_command_runs():
    code = ("import sys\nfrom firstspike.cli import build_parser\nbuild_parser().format_help()\n"
            "print(sorted(m for m in ('ray', 'optuna') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr


def test_an_optuna_search_with_asha_stays_in_its_ranges_and_picks_the_best_finished_trial(tmp_path, capsys,
                                                                                          ray_local):
    """Optuna draws inside the declared ranges; every trial ends done or stopped early by ASHA; the
    best is the finished trial with the highest objective."""
    recipe = RECIPE.replace("epochs = 2", "epochs = 3")
    sweep = ('recipe = "tiny.toml"\nsearch = "optuna"\ntrials = 3\nseed = 1\nmetric = "val_accuracy"\n'
             '[params]\neta_alpha = {{low = 1e-4, high = 1e-2, log = true}}\nseed = [3, 4]\n'
             '[resources]\ncpus = {cpus}\n[early_stop]\ngrace_epochs = 1\nreduction_factor = 2\n')
    out = tmp_path / "out"
    assert main(["sweep", str(_files(tmp_path, recipe=recipe, sweep=sweep)), "--out", str(out), "--json"]) == 0
    rows = _rows(out)
    assert len(rows) == 3 and {r["status"] for r in rows} <= {"done", "stopped early"}
    assert all(1e-4 <= float(r["eta_alpha"]) <= 1e-2 and r["seed"] in ("3", "4") for r in rows)
    done = [r for r in rows if r["status"] == "done"]
    assert done, rows  # ASHA never stops the first trial of a rung
    best = json.loads((out / "best" / "trial.json").read_text())
    assert best["objective"] == max(float(r["objective"]) for r in done)
