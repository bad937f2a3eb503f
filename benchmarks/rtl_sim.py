# SPDX-License-Identifier: MIT
"""Benchmark: the RTL core on Verilator over a data set, for several lane counts.

For each P: bit-exactness against the golden model (every spike, decision, cycle count), mean
cycles per image against the accumulate bound (``firstspike.rtl.cycles.accumulate_bound``: fc
layers events x ceil(N/P), conv layers (row, block) pairs per event x ceil(C_out/P); formula in
BENCHMARKS.md), and the simulation speed. Example (the BENCHMARKS.md numbers):

    python benchmarks/rtl_sim.py --model bs4nn-pub.npz --lanes 16 64 600 \
        --dataset mnist --data-dir ../shared/data --out benchmarks/results/rtl_bs4nn_pub.json

``--cycle-model-only`` skips Verilator and applies ``firstspike.rtl.cycles.predict_cycles``
(equal to the core's ``cycles`` on every simulated image) to every image instead. ``--events K ...``
runs each P at each count of events per cycle (fully parallel layers only, ``--events-per-cycle``).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time

import numpy as np

from firstspike.cache import use_numba_cache

use_numba_cache()  # before any kernel module: a source edit never runs stale kernels

from firstspike.model import data as datamod  # noqa: E402
from firstspike.export.plan import build_plan  # noqa: E402
from firstspike.outputs import atomic_write_json  # noqa: E402
from firstspike.model.network import Network  # noqa: E402
from firstspike.sim.cli import simulate_dataset  # noqa: E402


def cycle_model_table(net, images, lanes_list, taps: int = 1, events_list=(1,)) -> list[dict]:
    """Cycles (exact model) against the accumulate bound, per lane count; conv-engine plans are
    held to the issue-29 target (1.2 x bound), fc plans to 2 x bound; ``events_list``: the K of
    multi-event cores (the bound is the one-event-per-cycle one)."""
    from firstspike.rtl.cycles import layer_accumulate_bounds, predict_cycles
    from firstspike.rtl.params import uses_conv_engine

    rows = []
    print("| P | taps | K | images | cycles mean | cycles max | bound mean (per layer) | cycles / bound "
          "| bound to the decision (per layer) | cycles / that | per image: median, max | target |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for lanes, events in ((lanes, events) for lanes in lanes_list for events in events_list):
        plan = build_plan(net, lanes)
        start = time.perf_counter()
        cycles = predict_cycles(plan, images, taps, events=events)
        layers = layer_accumulate_bounds(plan, images, taps)
        bound = layers.sum(axis=1)
        layers_needed = layer_accumulate_bounds(plan, images, taps, to_decision=True)
        needed = layers_needed.sum(axis=1)
        ratio = cycles.mean() / bound.mean()
        ratio_needed = cycles.mean() / needed.mean()
        per_image = cycles / np.maximum(needed, 1)
        limit = 1.2 if any(uses_conv_engine(layer) for layer in plan.layers) else 2.0
        row = {"P": plan.lanes, "taps": taps, "events_per_cycle": events, "images": len(images), "cycles_mean": float(cycles.mean()),
               "cycles_max": int(cycles.max()), "bound_mean": float(bound.mean()),
               "bound_mean_per_layer": [float(b) for b in layers.mean(axis=0)],
               "cycles_over_bound": float(ratio), "bound_to_decision_mean": float(needed.mean()),
               "bound_to_decision_per_layer": [float(b) for b in layers_needed.mean(axis=0)],
               "cycles_over_bound_to_decision": float(ratio_needed),
               "per_image_ratio_median": float(np.median(per_image)),
               "per_image_ratio_max": float(per_image.max()), "target": limit,
               "seconds": round(time.perf_counter() - start, 1)}
        rows.append(row)
        split = " + ".join(f"{b:.0f}" for b in row["bound_mean_per_layer"])
        split_needed = " + ".join(f"{b:.0f}" for b in row["bound_to_decision_per_layer"])
        print(f"| {lanes} | {taps} | {events} | {len(images)} | {cycles.mean():.1f} | {cycles.max()} | "
              f"{bound.mean():.1f} ({split}) | {ratio:.3f} | {needed.mean():.1f} ({split_needed}) | {ratio_needed:.3f} | "
              f"{row['per_image_ratio_median']:.3f}, {row['per_image_ratio_max']:.3f} "
              f"| {'met' if ratio_needed <= limit else 'missed'} ({limit} x) |", flush=True)
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--lanes", type=int, nargs="+", default=[16, 64, 600])
    p.add_argument("--events", type=int, nargs="+", default=[1],
                   help="events per cycle of the fully parallel layers (each P runs at each K)")
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--data-dir")
    p.add_argument("--limit", type=int)
    p.add_argument("--skip", type=int, default=0, help="start at this test image (split a long run)")
    p.add_argument("--taps", type=int, default=1, help="output positions per cycle of each conv layer")
    p.add_argument("--gaps", type=float, default=0.0)
    p.add_argument("--backpressure", type=float, default=0.0)
    p.add_argument("--out", help="JSON file for the results")
    p.add_argument("--cycle-model-only", action="store_true", help="no Verilator: cycle model only")
    p.add_argument("--netlist", choices=("ice40", "ecp5"),
                   help="simulate the gate-level netlist synthesized for this family instead of the RTL")
    p.add_argument("--synth-opts", default="", help="with --netlist: extra options for synth_<family>")
    args = p.parse_args()

    net = Network.load(args.model)
    ds = datamod.load(args.dataset, "test", data_dir=args.data_dir)
    images, labels = ds.images[args.skip:], ds.labels[args.skip:]
    if args.limit:
        images, labels = images[: args.limit], labels[: args.limit]
    images = np.asarray(images).reshape(len(images), -1)
    machine = f"{platform.machine()}, {platform.python_version()}, 2 cores"
    if args.cycle_model_only:
        table = cycle_model_table(net, images, args.lanes, args.taps, args.events)
        if args.out:
            atomic_write_json(args.out, {"model": args.model, "dataset": args.dataset,
                                         "cycle_model_only": True, "results": table})
        return 0
    rows = []
    for lanes, events in ((lanes, events) for lanes in args.lanes for events in args.events):
        start = time.perf_counter()
        s = simulate_dataset(build_plan(net, lanes), images, gaps=args.gaps, backpressure=args.backpressure,
                             taps=args.taps,
                             log=lambda m: print(m, file=sys.stderr), netlist=args.netlist,
                             synth_opts=args.synth_opts, events=events)
        classes = np.array(s.pop("classes"))
        s["accuracy_hardware"] = float((classes == labels).mean())
        s["wall_seconds"] = round(time.perf_counter() - start, 1)
        s["P"] = lanes
        rows.append(s)
        print(json.dumps(s), flush=True)
    print("\n| P | K | images | mismatches | cycles mean | cycles max | bound mean | ratio | bound to decision | ratio "
          "| sim s | images/s | build s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s in rows:
        print(f"| {s['P']} | {s['events_per_cycle']} | {s['images']} | {s['mismatches']} | {s['cycles_mean']:.1f} | {s['cycles_max']} | "
              f"{s['bound_mean']:.1f} | {s['cycles_over_bound']:.3f} | {s['bound_to_decision_mean']:.1f} | "
              f"{s['cycles_over_bound_to_decision']:.3f} | {s['sim_seconds']:.0f} | "
              f"{s['images_per_second']:.0f} | {s['build_seconds']:.0f} |")
    if args.out:
        atomic_write_json(args.out, {"model": args.model, "dataset": args.dataset, "skip": args.skip,
                                     "machine": machine,
                                     "results": rows})
    return 0 if all(s["mismatches"] == 0 for s in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
