# SPDX-License-Identifier: MIT
"""Training speed, old code against new, side by side in one run, and proof the results are the same.

    nice -n 10 python benchmarks/train_speed.py --data-dir DATA [--base 7d8c6e0] [--conv-old-images 2000]

For the conv recipe (``recipes/conv-mnist.toml``) and the Adam FC recipe (``recipes/bs4nn-mnist.toml``)
it trains one epoch (the recipe's first: learning-rate factor 1) with the package of commit
``--base`` (extracted by ``git archive`` into a temporary folder) and with this checkout, each in its
own process after a compiling warm-up (a 200-image run, thrown away), and compares every trained
array (latent weights, their average, scales, Adam moments) and the exported model with ``==``.

The conv epoch of the old code is measured on ``--conv-old-images`` images (it takes about 15 ms an
image) and extrapolated per image to the 55,000 images of a full epoch; the new code trains the same
images (the models must be equal) and then the full 55,000 (``--conv-new-images``). The FC epoch is
the full 55,000 images for both. Writes ``benchmarks/results/train_speed.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = "7d8c6e0"  # the last commit before the parallel batch kernels and the fused Adam step
FULL_EPOCH = 55000  # 60,000 MNIST training images less the 5,000 of the validation split


def worker(args) -> None:
    """Child process: warm up, time one epoch, save the trained arrays; prints one JSON line."""
    import numpy as np

    from firstspike.cache import use_numba_cache

    use_numba_cache()
    np.seterr(all="ignore")
    from firstspike.model.recipe import read_recipe
    from firstspike.model.trainer import Trainer

    recipe = read_recipe(args.recipe)
    limit = {} if args.images == FULL_EPOCH else {"train_limit": args.images + 500, "val_size": 500}
    quiet = dict(data_dir=args.data_dir, progress=False, log=lambda m: None)
    with tempfile.TemporaryDirectory() as scratch:
        warm = Trainer(recipe.config({"train_limit": 300, "val_size": 60}), scratch, **quiet)
        warm.cfg.chunk = 100
        warm.train_epoch(1)  # compiles every kernel the timed run calls
        trainer = Trainer(recipe.config(limit), scratch, **quiet)
        assert len(trainer.y_train) == args.images, (len(trainer.y_train), args.images)
        start = time.perf_counter()
        stats = trainer.train_epoch(1)
        seconds = time.perf_counter() - start
    trainer.epoch = 1
    arrays = {f"w{i}": w for i, w in enumerate(trainer.weights)}
    arrays.update({f"ema{i}": a for i, a in enumerate(trainer.averages or [])})
    arrays.update({f"adam_m{i}": m for i, m in enumerate(trainer.adam_m)})
    arrays.update({f"adam_v{i}": v for i, v in enumerate(trainer.adam_v)})
    net = trainer.network()
    arrays.update({f"kernel{i}": k for i, k in enumerate(net.kernels)})
    arrays.update(alphas=trainer.alphas, thresholds=np.array(net.thresholds))
    np.savez(args.save, **arrays)
    import firstspike

    print(json.dumps({"package": str(Path(firstspike.__file__).parent), "seconds": seconds, "images": args.images, "running_accuracy": stats["train_accuracy_running"],
                      "adam_steps": trainer.adam_steps}))


def run_worker(tree: Path, recipe: str, images: int, save: Path, data_dir: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--recipe", str(ROOT / recipe), "--images", str(images),
           "--save", str(save), "--data-dir", data_dir]
    done = subprocess.run(cmd, env=env, cwd=tree, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"the worker failed ({tree}, {recipe}, {images} images):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def identical(a: Path, b: Path) -> bool:
    import numpy as np

    with np.load(a) as x, np.load(b) as y:
        return sorted(x.files) == sorted(y.files) and all(
            x[k].dtype == y[k].dtype and x[k].shape == y[k].shape and (x[k] == y[k]).all() for k in x.files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="folder with mnist/ (standard IDX files)")
    parser.add_argument("--base", default=BASE, help=f"git commit of the old code (default {BASE})")
    parser.add_argument("--conv-old-images", type=int, default=2000)
    parser.add_argument("--conv-new-images", type=int, default=FULL_EPOCH)
    parser.add_argument("--skip", choices=["conv", "fc"], action="append", default=[])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "train_speed.json"))
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--recipe", help=argparse.SUPPRESS)
    parser.add_argument("--images", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--save", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    if not (Path(args.data_dir) / "mnist").is_dir():
        parser.error(f"--data-dir {args.data_dir}: no mnist/ folder there; give the folder holding mnist/")
    if not 1 <= args.conv_old_images <= FULL_EPOCH or not 1 <= args.conv_new_images <= FULL_EPOCH:
        parser.error(f"--conv-old-images and --conv-new-images must be in 1 .. {FULL_EPOCH}")
    result = {"base": args.base, "new": _git("rev-parse", "--short", "HEAD"), "machine": _machine()}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        old_tree = scratch / "old"
        old_tree.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.base, "firstspike"], capture_output=True)
        if archive.returncode:
            parser.error(f"--base {args.base}: git archive failed ({archive.stderr.decode().strip()}); give a commit "
                         "of this repository")
        subprocess.run(["tar", "-x", "-C", str(old_tree)], input=archive.stdout, check=True)
        if "conv" not in args.skip:
            result["conv"] = compare(old_tree, "recipes/conv-mnist.toml", args.conv_old_images, args.conv_new_images,
                                     scratch / "conv", args.data_dir)
        if "fc" not in args.skip:
            result["fc"] = compare(old_tree, "recipes/bs4nn-mnist.toml", FULL_EPOCH, FULL_EPOCH, scratch / "fc",
                                   args.data_dir)
    result["load_average_1min_end"] = round(os.getloadavg()[0], 2)
    text = json.dumps(result, indent=2)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(text + "\n")
    tmp.replace(out)
    print(text)


def compare(old_tree: Path, recipe: str, old_images: int, new_images: int, scratch: Path, data_dir: str) -> dict:
    """Old and new code on ``old_images`` (models compared), then the new code alone on ``new_images``."""
    scratch.mkdir()
    print(f"{recipe}: old code, {old_images} images ...", file=sys.stderr, flush=True)
    old = run_worker(old_tree, recipe, old_images, scratch / "old.npz", data_dir)
    print(f"{recipe}: new code, {old_images} images ...", file=sys.stderr, flush=True)
    new = run_worker(ROOT, recipe, old_images, scratch / "new.npz", data_dir)
    same = identical(scratch / "old.npz", scratch / "new.npz")
    full = new
    if new_images != old_images:
        print(f"{recipe}: new code, {new_images} images ...", file=sys.stderr, flush=True)
        full = run_worker(ROOT, recipe, new_images, scratch / "full.npz", data_dir)
    old_epoch = old["seconds"] / old_images * FULL_EPOCH
    new_epoch = full["seconds"] / new_images * FULL_EPOCH
    return {
        "recipe": recipe, "old_package": old["package"], "new_package": new["package"],
        "compared_images": old_images, "models_identical": same,
        "old_seconds": round(old["seconds"], 2), "new_seconds_same_images": round(new["seconds"], 2),
        "ratio_same_images": round(old["seconds"] / new["seconds"], 2),
        "new_images": new_images, "new_seconds": round(full["seconds"], 2),
        "old_epoch_seconds": round(old_epoch, 1), "old_epoch_extrapolated": old_images != FULL_EPOCH,
        "new_epoch_seconds": round(new_epoch, 1), "new_epoch_extrapolated": new_images != FULL_EPOCH,
        "epoch_ratio": round(old_epoch / new_epoch, 2),
    }


def _git(*argv) -> str:
    done = subprocess.run(["git", "-C", str(ROOT), *argv], capture_output=True, text=True)
    return done.stdout.strip()


def _machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.machine()) if Path("/proc/cpuinfo").exists() else ""
    import numba
    import numpy

    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), "numpy": numpy.__version__,
            "numba": numba.__version__, "numba_threads": os.environ.get("NUMBA_NUM_THREADS", "default"),
            "load_average_1min_start": round(os.getloadavg()[0], 2)}


if __name__ == "__main__":
    main()
