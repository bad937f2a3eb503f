# SPDX-License-Identifier: MIT
"""Benchmark: events per cycle (``--events-per-cycle K``) of a fully parallel fc core, one table.

For each K: the exact cycle model over the test set (mean and max cycles) and, for every K with a
``firstspike build`` folder given, that build's LUTs, EBR, flip-flops, post-route Fmax and the
latency (cycles / clock; ``cycles - 2`` counts from the first input event, which the encoder
presents two cycles after the last pixel). Example (the BENCHMARKS.md table):

    firstspike build --board ulx3s-25f --model models/bs4nn-mnist.npz --lanes 600 \\
        --events-per-cycle 2 --clock-mhz 40 --dataset mnist --limit 10000 --out B2
    python benchmarks/multi_event.py --model models/bs4nn-mnist.npz --lanes 600 --events 1 2 3 4 8 \\
        --build 2=B2 --dataset mnist --out benchmarks/results/multi_event_bs4nn_mnist_p600.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from firstspike.cache import use_numba_cache

use_numba_cache()  # before any kernel module: a source edit never runs stale kernels

from firstspike.export.plan import build_plan  # noqa: E402
from firstspike.model import data as datamod  # noqa: E402
from firstspike.model.network import Network  # noqa: E402
from firstspike.outputs import atomic_write_json  # noqa: E402
from firstspike.rtl.cycles import predict_cycles  # noqa: E402

FIRST_EVENT_CYCLE = 2  # rtl.cycles.FIRST_TOKEN_CYCLE: the first event after the last pixel


def _build(spec: str) -> tuple[int, dict]:
    events, _, folder = spec.partition("=")
    path = Path(folder) / "report.json"
    if not events.isdigit() or not path.is_file():
        raise SystemExit(f"--build {spec}: expected K=FOLDER with FOLDER/report.json from 'firstspike build'")
    report = json.loads(path.read_text())
    if report.get("events_per_cycle", 1) != int(events):
        raise SystemExit(f"--build {spec}: {path} was built with {report.get('events_per_cycle', 1)} events per cycle")
    return int(events), report


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--lanes", type=int, nargs="+", default=[600])
    p.add_argument("--events", type=int, nargs="+", default=[1, 2, 4, 8])
    p.add_argument("--build", action="append", default=[], metavar="K=FOLDER",
                   help="a 'firstspike build --events-per-cycle K' output folder (repeatable)")
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--data-dir")
    p.add_argument("--limit", type=int)
    p.add_argument("--out", help="JSON file for the results")
    args = p.parse_args()
    builds = dict(_build(s) for s in args.build)  # bad folders fail before the long part

    net = Network.load(args.model)
    plan = build_plan(net, args.lanes)
    images = np.asarray(datamod.load(args.dataset, "test", data_dir=args.data_dir).images)
    images = images.reshape(len(images), -1)[: args.limit]
    rows = []
    print("| K | images | cycles mean | cycles max | LUT | FF | EBR | Fmax MHz | clock MHz | timing | "
          "latency us (from first event) @ clock | @ Fmax | free LUT |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for events in args.events:
        start = time.perf_counter()
        cycles = predict_cycles(plan, images, events=events)
        row = {"events_per_cycle": events, "images": len(images), "cycles_mean": float(cycles.mean()),
               "cycles_max": int(cycles.max()), "model_seconds": round(time.perf_counter() - start, 1)}
        from_event = float(cycles.mean()) - FIRST_EVENT_CYCLE
        b = builds.get(events)
        if b is not None:
            row["build"] = {k: b[k] for k in ("board", "clock_mhz", "luts", "ffs", "ebr", "fmax_mhz", "timing_met",
                                              "build_seconds", "tools")}
            row["build"]["device_luts"] = b["device"]["luts"]
            row["build"]["device_ebr"] = b["device"]["ebr"]
            row["latency_us_from_first_event"] = from_event / b["clock_mhz"]
            row["latency_us_from_first_event_at_fmax"] = from_event / b["fmax_mhz"]
            row["free_luts"] = 1 - b["luts"] / b["device"]["luts"]
            print(f"| {events} | {len(images)} | {cycles.mean():.1f} | {cycles.max()} | {b['luts']} | {b['ffs']} | "
                  f"{b['ebr']} | {b['fmax_mhz']:.1f} | {b['clock_mhz']:.1f} | {'met' if b['timing_met'] else 'MISSED'} | "
                  f"{row['latency_us_from_first_event']:.2f} | {row['latency_us_from_first_event_at_fmax']:.2f} | "
                  f"{row['free_luts']:.0%} |", flush=True)
        else:
            print(f"| {events} | {len(images)} | {cycles.mean():.1f} | {cycles.max()} | | | | | | | "
                  f"{from_event / 40:.2f} at 40 MHz | | |", flush=True)
        rows.append(row)
    if args.out:
        atomic_write_json(args.out, {"model": args.model, "arch": plan.arch, "lanes": plan.lanes,
                                     "dataset": args.dataset, "kind": "cycle model + builds",
                                     "machine": f"{platform.machine()}, {platform.python_version()}, 2 cores",
                                     "results": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
