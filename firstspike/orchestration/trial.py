# SPDX-License-Identifier: MIT
"""One sweep trial: the ordinary trainer on the recipe plus the trial's overrides, in the trial's
own folder, then the sweep's metric on the model it selected.

The training is :class:`firstspike.model.trainer.Trainer` exactly as ``firstspike train --config
RECIPE`` runs it (same config, same stages, same seeds), so ``trials/<id>/run/model.npz`` is the
model that command writes. ``trials/<id>/result.json`` marks the trial done: a resumed sweep skips it.
A trial killed half-way resumes from its run's last checkpoint (the trainer resumes bit for bit).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np

RESULT = "result.json"


def step_metrics(model_path: Path, data_dir, step_budget: float | None) -> dict:
    """Validation accuracy (hardware rule) and mean decision step of a trained model; with a step
    budget also the best accuracy whose mean decision step stays within it (output threshold chosen by
    ``firstspike calibrate --max-step``; 0 when no threshold meets the budget)."""
    from ..model.calibrate import calibrate, validation_images
    from ..model.infer import run_times
    from ..model.network import load_model

    net = load_model(model_path)
    x, y = validation_images(net, data_dir)
    run = run_times(net, x)
    cls, steps = run.hardware_decision()
    out = {"val_accuracy": float((cls == y).mean()), "val_mean_step": float(steps.mean())}
    if step_budget is not None:
        result = calibrate(net, x, y, rule="hardware", max_step=step_budget)
        met = result.step_after <= step_budget
        out["val_accuracy_at_step"] = float(result.after) if met else 0.0
        out["val_mean_step_at_budget"] = float(result.step_after)
    return out


def train_trial(recipe_path, overrides: dict, folder: Path, data_dir=None, step_budget=None,
                on_epoch=None, log=None) -> dict:
    """Train one trial into ``folder / "run"`` (resuming a checkpoint left by a killed attempt) and
    return its metrics."""
    from ..model.recipe import read_recipe
    from ..model.trainer import Trainer
    from .sweep_file import trial_config

    recipe = read_recipe(recipe_path)
    cfg, stages = trial_config(recipe, overrides)
    run = folder / "run"
    resume = (run / "checkpoint.npz").is_file()
    start = time.perf_counter()
    quiet = log or (lambda message: None)
    summary = None

    def before_last(record):  # the last epoch is reported with the final metrics, once
        if on_epoch is not None and record["epoch"] < cfg.epochs:
            on_epoch(record)

    for index, epochs in enumerate(stages or [cfg.epochs]):
        trainer = Trainer(dataclasses.replace(cfg, epochs=epochs), run, data_dir=data_dir, progress=False,
                          log=quiet, resume=resume or index > 0)
        summary = trainer.fit(on_epoch=before_last)
    metrics = step_metrics(run / "model.npz", data_dir, step_budget)
    metrics.update({"test_accuracy": float(summary["test"]["hardware"]), "best_epoch": summary["best_epoch"],
                    "epochs": summary["epochs"], "train_seconds": round(time.perf_counter() - start, 2)})
    return metrics


def tune_trial(config: dict, setup: dict) -> None:
    """The Ray Tune function of a sweep: decode the trial's parameters, train (or find the trial
    done), report per epoch (for ASHA) and the final metrics."""
    from ..cache import use_numba_cache

    use_numba_cache()  # before the trainer's kernels are imported
    from ray import tune

    from ..outputs import atomic_write_json
    from .ledger import decode_params, read_result
    from .sweep_file import trial_id

    chosen = decode_params(config)
    overrides = setup["overrides"](chosen)
    tid = trial_id(overrides)
    folder = Path(setup["out"]) / "trials" / tid
    done = read_result(folder)
    if done is not None:  # finished by an earlier attempt of the sweep
        tune.report({**done, "epoch": done["epochs"], "reused": True})
        return
    metric = setup["metric"]

    def on_epoch(record):
        tune.report({"epoch": record["epoch"], "objective": record["val"]["hardware"], "trial_id": tid,
                     "val_accuracy": record["val"]["hardware"]})

    atomic_write_json(folder / "params.json", {"params": chosen, "overrides": overrides})
    metrics = train_trial(setup["recipe"], overrides, folder, setup["data_dir"], setup["step_budget"],
                          on_epoch=on_epoch if setup["asha"] else None)
    result = {"trial_id": tid, "params": chosen, "overrides": overrides, "status": "done",
              "metrics": metrics, "objective": metrics[metric], "epochs": metrics["epochs"],
              "finished": time.time()}
    atomic_write_json(folder / RESULT, result)
    tune.report({**result, "epoch": metrics["epochs"]})


def equal_models(a: Path, b: Path) -> bool:
    """Same binary weights and thresholds (a test and benchmark helper)."""
    from ..model.network import load_model

    na, nb = load_model(a), load_model(b)
    return na.thresholds == nb.thresholds and len(na.kernels) == len(nb.kernels) and all(
        np.array_equal(x, y) for x, y in zip(na.kernels, nb.kernels))
