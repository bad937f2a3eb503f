# SPDX-License-Identifier: MIT
"""Benchmark: what Ray buys on this machine, side by side with the serial runs.

1. ``sim --workers 2`` against one process: the RTL core on Verilator over the first ``--images``
   MNIST test images (the Verilator model is built first, outside both timings); the two results must
   be equal (classes, cycles, mismatches).
2. A 4-trial grid sweep (a small recipe on mnist-mini) on a local 2-CPU Ray instance against the same
   four trainings one after another in this process (numba kernels compiled before both timings).

    nice -n 10 python benchmarks/ray_speedup.py --model models/mnist-784-32-10.npz --lanes 8 \\
        --data-dir ../shared/data --images 1000 [--sweep-epochs 3] --out benchmarks/results/ray_speedup.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from firstspike.cache import use_numba_cache

use_numba_cache()  # before any kernel module

from firstspike.export.plan import build_plan  # noqa: E402
from firstspike.model import data as datamod  # noqa: E402
from firstspike.model.network import load_model  # noqa: E402
from firstspike.outputs import atomic_write_json  # noqa: E402

RECIPE = """algorithm = "bs4nn"\narch = "784-32-10"\ndataset = "mnist-mini"\nepochs = {epochs}\nseed = 0
val_size = 300\neta = [0.5, 0.1]\nalpha_init = [2.5, 5.0]\n"""
SWEEP = """recipe = "recipe.toml"\nsearch = "grid"\n[params]\nseed = [0, 1]\neta_alpha = [0.001, 0.01]\n"""


def bench_sim(model, lanes, images, data_dir) -> dict:
    from firstspike.sim.cli import simulate_dataset
    from firstspike.sim.verilator import build
    from firstspike.rtl.params import CoreParams

    plan = build_plan(load_model(model), lanes)
    pixels = datamod.load("mnist", "test", data_dir=data_dir).images[:images].reshape(images, -1)
    build(CoreParams(plan))  # the model once, outside the timings
    runs = {}
    for workers in (1, 2):
        start = time.perf_counter()
        summary = simulate_dataset(plan, pixels, workers=workers)
        runs[workers] = {"wall_seconds": round(time.perf_counter() - start, 2), "sim_seconds": summary["sim_seconds"],
                         "mismatches": summary["mismatches"], "classes": summary.pop("classes"),
                         "cycles_mean": summary["cycles_mean"]}
    equal = runs[1]["classes"] == runs[2]["classes"] and runs[1]["cycles_mean"] == runs[2]["cycles_mean"]
    for r in runs.values():
        del r["classes"]
    return {"model": str(model), "lanes": lanes, "images": images, "serial": runs[1], "workers_2": runs[2],
            "equal": equal, "speedup_sim": round(runs[1]["sim_seconds"] / runs[2]["sim_seconds"], 2),
            "speedup_wall": round(runs[1]["wall_seconds"] / runs[2]["wall_seconds"], 2)}


def bench_sweep(folder: Path, epochs: int) -> dict:
    from firstspike.orchestration.sweep import run_sweep
    from firstspike.orchestration.sweep_file import read_sweep
    from firstspike.orchestration.trial import train_trial

    (folder / "recipe.toml").write_text(RECIPE.format(epochs=epochs))
    (folder / "sweep.toml").write_text(SWEEP)
    sweep = read_sweep(folder / "sweep.toml")
    train_trial(sweep.recipe, sweep.overrides(sweep.planned()[0]), folder / "warm")  # compile the kernels
    start = time.perf_counter()
    for k, chosen in enumerate(sweep.planned()):
        train_trial(sweep.recipe, sweep.overrides(chosen), folder / f"serial{k}")
    serial = time.perf_counter() - start
    start = time.perf_counter()
    summary = run_sweep(sweep, folder / "sweep", num_cpus=2, log=lambda m: None)
    parallel = time.perf_counter() - start
    return {"trials": summary["trials"], "serial_seconds": round(serial, 2), "ray_seconds": round(parallel, 2),
            "epochs_per_trial": epochs, "speedup": round(serial / parallel, 2), "note": "ray_seconds includes starting the local Ray instance"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models/mnist-784-32-10.npz")
    parser.add_argument("--lanes", type=int, default=8)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--out", default="benchmarks/results/ray_speedup.json")
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument("--sweep-epochs", type=int, default=3,
                        help="epochs per trial: more epochs, longer trials, Ray's start-up cost amortised")
    args = parser.parse_args()
    result = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
              "sim": bench_sim(args.model, args.lanes, args.images, args.data_dir)}
    print(json.dumps(result["sim"]))
    if not args.skip_sweep:
        with tempfile.TemporaryDirectory() as tmp:
            result["sweep"] = bench_sweep(Path(tmp), args.sweep_epochs)
        print(json.dumps(result["sweep"]))
    atomic_write_json(args.out, result)
    print(f"sim --workers 2: {result['sim']['speedup_sim']}x (simulation), {result['sim']['speedup_wall']}x (wall)"
          + (f"; sweep: {result['sweep']['speedup']}x" if "sweep" in result else "") + f"; wrote {args.out}")


if __name__ == "__main__":
    main()
