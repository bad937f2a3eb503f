# SPDX-License-Identifier: MIT
"""How good are first-layer binary kernels as features? A linear probe on their TTFS spike times.

    NUMBA_NUM_THREADS=1 python research/conv1_probe.py --data-dir ../shared/data \\
        --dataset fashion-mnist --kernels models/conv-fashion-mnist.npz random kmeans --thresholds 4 6

Each kernel set (the first layer of a model file, 16 random sign kernels, or the k-means kernels of
``--init-kernels kmeans``) runs as a conv layer (5x5, stride 1) on the bs4nn-encoded images at each
integer threshold; the feature of a pooled 2x2 window is the mean earliness ``(T - t) / T`` of its
four neurons (silent = 0; "pooled windows with a spike" = share of features > 0). A softmax
regression (Adam, seeded, L2) is fitted on the 60,000 training images and read on the 10,000 test
images. Prints a Markdown table. Not the TTFS network: an upper
reference for what a readout could get out of the layer, to compare kernel sets with each other.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from linear_probe import layer_features, probe  # same folder (research/)


def kernel_set(name, images, channels, seed):
    from firstspike.model.network import load_model
    from firstspike.model.patch_init import kmeans_kernels
    from firstspike.model.spec import sign_bits

    rng = np.random.default_rng(seed)
    if name == "random":
        return sign_bits(0.5 - rng.random((channels, 1, 5, 5)))  # +1 where the draw is below 0.5
    if name == "kmeans":
        some = images[np.sort(rng.choice(len(images), size=min(len(images), 10000), replace=False))]
        return sign_bits(kmeans_kernels(some / 255.0, channels, 5, 5, rng))[:, None]
    return np.asarray(load_model(name).kernels[0], dtype=np.int8)


def features(kernels, threshold, images, T=256):
    """Pooled mean earliness of every conv neuron, ``(n, c * 12 * 12)``."""
    from firstspike.model.network import Network

    c = kernels.shape[0]
    readout = np.ones((10, c, 12, 12), dtype=np.int8)  # present only to make a network; never read
    net = Network(f"28x28-c{c}k5-p2-fc10", [kernels, readout], [threshold, 1], binary=True,
                      encoding="bs4nn", T=T)
    return layer_features(net, 0, images)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--dataset", default="fashion-mnist", choices=("mnist", "fashion-mnist"))
    parser.add_argument("--kernels", nargs="+", default=["random", "kmeans"],
                        help="model files (their first conv layer), random, kmeans")
    parser.add_argument("--channels", type=int, default=16, help="channels of random / kmeans")
    parser.add_argument("--thresholds", type=int, nargs="+", default=[4, 6])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from firstspike.model import data

    train = data.load(args.dataset, "train", data_dir=args.data_dir)
    test = data.load(args.dataset, "test", data_dir=args.data_dir)
    ytr, yte = train.labels.astype(np.int64), test.labels.astype(np.int64)
    print(f"{args.dataset}, seed {args.seed}")
    print("| kernels | threshold | pooled windows with a spike | probe train % | probe test % | seconds |")
    print("|---|---|---|---|---|---|")
    for name in args.kernels:
        kernels = kernel_set(name, train.images, args.channels, args.seed)
        for threshold in args.thresholds:
            t0 = time.time()
            ftr, fte = features(kernels, threshold, train.images), features(kernels, threshold, test.images)
            a_train, a_test = probe(ftr, ytr, fte, yte, args.seed)
            print(f"| {Path(name).name} | {threshold} | {float((ftr > 0).mean()):.3f} | {a_train * 100:.2f} | "
                  f"{a_test * 100:.2f} | {time.time() - t0:.0f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
