# SPDX-License-Identifier: MIT
"""A sweep's ledger: ``trials/<id>/result.json`` per finished trial, and the products made from
them (``results.csv``, ``best/``, ``sweep.png``), all written atomically.

Parameters travel through Tune and Optuna as JSON text (Optuna's categories must be plain scalars;
a recipe value may be a list such as ``eta = [0.5, 0.1]``).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ..outputs import atomic_write_bytes, atomic_write_json, atomic_write_text

#: the metric columns of results.csv, in order (those a trial has)
METRIC_COLUMNS = ("objective", "val_accuracy", "val_mean_step", "val_accuracy_at_step", "val_mean_step_at_budget",
                  "test_accuracy", "best_epoch", "epochs", "train_seconds")


def encode(value) -> str:
    return json.dumps(value)


def decode_params(config: dict) -> dict:
    """A Tune config (``{"p.NAME": JSON text or number}``, or that under ``"trial"`` for a grid of
    planned trials) -> the trial's chosen parameters."""
    config = config.get("trial", config)
    out = {}
    for key, value in config.items():
        if key.startswith("p."):
            out[key[2:]] = json.loads(value) if isinstance(value, str) else value
    return out


def read_result(folder: Path) -> dict | None:
    path = folder / "result.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError:
        return None  # half-written by a killed attempt is impossible (atomic), but never trust it


def finished(out: Path) -> dict[str, dict]:
    """trial id -> result of every finished trial in the sweep folder ``out``."""
    results = {}
    for folder in sorted((out / "trials").glob("*")):
        result = read_result(folder)
        if result is not None:
            results[folder.name] = result
    return results


def record_from_driver(out: Path, tid: str, chosen: dict, overrides: dict, last: dict, metric: str) -> None:
    """Record a finished trial whose worker wrote no result.json where the driver sees it: one that
    ASHA stopped early (its last reported validation accuracy), or one that ran on a node without the
    sweep folder (its final report)."""
    folder = out / "trials" / tid
    if read_result(folder) is not None:
        return
    if last.get("status") == "done":
        atomic_write_json(folder / "result.json", {k: last[k] for k in ("trial_id", "params", "overrides", "status",
                                                                       "metrics", "objective", "epochs", "finished")})
        return
    val = float(last.get("val_accuracy", 0.0))
    metrics = {"val_accuracy": val, "epochs": int(last.get("epoch", 0))}
    atomic_write_json(folder / "result.json", {
        "trial_id": tid, "params": chosen, "overrides": overrides, "status": "stopped early",
        "metrics": metrics, "objective": val if metric == "val_accuracy" else 0.0, "epochs": metrics["epochs"]})


def ordered(results: dict[str, dict]) -> list[dict]:
    """Trials in the order they finished (stopped ones by their record order)."""
    return sorted(results.values(), key=lambda r: (r.get("finished", float("inf")), r["trial_id"]))


def write_table(out: Path, results: dict[str, dict], params: list[str]) -> Path:
    """``results.csv``: one row per trial, its parameters (JSON for lists) and metrics."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["trial", "trial_id", "status", *params, *METRIC_COLUMNS])
    for index, result in enumerate(ordered(results)):
        values = [result["params"].get(p) for p in params]
        values = [json.dumps(v) if isinstance(v, (list, dict)) else v for v in values]
        metrics = {**result["metrics"], "objective": result["objective"]}
        writer.writerow([index, result["trial_id"], result["status"], *values,
                         *[metrics.get(c, "") for c in METRIC_COLUMNS]])
    path = out / "results.csv"
    atomic_write_text(path, buffer.getvalue())
    return path


def copy_best(out: Path, results: dict[str, dict]) -> dict | None:
    """Copy the best finished trial's model.npz, config.json and metrics.json into ``out/best``."""
    done = [r for r in results.values() if r["status"] == "done"]
    if not done:
        return None
    best = max(done, key=lambda r: (r["objective"], -r.get("finished", 0)))
    run = out / "trials" / best["trial_id"] / "run"
    for name in ("model.npz", "config.json", "metrics.json"):
        atomic_write_bytes(out / "best" / name, (run / name).read_bytes())
    atomic_write_json(out / "best" / "trial.json", best)
    return best
