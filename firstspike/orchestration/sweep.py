# SPDX-License-Identifier: MIT
"""``firstspike sweep``: the trials of a sweep file as Ray Tune trials, with a resumable ledger.

Grid and random sweeps fix every trial's parameters up front (random draws are seeded), Optuna
(Tune's ``OptunaSearch``) chooses as it goes and is told the results of trials already finished. A
trial whose ``result.json`` exists is never run again, so a killed sweep started again with
``--resume`` runs only what is missing. ASHA (``[early_stop]``) stops trials whose validation
accuracy trails at an epoch rung; they are recorded as stopped early.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sys
from pathlib import Path

from ..outputs import atomic_write_json
from ..raycluster import ray_session
from . import ledger
from .sweep_file import Range, Sweep, trial_id
from .trial import tune_trial


def _space(sweep: Sweep, tune) -> dict:
    """Tune's search space of an Optuna sweep (choices as JSON text)."""
    space = {}
    for name, values in sweep.params.items():
        key = f"p.{name}"
        if not isinstance(values, Range):
            space[key] = tune.choice([ledger.encode(v) for v in values])
        elif values.integer:
            low, high = int(values.low), int(values.high) + 1  # Tune's high is exclusive
            space[key] = tune.lograndint(low, high) if values.log else tune.randint(low, high)
        else:
            space[key] = tune.loguniform(values.low, values.high) if values.log else tune.uniform(values.low,
                                                                                                  values.high)
    return space


def _tune_point(sweep: Sweep, chosen: dict) -> dict:
    return {f"p.{n}": (v if isinstance(sweep.params[n], Range) else ledger.encode(v)) for n, v in chosen.items()}


def _identity(sweep: Sweep) -> dict:
    """What a resumed sweep must share with the one that made the folder."""
    return {"recipe": str(sweep.recipe), "recipe_text": sweep.recipe.read_text(), "sweep": sweep.raw}


def run_sweep(sweep: Sweep, out, *, data_dir=None, address=None, num_cpus=None, resume=False,
              log=print) -> dict:
    """Run the trials not yet finished in ``out`` (claimed by the caller); write results.csv, best/
    and sweep.png from the ledger, even when stopped. Returns a summary."""
    out = Path(out).resolve()
    identity = _identity(sweep)
    recorded = out / "sweep.json"
    if resume and recorded.is_file() and json.loads(recorded.read_text()) != identity:
        raise ValueError(f"{out} holds a sweep of another sweep file or recipe; --resume continues only the "
                         "same sweep (use --overwrite to replace it, or another --out)")
    atomic_write_json(recorded, identity)
    shutil.rmtree(out / "tune", ignore_errors=True)  # Tune's own state: the ledger is what counts
    done = ledger.finished(out)
    if done:
        log(f"{len(done)} trial(s) already finished in {out}: not run again")
    setup = {"out": str(out), "recipe": str(sweep.recipe), "data_dir": str(Path(data_dir).resolve()) if data_dir
             else None, "step_budget": sweep.step_budget, "metric": sweep.metric, "asha": sweep.asha is not None,
             "overrides": sweep.overrides}
    expected, failed = sweep.trials, 0
    try:
        if sweep.search == "optuna":
            todo = sweep.trials - len(done)
        else:
            plans = [c for c in sweep.planned() if trial_id(sweep.overrides(c)) not in done]
            todo = len(plans)
        if todo > 0:
            with ray_session(address, num_cpus, log=log) as ray:
                failed = _tune(ray, sweep, setup, out, done, plans if sweep.search != "optuna" else None, todo,
                               log)
    finally:
        summary = write_products(sweep, out)
    summary.update(expected=expected, errors=failed)
    if summary["errors"]:
        raise RuntimeError(f"{summary['errors']} trial(s) failed; see their logs under {out / 'tune'} and run "
                           "the sweep again with --resume")
    if summary["trials"] < expected and not (sweep.search == "optuna" and summary["trials"] > 0):
        raise KeyboardInterrupt  # Tune stopped early on Ctrl-C; the ledger keeps what finished
    return summary


def _tune(ray, sweep: Sweep, setup: dict, out: Path, done: dict, plans, todo: int, log) -> int:
    """Run ``todo`` trials on Tune; returns how many failed."""
    from ray import tune

    failures = []

    class Progress(tune.Callback):
        """A line per finished trial; ASHA-stopped trials written to the ledger."""

        def __init__(self):
            self.count = 0

        def on_trial_complete(self, iteration, trials, trial, **info):
            chosen = ledger.decode_params(trial.config)
            overrides = sweep.overrides(chosen)
            tid = trial_id(overrides)
            ledger.record_from_driver(out, tid, chosen, overrides, trial.last_result or {}, sweep.metric)
            result = ledger.read_result(out / "trials" / tid) or {}
            self.count += 1
            log(f"trial {self.count}/{todo} {tid} {result.get('status', '?')}: {sweep.metric} "
                f"{result.get('objective', float('nan')):.4f} {json.dumps(chosen)}")

        def on_trial_error(self, iteration, trials, trial, **info):
            failures.append(trial)
            log(f"trial {trial.trial_id} failed: see {trial.local_path}")

    if plans is not None:
        space = {"trial": tune.grid_search([_tune_point(sweep, c) for c in plans])}
        search_alg, samples = None, 1
    else:
        from ray.tune.search.optuna import OptunaSearch

        space = _space(sweep, tune)
        previous = list(done.values())
        search_alg = OptunaSearch(metric="objective", mode="max", seed=sweep.seed,
                                  points_to_evaluate=[_tune_point(sweep, r["params"]) for r in previous] or None,
                                  evaluated_rewards=[r["objective"] for r in previous] or None)
        samples = todo
    scheduler = None
    if sweep.asha is not None:
        from ray.tune.schedulers import ASHAScheduler

        first = sweep.planned()[0] if plans is not None else {}
        from ..model.recipe import read_recipe
        from .sweep_file import trial_config

        cfg, _ = trial_config(read_recipe(sweep.recipe), sweep.overrides(first or _first(sweep)))
        scheduler = ASHAScheduler(time_attr="epoch", metric="objective", mode="max", max_t=cfg.epochs,
                                  grace_period=sweep.asha["grace_epochs"],
                                  reduction_factor=sweep.asha["reduction_factor"])
    trainable = tune.with_resources(tune.with_parameters(tune_trial, setup=setup), {"cpu": sweep.cpus})
    tuner = tune.Tuner(
        trainable, param_space=space,
        tune_config=tune.TuneConfig(search_alg=search_alg, scheduler=scheduler, num_samples=samples),
        run_config=tune.RunConfig(name="tune", storage_path=str(out), callbacks=[Progress()], verbose=1,
                                  failure_config=tune.FailureConfig(max_failures=0)))
    log(f"{todo} trial(s) to run ({sweep.search}), {sweep.cpus:g} CPU(s) each")
    with contextlib.redirect_stdout(sys.stderr):  # Tune's status tables: stdout keeps the summary
        tuner.fit()
    return len(failures)


def _first(sweep: Sweep) -> dict:
    return {n: (v.low if isinstance(v, Range) else v[0]) for n, v in sweep.params.items()}


def write_products(sweep: Sweep, out: Path) -> dict:
    """results.csv, best/ and sweep.png from the ledger."""
    from .plots import sweep_plot

    results = ledger.finished(out)
    params = list(sweep.params)
    table = ledger.write_table(out, results, params)
    best = ledger.copy_best(out, results)
    if results:
        sweep_plot(ledger.ordered(results), out / "sweep.png", sweep.metric, title=sweep.path.name)
    return {"out": str(out), "trials": len(results), "results": str(table),
            "best": None if best is None else {"trial_id": best["trial_id"], "params": best["params"],
                                               sweep.metric: best["objective"],
                                               "model": str(out / "best" / "model.npz")}}
