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
from firstspike.model.network import Network
from firstspike.model.sgd_kernels import BACKWARDS_BY_NAME, DECODINGS_BY_NAME, train_sample
from firstspike.model.train_config import TrainConfig, config_from_dict
from firstspike.model.train_init import init_firing_fractions
from firstspike.model.train_reference import reference_step
from firstspike.model.trainer import Trainer

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
    snaps = np.zeros((3, arch.sizes[-1]))
    for step in range(6):
        x = rng.integers(0, T + 2, size=arch.sizes[0]).astype(np.int16)
        label = int(rng.integers(0, arch.sizes[-1]))
        expected = reference_step(x, label, arch.layers, kernels, alphas_ref, thetas, True, T, 2.0, True,
                                  etas, eta_alphas, lambdas, decoding, lam_ref, 0.01, backward)
        train_sample(x, label, geoms, w_k, s_k, g_k, thetas, alphas_k, True, T, 2.0, 1, etas, eta_alphas,
                     lambdas, times, snaps, DECODINGS_BY_NAME[decoding], lam_k, 0.01,
                     BACKWARDS_BY_NAME[backward], np.zeros(0, np.uint8))
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
    return config_from_dict(base)


def test_short_conv_training_on_mnist_mini_beats_chance_widely(tmp_path):
    trainer = Trainer(_cfg(), tmp_path, progress=False, log=lambda m: None)
    assert all(0.05 < f < 0.95 for f in trainer.init_fractions), trainer.init_fractions
    summary = trainer.fit()
    assert summary["test"]["hardware"] > 0.4, summary  # chance is 0.1
    net = load_model(tmp_path / "model.npz")
    assert net.arch == "28x28-c8k5-p2-c16k5-p2-fc10" and net.binary


def test_resume_is_bit_for_bit(tmp_path):
    cfg = _cfg(arch="28x28-c4k5s2-p2-fc10", epochs=2, decoding="temporal", train_limit=800)
    straight = Trainer(cfg, tmp_path / "a", progress=False, log=lambda m: None)
    straight.fit()
    first = Trainer(dataclasses.replace(cfg, epochs=1), tmp_path / "b",
                        progress=False, log=lambda m: None)
    first.fit()
    resumed = Trainer(cfg, tmp_path / "b", progress=False, log=lambda m: None)
    resumed.fit(resume=True)
    for a, b in zip(straight.weights, resumed.weights):
        assert (a == b).all()
    assert (straight.alphas == resumed.alphas).all()
    assert (straight.lam_table == resumed.lam_table).all()
    assert straight.history[-1]["test"] == resumed.history[-1]["test"]


def test_train_cli_takes_conv_architectures_and_the_conv_options_for_any_net(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--dataset", "mnist-mini", "--arch", "28x28-c2k5s3-p2-fc10", "--epochs", "1",
                 "--init", "che", "--train-limit", "300", "--val-size", "60", "--quiet",
                 "--out", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["epochs"] == 1
    assert (out / "model.npz").is_file() and (out / "checkpoint.npz").is_file()
    assert main(["train", "--dataset", "mnist-mini", "--arch", "784-32-10", "--init", "che", "--epochs", "1",
                 "--train-limit", "300", "--val-size", "60", "--quiet", "--out", str(tmp_path / "fc")]) == 0
    assert load_model(tmp_path / "fc" / "model.npz").meta["config"]["conv"]["init"] == "che"
    capsys.readouterr()
    # an option that makes no sense for the net is still a one-line error
    assert main(["train", "--dataset", "mnist-mini", "--arch", "784-32-10", "--algorithm", "s4nn", "--init",
                 "che", "--out", str(tmp_path / "s4nn")]) == 1
    err = capsys.readouterr().err.strip()
    assert "has no integer thresholds to calibrate" in err and "\n" not in err


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_an_fc_stack_trains_the_same_written_as_sizes_or_as_fc_layers(tmp_path, optimizer):
    """``784-24-10`` and ``784-fc24-fc10`` are one network: the same training, to the bit; only the
    model file differs (the FC file of :mod:`.network` for plain sizes)."""
    adam = dict(optimizer="adam", batch=8, eta=[0.01], clip=[1.0], init_high=[1.0], alpha_init=[2.5, 5.0],
                eta_alpha=0.05, push_silent_label="rank", shift=1, ema=0.95) if optimizer == "adam" else {}
    common = dict(dataset="mnist-mini", epochs=2, seed=5, val_size=200, train_limit=700,
                  sampling="permutation", chunk=128, **adam)
    runs = [Trainer(config_from_dict(dict(common, arch=arch)), tmp_path / name, progress=False,
                    log=lambda m: None) for name, arch in (("sizes", "784-24-10"), ("fc", "784-fc24-fc10"))]
    for run in runs:
        run.fit()
    for a, b in zip(runs[0].weights, runs[1].weights):
        assert (a == b).all()
    assert (runs[0].alphas == runs[1].alphas).all() and (runs[0].alphas != runs[0].cfg.alpha_init).all()
    assert [h["val"] for h in runs[0].history] == [h["val"] for h in runs[1].history]
    assert isinstance(runs[0].network(), Network) and runs[1].network().arch == "784-fc24-fc10"


def test_unset_options_resolve_by_the_net_as_the_old_fc_and_conv_trainers_had_them():
    """An FC stack (or a real-valued net) passes Adam's hidden errors through the real weights with
    no clipping (the FC trainer); a net with conv layers through the signs, clip 1
    (the conv trainer). The resolved config records the values, and either can be asked for."""
    fc = config_from_dict(dict(arch="784-fc24-fc10", optimizer="adam")).resolved()
    assert (fc.conv.error_weights, fc.clip) == ("real", None)
    s4nn = config_from_dict(dict(algorithm="s4nn", arch="28x28-c4k5-p2-fc10", optimizer="adam")).resolved()
    assert s4nn.conv.error_weights == "real"
    conv = config_from_dict(dict(arch="28x28-c4k5-p2-fc10", optimizer="adam")).resolved()
    assert (conv.conv.error_weights, conv.clip) == ("sign", [1.0, 1.0])
    asked = config_from_dict(dict(arch="784-24-10", optimizer="adam", error_weights="sign",
                                  clip=[1.0])).resolved()
    assert (asked.conv.error_weights, asked.clip) == ("sign", [1.0, 1.0])


def test_sign_error_weights_change_what_an_fc_stack_learns(tmp_path):
    common = dict(arch="784-24-10", dataset="mnist-mini", epochs=1, seed=3, val_size=200, train_limit=400,
                  chunk=128, optimizer="adam", batch=8, eta=[0.01], clip=[1.0], init_high=[1.0])
    runs = [Trainer(config_from_dict(dict(common, error_weights=w)), tmp_path / w, progress=False,
                    log=lambda m: None) for w in ("real", "sign")]
    for run in runs:
        run.fit()
    assert not (runs[0].weights[0] == runs[1].weights[0]).all()  # the hidden errors differ


def test_init_from_a_conv_run_measures_the_firing_of_the_loaded_network(tmp_path):
    cfg = _cfg(arch="28x28-c4k5s2-p2-fc10", epochs=1, train_limit=800)
    source = Trainer(cfg, tmp_path / "a", progress=False, log=lambda m: None)
    source.fit()
    tuned = Trainer(dataclasses.replace(cfg, init_from=str(tmp_path / "a"), seed=2), tmp_path / "b",
                        progress=False, log=lambda m: None)
    for a, b in zip(source.weights, tuned.weights):
        assert (a == b).all()
    assert (source.alphas == tuned.alphas).all()
    assert tuned.init_fractions == init_firing_fractions(source.network(), tuned._calibration_images())


def test_a_fine_tune_resumes_after_its_source_is_gone_and_keeps_its_init_record(tmp_path):
    cfg = _cfg(arch="28x28-c4k5s2-p2-fc10", epochs=1, train_limit=800)
    Trainer(cfg, tmp_path / "a", progress=False, log=lambda m: None).fit()
    tuned_cfg = dataclasses.replace(cfg, init_from=str(tmp_path / "a"), seed=2)
    Trainer(tuned_cfg, tmp_path / "b", progress=False, log=lambda m: None).fit()
    started = json.loads((tmp_path / "b" / "init.json").read_text())
    assert started["alphas_at_init"] is not None
    (tmp_path / "a" / "checkpoint.npz").unlink()  # the source run was moved away
    resumed = Trainer(dataclasses.replace(tuned_cfg, epochs=2), tmp_path / "b", progress=False,
                          log=lambda m: None, resume=True)
    resumed.fit()
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    assert json.loads((tmp_path / "b" / "init.json").read_text()) == started


def test_che_init_draws_random_signs_and_hits_the_firing_target(tmp_path):
    cfg = _cfg(arch="784-fc64-fc10", init_fire=0.2, train_limit=600)
    trainer = Trainer(cfg, tmp_path, progress=False, log=lambda m: None)
    for w, high in zip(trainer.weights, trainer.cfg.init_high):
        share, n = (w > 0).mean(), w.size
        assert abs(share - 0.5) < 5 * np.sqrt(0.25 / n), (share, n)
        assert w.max() < high and w.min() >= -high  # U(-high, high)
    # the threshold search hits the hidden firing target (integer thresholds: within a step)
    assert abs(trainer.init_fractions[0] - 0.2) < 0.1, trainer.init_fractions


def test_removed_research_options_load_at_their_old_default_and_fail_otherwise():
    assert config_from_dict(dict(init_positive=0.5, flip=False, hw_scale=3.0, fire_band=[0.1, 0.2],
                                 conv=dict(error_mask="before", centre_conv_grads=False))) == TrainConfig()
    for bad in (dict(init_positive=0.7), dict(conv=dict(init_kernels="kmeans")), dict(flip=True),
                dict(loss="ce+hw"), dict(loss="ce"), dict(fire_reg=0.1), dict(error_mask="fired"), dict(centre_conv_grads=True)):
        with pytest.raises(ValueError, match="that option was removed from the trainer .* a189f41"):
            config_from_dict(bad)


def test_a_fine_tune_can_start_from_another_models_thresholds(tmp_path):
    """--thresholds-from: the fine-tune's network has the given integer thresholds (e.g. the
    calibrated ones) and the source run's latent weights."""
    cfg = _cfg(arch="28x28-c4k5s2-p2-fc10", epochs=1, train_limit=800)
    source = Trainer(cfg, tmp_path / "a", progress=False, log=lambda m: None)
    source.fit()
    net = source.network()
    net.thresholds = [t + 7 * (i + 1) for i, t in enumerate(net.thresholds)]  # as a calibration might
    net.save(tmp_path / "calibrated.npz")
    tuned = Trainer(dataclasses.replace(cfg, init_from=str(tmp_path / "a"),
                                            thresholds_from=str(tmp_path / "calibrated.npz")),
                        tmp_path / "b", progress=False, log=lambda m: None)
    assert tuned.network().thresholds == net.thresholds
    for a, b in zip(source.weights, tuned.weights):
        assert (a == b).all()
    with pytest.raises(ValueError, match="--init-from"):
        dataclasses.replace(cfg, thresholds_from=str(tmp_path / "calibrated.npz")).resolved()
    other = _cfg(arch="28x28-c4k5s2-p2-fc12-fc10", epochs=1, train_limit=800)
    Trainer(other, tmp_path / "c", progress=False, log=lambda m: None).network().save(tmp_path / "c.npz")
    with pytest.raises(ValueError, match="thresholds-from .* give a binary 28x28-c4k5s2-p2-fc10 model"):
        Trainer(dataclasses.replace(cfg, init_from=str(tmp_path / "a"), thresholds_from=str(
            tmp_path / "c.npz")), tmp_path / "d", progress=False, log=lambda m: None)
