# SPDX-License-Identifier: MIT
"""The linear probe shared by ``conv1_probe.py`` and ``layer_probe.py``: earliness features of a
layer's spike times and a seeded softmax regression on them."""

import numpy as np


def layer_features(net, layer, images, chunk=5000):
    """Earliness features of neuron layer ``layer`` (``-1``: the input), pooled as the next layer sees them."""
    from firstspike.model import spec
    from firstspike.model.infer import run_times

    T = net.T
    layers = net.layers
    out = []
    for lo in range(0, len(images), chunk):
        x = spec.encode(images[lo:lo + chunk].reshape(-1, net.sizes[0]), net.encoding, T)
        t = x if layer < 0 else run_times(net, x).times[layer]
        out.append((T - t.astype(np.float32)) / T)  # spike times never exceed T (silent = T)
    f = np.concatenate(out)
    above = layers[layer + 1] if layer + 1 < len(layers) else None
    if above is not None and above.pool > 1:
        p, c, h, w = above.pool, above.c_in, above.h_in, above.w_in
        f = f.reshape(-1, c, h, w)[:, :, : (h // p) * p, : (w // p) * p]
        f = f.reshape(-1, c, h // p, p, w // p, p).mean(axis=(3, 5)).reshape(len(f), -1)
    return f


def probe(ftr, ytr, fte, yte, seed, epochs=8, lr=1e-3, l2=3e-3, batch=128):
    """Softmax regression on standardised features; returns (train, test) accuracy."""
    rng = np.random.default_rng(seed)
    mu, sd = ftr.mean(0), ftr.std(0) + 1e-3
    ftr, fte = (ftr - mu) / sd, (fte - mu) / sd
    params = [np.zeros((ftr.shape[1], 10), np.float32), np.zeros(10, np.float32)]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    step = 0
    for _ in range(epochs):
        for idx in np.array_split(rng.permutation(len(ftr)), len(ftr) // batch):
            z = ftr[idx] @ params[0] + params[1]
            p = np.exp(z - z.max(1, keepdims=True))
            p /= p.sum(1, keepdims=True)
            p[np.arange(len(idx)), ytr[idx]] -= 1.0
            grads = [ftr[idx].T @ p / len(idx) + l2 * params[0], p.mean(0)]
            step += 1
            for i, g in enumerate(grads):
                m[i] = 0.9 * m[i] + 0.1 * g
                v[i] = 0.999 * v[i] + 0.001 * g * g
                params[i] -= lr * (m[i] / (1 - 0.9 ** step)) / (np.sqrt(v[i] / (1 - 0.999 ** step)) + 1e-8)

    def accuracy(f, y):
        return float(((f @ params[0] + params[1]).argmax(1) == y).mean())

    return accuracy(ftr, ytr), accuracy(fte, yte)
