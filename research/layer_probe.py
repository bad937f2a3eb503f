# SPDX-License-Identifier: MIT
"""How linearly separable are the classes in each layer's spike times? A probe per layer.

    NUMBA_NUM_THREADS=1 python research/layer_probe.py --data-dir ../shared/data \\
        models/conv-fashion-mnist.npz:fashion-mnist --layers -1 0 1 --random-signs

For each MODEL:DATASET and each chosen layer (``-1`` = the encoded input), the feature of a neuron
is its earliness ``(T - t) / T`` (silent = 0), averaged over the pooling window of the layer above
when that layer pools (what it sums). A softmax regression (``linear_probe.probe``: Adam, seeded, L2)
is fitted on the 60,000 training images and read on the 10,000 test images. ``--random-signs``
adds the same network with every kernel redrawn as seeded random signs at the model's thresholds:
what the layer gives before any training; ``--thresholds`` runs the model at other integer
thresholds (one per neuron layer). Prints a Markdown table. A diagnostic, not the TTFS
network's accuracy: it says at which layer a stack loses what a linear readout can find.
"""

import argparse
import dataclasses
import sys
import time
from pathlib import Path

import numpy as np

from linear_probe import layer_features, probe  # same folder (research/)


def randomised(net, seed):
    """The same architecture and thresholds with seeded random-sign kernels."""
    from firstspike.model.spec import sign_bits

    rng = np.random.default_rng(seed)
    return dataclasses.replace(net, kernels=[sign_bits(0.5 - rng.random(k.shape)) for k in net.kernels])


def describe(net, layer):
    if layer < 0:
        return "input"
    spec_layer = net.layers[layer]
    return f"{layer} ({spec_layer.kind}, {spec_layer.c_out}x{spec_layer.h_out}x{spec_layer.w_out})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs", nargs="+", help="MODEL:DATASET pairs (binary conv model files)")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--layers", type=int, nargs="+",
                        help="neuron layers to probe, -1 = the input (default: every hidden layer)")
    parser.add_argument("--random-signs", action="store_true",
                        help="also probe the same network with random-sign kernels at its thresholds")
    parser.add_argument("--thresholds", type=int, nargs="+",
                        help="run every model at these integer thresholds, one per neuron layer")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from firstspike.model import data
    from firstspike.model.network import Network

    print(f"seed {args.seed}")
    print("| model | dataset | kernels | thresholds | layer | features | features > 0 | probe train % | probe test % | seconds |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for pair in args.pairs:
        path, _, dataset = pair.rpartition(":")
        if not path:
            parser.error(f"{pair!r}: write MODEL:DATASET, e.g. models/conv-mnist.npz:mnist")
        net = Network.load(path)
        if args.thresholds:
            if len(args.thresholds) != len(net.layers):
                parser.error(f"{path} has {len(net.layers)} neuron layers, --thresholds gives "
                             f"{len(args.thresholds)}")
            net = dataclasses.replace(net, thresholds=args.thresholds)
        train = data.load(dataset, "train", data_dir=args.data_dir)
        test = data.load(dataset, "test", data_dir=args.data_dir)
        ytr, yte = train.labels.astype(np.int64), test.labels.astype(np.int64)
        layers = args.layers if args.layers else list(range(len(net.layers) - 1))
        bad = [i for i in layers if not -1 <= i < len(net.layers)]
        if bad:
            parser.error(f"{path} has neuron layers 0..{len(net.layers) - 1} (-1 = input), got {bad}")
        nets = [("trained", net)] + ([("random", randomised(net, args.seed))] if args.random_signs else [])
        for name, candidate in nets:
            for layer in layers:
                if layer < 0 and name == "random":
                    continue  # the input does not depend on the kernels
                t0 = time.time()
                ftr = layer_features(candidate, layer, train.images)
                fte = layer_features(candidate, layer, test.images)
                a_train, a_test = probe(ftr, ytr, fte, yte, args.seed)
                thresholds = ", ".join(map(str, candidate.thresholds))
                print(f"| {Path(path).name} | {dataset} | {name} | {thresholds} | {describe(candidate, layer)} | "
                      f"{ftr.shape[1]} | {float((ftr > 0).mean()):.3f} | {a_train * 100:.2f} | "
                      f"{a_test * 100:.2f} | {time.time() - t0:.0f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
