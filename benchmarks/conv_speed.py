# SPDX-License-Identifier: MIT
"""Speed of the conv golden model: training images/s and inference images/s.

    NUMBA_NUM_THREADS=1 python benchmarks/conv_speed.py \
        --arch 28x28-c8k5-p2-c16k5-p2-fc10 --dataset mnist --data-dir /work/shared/data

Prints one JSON line: training images/s and the implied seconds per 55,000-image epoch, and
inference images/s (numba compile time excluded: one warm-up pass first). The second epoch is
timed, so the network has moved off its initialisation (where it fires most).

Training options: ``--config RUN/config.json`` (or a conv model file, e.g.
``models/conv-mnist.npz``) takes every option of the run that trained it,
architecture and dataset included (``--arch``/``--dataset`` still override; sizes and epochs are
the benchmark's own); ``--set KEY=VALUE`` (repeatable, VALUE as JSON) sets any one option, e.g.
``--set optimizer='"adam"' --set batch=16``. Compare two versions of the package by running this
script with ``PYTHONPATH`` pointing at each checkout.
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
    parser.add_argument("--arch", help="default: the --config run's, else 28x28-c8k5-p2-c16k5-p2-fc10")
    parser.add_argument("--dataset", help="default: the --config run's, else mnist-mini")
    parser.add_argument("--data-dir")
    parser.add_argument("--train-images", type=int, default=2000)
    parser.add_argument("--infer-images", type=int, default=2000)
    parser.add_argument("--init")
    parser.add_argument("--decoding")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="any training config field (conv options too), VALUE as JSON (repeatable)")
    parser.add_argument("--config", help="a run's config.json or a conv model .npz: train with its options")
    args = parser.parse_args()
    from firstspike.model.train_config import flat_config

    extra = {}
    if args.config and args.config.endswith(".npz"):  # a conv model file keeps its training options
        from firstspike.model.network import load_model

        extra = flat_config(load_model(args.config).meta["config"])
    elif args.config:
        with open(args.config) as f:
            extra = flat_config(json.load(f))
    for own in ("epochs", "train_limit", "val_size", "sampling", "init_from", "out"):
        extra.pop(own, None)
    for key, fallback in (("arch", "28x28-c8k5-p2-c16k5-p2-fc10"), ("dataset", "mnist-mini"),
                          ("init", "che"), ("decoding", "s4nn")):
        from_config = extra.pop(key, fallback)  # the config's value must not reach **extra twice
        setattr(args, key, getattr(args, key) or from_config)
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set {item!r}: write KEY=VALUE")
        try:
            extra[key] = json.loads(value)
        except json.JSONDecodeError:
            parser.error(f"--set {item!r}: VALUE must be JSON (strings in double quotes)")

    from firstspike.model.train_config import config_from_dict
    from firstspike.model.trainer import Trainer
    from firstspike.model.infer import run_times

    cfg = config_from_dict(dict(arch=args.arch, dataset=args.dataset, epochs=1, val_size=100,
                                sampling="permutation", init=args.init, decoding=args.decoding,
                                train_limit=args.train_images + 500, **extra))
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(cfg, out, data_dir=args.data_dir, progress=False, log=lambda m: None)
        trainer.cfg.chunk = 200
        trainer.train_epoch(1)  # compiles; also moves the weights off their init
        stats = trainer.train_epoch(2)
        train_ips = stats["images_per_second"]
        net = trainer.network()
        x = trainer.x_test[: args.infer_images]
        run_times(net, x[:10])
        start = time.perf_counter()
        run_times(net, x)
        infer_ips = len(x) / (time.perf_counter() - start)
    print(json.dumps({
        "arch": args.arch, "dataset": args.dataset, "decoding": args.decoding, "set": extra,
        "train_images_per_s": round(train_ips, 1),
        "seconds_per_55k_epoch": round(55000 / train_ips, 1),
        "infer_images_per_s": round(infer_ips, 1),
        "numba_threads": os.environ.get("NUMBA_NUM_THREADS", "default"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.python_version()}",
        "load_average_1min": round(os.getloadavg()[0], 2),
    }))


if __name__ == "__main__":
    from firstspike.cache import use_numba_cache

    use_numba_cache()  # before any kernel module: a source edit never runs stale kernels
    np.seterr(all="ignore")
    main()
