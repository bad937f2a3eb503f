# SPDX-License-Identifier: MIT
"""Ablation of the conv / Che et al. options: one short training per row, a markdown table out.

    NUMBA_NUM_THREADS=1 python research/conv_ablation.py --epochs 10 > table.md

Every row trains with the same seed, data split and sample order (``mnist-mini`` by default, or
``--dataset mnist --train-limit N`` for a subset of full MNIST) and reports the test accuracy of
the epoch chosen on the validation split (hardware rule; reference rule beside it), the firing
fraction per layer at init and in the last epoch, and the training time per epoch.
"""

from __future__ import annotations

import argparse
import json
import tempfile

CONV = "28x28-c8k5-p2-c16k5-p2-fc10"
ROWS = [
    ("conv, BS4NN init and targets (gamma 1)", dict(arch=CONV, init="bs4nn", gamma=1)),
    ("conv, Che init, gamma 1", dict(arch=CONV, init="che", gamma=1)),
    ("conv, Che init, gamma 5", dict(arch=CONV, init="che", gamma=5)),
    ("conv, Che init, gamma 5, temporal decoding", dict(arch=CONV, init="che", gamma=5, decoding="temporal")),
    ("conv, Che init, gamma 5, mixed decoding", dict(arch=CONV, init="che", gamma=5, decoding="mixed")),
    ("conv, Che init, gamma 5, STiDi-BP backward", dict(arch=CONV, init="che", gamma=5, backward="stidi")),
    ("conv without pooling (stride 2), Che init, gamma 5",
     dict(arch="28x28-c8k5s2-c16k5s2-fc10", init="che", gamma=5)),
    ("FC 784-64-10, BS4NN baseline", dict(arch="784-fc64-fc10", init="bs4nn", gamma=1)),
    ("FC, Che init", dict(arch="784-fc64-fc10", init="che", gamma=1)),
    ("FC, BS4NN init, temporal decoding", dict(arch="784-fc64-fc10", init="bs4nn", gamma=1, decoding="temporal")),
    ("FC, Che init, gamma 5, mixed decoding", dict(arch="784-fc64-fc10", init="che", gamma=5, decoding="mixed")),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist-mini")
    parser.add_argument("--data-dir")
    parser.add_argument("--train-limit", type=int)
    parser.add_argument("--val-size", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--rows", type=int, nargs="+", help="run only these row numbers (1-based)")
    args = parser.parse_args()

    from firstspike.model.train_config import config_from_dict
    from firstspike.model.trainer import Trainer

    print(f"dataset {args.dataset}, train limit {args.train_limit}, {args.epochs} epochs, seed 0\n")
    print("| # | configuration | test hw % | test ref % | best epoch | firing at init | firing last epoch | s/epoch |")
    print("|---|---|---|---|---|---|---|---|")
    for number, (name, options) in enumerate(ROWS, 1):
        if args.rows and number not in args.rows:
            continue
        cfg = config_from_dict(dict(dataset=args.dataset, epochs=args.epochs, val_size=args.val_size,
                                    train_limit=args.train_limit, sampling="permutation", seed=0,
                                    **{"arch": "28x28-c16k5-p2-c32k5-p2-fc10", **options}))
        with tempfile.TemporaryDirectory() as out:
            trainer = Trainer(cfg, out, data_dir=args.data_dir, progress=False, log=lambda m: None)
            summary = trainer.fit()
        fmt = lambda v: "/".join(f"{x:.2f}" for x in v)  # noqa: E731
        print(f"| {number} | {name} | {summary['test']['hardware'] * 100:.1f} | "
              f"{summary['test']['reference'] * 100:.1f} | {summary['best_epoch']} | "
              f"{fmt(trainer.init_fractions)} | {fmt(trainer.history[-1]['firing_fraction'])} | "
              f"{summary['seconds_per_epoch']:.1f} |", flush=True)
        print(json.dumps({"row": number, "options": options, "summary": summary}), file=__import__("sys").stderr)


if __name__ == "__main__":
    main()
