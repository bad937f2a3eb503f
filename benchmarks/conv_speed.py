# SPDX-License-Identifier: MIT
"""Speed of the conv golden model: training images/s (per-sample SGD) and inference images/s.

    NUMBA_NUM_THREADS=1 PYTHONPATH=. python benchmarks/conv_speed.py \
        --arch 28x28-c8k5-p2-c16k5-p2-fc10 --dataset mnist --data-dir /work/shared/data

Prints one JSON line: training images/s and the implied seconds per 55,000-image epoch, and
inference images/s (numba compile time excluded: one warm-up pass first).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="28x28-c8k5-p2-c16k5-p2-fc10")
    parser.add_argument("--dataset", default="mnist-mini")
    parser.add_argument("--data-dir")
    parser.add_argument("--train-images", type=int, default=2000)
    parser.add_argument("--infer-images", type=int, default=2000)
    parser.add_argument("--init", default="che")
    parser.add_argument("--decoding", default="s4nn")
    args = parser.parse_args()

    from firstspike.model.conv_trainer import ConvTrainConfig, ConvTrainer

    cfg = ConvTrainConfig(arch=args.arch, dataset=args.dataset, epochs=1, val_size=100,
                          sampling="permutation", init=args.init, decoding=args.decoding,
                          train_limit=args.train_images + 500)
    with tempfile.TemporaryDirectory() as out:
        trainer = ConvTrainer(cfg, out, data_dir=args.data_dir, progress=False, log=lambda m: None)
        trainer.cfg.chunk = 200
        trainer.train_epoch(1)  # compiles; also moves the weights off their init
        stats = trainer.train_epoch(2)
        train_ips = stats["images_per_second"]
        net = trainer.network()
        x = trainer.x_test[: args.infer_images]
        net.forward_times(x[:10])
        start = time.perf_counter()
        net.forward_times(x)
        infer_ips = len(x) / (time.perf_counter() - start)
    print(json.dumps({
        "arch": args.arch, "dataset": args.dataset, "decoding": args.decoding,
        "train_images_per_s": round(train_ips, 1),
        "seconds_per_55k_epoch": round(55000 / train_ips, 1),
        "infer_images_per_s": round(infer_ips, 1),
        "numba_threads": os.environ.get("NUMBA_NUM_THREADS", "default"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
        "load_average_1min": round(os.getloadavg()[0], 2),
    }))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
