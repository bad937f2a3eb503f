# SPDX-License-Identifier: MIT
"""Retrain a shipped model from its recipe and compare the result with the committed file, with ``==``.

    python benchmarks/reproduce_model.py mnist-784-32-10 --data-dir DATA [--out runs/repro]

Runs ``firstspike train --config recipes/NAME.toml`` (stages and the ``[calibrate]`` table
included) and compares the network it ends with (``calibrated.npz`` when the recipe calibrates,
else ``model.npz``) with ``models/NAME.npz``: architecture, every kernel weight and every
threshold. Prints one JSON object; exit code 1 when they differ. Hours for the conv recipes,
minutes for the small FC ones.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="a model in models/ with a recipe in recipes/, e.g. mnist-784-32-10")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--out", help="run folder (default: a temporary one)")
    args = parser.parse_args()
    recipe, shipped = ROOT / "recipes" / f"{args.name}.toml", ROOT / "models" / f"{args.name}.npz"
    if not recipe.is_file() or not shipped.is_file():
        parser.error(f"{args.name}: needs {recipe} and {shipped}")

    from firstspike.cli import main as cli
    from firstspike.model.network import load_model
    from firstspike.model.recipe import read_recipe

    with tempfile.TemporaryDirectory() as scratch:
        out = Path(args.out or Path(scratch) / "run")
        start = time.perf_counter()
        code = cli(["train", "--config", str(recipe), "--data-dir", args.data_dir, "--out", str(out), "--quiet"])
        seconds = time.perf_counter() - start
        if code:
            return code
        calibrates = read_recipe(recipe).calibrate is not None
        mine, theirs = load_model(out / ("calibrated.npz" if calibrates else "model.npz")), load_model(shipped)
        same_kernels = mine.arch == theirs.arch and all(
            a.shape == b.shape and (a == b).all() for a, b in zip(mine.kernels, theirs.kernels))
        result = {"model": args.name, "arch": mine.arch, "kernels_equal": bool(same_kernels),
                  "thresholds_equal": mine.thresholds == theirs.thresholds,
                  "thresholds": mine.thresholds, "seconds": round(seconds, 1)}
    print(json.dumps(result))
    return 0 if result["kernels_equal"] and result["thresholds_equal"] else 1


if __name__ == "__main__":
    from firstspike.cache import use_numba_cache

    use_numba_cache()  # before any kernel module: a source edit never runs stale kernels
    sys.exit(main())
