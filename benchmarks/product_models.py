# SPDX-License-Identifier: MIT
"""Evaluate every shipped model in models/ on its dataset's full test set; prints the models/README.md table.

    python benchmarks/product_models.py --data-dir /path/to/data [--json] [MODEL.npz ...]

For each model file: architecture, dataset (from the model's header), accuracy under the hardware
and the reference decision rule on the full 10,000-image test set, mean decision step (hardware
rule), the recipe file ``recipes/<name>.toml`` and the file's SHA-256.
"""

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load_model(path):
    # The one place that names the loader (renamed to firstspike.model.network.load_model at merge).
    from firstspike.model.network import load_model
    return load_model(path)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def dataset_of(meta: dict) -> str:
    name = meta.get("dataset") or (meta.get("config") or {}).get("dataset")
    if not name:
        raise ValueError("the model's header names no dataset")
    return name


def measure(path: Path, data_dir) -> dict:
    from firstspike.model import data
    from firstspike.model.infer import evaluate

    net = _load_model(path)
    name = path.name.removesuffix(".npz")
    dataset = dataset_of(net.meta)
    test = data.load(dataset, "test", data_dir=data_dir)
    m = evaluate(net, test.images, test.labels)
    resolved = path.resolve()
    file = str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(path)
    return {"model": name, "file": file, "arch": net.arch, "binary": bool(net.binary),
            "dataset": dataset, "images": m["images"],
            "accuracy_hardware": m["accuracy_hardware"], "accuracy_reference": m["accuracy_reference"],
            "mean_decision_step": m["mean_decision_step"], "recipe": f"recipes/{name}.toml",
            "sha256": sha256(path)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="model files (default: every models/*.npz)")
    parser.add_argument("--data-dir",
                        help="folder with mnist/ and fashion-mnist/ (else FIRSTSPIKE_DATA or the cache)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the Markdown table")
    args = parser.parse_args(argv)

    paths = [Path(p) for p in args.models] or sorted((ROOT / "models").glob("*.npz"))
    rows = []
    for path in paths:
        rows.append(measure(path, args.data_dir))
        print(f"{rows[-1]['model']}: done", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print("| file | architecture | dataset | hardware rule | reference rule | mean decision step "
          "| recipe | SHA-256 (first 16 hex digits) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        arch = r["arch"] + ("" if r["binary"] else " (real-valued)")
        print(f"| `{r['file']}` | {arch} | {r['dataset']} | {r['accuracy_hardware'] * 100:.2f} % | "
              f"{r['accuracy_reference'] * 100:.2f} % | {r['mean_decision_step']:.2f} | "
              f"`{r['recipe']}` | `{r['sha256'][:16]}` |")
    return 0


if __name__ == "__main__":
    from firstspike.cache import use_numba_cache

    use_numba_cache()  # before any kernel module: a source edit never runs stale kernels
    sys.exit(main())
