# SPDX-License-Identifier: MIT
"""Calibration with a held-out half: is a calibrated model really better, and which one to pick?

    python benchmarks/calibrate_holdout.py --data-dir ../shared/data --out OUT [NAME ...]

For each ``models/NAME-uncalibrated.npz`` (default: the fc600-topped MNIST conv nets of session 16
onwards) runs ``firstspike calibrate --layers all --holdout 0.5`` (the threshold search sees one
seeded half of the model's validation split, the other half only scores it) and prints a Markdown
table: thresholds before/after, the searched half before/after (optimistic after) and the held-out
half before/after (unbiased). Writes OUT/NAME.npz, .png, .json.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ["conv-mnist-wf600", "conv-mnist-wf600-s1", "conv-mnist-wf600-e60", "conv-mnist-wf600-s1-e60",
           "conv-mnist-wf600-s2", "conv-mnist-wk1000", "conv-mnist-wf600-shift", "conv-mnist-wf600-shift-e60",
           "conv-mnist-wf600-shift-s1"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="model names (models/NAME-uncalibrated.npz)")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--fraction", type=float, default=0.5, help="held-out fraction (default 0.5)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, searched_sizes, held_sizes = [], set(), set()
    for name in args.names or DEFAULT:
        model = ROOT / "models" / f"{name}-uncalibrated.npz"
        command = [sys.executable, "-m", "firstspike.cli", "calibrate", "--model", str(model),
                   "--data-dir", args.data_dir, "--layers", "all", "--holdout", str(args.fraction),
                   "--out", str(out / f"{name}.npz"), "--plot", str(out / f"{name}.png"), "--json"]
        print("$", " ".join(command), file=sys.stderr, flush=True)
        summary = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
        (out / f"{name}.json").write_text(json.dumps(summary, indent=1))
        held = summary["holdout"]
        searched_sizes.add(summary["images"])
        held_sizes.add(held["images"])
        rows.append(f"| {name} | {_list(summary['thresholds_before'])} -> {_list(summary['thresholds_after'])} "
                    f"| {_pct(summary['validation_before'])} -> {_pct(summary['validation_after'])} "
                    f"| {_pct(held['before'])} -> {_pct(held['after'])} "
                    f"| {_pct(held['after'] - held['before'], sign=True)} |")
    print(f"| model | thresholds | searched half ({_list(sorted(searched_sizes))} images) % | held-out half "
          f"({_list(sorted(held_sizes))} images) % | held-out gain |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))


def _list(values):
    return ", ".join(str(v) for v in values)


def _pct(value, sign=False):
    return f"{value * 100:+.2f}" if sign else f"{value * 100:.2f}"


if __name__ == "__main__":
    main()
