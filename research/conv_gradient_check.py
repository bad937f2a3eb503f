# SPDX-License-Identifier: MIT
"""Does the trainer's gradient predict what flipping one sign does, layer by layer?

For a committed binary conv model, sum the Adam path's gradient (relative loss, sign error weights)
over N training images, then flip single weights one at a time and measure the change of the
summed loss and of the number of images classified right (hardware rule). The first-order
prediction of a flip ``w -> -w`` is ``dL = g * (-2 w)``; a layer whose gradient carries
information shows a positive correlation between that prediction and the measured changes.

    python research/conv_gradient_check.py models/conv-mnist.npz --data-dir ../shared/data

``--variants`` compares gradient variants on the same flips (the loss and the flips do not depend
on them): ``before`` / ``fired`` is the error mask, ``+sM`` adds the silent-neuron surrogate with
margin M (``--silent-surrogate M``), e.g. ``--variants before before+s0.5 fired+s0.5``.

Slow-ish (one forward pass of N images per flipped weight); numbers in docs/research.md.
"""

from __future__ import annotations

import argparse

import numpy as np
from numba.typed import List

from firstspike.model import data as datamod
from firstspike.model.batch_kernels import LOSSES_BY_NAME, batch_gradients
from firstspike.model.network import load_model
from firstspike.model.infer import encode_images, kernel_arrays
from firstspike.model.train_kernels import SILENT_LABEL


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--data-dir")
    ap.add_argument("--dataset", default="mnist")
    ap.add_argument("--images", type=int, default=1000, help="training images the loss is summed over")
    ap.add_argument("--flips", type=int, default=150, help="single weights flipped per layer")
    ap.add_argument("--gamma", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--loss", default="relative", choices=sorted(LOSSES_BY_NAME))
    ap.add_argument("--variants", nargs="+", default=["before"], help="before|fired[+sM] (see above)")
    args = ap.parse_args()
    variants = [_parse_variant(v) for v in args.variants]

    net = load_model(args.model)
    geoms, signs, _ = kernel_arrays(net)
    n_layers, T = len(signs), net.T
    alphas = np.array(net.meta["alphas"], dtype=np.float64)
    thetas = np.full(n_layers, float(net.meta["theta"]))
    train = datamod.load(args.dataset, "train", data_dir=args.data_dir)
    x = encode_images(net, train.images).astype(np.int16)
    y = train.labels.astype(np.int64)
    rng = np.random.default_rng(args.seed)
    batch = rng.permutation(len(y))[: args.images]
    sizes = net.sizes[1:]

    def loss_and_gradient(layer_signs, fired_mask=False, margin=0.0):
        times = List([np.empty(s, dtype=np.int16) for s in sizes])
        snaps = np.zeros((3, sizes[-1]), dtype=np.int32)
        grads = List([np.zeros(s.shape) for s in layer_signs])
        carriers = List([s.astype(np.float64) for s in layer_signs])
        int_signs = List([s.astype(np.int8) for s in layer_signs])
        correct, loss = batch_gradients(x, y, batch, geoms, int_signs, int_signs, True, carriers, thetas, alphas, T, LOSSES_BY_NAME[args.loss], 8.0, 2.0, 1.0,
                                        args.gamma, SILENT_LABEL, fired_mask, 0.0, 0.0, 0.0, margin, times,
                                        List([np.zeros(len(t)) for t in times]), snaps, grads,
                                        np.zeros(sum(sizes), dtype=np.int64))
        return grads, correct, loss

    base = List([s.copy() for s in signs])
    grads_of = [loss_and_gradient(base, fired, margin)[0] for fired, margin in variants]
    _, correct0, loss0 = loss_and_gradient(base)
    print(f"seed {args.seed}, loss {args.loss}: {correct0}/{args.images} right, summed loss {loss0:.4f}")
    print("| layer | shape | flips | gradient | corr(predicted, measured loss change) "
          "| corr(predicted, measured errors change) |")
    print("|---|---|---|---|---|---|")
    for layer in range(n_layers):
        n = base[layer].size
        chosen = rng.choice(n, size=min(args.flips, n), replace=False)
        d_loss, d_errors = [], []
        for index in chosen:
            flipped = List([s.copy() for s in base])
            flipped[layer].reshape(-1)[index] *= -1
            _, correct, loss = loss_and_gradient(flipped)
            d_loss.append(loss - loss0)
            d_errors.append(correct0 - correct)
        for name, grads in zip(args.variants, grads_of):
            predicted = -2.0 * (grads[layer] * base[layer]).reshape(-1)[chosen]
            print(f"| {layer} | {tuple(base[layer].shape)} | {len(chosen)} | {name} | "
                  f"{_correlation(predicted, d_loss)} | {_correlation(predicted, d_errors)} |", flush=True)


def _parse_variant(text: str) -> tuple[bool, float]:
    """``before|fired[+sM]`` -> (fired error mask, silent-surrogate margin)."""
    mask, _, surrogate = text.partition("+s")
    if mask not in ("before", "fired"):
        raise SystemExit(f"variant {text!r}: the mask must be 'before' or 'fired', e.g. fired+s0.5")
    return mask == "fired", float(surrogate) if surrogate else 0.0


def _correlation(a, b) -> str:
    """Pearson correlation as a table cell; ``n/a`` when either side is constant."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return f"{np.corrcoef(a, b)[0, 1]:+.3f}" if a.std() > 0 and b.std() > 0 else "n/a"


if __name__ == "__main__":
    main()
