# SPDX-License-Identifier: MIT
"""How much of a conv layer's training gradient moves every tap of a kernel the same way?

    NUMBA_NUM_THREADS=1 python research/conv_grad_dc.py --data-dir ../shared/data \\
        models/conv-mnist.npz:mnist models/conv-fashion-mnist.npz:fashion-mnist

For each model, the Adam path's gradient (relative loss, gamma 1, sign error weights, the label
pulled when all outputs are silent, silent-neuron surrogate 0.5: the ``fsx`` recipe) is summed over
the first N training images at the model's own signs and thresholds. Printed per conv layer: the
share of the gradient's energy in each kernel's mean over its taps (the "DC" part: it changes the
balance of +1 and -1 taps, i.e. how early the kernel fires on any input, not which pattern it
detects). Random directions would put ``1 / taps`` there.
"""

import argparse
import sys

import numpy as np


def dc_shares(path, dataset, data_dir, n):
    from numba.typed import List

    from firstspike.model import data, spec
    from firstspike.model.batch_kernels import batch_gradients
    from firstspike.model.infer import kernel_arrays
    from firstspike.model.network import Network
    from firstspike.model.train_config import SILENT_MODES

    net = Network.load(path)
    train = data.load(dataset, "train", data_dir=data_dir)
    x = spec.encode(train.images[:n].reshape(n, -1), net.encoding, net.T)
    y = train.labels[:n].astype(np.int64)
    geoms, kernels, _ = kernel_arrays(net)
    signs = List([k.astype(np.int8) for k in kernels])
    grads = List([np.zeros(s.shape) for s in signs])
    theta = 100.0
    thetas = np.full(len(signs), theta)
    alphas = np.array([spec.scale_for_threshold(theta, int(t)) for t in net.thresholds])
    sizes = net.sizes[1:]
    times = List([np.empty(s, dtype=np.int16) for s in sizes])
    pots = List([np.zeros(s) for s in sizes])
    snaps = np.zeros((3, sizes[-1]), dtype=np.int32)
    fire = np.zeros(sum(sizes), dtype=np.int64)
    batch_gradients(x, y, np.arange(n), geoms, signs, signs, True, signs, thetas, alphas, net.T, 1.0,
                    SILENT_MODES[True], 0.5, times, pots, snaps, grads, fire, np.zeros((0, 0), np.uint8))
    out = []
    for layer, g in zip(net.layers, grads):
        if layer.kind != "conv":
            continue
        taps = g.reshape(-1, g.shape[-1])
        dc = taps.mean(axis=0)
        out.append((float((dc ** 2).sum() * taps.shape[0] / (taps ** 2).sum()), 1.0 / taps.shape[0]))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs", nargs="+", help="MODEL:DATASET pairs")
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--images", type=int, default=2000)
    args = parser.parse_args()
    print("| model | dataset | conv layer | DC share of the gradient energy | random direction |")
    print("|---|---|---|---|---|")
    for pair in args.pairs:
        path, dataset = pair.rsplit(":", 1)
        for i, (share, chance) in enumerate(dc_shares(path, dataset, args.data_dir, args.images)):
            print(f"| {path.rsplit('/', 1)[-1]} | {dataset} | {i} | {share:.3f} | {chance:.3f} |")


if __name__ == "__main__":
    sys.exit(main())
