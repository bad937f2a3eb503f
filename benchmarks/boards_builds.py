# SPDX-License-Identifier: MIT
"""Bitstream builds for the BENCHMARKS.md board table (not a test; minutes per build).

    nice -n 10 python benchmarks/boards_builds.py --model /tmp/bs4nn-pub.npz \\
        --board ulx3s-25f --lanes 16 64 --clock-mhz 50 --out bench-out/boards

For every (board, lanes, clock) it runs ``firstspike build`` (conv models at ``--taps``) and
appends one row (measured resources, Fmax, latency, and the fit model's estimate beside them) to
``OUT/results.jsonl``; ``--table`` prints all rows as the markdown table BENCHMARKS.md quotes;
``--from-report DIR`` appends the row of a build made by ``firstspike build --out DIR`` instead.
"""

import argparse
import json
import sys
import time
from pathlib import Path

from firstspike.cache import use_numba_cache

use_numba_cache()  # before any kernel module: a source edit never runs stale kernels

from firstspike.boards.build import build  # noqa: E402
from firstspike.export.plan import build_plan  # noqa: E402
from firstspike.model.network import load_model  # noqa: E402


def row(report: dict) -> dict:
    keys = ("board", "arch", "lanes", "taps", "clock_mhz", "synth_opts", "luts", "ffs", "ebr", "dsp", "fmax_mhz",
            "timing_met", "cycles_mean", "latency_us_mean", "latency_us_mean_at_fmax", "images_per_s", "build_seconds")
    out = {k: report.get(k) for k in keys}
    out["device_luts"], out["device_ebr"] = report["device"]["luts"], report["device"]["ebr"]
    out["est_luts"], out["est_ebr"] = report["estimate"]["luts"], report["estimate"]["ebr"]
    out["tools"] = report["tools"]
    return out


def table(rows: list[dict]) -> str:
    lines = ["| board | net | P | taps | clock MHz | LUT (est.) | FF | EBR (est.) | Fmax MHz | cycles/img | "
             "latency µs @clock | free LUT | build s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['board']} | {r['arch']} | {r['lanes']} | {r.get('taps') or 1} | {r['clock_mhz']:.1f} | "
            f"{r['luts']} ({r['est_luts']}) | "
            f"{r['ffs']} | {r['ebr']} ({r['est_ebr']}) | {r['fmax_mhz']:.1f}{'' if r['timing_met'] else ' FAIL'} | "
            f"{r['cycles_mean']:.0f} | {r['latency_us_mean']:.2f} | "
            f"{100 * (1 - r['luts'] / r['device_luts']):.0f} % | {r['build_seconds']:.0f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model")
    p.add_argument("--board", nargs="+", default=["ulx3s-25f"])
    p.add_argument("--lanes", type=int, nargs="+", default=[16])
    p.add_argument("--taps", type=int, default=1, help="output positions per cycle of each conv layer")
    p.add_argument("--clock-mhz", type=float, nargs="+", default=[None])
    p.add_argument("--dataset", default="mnist-mini")
    p.add_argument("--data-dir")
    p.add_argument("--limit", type=int, default=500)
    p.add_argument("--out", default="bench-out/boards")
    p.add_argument("--force", action="store_true", help="build even when the fit check refuses")
    p.add_argument("--synth-opts", default="")
    p.add_argument("--table", action="store_true", help="only print the table of OUT/results.jsonl")
    p.add_argument("--from-report", metavar="DIR",
                   help="append the row of the build in DIR (its report.json) and build nothing")
    args = p.parse_args(argv)
    out = Path(args.out)
    results = out / "results.jsonl"
    if args.table:
        rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()]
        print(table(rows))
        return 0
    out.mkdir(parents=True, exist_ok=True)
    if args.from_report:
        r = row(json.loads((Path(args.from_report) / "report.json").read_text()))
        with results.open("a") as f:
            f.write(json.dumps(r) + "\n")
        print(json.dumps(r))
        return 0
    for board in args.board:
        for lanes in args.lanes:
            for clock in args.clock_mhz:
                name = (f"{board}-p{lanes}-q{args.taps}-{clock or 'default'}"
                        f"{args.synth_opts.replace(' ', '')}")
                start = time.perf_counter()
                try:
                    plan = build_plan(load_model(args.model), lanes)
                    report = build(board, plan, out / name, source=args.model, clock_mhz=clock,
                                   dataset=args.dataset, data_dir=args.data_dir, limit=args.limit,
                                   force=args.force, synth_opts=args.synth_opts, taps=args.taps,
                                   log=lambda m: print(m, flush=True))
                except (ValueError, RuntimeError) as error:
                    print(f"{name}: {error}", file=sys.stderr, flush=True)
                    continue
                r = row(report)
                with results.open("a") as f:
                    f.write(json.dumps(r) + "\n")
                print(f"{name}: {json.dumps(r)} ({time.perf_counter() - start:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
