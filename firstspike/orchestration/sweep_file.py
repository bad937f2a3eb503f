# SPDX-License-Identifier: MIT
"""Sweep files (``firstspike sweep SWEEP.toml``): a training recipe, what to vary, what to maximise.

::

    recipe = "../recipes/mnist-784-32-10.toml"  # relative to this file
    search = "grid"            # grid (every combination), random or optuna
    trials = 8                 # random / optuna: how many (grid: every combination, no key)
    seed = 0                   # of the random draws and of Optuna's sampler
    metric = "val_accuracy"    # or "val_accuracy_at_step" with step_budget = 40
    [set]                      # recipe values fixed for every trial (TrainConfig fields; conv.NAME)
    epochs = 2
    [params]                   # what varies: a list = these values, a table = a range
    eta_alpha = [0.001, 0.01]
    eta = [[0.5, 0.1], [0.3, 0.1]]
    gamma = {low = 1, high = 5, int = true}          # random / optuna only
    lam = {low = 1e-6, high = 1e-3, log = true}
    [resources]
    cpus = 1                   # per trial
    [early_stop]               # ASHA on the validation accuracy, by epoch
    grace_epochs = 1
    reduction_factor = 2

A trial's recipe values are the recipe's, then ``[set]``, then its parameters; it is named by a
hash of those overrides, so the same trial always has the same folder and result.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SEARCHES = ("grid", "random", "optuna")
METRICS = ("val_accuracy", "val_accuracy_at_step")
TOP_KEYS = {"recipe", "search", "trials", "seed", "metric", "step_budget", "set", "params", "resources",
            "early_stop"}
RANGE_KEYS = {"low", "high", "log", "int"}


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    log: bool = False
    integer: bool = False

    def draw(self, rng: np.random.Generator):
        if self.integer:
            if self.log:
                return int(round(float(np.exp(rng.uniform(np.log(self.low), np.log(self.high))))))
            return int(rng.integers(int(self.low), int(self.high) + 1))
        if self.log:
            return float(np.exp(rng.uniform(np.log(self.low), np.log(self.high))))
        return float(rng.uniform(self.low, self.high))


@dataclass
class Sweep:
    path: Path
    recipe: Path
    search: str
    trials: int
    seed: int
    metric: str
    step_budget: float | None
    fixed: dict
    params: dict  # name -> list of values or Range
    cpus: float = 1.0
    asha: dict | None = None
    raw: dict = field(default_factory=dict)

    def overrides(self, chosen: dict) -> dict:
        """Recipe overrides of a trial: ``[set]`` then ``chosen``; ``conv.NAME`` keys go into ``conv``."""
        out: dict = {"conv": {}}
        for name, value in {**self.fixed, **chosen}.items():
            if name.startswith("conv."):
                out["conv"][name[5:]] = value
            else:
                out[name] = value
        if not out["conv"]:
            del out["conv"]
        return out

    def planned(self) -> list[dict]:
        """The chosen parameters of every trial, for grid and random (Optuna chooses as it goes)."""
        names = list(self.params)
        if self.search == "grid":
            return [dict(zip(names, combo)) for combo in itertools.product(*(self.params[n] for n in names))]
        rng = np.random.default_rng([self.seed, 31])
        plans = []
        for _ in range(self.trials):
            plans.append({n: (v.draw(rng) if isinstance(v, Range) else v[int(rng.integers(len(v)))])
                          for n, v in self.params.items()})
        return plans


def trial_id(overrides: dict) -> str:
    """Ten hex digits naming a trial by its recipe overrides."""
    text = json.dumps(overrides, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def _fail(path, text: str):
    raise ValueError(f"{path}: {text}")


def read_sweep(path) -> Sweep:
    """Read and check a sweep file (and the recipe it names, with one trial's overrides) before any
    work; a bad key or value is a one-line ``ValueError`` naming it and the fix."""
    from ..model.recipe import read_recipe

    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the sweep file ({exc})") from None
    unknown = sorted(set(raw) - TOP_KEYS)
    if unknown:
        _fail(path, f"unknown key(s) {unknown}; valid keys are {sorted(TOP_KEYS)}")
    if not isinstance(raw.get("recipe"), str):
        _fail(path, 'give recipe = "PATH.toml" (a training recipe, relative to this file)')
    recipe = (path.parent / raw["recipe"]).resolve()
    search = raw.get("search", "grid")
    if search not in SEARCHES:
        _fail(path, f"search = {search!r}; choose one of {list(SEARCHES)}")
    metric = raw.get("metric", "val_accuracy")
    if metric not in METRICS:
        _fail(path, f"metric = {metric!r}; choose one of {list(METRICS)}")
    budget = raw.get("step_budget")
    if (metric == "val_accuracy_at_step") != (budget is not None):
        _fail(path, "step_budget (a mean decision step, e.g. 40) goes with metric = \"val_accuracy_at_step\" "
                    "and only with it")
    if budget is not None and (not isinstance(budget, (int, float)) or budget <= 0):
        _fail(path, f"step_budget = {budget!r}; give a positive number of steps")
    params = {}
    for name, spec in (raw.get("params") or {}).items():
        if isinstance(spec, list) and spec:
            params[name] = spec
        elif isinstance(spec, dict) and {"low", "high"} <= set(spec) and set(spec) <= RANGE_KEYS:
            low, high = spec["low"], spec["high"]
            if not (isinstance(low, (int, float)) and isinstance(high, (int, float)) and low < high) or (
                    spec.get("log") and low <= 0):
                _fail(path, f"params.{name}: give low < high (both > 0 with log = true)")
            params[name] = Range(low, high, bool(spec.get("log", False)), bool(spec.get("int", False)))
        else:
            _fail(path, f"params.{name}: give a non-empty list of values or a table {{low, high[, log][, int]}}")
    if not params:
        _fail(path, "[params] is empty; name at least one recipe value to vary")
    if search == "grid":
        ranged = [n for n, v in params.items() if isinstance(v, Range)]
        if ranged:
            _fail(path, f"params {ranged} are ranges, which a grid cannot enumerate; list values, or use "
                        "search = \"random\" or \"optuna\"")
        if "trials" in raw:
            _fail(path, "a grid runs every combination of [params]; leave out trials")
        trials = int(np.prod([len(v) for v in params.values()]))
    else:
        trials = raw.get("trials")
        if not isinstance(trials, int) or trials < 1:
            _fail(path, f"search = {search!r} needs trials = N (N >= 1)")
    seed = raw.get("seed", 0)
    if not isinstance(seed, int):
        _fail(path, f"seed = {seed!r}; give an integer")
    resources = raw.get("resources") or {}
    cpus = resources.get("cpus", 1)
    if set(resources) - {"cpus"} or not isinstance(cpus, (int, float)) or cpus <= 0:
        _fail(path, "[resources] takes cpus = N (CPUs per trial, > 0)")
    asha = raw.get("early_stop")
    if asha is not None:
        if set(asha) - {"grace_epochs", "reduction_factor"}:
            _fail(path, "[early_stop] takes grace_epochs and reduction_factor (ASHA)")
        asha = {"grace_epochs": int(asha.get("grace_epochs", 1)),
                "reduction_factor": int(asha.get("reduction_factor", 2))}
    fixed = raw.get("set") or {}
    sweep = Sweep(path, recipe, search, trials, seed, metric, budget, fixed, params, float(cpus), asha, raw)
    base = read_recipe(recipe)
    for chosen in (sweep.planned()[:1] if search != "optuna" else [_any_point(params)]):
        trial_config(base, sweep.overrides(chosen))  # a misspelt parameter fails here
    return sweep


def _any_point(params: dict) -> dict:
    return {n: (v.low if isinstance(v, Range) else v[0]) for n, v in params.items()}


def trial_config(recipe, overrides: dict):
    """The :class:`TrainConfig` and epoch stages of a trial, as ``firstspike train --config RECIPE``
    with ``overrides`` as flags resolves them (an epochs override replaces the recipe's stages)."""
    import dataclasses

    stages = None if "epochs" in overrides else recipe.stages
    cfg = recipe.config(overrides)
    if stages:
        cfg = dataclasses.replace(cfg, epochs=stages[-1])
    cfg.resolved()
    return cfg, stages
