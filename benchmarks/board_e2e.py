# SPDX-License-Identifier: MIT
"""Benchmark: the whole board top (UART pins -> front end -> core -> UART) at the bit level on
Verilator, end to end: images per second with several frames in flight and first-byte-to-reply
latency with one, over MNIST test images, each reply checked against the golden model and the cycle
model, and the end-to-end formula of firstspike.boards.e2e beside the measurement.

    python benchmarks/board_e2e.py --model models/bs4nn-mnist.npz --lanes 600 --clock-mhz 37.5 \
        --baud 3000000 --limit 200 --data-dir ../shared/data --out benchmarks/results/board_e2e.json
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

import numpy as np

from firstspike.cache import use_numba_cache

use_numba_cache()

from firstspike.boards.e2e import link_figures, measured_figures  # noqa: E402
from firstspike.boards.host import Expected, reply_mismatch, request_frames  # noqa: E402
from firstspike.boards.top import InferenceTop, protocol_timing  # noqa: E402
from firstspike.boards.uart import baud_divisor  # noqa: E402
from firstspike.model import data as datamod  # noqa: E402
from firstspike.model.network import Network  # noqa: E402
from firstspike.outputs import atomic_write_json  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--lanes", type=int, default=600)
    p.add_argument("--clock-mhz", type=float, default=37.5, help="board clock (37.5 MHz: ULX3S-25F, P = 600, met)")
    p.add_argument("--baud", type=int, default=3_000_000)
    p.add_argument("--host-error", type=float, default=0.0, help="host UART rate error, e.g. 0.02")
    p.add_argument("--frames", choices=("events", "raw"), default="events")
    p.add_argument("--windows", type=int, nargs="+", default=[4, 1],
                   help="frames in flight per run (1: latency on an idle link)")
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--data-dir")
    p.add_argument("--limit", type=int, default=200)
    p.add_argument("--out", help="JSON file for the results")
    args = p.parse_args()

    from amaranth.back import verilog

    from firstspike.rtl.core import TTFSCore
    from firstspike.sim.link_harness import run_link

    net = Network.load(args.model)
    images = datamod.load(args.dataset, "test", data_dir=args.data_dir).images[:args.limit]
    images = np.asarray(images).reshape(len(images), -1)
    f_clk = args.clock_mhz * 1e6
    frames, event_fed = request_frames(net, images, args.frames)
    expected = Expected(net, images, args.lanes, event_fed)
    timeout, gap = protocol_timing(f_clk)
    start = time.perf_counter()
    top = InferenceTop(TTFSCore.from_network(net, lanes=args.lanes), n_pixels=images.shape[1],
                       divisor=baud_divisor(f_clk, args.baud), timeout=timeout, gap=gap)
    board_v = verilog.convert(top, name="board_top")
    host_baud = args.baud * (1 + args.host_error)
    runs = []
    for window in args.windows:
        t0 = time.perf_counter()
        run = run_link(board_v, frames, f_clk / host_baud, window=window, limit=0,
                       log=lambda m: print(m, file=sys.stderr))
        got = measured_figures(run.frame_starts, run.chars, len(frames), f_clk)
        problems = [m for k, r in enumerate(got["replies"]) if (m := reply_mismatch(expected, k, r, k & 0xFF))]
        formula = link_figures(frames, [r.cycles for r in got["replies"]], event_fed, f_clk, args.baud, host_baud)
        error = np.array(got["latency_cycles"]) - np.array(formula["latency_cycles"])
        row = {"window": window, "images": len(frames), "mismatches": len(problems),
               "first_mismatch": problems[0] if problems else None,
               "images_per_s": got["images_per_s"], "latency_us_mean": got["latency_us_mean"],
               "latency_us_max": got["latency_us_max"],
               "formula_images_per_s": formula["images_per_s"], "formula_latency_us_mean": formula["latency_us_mean"],
               "formula_latency_error_cycles_max": float(np.abs(error).max()),
               "core_cycles_mean": float(np.mean([r.cycles for r in got["replies"]])),
               "sim_seconds": run.seconds, "wall_seconds": time.perf_counter() - t0}
        print(f"window {window}: {row['images_per_s']:.0f} images/s (formula {row['formula_images_per_s']:.0f}), "
              f"latency mean {row['latency_us_mean']:.1f} us max {row['latency_us_max']:.1f} us "
              f"(formula mean {row['formula_latency_us_mean']:.1f}, worst error "
              f"{row['formula_latency_error_cycles_max']:.1f} cycles), {row['mismatches']} mismatches",
              flush=True)
        runs.append(row)
        if args.out:  # after every run, so a long second run can be stopped
            atomic_write_json(args.out, summary(args, net, event_fed, frames, runs, start))
    if args.out:
        atomic_write_json(args.out, summary(args, net, event_fed, frames, runs, start))
    return 1 if any(r["mismatches"] for r in runs) else 0


def summary(args, net, event_fed, frames, runs, start) -> dict:
    return {"model": args.model, "arch": "-".join(map(str, net.sizes)), "lanes": args.lanes,
            "clock_mhz": args.clock_mhz, "baud": args.baud, "host_error": args.host_error,
            "frames": args.frames, "event_frames": int(event_fed.sum()),
            "request_bytes_mean": float(np.mean([len(f) for f in frames])),
            "dataset": args.dataset, "runs": runs, "seconds": time.perf_counter() - start,
            "machine": f"{platform.machine()}, {platform.python_version()}"}


if __name__ == "__main__":
    sys.exit(main())
