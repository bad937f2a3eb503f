# SPDX-License-Identifier: MIT
"""``firstspike sim``: images through the core on Verilator, compared with the golden model."""

from __future__ import annotations

import contextlib
import json
import time

import numpy as np


def register(sub) -> None:
    from ..model import data as datamod
    from ..raycluster import add_ray_flags
    from ..rtl.cli import add_core_source

    p = sub.add_parser("sim", help="simulate the RTL core on Verilator and compare with the golden model")
    add_core_source(p)
    p.add_argument("--dataset", default="mnist", choices=datamod.DATASETS)
    p.add_argument("--split", default="test", choices=("train", "test"))
    p.add_argument("--data-dir", help="folder holding mnist/ and fashion-mnist/ IDX files")
    p.add_argument("--limit", type=int, help="only the first N images")
    p.add_argument("--gaps", type=float, default=0.0, help="probability the pixel source idles in a cycle")
    p.add_argument("--backpressure", type=float, default=0.0,
                   help="probability the result/spike consumers hold ready low in a cycle")
    p.add_argument("--seed", type=int, default=1, help="seed of the idle/back-pressure pattern")
    p.add_argument("--waves", action="store_true", help="write a VCD of the run (keep --limit small)")
    p.add_argument("--work-dir", help="folder for the image file, records, log and waves")
    p.add_argument("--overwrite", action="store_true", help="use a --work-dir that is not empty")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--counters", choices=("auto", "adder", "cells"), default="auto",
                   help="fully parallel layers: 'cells' simulates the ECP5 carry-cell counters an ECP5 "
                        "build uses (through their model), 'adder' plain adders; 'auto' = adder here")
    p.add_argument("--netlist", metavar="ice40|ecp5|BUILD_DIR",
                   help="simulate at gate level with yosys's cell models instead of the RTL: the core as "
                        "yosys synthesizes it for this FPGA family (after the ECP5 carry pass), or the "
                        "whole board top of a 'firstspike build' folder (frames in and replies out on its "
                        "UART pins; class, step and cycles compared, no spikes)")
    p.add_argument("--synth-opts", default="", help="with --netlist: extra options for yosys synth_<family>")
    add_ray_flags(p, workers=True)
    p.set_defaults(func=cmd_sim)


def simulate_dataset(plan, images, *, gaps=0.0, backpressure=0.0, seed=1, waves=False,
                     work_dir=None, log=None, counter_style="auto", golden=None, taps: int = 1,
                     events: int = 1, netlist: str | None = None, synth_opts: str = "", workers: int = 1,
                     address: str | None = None) -> dict:
    """Run ``images`` on Verilator through the core of ``plan`` (through its gate-level netlist for
    the FPGA family ``netlist`` when given), compare with ``golden`` (default: the network of the
    plan's ROMs), and summarise (the ``firstspike sim`` numbers). ``workers`` > 1 shards the images
    over Ray workers (:mod:`.parallel`; on the cluster at ``address`` when given)."""
    if workers < 1:
        raise ValueError(f"--workers {workers}: give 1 or more")
    if workers > 1 and waves:
        raise ValueError("--waves writes one VCD of one run; leave out --waves or use --workers 1")
    from ..rtl.cycles import layer_accumulate_bounds
    from ..rtl.params import CoreParams
    from .check import compare
    from .verilator import CORE_NAME, GateNetlist, build, run_images

    params = CoreParams(plan, counter_style, taps, events)
    gate_level, synth_seconds = None, None
    if netlist is not None:
        from .netlist import cell_models, synthesize

        models = cell_models(netlist)  # an unknown family or a missing yosys fails here, first
        start = time.perf_counter()
        text = synthesize(params, netlist, CORE_NAME, synth_opts=synth_opts, log=log)
        gate_level = GateNetlist(netlist, text, models)
        synth_seconds = round(time.perf_counter() - start, 1)
    start = time.perf_counter()
    build(params, waves=waves, log=log, netlist=gate_level)
    build_seconds = time.perf_counter() - start
    if workers > 1:
        from .parallel import run_images_sharded

        result = run_images_sharded(params, images, workers, address=address, gaps=gaps,
                                    backpressure=backpressure, seed=seed, work_dir=work_dir, log=log,
                                    netlist=gate_level)
    else:
        result = run_images(params, images, gaps=gaps, backpressure=backpressure, seed=seed,
                            waves=waves, work_dir=work_dir, log=log, netlist=gate_level)
    cmp = compare(plan, images, result.images, seed=seed, golden=golden, taps=taps, events=events)
    bound = layer_accumulate_bounds(plan, images, taps).sum(axis=1)
    needed = layer_accumulate_bounds(plan, images, taps, to_decision=True).sum(axis=1)
    return {
        "arch": plan.arch, "lanes": plan.lanes, "counters": counter_style, "taps": taps, "events_per_cycle": events,
        "netlist": netlist or "rtl", "synth_seconds": synth_seconds, "images": cmp.images,
        "mismatches": len(cmp.mismatched), "first_mismatch": cmp.first_mismatch,
        "cycles_mean": float(cmp.cycles.mean()), "cycles_max": int(cmp.cycles.max()),
        "cycles_min": int(cmp.cycles.min()),
        "cycle_model_equal": bool((cmp.cycles == cmp.predicted_cycles).all()),
        "bound_mean": float(bound.mean()), "cycles_over_bound": float(cmp.cycles.mean() / bound.mean()),
        "bound_to_decision_mean": float(needed.mean()),
        "cycles_over_bound_to_decision": float(cmp.cycles.mean() / max(needed.mean(), 1)),
        "sim_seconds": round(result.seconds, 2), "images_per_second": round(cmp.images / result.seconds, 1),
        "build_seconds": round(build_seconds, 1), "waves": str(result.waves) if result.waves else None,
        "workers": workers, "classes": [im.cls for im in result.images],
    }


def _sim_build_folder(args, source, plan, images, labels, taps, log) -> int:
    """``--netlist BUILD_DIR``: the build's synthesized board top, frame by frame over its UART."""
    summary = args.simulate_build_folder(args.netlist, plan, images, golden=source.golden, taps=taps, log=log)
    return _report(args, source, summary, labels, f"board top of {args.netlist} at gate level")


def _check_build_folder_args(args) -> None:
    from pathlib import Path

    if not Path(args.netlist).is_dir():
        raise ValueError(f"--netlist {args.netlist}: give ice40, ecp5 or a 'firstspike build' folder")
    if args.gaps or args.backpressure or args.waves or args.work_dir or args.counters != "auto":
        raise ValueError("--netlist BUILD_DIR simulates the board top as built: --gaps, --backpressure, "
                         "--waves, --work-dir and --counters do not apply; leave them out")


def cmd_sim(args) -> int:
    from ..model import data as datamod
    from ..outputs import claim_folder
    from ..rtl.cli import core_events, core_taps, resolve_core_source

    if args.netlist and args.netlist not in ("ice40", "ecp5"):
        _check_build_folder_args(args)  # before the model and the data set are read
    source = resolve_core_source(args)
    plan = source.plan
    taps = core_taps(args, plan)
    events = core_events(args, plan)
    if not args.json:
        print(source.truth)
    ds = datamod.load(args.dataset, args.split, data_dir=args.data_dir)
    images, labels = ds.images, ds.labels
    if args.limit:
        images, labels = images[: args.limit], labels[: args.limit]
    images = np.asarray(images).reshape(len(images), -1)
    if images.shape[1] != plan.sizes[0]:
        raise ValueError(f"the network takes {plan.sizes[0]} inputs, {args.dataset} images have "
                         f"{images.shape[1]}")
    log = None if args.json else print
    if args.netlist and args.netlist not in ("ice40", "ecp5"):
        return _sim_build_folder(args, source, plan, images, labels, taps, log)
    work = (claim_folder(args.work_dir, overwrite=args.overwrite, flag="--work-dir") if args.work_dir
            else contextlib.nullcontext())
    with work:
        summary = simulate_dataset(plan, images, gaps=args.gaps, backpressure=args.backpressure,
                                   seed=args.seed, waves=args.waves, work_dir=args.work_dir, log=log,
                                   counter_style=args.counters, golden=source.golden, taps=taps, events=events,
                                   netlist=args.netlist, synth_opts=args.synth_opts,
                                   workers=args.workers, address=args.address)
    level = f"gate-level {args.netlist} netlist" if args.netlist else "RTL"
    return _report(args, source, summary, labels, level)


def _report(args, source, summary, labels, level) -> int:
    classes = np.array(summary.pop("classes"))
    summary["accuracy_hardware"] = float((classes == np.asarray(labels)).mean())
    summary["dataset"] = args.dataset
    summary["golden_model"] = source.truth
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"{summary['arch']} lanes {summary['lanes']} ({level}) on {args.dataset} {args.split}: "
              f"{summary['images']} images, {summary['mismatches']} mismatches")
        if summary["first_mismatch"]:
            print(f"  first mismatch: {summary['first_mismatch']}")
        print(f"  cycles per image: mean {summary['cycles_mean']:.1f}, max {summary['cycles_max']} "
              f"(accumulate bound {summary['bound_mean']:.1f}, ratio {summary['cycles_over_bound']:.2f})")
        print(f"  accuracy (hardware rule): {summary['accuracy_hardware'] * 100:.2f} %")
        print(f"  simulation: {summary['sim_seconds']:.1f} s, {summary['images_per_second']:.2f} images/s")
        if summary["waves"]:
            print(f"  waves: {summary['waves']}")
    return 0 if summary["mismatches"] == 0 else 1
