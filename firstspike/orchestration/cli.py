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
    register_explore(sub)


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


def register_explore(sub) -> None:
    from ..model import data as datamod
    from ..raycluster import add_ray_flags

    p = sub.add_parser("explore", help="build a model for boards x lanes x clocks as Ray tasks; table + Pareto plot")
    p.add_argument("--model", required=True, help="binary model file")
    p.add_argument("--board", nargs="+", required=True, help="one or more boards (see 'firstspike build --help')")
    p.add_argument("--lanes", type=int, nargs="+", required=True,
                   help="lane counts to try (each one number for all layers, capped at each layer's width)")
    p.add_argument("--clock-mhz", type=float, nargs="+", help="core clocks to try (default: each board's)")
    p.add_argument("--out", required=True, help="folder: one build folder per combination, explore.csv, "
                                                "explore.json, pareto.png")
    p.add_argument("--resume", action="store_true", help="keep the builds already in --out (their report.json)")
    p.add_argument("--overwrite", action="store_true", help="replace what --out holds")
    p.add_argument("--dataset", default="mnist-mini", choices=datamod.DATASETS,
                   help="images for the accuracy and the cycle figures")
    p.add_argument("--data-dir")
    p.add_argument("--limit", type=int, default=500, help="images used for the accuracy and cycle figures")
    p.add_argument("--seed", type=int, default=1, help="nextpnr placement seed")
    p.add_argument("--cpus", type=int, help="CPUs of the local Ray instance (default: all of this machine)")
    add_ray_flags(p)
    p.set_defaults(func=cmd_explore)


def cmd_explore(args) -> int:
    from ..boards.registry import BOARDS
    from ..outputs import claim_folder
    from .explore import explore

    unknown = [b for b in args.board if b not in BOARDS]
    if unknown:
        raise ValueError(f"unknown board(s) {unknown}; choose from {', '.join(sorted(BOARDS))}")
    if min(args.lanes) < 1 or (args.limit is not None and args.limit < 1):
        raise ValueError("--lanes and --limit take numbers >= 1")
    if args.clock_mhz and min(args.clock_mhz) <= 0:
        raise ValueError("--clock-mhz takes frequencies > 0")
    with claim_folder(args.out, overwrite=args.overwrite, resume=args.resume, resumable=True,
                      inputs=[args.model]) as out:
        if args.overwrite:
            _clear(out)
        rows = explore(args.model, args.board, args.lanes, args.clock_mhz or [None], out, dataset=args.dataset,
                       data_dir=args.data_dir, limit=args.limit, seed=args.seed, resume=args.resume,
                       address=args.address, num_cpus=args.cpus, log=say)
    width = max(len(r["folder"]) for r in rows)
    for r in rows:
        if r["status"] == "built":
            print(f"{r['folder']:<{width}}  {r['luts']:>6} LUTs  {r['ebr']:>3} EBR  Fmax {r['fmax_mhz']:6.1f} MHz  "
                  f"{r['latency_us_mean']:9.2f} us/image")
        else:
            print(f"{r['folder']:<{width}}  {r['status']}: {r['reason']}")
    print(f"table {out / 'explore.csv'}, plot {out / 'pareto.png'}")
    return 1 if any(r["status"] == "failed" for r in rows) else 0


def _clear(out) -> None:
    """``explore --overwrite``: the earlier exploration goes first (every entry of the folder)."""
    import shutil

    for entry in out.iterdir():
        if entry.name.startswith(".") and entry.name.endswith(".lock"):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
