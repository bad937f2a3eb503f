# SPDX-License-Identifier: MIT
"""Re-evaluate committed models on full test sets under both decision rules; prints a Markdown table.

    python benchmarks/accuracy.py --data-dir ../shared/data [--split train] [MODEL:DATASET ...]

``--split train`` reads the 60,000 training images instead (a run trained on 55,000 of them and
validated on the other 5,000), to measure how far a net fits its training set.

Default: every ``models/*.npz`` whose header names its dataset, plus the published BS4NN weights
when ``--bs4nn-dir`` points at them.
"""

import argparse
import contextlib
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs", nargs="*", help="MODEL:DATASET pairs")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--bs4nn-dir", help="folder with the published W0_binary.npy / W1_binary.npy")
    parser.add_argument("--split", choices=("test", "train"), default="test")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from firstspike.cli import main as cli
    from firstspike.model import data
    from firstspike.model.infer import evaluate
    from firstspike.model.network import load_model

    pairs = [tuple(p.rsplit(":", 1)) for p in args.pairs]
    if not pairs:
        for path in sorted((ROOT / "models").glob("*.npz")):
            meta = load_model(path).meta
            if meta.get("dataset") in ("mnist", "fashion-mnist"):
                pairs.append((str(path), meta["dataset"]))
    if args.bs4nn_dir:
        out = Path(tempfile.mkdtemp()) / "bs4nn-published.npz"
        d = Path(args.bs4nn_dir)
        with contextlib.redirect_stdout(sys.stderr):
            cli(["import-bs4nn", "--w0", str(d / "W0_binary.npy"), "--w1", str(d / "W1_binary.npy"),
                 "--alpha", "4.03707844", "9.06516109", "--out", str(out)])
        pairs.append((str(out), "mnist"))
    rows = []
    for model, dataset in pairs:
        net = load_model(model)
        test = data.load(dataset, args.split, data_dir=args.data_dir)
        m = evaluate(net, test.images, test.labels)
        rows.append({"model": Path(model).name, "dataset": dataset, "split": args.split, "arch": net.arch,
                     "binary": net.binary, **m})
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print("| model | dataset | arch | hardware rule | reference rule | hidden spikes | decision step | ties | no output spike |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['dataset']} | {r['arch']}{'' if r['binary'] else ' (real)'} | "
              f"{r['accuracy_hardware'] * 100:.2f} % | {r['accuracy_reference'] * 100:.2f} % | "
              f"{r['mean_spikes_per_layer'][0]:.1f} | {r['mean_decision_step']:.1f} | "
              f"{r['share_ties'] * 100:.2f} % | {r['share_no_output_spike'] * 100:.2f} % |")


if __name__ == "__main__":
    from firstspike.cache import use_numba_cache

    use_numba_cache()  # before any kernel module: a source edit never runs stale kernels
    sys.exit(main())
