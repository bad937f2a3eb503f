# SPDX-License-Identifier: MIT
"""Cycles per image of the RTL core from the analytic cycle model, over a whole data set.

``firstspike.rtl.cycles.predict_cycles`` equals the core's ``cycles`` with ``==`` on every image
simulated on Verilator (tests, ``benchmarks/rtl_sim.py``); this script applies it to every test
image for several lane counts and reports the mean against the accumulate bound
(sum over layers of events x ceil(N / P)).

    PYTHONPATH=. python benchmarks/rtl_cycles.py --model bs4nn-pub.npz --lanes 16 64 600 \
        --dataset mnist --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from firstspike.model import data as datamod  # noqa: E402
from firstspike.model.network import Network  # noqa: E402
from firstspike.rtl.cycles import accumulate_bound, predict_cycles  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True)
    p.add_argument("--lanes", type=int, nargs="+", default=[16, 64, 600])
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--data-dir")
    p.add_argument("--limit", type=int)
    args = p.parse_args()
    net = Network.load(args.model)
    images = datamod.load(args.dataset, "test", data_dir=args.data_dir).images
    if args.limit:
        images = images[: args.limit]
    images = np.asarray(images).reshape(len(images), -1)
    print("| P | images | cycles mean | cycles max | bound mean | cycles / bound | target (2 x bound) |")
    print("|---|---|---|---|---|---|---|")
    for lanes in args.lanes:
        start = time.perf_counter()
        cycles = predict_cycles(net, images, lanes)
        bound = accumulate_bound(net, images, lanes)
        ratio = cycles.mean() / bound.mean()
        print(f"| {lanes} | {len(images)} | {cycles.mean():.1f} | {cycles.max()} | {bound.mean():.1f} | "
              f"{ratio:.2f} | {'met' if ratio <= 2 else 'missed'} |", flush=True)
        print(json.dumps({"P": lanes, "cycles_mean": float(cycles.mean()), "bound_mean": float(bound.mean()),
                          "seconds": round(time.perf_counter() - start, 1)}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
