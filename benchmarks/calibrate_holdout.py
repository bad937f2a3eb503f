# SPDX-License-Identifier: MIT
"""Calibration with a held-out half: is a calibrated model really better, and which one to pick?

    python benchmarks/calibrate_holdout.py --data-dir ../shared/data --out OUT MODEL.npz [MODEL.npz ...]

For each model as trained (a run's ``model.npz``, before ``firstspike calibrate``) runs
``firstspike calibrate --layers all --holdout 0.5`` (the threshold search sees one seeded half of
the model's validation split, the other half only scores it) and prints a Markdown table:
thresholds before/after, the searched half before/after (optimistic after) and the held-out half
before/after (unbiased). Writes OUT/NAME.npz, .png, .json, NAME being the file name without
``.npz`` and a trailing ``-uncalibrated``, or the run folder's name for a ``model.npz``.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path


def _name(model: Path) -> str:
    if model.name == "model.npz":
        return model.parent.name
    return model.name.removesuffix(".npz").removesuffix("-uncalibrated")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", type=Path, help="model files as trained (not yet calibrated)")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--fraction", type=float, default=0.5, help="held-out fraction (default 0.5)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, searched_sizes, held_sizes = [], set(), set()
    for model in args.models:
        name = _name(model)
        command = [sys.executable, "-m", "firstspike.cli", "calibrate", "--model", str(model),
                   "--data-dir", args.data_dir, "--layers", "all", "--holdout", str(args.fraction),
                   "--out", str(out / f"{name}.npz"), "--overwrite", "--plot", str(out / f"{name}.png"), "--json"]
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
