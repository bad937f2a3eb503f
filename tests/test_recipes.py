# SPDX-License-Identifier: MIT
"""Training configs from TOML: the shipped recipes reproduce the models' configs; --config, overrides,
--print-config, staged runs with calibration, one-line errors."""

import dataclasses
import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from firstspike.cli import main
from firstspike.model.network import load_model
from firstspike.model.recipe import read_recipe
from firstspike.model.train_config import CONV_FIELDS, TrainConfig, config_from_dict, flat_config

ROOT = Path(__file__).resolve().parents[1]
RECIPES = sorted((ROOT / "recipes").glob("*.toml"))
FIELDS = {f.name for f in dataclasses.fields(TrainConfig)} | set(CONV_FIELDS)


def _meta(name: str) -> dict:
    header = json.loads(bytes(np.load(ROOT / "models" / f"{name}.npz")["header"]).decode())
    return header["meta"]


def test_there_is_a_recipe_for_every_shipped_model():
    names = {p.stem for p in RECIPES}
    assert {"bs4nn-mnist", "bs4nn-fashion-mnist", "s4nn-mnist", "conv-mnist", "conv-fashion-mnist",
            "mnist-784-32-10", "mnist-784-64-10", "bs4nn-mnist-sgd", "bs4nn-fashion-mnist-sgd",
            "bs4nn-mnist-1000", "bs4nn-fashion-mnist-1500", "s4nn-mnist-1000"} <= names


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_a_recipe_resolves_to_the_config_its_model_was_trained_with(path):
    """Compared: every key of the model's ``meta["config"]`` that is a TrainConfig field. Left out: keys
    that are not fields any more (``extra``, an empty dict of early versions) and fields added after the
    model was trained (absent from its meta: their defaults are the behaviour of that time, so the
    recipe may only spell out those defaults)."""
    recipe = read_recipe(path)
    assert path.read_text().startswith("# models/"), "a recipe starts with a comment naming what it makes"
    cfg = recipe.config()
    if not (ROOT / "models" / f"{path.stem}.npz").is_file():  # a recipe whose model is still to be trained
        assert "(not trained yet)" in path.read_text().splitlines()[0]
        return
    if recipe.stages:
        cfg = dataclasses.replace(cfg, epochs=recipe.stages[-1])
    got = flat_config(dataclasses.asdict(cfg.resolved()))
    meta = _meta(path.stem)
    saved = {k: v for k, v in flat_config(meta["config"]).items() if k in FIELDS}
    assert {k: got[k] for k in saved} == saved
    default = flat_config(dataclasses.asdict(TrainConfig()))
    assert all(v == default[k] for k, v in flat_config(recipe.values).items() if k not in saved), \
        "sets a field the model lacks away from its default"
    assert (recipe.calibrate is not None) == ("calibrated" in meta)


def test_print_config_writes_toml_that_reads_back_to_the_same_config(tmp_path, capsys):
    assert main(["train", "--config", str(ROOT / "recipes" / "conv-mnist.toml"), "--seed", "7",
                 "--print-config"]) == 0
    text = capsys.readouterr().out
    printed = tomllib.loads(text)
    cfg = config_from_dict(printed).resolved()
    assert cfg.seed == 7 and cfg.epochs == 60 and cfg.conv.silent_margin == 0.5  # flag over file, last stage
    assert dataclasses.asdict(cfg) == dataclasses.asdict(read_recipe(ROOT / "recipes" / "conv-mnist.toml").config(
        {"seed": 7, "epochs": 60}).resolved())


def test_flags_given_override_the_file_and_flags_left_out_do_not(tmp_path, capsys):
    recipe = tmp_path / "r.toml"
    recipe.write_text('arch = "784-16-10"\ndataset = "mnist-mini"\nepochs = 3\nseed = 5\ntrain_limit = 300\n'
                      'val_size = 60\n[conv]\ninit = "che"\n')
    assert main(["train", "--config", str(recipe), "--epochs", "1", "--init", "bs4nn", "--quiet",
                 "--out", str(tmp_path / "run")]) == 0
    config = load_model(tmp_path / "run" / "model.npz").meta["config"]
    got = (config["epochs"], config["seed"], config["arch"], config["conv"]["init"])
    assert got == (1, 5, "784-16-10", "bs4nn")


def test_a_staged_recipe_trains_resumes_and_calibrates_the_best_model(tmp_path, capsys):
    recipe = tmp_path / "r.toml"
    recipe.write_text('arch = "784-16-10"\ndataset = "mnist-mini"\nepochs_stages = [1, 2]\ntrain_limit = 400\n'
                      'val_size = 80\nschedule = "cosine"\n[calibrate]\nlayers = "output"\nspan = [0.9, 1.0, 1.1]\n')
    assert main(["train", "--config", str(recipe), "--quiet", "--out", str(tmp_path / "run")]) == 0
    assert json.loads(capsys.readouterr().out)["calibrated"] == str(tmp_path / "run" / "calibrated.npz")
    history = json.loads((tmp_path / "run" / "metrics.json").read_text())["history"]
    # the second stage resumed the first (one history) with the schedule stretched to two epochs
    assert [h["epoch"] for h in history] == [1, 2] and history[1]["rate_factor"] == pytest.approx(0.01)
    calibrated = load_model(tmp_path / "run" / "calibrated.npz")
    assert calibrated.meta["calibrated"]["from"] == str(tmp_path / "run" / "model.npz")


@pytest.mark.parametrize("text, fragment", [
    ('arch = "784-16-10"\nlearning_rate = 0.1\n', "unknown key(s) ['learning_rate']"),
    ('[conv]\ninit = "che"\nwidth = 3\n', "unknown key(s) ['width']"),
    ('epochs = "many"\n', "epochs = 'many' is not of type int"),
    ('eta = 0.1\n', "eta = 0.1 is not of type list[float] | None"),
    ('epochs = 3\nepochs_stages = [1, 3]\n', "epochs_stages must be a rising list"),
    ('[calibrate]\nrounds = "two"\n', "[calibrate] key(s) ['rounds']"),
])
def test_a_bad_recipe_is_a_one_line_error_before_any_data_loads(tmp_path, capsys, text, fragment):
    recipe = tmp_path / "bad.toml"
    recipe.write_text(text)
    assert main(["train", "--config", str(recipe), "--data-dir", str(tmp_path / "no-data"),
                 "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err.strip()
    assert fragment in err and str(recipe) in err and "\n" not in err
    if "unknown key" in fragment:
        assert "valid keys are" in err and "init_fire_out" in err
    assert not (tmp_path / "run").exists()
