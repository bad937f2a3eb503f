# SPDX-License-Identifier: MIT
"""Conv training: kernel step vs dense reference step, a short mnist-mini run, resume equivalence."""

import dataclasses
import json

import numpy as np
import pytest
from numba.typed import List

from firstspike.cli import main
from firstspike.model.arch import parse_arch
from firstspike.model.network import load_model
from firstspike.model.conv_train_kernels import BACKWARDS_BY_NAME, DECODINGS_BY_NAME, train_sample
from firstspike.model.conv_train_reference import reference_step
from firstspike.model.conv_trainer import ConvTrainConfig, ConvTrainer, init_firing_fractions

ARCHS = ["2x7x7-c3k3s2p1-p2-fc4", "1x8x8-p2-c2k3p1-c3k2s2-fc5", "6-fc5-fc3", "1x6x6-c2k2s2-fc3"]


@pytest.mark.parametrize("variant", [("s4nn", "s4nn"), ("temporal", "s4nn"), ("mixed", "s4nn"),
                                     ("s4nn", "stidi")])
@pytest.mark.parametrize("seed", range(4))
def test_kernel_step_matches_dense_reference_step(seed, variant):
    decoding, backward = variant
    rng = np.random.default_rng(seed)
    arch = parse_arch(ARCHS[seed % len(ARCHS)])
    T = 24
    kernels = [rng.uniform(-3, 5, size=layer.kernel_shape) for layer in arch.layers]
    alphas_ref = rng.uniform(3.0, 12.0, size=len(kernels))
    thetas = np.full(len(kernels), 20.0)
    etas = rng.uniform(0.05, 0.5, size=len(kernels))
    eta_alphas = np.full(len(kernels), 0.5)
    lambdas = np.array([0.0] * (len(kernels) - 1) + [1e-3])
    lam_ref = 0.25 * (T - np.arange(T + 1, dtype=float))
    geoms = np.array([layer.geometry() for layer in arch.layers], dtype=np.int64)
    w_k, s_k, g_k = List(), List(), List()
    for k in kernels:
        w = np.ascontiguousarray(k.transpose(1, 2, 3, 0))
        w_k.append(w.copy())
        s_k.append(np.where(w >= 0, 1, -1).astype(np.int8))
        g_k.append(np.zeros_like(w))
    alphas_k, lam_k = alphas_ref.copy(), lam_ref.copy()
    times = List([np.empty(s, dtype=np.int16) for s in arch.sizes[1:]])
    snaps = np.zeros((3, arch.sizes[-1]), dtype=np.int32)
    for step in range(6):
        x = rng.integers(0, T + 2, size=arch.sizes[0]).astype(np.int16)
        label = int(rng.integers(0, arch.sizes[-1]))
        expected = reference_step(x, label, arch.layers, kernels, alphas_ref, thetas, T, 2.0, True,
                                  etas, eta_alphas, lambdas, decoding, lam_ref, 0.01, backward)
        train_sample(x, label, geoms, w_k, s_k, g_k, thetas, alphas_k, T, 2.0, True, etas, eta_alphas,
                     lambdas, times, snaps, DECODINGS_BY_NAME[decoding], lam_k, 0.01,
                     BACKWARDS_BY_NAME[backward])
        where = f"seed {seed} {arch.text} {variant} step {step}"
        for layer in range(len(kernels)):
            assert times[layer].tolist() == expected[layer].tolist(), where
            np.testing.assert_allclose(w_k[layer], kernels[layer].transpose(1, 2, 3, 0), rtol=1e-9,
                                       atol=1e-12, err_msg=where)
            assert (s_k[layer] == np.where(w_k[layer] >= 0, 1, -1)).all(), where
        np.testing.assert_allclose(alphas_k, alphas_ref, rtol=1e-9, err_msg=where)
        np.testing.assert_allclose(lam_k, lam_ref, rtol=1e-9, atol=1e-12, err_msg=where)


def _cfg(**kw):
    base = dict(arch="28x28-c8k5-p2-c16k5-p2-fc10", dataset="mnist-mini", epochs=6, val_size=300,
                sampling="permutation", init="che", gamma=5, seed=1)
    base.update(kw)
    return ConvTrainConfig(**base)


def test_short_conv_training_on_mnist_mini_beats_chance_widely(tmp_path):
    trainer = ConvTrainer(_cfg(), tmp_path, progress=False, log=lambda m: None)
    assert all(0.05 < f < 0.95 for f in trainer.init_fractions), trainer.init_fractions
    summary = trainer.fit()
    assert summary["test"]["hardware"] > 0.4, summary  # chance is 0.1
    net = load_model(tmp_path / "model.npz")
    assert net.arch == "28x28-c8k5-p2-c16k5-p2-fc10" and net.binary


def test_resume_is_bit_for_bit(tmp_path):
    cfg = _cfg(arch="28x28-c4k5s2-p2-fc10", epochs=2, decoding="temporal", train_limit=800)
    straight = ConvTrainer(cfg, tmp_path / "a", progress=False, log=lambda m: None)
    straight.fit()
    first = ConvTrainer(dataclasses.replace(cfg, epochs=1), tmp_path / "b",
                        progress=False, log=lambda m: None)
    first.fit()
    resumed = ConvTrainer(cfg, tmp_path / "b", progress=False, log=lambda m: None)
    resumed.fit(resume=True)
    for a, b in zip(straight.weights, resumed.weights):
        assert (a == b).all()
    assert (straight.alphas == resumed.alphas).all()
    assert (straight.lam_table == resumed.lam_table).all()
    assert straight.history[-1]["test"] == resumed.history[-1]["test"]


def test_train_cli_accepts_conv_architectures_and_rejects_conv_flags_for_fc(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--dataset", "mnist-mini", "--arch", "28x28-c2k5s3-p2-fc10", "--epochs", "1",
                 "--init", "che", "--train-limit", "300", "--val-size", "60", "--quiet",
                 "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["epochs"] == 1
    assert (out / "model.npz").is_file() and (out / "checkpoint.npz").is_file()
    assert main(["train", "--dataset", "mnist-mini", "--arch", "784-32-10", "--init", "che",
                 "--out", str(tmp_path / "fc")]) == 2
    assert "conv trainer only" in capsys.readouterr().err


def test_conv_trainer_on_a_plain_fc_stack_reproduces_the_bs4nn_trainer(tmp_path):
    """Same data, seed, init and order: the FC-only conv arch must learn what the FC trainer learns."""
    from firstspike.model.trainer import TrainConfig, Trainer

    common = dict(dataset="mnist-mini", epochs=2, seed=5, val_size=200, train_limit=700,
                  sampling="permutation", chunk=128)
    fc = Trainer(TrainConfig(arch="784-24-10", **common), tmp_path / "fc", progress=False,
                 log=lambda m: None)
    fc.fit()
    conv = ConvTrainer(ConvTrainConfig(arch="784-fc24-fc10", init="bs4nn", **common), tmp_path / "cv",
                       progress=False, log=lambda m: None)
    conv.fit()
    for a, b in zip(fc.weights, conv.weights):  # (n_in, n_out) vs (c_in=n_in, 1, 1, n_out)
        np.testing.assert_allclose(a, b.reshape(a.shape), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(fc.alphas, conv.alphas, rtol=1e-9)
    assert [h["val"] for h in fc.history] == [h["val"] for h in conv.history]


# the extras of models/bs4nn-mnist's recipe: shifted images, sampling with replacement, weight average
_BASELINE_EXTRAS = dict(shift=1, sampling="replacement", ema=0.95, tau=4.0)


@pytest.mark.parametrize("error_weights, silent, extras", [
    ("real", True, {}), ("sign", True, {}), ("real", "rank", {}), ("real", "rank", _BASELINE_EXTRAS)])
def test_conv_adam_on_a_plain_fc_stack_matches_the_fc_adam_trainer(tmp_path, error_weights, silent, extras):
    """The conv Adam path with the relative loss, real error weights and a learned scale is the FC
    mini-batch trainer (same normalised errors, push-silent rule ``rank`` included, Adam, clip, scale
    update, shifts, weight average); with sign error weights the hidden errors differ, so the runs
    must part."""
    from firstspike.model.trainer import TrainConfig, Trainer

    common = dict(dataset="mnist-mini", epochs=2, seed=3, val_size=200, train_limit=600,
                  sampling="permutation", chunk=128, optimizer="adam", batch=8, eta=[0.01],
                  clip=[1.0], init_high=[1.0], alpha_init=[2.5, 5.0], eta_alpha=0.05,
                  push_silent_label=silent)
    common.update(extras)
    fc = Trainer(TrainConfig(arch="784-24-10", **common), tmp_path / "fc", progress=False,
                 log=lambda m: None)
    fc.fit()
    conv = ConvTrainer(ConvTrainConfig(arch="784-fc24-fc10", init="bs4nn", error_weights=error_weights,
                                       **common), tmp_path / "cv", progress=False, log=lambda m: None)
    conv.fit()
    same = all(np.allclose(a, b.reshape(a.shape), rtol=1e-9, atol=1e-9)
               for a, b in zip(fc.weights, conv.weights))
    assert same == (error_weights == "real")
    if error_weights == "real":
        np.testing.assert_allclose(fc.alphas, conv.alphas, rtol=1e-9)
        assert [h["val"] for h in fc.history] == [h["val"] for h in conv.history]
        assert fc.alphas[1] != 5.0  # the scale was learned, so the comparison covers it


def test_init_from_a_conv_run_measures_the_firing_of_the_loaded_network(tmp_path):
    cfg = _cfg(arch="28x28-c4k5s2-p2-fc10", epochs=1, train_limit=800)
    source = ConvTrainer(cfg, tmp_path / "a", progress=False, log=lambda m: None)
    source.fit()
    tuned = ConvTrainer(dataclasses.replace(cfg, init_from=str(tmp_path / "a"), seed=2), tmp_path / "b",
                        progress=False, log=lambda m: None)
    for a, b in zip(source.weights, tuned.weights):
        assert (a == b).all()
    assert (source.alphas == tuned.alphas).all()
    assert tuned.init_fractions == init_firing_fractions(source.network(), tuned._calibration_images())


def test_a_fine_tune_resumes_after_its_source_is_gone_and_keeps_its_init_record(tmp_path):
    cfg = _cfg(arch="28x28-c4k5s2-p2-fc10", epochs=1, train_limit=800)
    ConvTrainer(cfg, tmp_path / "a", progress=False, log=lambda m: None).fit()
    tuned_cfg = dataclasses.replace(cfg, init_from=str(tmp_path / "a"), seed=2)
    ConvTrainer(tuned_cfg, tmp_path / "b", progress=False, log=lambda m: None).fit()
    started = json.loads((tmp_path / "b" / "init.json").read_text())
    assert started["alphas_at_init"] is not None
    (tmp_path / "a" / "checkpoint.npz").unlink()  # the source run was moved away
    resumed = ConvTrainer(dataclasses.replace(tuned_cfg, epochs=2), tmp_path / "b", progress=False,
                          log=lambda m: None, resume=True)
    resumed.fit()
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    assert json.loads((tmp_path / "b" / "init.json").read_text()) == started


@pytest.mark.parametrize("positive", [0.5, 0.8])
def test_che_init_positive_share_sets_the_sign_balance_and_keeps_the_firing_target(tmp_path, positive):
    cfg = _cfg(arch="784-fc64-fc10", init_positive=positive, init_fire=0.2, train_limit=600)
    trainer = ConvTrainer(cfg, tmp_path, progress=False, log=lambda m: None)
    for w, high in zip(trainer.weights, trainer.cfg.init_high):
        share, n = (w > 0).mean(), w.size
        assert abs(share - positive) < 5 * np.sqrt(positive * (1 - positive) / n), (share, n)
        assert w.max() < high and w.min() >= -high * (1.0 - positive) / positive  # U(low, high)
    # the threshold search still hits the hidden firing target (integer thresholds: within a step)
    assert abs(trainer.init_fractions[0] - 0.2) < 0.1, trainer.init_fractions


def test_che_init_positive_is_checked(tmp_path):
    for bad in (dict(init_positive=1.0), dict(init_positive=0.0), dict(init="bs4nn", init_positive=0.7)):
        with pytest.raises(ValueError, match="--init-positive"):
            _cfg(**bad).resolved()


def test_a_fine_tune_can_start_from_another_models_thresholds(tmp_path):
    """--thresholds-from: the fine-tune's network has the given integer thresholds (e.g. the
    calibrated ones) and the source run's latent weights."""
    cfg = _cfg(arch="28x28-c4k5s2-p2-fc10", epochs=1, train_limit=800)
    source = ConvTrainer(cfg, tmp_path / "a", progress=False, log=lambda m: None)
    source.fit()
    net = source.network()
    net.thresholds = [t + 7 * (i + 1) for i, t in enumerate(net.thresholds)]  # as a calibration might
    net.save(tmp_path / "calibrated.npz")
    tuned = ConvTrainer(dataclasses.replace(cfg, init_from=str(tmp_path / "a"),
                                            thresholds_from=str(tmp_path / "calibrated.npz")),
                        tmp_path / "b", progress=False, log=lambda m: None)
    assert tuned.network().thresholds == net.thresholds
    for a, b in zip(source.weights, tuned.weights):
        assert (a == b).all()
    with pytest.raises(ValueError, match="--init-from"):
        dataclasses.replace(cfg, thresholds_from=str(tmp_path / "calibrated.npz")).resolved()
    other = _cfg(arch="28x28-c4k5s2-p2-fc12-fc10", epochs=1, train_limit=800)
    ConvTrainer(other, tmp_path / "c", progress=False, log=lambda m: None).network().save(tmp_path / "c.npz")
    with pytest.raises(ValueError, match="thresholds-from .* give a binary 28x28-c4k5s2-p2-fc10 model"):
        ConvTrainer(dataclasses.replace(cfg, init_from=str(tmp_path / "a"), thresholds_from=str(
            tmp_path / "c.npz")), tmp_path / "d", progress=False, log=lambda m: None)
