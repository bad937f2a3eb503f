# SPDX-License-Identifier: MIT
"""``firstspike sweep`` and ``firstspike explore``: many trainings or builds on Ray."""

from __future__ import annotations

import json
import sys


def say(message: str) -> None:
    """Progress to stderr (a plain function: Tune pickles the callbacks that hold it)."""
    print(message, file=sys.stderr, flush=True)


def register(sub) -> None:
    from ..raycluster import add_ray_flags

    p = sub.add_parser("sweep", help="train the trials of a sweep file on Ray Tune (grid, random or Optuna)")
    p.add_argument("sweep", metavar="SWEEP.toml", help="sweep file: a recipe, the parameters to vary, the metric")
    p.add_argument("--out", required=True, help="sweep folder: trials/, results.csv, best/, sweep.png")
    p.add_argument("--resume", action="store_true", help="continue the sweep in --out (finished trials are kept)")
    p.add_argument("--overwrite", action="store_true", help="replace the sweep already in --out")
    p.add_argument("--data-dir", help="folder holding mnist/ and fashion-mnist/ IDX files")
    p.add_argument("--cpus", type=int, help="CPUs of the local Ray instance (default: all of this machine)")
    add_ray_flags(p)
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=cmd_sweep)


def cmd_sweep(args) -> int:
    from ..outputs import claim_folder
    from .sweep import run_sweep
    from .sweep_file import read_sweep

    sweep = read_sweep(args.sweep)  # a bad file fails before Ray starts
    if args.cpus is not None and args.cpus < 1:
        raise ValueError(f"--cpus {args.cpus}: give 1 or more")
    log = say
    with claim_folder(args.out, overwrite=args.overwrite, resume=args.resume, resumable=True,
                      remove=("trials", "best", "tune", "results.csv", "sweep.png", "sweep.json")) as out:
        summary = run_sweep(sweep, out, data_dir=args.data_dir, address=args.address, num_cpus=args.cpus,
                            resume=args.resume, log=log)
    if args.json:
        print(json.dumps(summary))
    else:
        best = summary["best"]
        print(f"{summary['trials']} of {summary['expected']} trials finished; table {summary['results']}")
        if best:
            print(f"best: trial {best['trial_id']} {sweep.metric} {best[sweep.metric]:.4f} "
                  f"{json.dumps(best['params'])} -> {best['model']}")
    return 0
