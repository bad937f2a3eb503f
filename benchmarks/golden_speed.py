# SPDX-License-Identifier: MIT
"""Golden-model speed: one BS4NN 784-600-10 training epoch on 60,000 MNIST images, and inference
images/s on the 10,000 test images.

    python benchmarks/golden_speed.py --data-dir ../shared/data [--threads 2]

Prints one JSON object. The first (compiling) call is excluded: a warm-up chunk is trained first.
Baseline for comparison (ttfs-algorithms.md 3.7): the reference notebook's loop takes 12-15 min per
epoch and 6.4 ms per image forward on the same 2-core machine kind.
"""

import argparse
import json
import os
import platform
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--model", help="model for the inference figure (default: the trained state)")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    os.environ.setdefault("NUMBA_NUM_THREADS", str(args.threads))

    import numpy as np

    from firstspike.model import data
    from firstspike.model.infer import run
    from firstspike.model.network import Network
    from firstspike.model.trainer import TrainConfig, Trainer

    cfg = TrainConfig(algorithm="bs4nn", arch="784-600-10", dataset="mnist", epochs=1, val_size=0)
    trainer = Trainer(cfg, "/tmp/firstspike-bench-train", data_dir=args.data_dir, progress=False,
                      log=lambda m: None)
    assert len(trainer.y_train) == 60000
    warm = trainer.x_train[:200]
    trainer_x, trainer.x_train = trainer.x_train, warm  # compile on a small slice
    trainer_y, trainer.y_train = trainer.y_train, trainer.y_train[:200]
    trainer.train_epoch(1)
    trainer.x_train, trainer.y_train = trainer_x, trainer_y
    trainer._init_weights()
    start = time.perf_counter()
    stats = trainer.train_epoch(1)
    epoch_seconds = time.perf_counter() - start

    net = Network.load(args.model) if args.model else trainer.network()
    test = data.load("mnist", "test", data_dir=args.data_dir)
    run(net, test.images[:64])  # compile
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        run(net, test.images)
        best = min(best, time.perf_counter() - start)
    print(json.dumps({
        "train_epoch_seconds": round(epoch_seconds, 2),
        "train_samples": int(len(trainer.y_train)),
        "train_running_accuracy_epoch1": round(stats["train_accuracy_running"], 4),
        "inference_images_per_s": round(len(test.images) / best),
        "inference_model": args.model or "bs4nn 784-600-10 after one epoch",
        "numba_threads": int(os.environ["NUMBA_NUM_THREADS"]),
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "numpy": np.__version__,
    }, indent=2))


if __name__ == "__main__":
    from firstspike.cache import use_numba_cache

    use_numba_cache()  # before any kernel module: a source edit never runs stale kernels
    main()
