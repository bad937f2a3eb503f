# SPDX-License-Identifier: MIT
"""Mini-batch (Adam) conv training: summed gradients vs the dense reference, Adam step, a short run."""

import dataclasses

import numpy as np
import pytest
from numba.typed import List

from firstspike.model import parallel_batch
from firstspike.model.arch import parse_arch
from firstspike.model.batch_kernels import batch_gradients
from firstspike.model.network import load_model
from firstspike.model.train_config import SILENT_MODES, config_from_dict
from firstspike.model.train_kernels import SILENT_LABEL, adam_step
from firstspike.model.train_reference import reference_sample_gradients
from firstspike.model.trainer import Trainer

ARCHS = ["2x7x7-c3k3s2p1-p2-fc4", "1x8x8-p2-c2k3p1-c3k2s2-fc5", "6-fc5-fc3", "1x6x6-c2k2s2-fc3"]


@pytest.mark.parametrize("variant", ["", "+real", "+push", "+real+push", "+rank", "+real+rank", "+surrogate",
                                     "+real+surrogate", "+dropout", "+real+surrogate+dropout"])
@pytest.mark.parametrize("seed", range(8))
def test_batch_gradients_are_the_sum_of_the_dense_reference_gradients(seed, variant):
    rng = np.random.default_rng(seed)
    real = "+real" in variant
    silent = "rank" if "+rank" in variant else "+push" in variant
    margin = 0.6 if "+surrogate" in variant else 0.0
    arch = parse_arch(ARCHS[seed % len(ARCHS)])
    T = 24
    kernels = [rng.uniform(-1, 1, size=layer.kernel_shape) for layer in arch.layers]
    alphas = rng.uniform(3.0, 12.0, size=len(kernels))
    thetas = np.full(len(kernels), 8.0)
    if silent == "rank":  # output threshold at 0.4 of the fan-in: some samples leave every output silent
        thetas[-1] = alphas[-1] * 0.4 * arch.layers[-1].fan_in
    geoms = np.array([layer.geometry() for layer in arch.layers], dtype=np.int64)
    signs, grads, latent = List(), List(), List()
    for k in kernels:
        w = np.ascontiguousarray(k.transpose(1, 2, 3, 0))
        latent.append(w)
        signs.append(np.where(w >= 0, 1, -1).astype(np.int8))
        grads.append(np.zeros_like(w))
    n = 5
    x = rng.integers(0, T + 2, size=(n, arch.sizes[0])).astype(np.int16)
    labels = rng.integers(0, arch.sizes[-1], size=n).astype(np.int64)
    times = List([np.empty(s, dtype=np.int16) for s in arch.sizes[1:]])
    pots = List([np.zeros(s) for s in arch.sizes[1:]])
    snaps = np.zeros((3, arch.sizes[-1]))
    fire = np.zeros(sum(arch.sizes[1:]), dtype=np.int64)  # per neuron, layers concatenated
    gamma = 2.0
    dropped = None
    drops = np.zeros((0, 0), dtype=np.uint8)
    if "+dropout" in variant:  # one mask per sample and hidden layer, as the trainer draws them
        dropped = [[rng.random(s) < 0.4 for s in arch.sizes[1:-1]] for _ in range(n)]
        drops = np.array([np.concatenate(d) for d in dropped], dtype=np.uint8).reshape(n, -1)

    def kernel_gradients(mode, margin=margin, drops=drops):
        batch_gradients(x, labels, np.arange(n), geoms, latent, signs, True, latent if real else signs, thetas,
                        alphas, T,
                        gamma, mode, margin, times, pots, snaps, grads, fire, drops)
        return [g.copy() for g in grads]

    got = kernel_gradients(SILENT_MODES[silent])
    expected = [np.zeros(k.shape) for k in kernels]
    spikes = np.zeros(len(kernels))
    n_silent = 0
    for i in range(n):
        t, g = reference_sample_gradients(x[i], int(labels[i]), arch.layers, kernels, thetas, alphas, T,
                                          gamma, push_silent_label=silent, real_errors=real,
                                          silent_margin=margin,
                                          dropped=None if dropped is None else dropped[i])
        n_silent += t[-1].min() == T
        for layer in range(len(kernels)):
            expected[layer] += g[layer]
            spikes[layer] += (t[layer] < T).sum()
    where = f"seed {seed} {arch.text}{variant}"
    bounds = np.cumsum([0] + arch.sizes[1:])
    assert [fire[a:b].sum() for a, b in zip(bounds, bounds[1:])] == spikes.tolist(), where
    for layer in range(len(kernels)):
        np.testing.assert_allclose(got[layer], expected[layer].transpose(1, 2, 3, 0), rtol=1e-9,
                                   atol=1e-12, err_msg=where)
    if margin and dropped is None and len(kernels) > 1 and np.abs(got[0]).sum() > 0:  # the surrogate reaches below
        assert any(not np.array_equal(a, b) for a, b in zip(got, kernel_gradients(SILENT_MODES[silent], 0.0))), where
    if dropped is not None and len(kernels) > 1 and np.abs(got[0]).sum() > 0:  # the masks change the gradients
        assert any(not np.array_equal(a, b) for a, b in
                   zip(got, kernel_gradients(SILENT_MODES[silent], drops=np.zeros((0, 0), np.uint8)))), where
    if silent == "rank":  # rank acts on all-silent samples only: they occur, and push a wrong output
        assert n_silent > 0, where
        pull_only = kernel_gradients(SILENT_LABEL)
        differs = any(not np.array_equal(a, b) for a, b in zip(got, pull_only))
        assert differs, where


def test_adam_step_clips_and_refreshes_signs():
    w = np.array([0.5, -0.2, 0.99, -0.999])
    s = np.where(w >= 0, 1, -1).astype(np.int8)
    g = np.array([1.0, -1.0, -3.0, 2.0])
    m, v = np.zeros(4), np.zeros(4)
    adam_step(w, s, True, g, m, v, 0.7, 0.9, 0.999, 1, 1.0)
    # first bias-corrected Adam step moves every weight by lr * sign(g) (up to eps), then clips
    np.testing.assert_allclose(w, [-0.2, 0.5, 1.0, -1.0], atol=1e-6)
    assert s.tolist() == [-1, 1, 1, -1]


def _cfg(**kw):
    base = dict(arch="28x28-c8k5-p2-c16k5-p2-fc10", dataset="mnist-mini", epochs=4, val_size=300,
                sampling="permutation", init="che", init_high=[1.0], eta=[0.01], eta_alpha=0.0, gamma=1,
                seed=1, optimizer="adam", batch=8)
    base.update(kw)
    return config_from_dict(base)


def test_short_adam_training_on_mnist_mini_beats_chance_widely(tmp_path):
    trainer = Trainer(_cfg(), tmp_path, progress=False, log=lambda m: None)
    summary = trainer.fit()
    assert summary["test"]["hardware"] > 0.5, summary  # chance is 0.1
    net = load_model(tmp_path / "model.npz")
    assert net.binary and all(float(t).is_integer() for t in net.thresholds)
    assert all(np.abs(w).max() <= 1.0 for w in trainer.weights)  # BinaryConnect clipping


@pytest.mark.parametrize("ema, shift, dropout", [(0.0, 0, 0.0), (0.8, 0, 0.0), (0.0, 1, 0.0), (0.0, 0, 0.3)])
def test_adam_resume_is_bit_for_bit(tmp_path, ema, shift, dropout):
    arch = "28x28-c4k5s2-p2-fc12-fc10" if dropout else "28x28-c4k5s2-p2-fc10"
    cfg = _cfg(arch=arch, epochs=2, train_limit=800, chunk=200, ema=ema, shift=shift, dropout=dropout)
    straight = Trainer(cfg, tmp_path / "a", progress=False, log=lambda m: None)
    straight.fit()
    first = Trainer(dataclasses.replace(cfg, epochs=1), tmp_path / "b", progress=False, log=lambda m: None)
    first.fit()
    resumed = Trainer(cfg, tmp_path / "b", progress=False, log=lambda m: None)
    resumed.fit(resume=True)
    for a, b in zip(straight.weights, resumed.weights):
        assert (a == b).all()
    assert straight.history[-1]["test"] == resumed.history[-1]["test"]
    if ema:  # the model is read from the average, which is checkpointed and differs from the weights
        for a, b, w in zip(straight.averages, resumed.averages, straight.weights):
            assert (a == b).all() and not (a == w).all()
        for k, a in zip(straight.network().kernels, straight.averages):
            assert (np.asarray(k) == np.where(a.transpose(3, 0, 1, 2) >= 0, 1, -1)).all()


def test_conv_dropout_draws_the_fc_hidden_layers_only_and_trains_them_at_scaled_thresholds(tmp_path, monkeypatch):
    p = 0.25
    cfg = _cfg(arch="28x28-c4k5s2-p2-fc40-fc10", epochs=1, train_limit=600, chunk=200, dropout=p)
    trainer = Trainer(cfg, tmp_path / "drop", progress=False, log=lambda m: None)
    conv_size, fc_size = trainer.sizes[1], trainer.sizes[2]
    masks = trainer._dropout_function(1)(500)
    assert masks.shape == (500, conv_size + fc_size)
    assert not masks[:, :conv_size].any()  # the conv layer's neurons are never dropped
    fc = masks[:, conv_size:]  # 20,000 Bernoulli(p) draws: within 6 standard deviations of p
    assert abs(fc.mean() - p) < 6 * np.sqrt(p * (1 - p) / fc.size)
    assert (trainer._dropout_function(1)(500) == masks).all()  # seeded per (seed, epoch, chunk)
    seen = []
    trainer_thetas = []

    def spy(*args):
        trainer_thetas.append(np.array(args[8]))
        seen.append(np.array(args[-1]))
        return parallel_batch.batch_gradients(*args)

    monkeypatch.setattr("firstspike.model.trainer.batch_gradients", spy)
    trainer.fit()
    monkeypatch.undo()
    theta = cfg.theta
    # the layer after the dropped fc40 trains at (1 - p) theta, the others at theta; saved: theta
    assert all(t.tolist() == [theta, theta, theta * (1 - p)] for t in trainer_thetas)
    assert all(m.shape == (cfg.batch, conv_size + fc_size) and m[:, conv_size:].any() for m in seen)
    assert trainer.network().meta["theta"] == theta
    plain = Trainer(dataclasses.replace(cfg, dropout=0.0), tmp_path / "plain", progress=False,
                        log=lambda m: None)
    plain.fit()
    assert any(not np.array_equal(a, b) for a, b in zip(plain.weights, trainer.weights))


def test_conv_dropout_needs_an_fc_hidden_layer():
    with pytest.raises(ValueError, match="acts on fully connected hidden layers; .* has none"):
        _cfg(dropout=0.2, arch="28x28-c4k5s2-p2-fc10").resolved()
    sgd = dict(optimizer="sgd", batch=1)  # the per-sample step drops neurons too
    assert _cfg(dropout=0.2, arch="28x28-c4k5s2-p2-fc12-fc10", **sgd).resolved().dropout == 0.2


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_shift_changes_conv_training_and_is_reproducible(tmp_path, optimizer):
    sgd = dict(optimizer="sgd", batch=1, clip=None) if optimizer == "sgd" else {}
    cfg = _cfg(arch="28x28-c4k5s2-p2-fc10", epochs=1, train_limit=500, chunk=100, **sgd)

    def weights(name, **kw):
        trainer = Trainer(dataclasses.replace(cfg, **kw), tmp_path / name, progress=False,
                              log=lambda m: None)
        trainer.fit()
        return trainer.weights

    plain, shifted, again = weights("plain"), weights("shifted", shift=1), weights("again", shift=1)
    assert all((a == b).all() for a, b in zip(shifted, again))
    assert not all((a == b).all() for a, b in zip(plain, shifted))


def test_shift_needs_a_single_channel_square_input():
    with pytest.raises(ValueError, match="single-channel square input"):
        _cfg(arch="4x14x14-c2k3-fc10", shift=1).resolved()
    with pytest.raises(ValueError, match="single-channel square input"):
        _cfg(arch="1x28x14-c2k3-fc10", shift=1).resolved()
    assert _cfg(arch="784-fc10", shift=1).resolved().shift == 1  # flat: read as 28x28, as the FC trainer


def test_train_cli_takes_the_adam_options_for_conv(tmp_path, capsys):
    from firstspike.cli import main

    args = ["train", "--dataset", "mnist-mini", "--arch", "28x28-c2k5s3-p2-fc10", "--epochs", "1", "--init",
            "che", "--init-high", "1", "--train-limit", "300", "--val-size", "60", "--quiet",
            "--optimizer", "adam", "--batch", "8", "--eta", "0.01"]
    assert main(args + ["--shift", "1", "--push-silent-label", "rank", "--out", str(tmp_path / "run")]) == 0
    capsys.readouterr()
    config = load_model(tmp_path / "run" / "model.npz").meta["config"]
    assert (config["optimizer"], config["shift"], config["push_silent_label"]) == ("adam", 1, "rank")
    args[4] = "4x14x14-c2k5s3-fc10"  # 784 inputs, but four channels
    assert main(args + ["--shift", "2", "--out", str(tmp_path / "bad")]) == 1
    assert "--shift needs a single-channel square input" in capsys.readouterr().err
    assert main(["train", "--dataset", "mnist-mini", "--arch", "784-16-10", "--batch", "8",
                 "--out", str(tmp_path / "fc")]) == 1
    assert "need --optimizer adam" in capsys.readouterr().err
