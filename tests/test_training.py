# SPDX-License-Identifier: MIT
"""Training: numba step vs the plain restatement, resume equivalence, learning on mnist-mini."""

import dataclasses
import json

import numpy as np
import pytest
from numba.typed import List

from firstspike.model import spec
from firstspike.model.batch_kernels import batch_gradients
from firstspike.model.arch import parse_arch
from firstspike.model.sgd_kernels import train_sample
from firstspike.model.train_config import SILENT_MODES, config_from_dict
from firstspike.model.train_reference import reference_adam_step, reference_sample_gradients, reference_step
from firstspike.model.trainer import TrainConfig, Trainer, adam_update


def _flat_mask(per_layer):
    """The kernels' dropout mask: the hidden layers' boolean masks concatenated, as uint8."""
    return np.concatenate([*per_layer, np.zeros(0, bool)]).astype(np.uint8)


def _fc_layers(rng, low):
    """A random FC stack as conv-grammar layers (``784-600-10`` style sizes)."""
    sizes = [int(s) for s in rng.integers(low, 9, size=int(rng.integers(2, 4)))]
    sizes[-1] = max(sizes[-1], 2)
    return sizes, parse_arch("-".join(map(str, sizes))).layers


def _kernel_state(kernels):
    """The kernels' layout of reference kernels ``(c_out, c_in, kh, kw)``: weights ``(c_in, kh, kw, c_out)``,
    their signs, zeroed gradients; and the geometry array."""
    w = List([np.ascontiguousarray(k.transpose(1, 2, 3, 0)) for k in kernels])
    return w, List([spec.sign_bits(x) for x in w]), List([np.zeros_like(x) for x in w])


@pytest.mark.parametrize("dropout", [0.0, 0.4])
@pytest.mark.parametrize("silent", [None, "rank"])
@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("seed", range(6))
def test_train_step_matches_reference(seed, binary, silent, dropout):
    """The papers' per-sample step on FC stacks: S4NN (real weights, L2 decay) and BS4NN."""
    rng = np.random.default_rng(seed)
    T = int(rng.integers(8, 30))
    sizes, layers = _fc_layers(rng, 2)
    n_layers = len(layers)
    # dyadic weights and rates keep float sums exact
    kernels = [(rng.integers(-8, 24, size=(sizes[i + 1], sizes[i])) / 4.0)[:, :, None, None] for i in range(n_layers)]
    geoms = np.array([layer.geometry() for layer in layers], dtype=np.int64)
    thetas = np.array([float(rng.integers(1, 6)) for _ in range(n_layers)])
    alphas_ref = np.full(n_layers, 1.0)
    etas = np.full(n_layers, 0.25)
    eta_alphas = np.full(n_layers, 0.125 if binary else 0.0)
    lambdas = np.zeros(n_layers) if binary else np.full(n_layers, 0.0625)
    gamma, push = (1.0, False) if binary else (3.0, True)
    push = push if silent is None else silent
    k_w, k_s, k_g = _kernel_state(kernels)
    k_alphas = alphas_ref.copy()
    times = List([np.empty(s, dtype=np.int16) for s in sizes[1:]])
    snaps = np.zeros((3, sizes[-1]))
    no_lam = np.zeros(T + 1)
    for step in range(25):
        x = rng.integers(0, T + 2, size=sizes[0]).astype(np.int16)
        label = int(rng.integers(0, sizes[-1]))
        dropped = [rng.random(s) < dropout for s in sizes[1:-1]]
        expected = reference_step(x, label, layers, kernels, alphas_ref, thetas, binary, T, gamma, push,
                                  etas, eta_alphas, lambdas, dropped=dropped if dropout else None)
        drop = _flat_mask(dropped) if dropout else np.zeros(0, np.uint8)
        train_sample(x, label, geoms, k_w, k_s, k_g, thetas, k_alphas, binary, T, gamma, SILENT_MODES[push],
                     etas, eta_alphas, lambdas, times, snaps, 0, no_lam, 0.0, 0, drop)
        for layer, mask in enumerate(dropped):
            assert (times[layer][mask] == T).all(), f"seed {seed}: a dropped neuron fired"
        for layer in range(n_layers):
            assert times[layer].tolist() == expected[layer].tolist(), f"seed {seed} step {step}"
            np.testing.assert_allclose(k_w[layer], kernels[layer].transpose(1, 2, 3, 0), rtol=1e-12,
                                       atol=1e-12, err_msg=f"seed {seed} step {step}")
            if binary:
                assert (k_s[layer] == spec.sign_bits(k_w[layer])).all(), f"seed {seed}"
        np.testing.assert_allclose(k_alphas, alphas_ref, rtol=1e-12, err_msg=f"seed {seed}")


@pytest.mark.parametrize("silent, dropout", [(False, 0.0), (True, 0.0), ("rank", 0.0), (False, 0.4), (True, 0.4)])
@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_batched_adam_step_matches_reference(seed, binary, silent, dropout):
    """Mini-batch Adam on FC stacks, errors through the real weights (the FC trainer's default)."""
    rng = np.random.default_rng(100 + seed)
    T = int(rng.integers(8, 30))
    sizes, layers = _fc_layers(rng, 3)
    n_layers = len(layers)
    kernels = [rng.uniform(-1.5, 2.0, size=(sizes[i + 1], sizes[i], 1, 1)) for i in range(n_layers)]
    geoms = np.array([layer.geometry() for layer in layers], dtype=np.int64)
    thetas = np.array([float(rng.integers(1, 5)) for _ in range(n_layers)])
    alphas_ref = np.full(n_layers, 1.0)
    lrs = np.full(n_layers, 0.05)
    eta_alphas = np.full(n_layers, 0.1 if binary else 0.0)
    clips = np.array([1.0] + [0.0] * (n_layers - 1))  # one clipped layer, the others free
    moments = [[np.zeros_like(k), np.zeros_like(k)] for k in kernels]
    k_w, k_s, grads = _kernel_state(kernels)
    k_m, k_v = List([np.zeros_like(w) for w in k_w]), List([np.zeros_like(w) for w in k_w])
    k_alphas = alphas_ref.copy()
    times = List([np.empty(s, dtype=np.int16) for s in sizes[1:]])
    pots = List([np.zeros(s) for s in sizes[1:]])
    snaps = np.zeros((3, sizes[-1]))
    fire_counts = np.zeros(sum(sizes[1:]), dtype=np.int64)
    batch = 3
    for step in range(1, 9):
        x = rng.integers(0, T + 2, size=(batch, sizes[0])).astype(np.int16)
        labels = rng.integers(0, sizes[-1], size=batch).astype(np.int64)
        dropped = [[rng.random(s) < dropout for s in sizes[1:-1]] for _ in range(batch)]
        drops = np.array([_flat_mask(d) for d in dropped], np.uint8)
        summed = [np.zeros_like(k) for k in kernels]
        for n in range(batch):
            expected, g = reference_sample_gradients(
                x[n], labels[n], layers, kernels, thetas, alphas_ref, T, 1.0,
                push_silent_label=silent, real_errors=True, dropped=dropped[n] if dropout else None,
                binary=binary)
            summed = [a + b for a, b in zip(summed, g)]
        reference_adam_step(kernels, summed, alphas_ref, eta_alphas, binary, layers, lrs, clips, moments, step)
        batch_gradients(x, labels, np.arange(batch), geoms, k_w, k_s, binary, k_w, thetas, k_alphas, T,
                        1.0, SILENT_MODES[silent], 0.0, times, pots, snaps, grads, fire_counts,
                        drops if dropout else np.zeros((0, 0), np.uint8))
        assert [t.tolist() for t in times] == [t.tolist() for t in expected], f"seed {seed}"
        for layer in range(n_layers):
            np.testing.assert_allclose(grads[layer], summed[layer].transpose(1, 2, 3, 0), rtol=1e-9,
                                       atol=1e-12, err_msg=f"seed {seed} step {step}")
        adam_update(k_w, k_s, grads, k_m, k_v, k_alphas, binary, lrs, eta_alphas, clips, step,
                    [w.size for w in k_w])
        for layer in range(n_layers):
            np.testing.assert_allclose(k_w[layer], kernels[layer].transpose(1, 2, 3, 0), rtol=1e-9, atol=1e-12,
                                       err_msg=f"seed {seed} step {step}")
            assert np.abs(k_w[layer]).max() <= clips[layer] or clips[layer] == 0, f"seed {seed}"
        np.testing.assert_allclose(k_alphas, alphas_ref, rtol=1e-9, err_msg=f"seed {seed}")


def _mini_config(**kw):
    base = dict(algorithm="bs4nn", arch="784-24-10", dataset="mnist-mini", epochs=3, seed=3,
                val_size=200, train_limit=600, sampling="replacement", chunk=128)
    base.update(kw)
    return TrainConfig(**base)


class Interrupt(Exception):
    pass


_ADAM = dict(optimizer="adam", batch=8, eta=[0.02], clip=[1.0], init_high=[1.0], shift=2)


def _rename_step_count_as_older_versions_did(checkpoint):
    arrays = dict(np.load(checkpoint))
    arrays["adam_step"] = np.array([arrays.pop("adam_steps")])
    np.savez(checkpoint, **arrays)


@pytest.mark.parametrize("options, edit", [({}, None), (_ADAM, None), (dict(_ADAM, ema=0.8), None),
                                           (_ADAM, _rename_step_count_as_older_versions_did),
                                           (dict(algorithm="s4nn", dropout=0.3, shift=1), None),
                                           (dict(_ADAM, dropout=0.3), None)],
                         ids=["sgd", "adam", "adam-ema", "adam-older-checkpoint", "s4nn-dropout",
                              "adam-dropout"])
def test_resume_after_interruption_is_bit_for_bit(tmp_path, options, edit):
    straight = Trainer(_mini_config(**options), tmp_path / "a", progress=False, log=lambda m: None)
    straight.fit()

    def stop_in_epoch_3(epoch, done):
        if epoch == 3 and done >= 256:
            raise Interrupt

    broken = Trainer(_mini_config(**options), tmp_path / "b", progress=False, log=lambda m: None)
    with pytest.raises(Interrupt):
        broken.fit(on_chunk=stop_in_epoch_3)
    assert json.loads((tmp_path / "b" / "metrics.json").read_text())["history"][-1]["epoch"] == 2
    if edit:
        edit(tmp_path / "b" / "checkpoint.npz")
    resumed = Trainer(_mini_config(**options), tmp_path / "b", progress=False, log=lambda m: None)
    resumed.fit(resume=True)
    for a, b in zip(straight.weights, resumed.weights):
        assert (a == b).all()
    assert (straight.alphas == resumed.alphas).all()
    for a, b in zip(straight.adam_v, resumed.adam_v):
        assert (a == b).all()
    for a, b in zip(straight.averages or [], resumed.averages or []):
        assert (a == b).all()
    timing = ("seconds", "images_per_second")
    strip = lambda h: [{k: v for k, v in r.items() if k not in timing} for r in h]  # noqa: E731
    assert strip(straight.history) == strip(resumed.history)
    assert (tmp_path / "a" / "model.npz").read_bytes() == (tmp_path / "b" / "model.npz").read_bytes()


def test_ema_model_is_read_from_the_average_of_the_latent_weights(tmp_path):
    """The average follows a = d a + (1 - d) w after every chunk, from the initial weights, and the
    model's signs are the average's (checked against a recomputation from the chunk snapshots)."""
    d = 0.7
    trainer = Trainer(_mini_config(epochs=2, ema=d, **{k: v for k, v in _ADAM.items() if k != "shift"}),
                      tmp_path, progress=False, log=lambda m: None)
    expected = [w.copy() for w in trainer.weights]
    chunks = []

    def follow(epoch, done):
        chunks.append(done)
        for a, w in zip(expected, trainer.weights):
            a[...] = d * a + (1 - d) * w

    trainer.fit(on_chunk=follow)
    assert len(chunks) >= 4  # several averaging steps
    for a, b in zip(expected, trainer.averages):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    net = trainer.network()
    for i, (a, w) in enumerate(zip(trainer.averages, trainer.weights)):
        assert (net.weights[i] == spec.sign_bits(a.reshape(-1, a.shape[-1]).T)).all()  # (c_in, 1, 1, c_out)
    # the average's signs are not simply the current weights' (else this test could not tell)
    assert any((spec.sign_bits(a) != spec.sign_bits(w)).any() for a, w in zip(trainer.averages, trainer.weights))
    with pytest.raises(ValueError, match="--ema"):
        _mini_config(ema=1.0).resolved()


def test_ema_start_keeps_the_average_on_the_weights_until_that_epoch(tmp_path):
    """With ``ema_start = 2`` the average is the weights themselves through epoch 1 and follows
    a = d a + (1 - d) w from epoch 2 on, starting from the weights epoch 1 ended with."""
    d = 0.7
    adam = {k: v for k, v in _ADAM.items() if k != "shift"}
    trainer = Trainer(_mini_config(epochs=2, ema=d, ema_start=2, **adam), tmp_path, progress=False,
                      log=lambda m: None)
    expected = [w.copy() for w in trainer.weights]
    seen = {1: 0, 2: 0}

    def follow(epoch, done):
        seen[epoch] += 1
        for a, w, avg in zip(expected, trainer.weights, trainer.averages):
            if epoch == 1:
                a[...] = w
                assert (avg == w).all()
            else:
                a[...] = d * a + (1 - d) * w

    trainer.fit(on_chunk=follow)
    assert seen[1] >= 2 and seen[2] >= 2
    for a, b, w in zip(expected, trainer.averages, trainer.weights):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
        assert not np.array_equal(b, w)  # epoch 2 did average
    with pytest.raises(ValueError, match="--ema-start"):
        _mini_config(ema=0.5, ema_start=0).resolved()


def test_dropout_masks_are_seeded_at_the_rate_asked_and_leave_the_saved_thresholds_alone(tmp_path):
    p = 0.3
    trainer = Trainer(_mini_config(algorithm="s4nn", arch="784-40-30-10", epochs=1, dropout=p), tmp_path,
                      progress=False, log=lambda m: None)
    masks = trainer._dropout_function(1)(500)
    assert masks.shape == (500, 70)
    # 35,000 Bernoulli(0.3) draws: the mean lies within 6 standard deviations (0.015) of p
    assert abs(masks.mean() - p) < 6 * np.sqrt(p * (1 - p) / masks.size)
    assert (trainer._dropout_function(1)(500) == masks).all()  # seeded per (seed, epoch, chunk)
    assert not (trainer._dropout_function(2)(500) == masks).all()
    trainer.fit()
    assert trainer.network().thresholds == [trainer.cfg.theta] * 3  # the 1 - p scaling is training-only
    for bad, message in [(dict(dropout=1.0), "probability"), (dict(dropout=0.2, arch="784-10"), "hidden")]:
        with pytest.raises(ValueError, match=message):
            _mini_config(**bad).resolved()


def test_shift_images_moves_pixels_and_fills_with_silence():
    from firstspike.model.trainer import shift_images

    img = np.arange(9).reshape(1, 3, 3)
    down_right = shift_images(img, np.array([[1, 1]]), fill=-1)[0]
    assert down_right.tolist() == [[-1, -1, -1], [-1, 0, 1], [-1, 3, 4]]
    up_left = shift_images(img, np.array([[-1, -2]]), fill=-1)[0]
    assert up_left.tolist() == [[5, -1, -1], [8, -1, -1], [-1, -1, -1]]
    assert (shift_images(img, np.array([[0, 0]]), fill=-1) == img).all()


def test_adam_options_need_the_adam_optimizer():
    with pytest.raises(ValueError, match="--optimizer adam"):
        _mini_config(batch=8).resolved()
    with pytest.raises(ValueError, match="loss = 'ce': that option was removed"):
        config_from_dict(dict(optimizer="adam", loss="ce")).resolved()


def test_resume_refuses_a_different_config(tmp_path):
    Trainer(_mini_config(epochs=1), tmp_path, progress=False, log=lambda m: None).fit()
    with pytest.raises(ValueError, match="different configuration"):
        Trainer(_mini_config(epochs=2, seed=9), tmp_path, progress=False, log=lambda m: None).fit(resume=True)


def _save_removed_options(checkpoint, conv):
    arrays = dict(np.load(checkpoint))
    state = json.loads(bytes(arrays["state"]).decode())
    state["config"]["flip"] = False
    state["config"]["conv"].update(conv)
    arrays["state"] = np.frombuffer(json.dumps(state).encode(), dtype=np.uint8)
    np.savez(checkpoint, **arrays)


def test_resume_and_init_from_take_a_removed_option_at_its_old_default_only(tmp_path):
    """Runs of a trainer that still had the research options (commit a189f41) resume and fine-tune
    when those options were off; one that was on fails naming it."""
    Trainer(_mini_config(epochs=1), tmp_path / "a", progress=False, log=lambda m: None).fit()
    _save_removed_options(tmp_path / "a" / "checkpoint.npz", dict(init_positive=0.5, fire_band=[0.3, 0.3]))
    Trainer(_mini_config(epochs=2), tmp_path / "a", progress=False, log=lambda m: None).fit(resume=True)
    Trainer(_mini_config(epochs=1, init_from=str(tmp_path / "a")), tmp_path / "b", progress=False,
            log=lambda m: None)
    _save_removed_options(tmp_path / "a" / "checkpoint.npz", dict(error_mask="fired"))
    with pytest.raises(ValueError, match="error_mask = 'fired': that option was removed"):
        Trainer(_mini_config(epochs=3), tmp_path / "a", progress=False, log=lambda m: None).fit(resume=True)
    with pytest.raises(ValueError, match="--init-from .*error_mask = 'fired': that option was removed"):
        Trainer(_mini_config(epochs=1, init_from=str(tmp_path / "a")), tmp_path / "c", progress=False,
                log=lambda m: None)


@pytest.mark.parametrize("algorithm", ["bs4nn", "s4nn"])
def test_short_training_beats_chance_by_a_wide_margin(tmp_path, algorithm):
    from firstspike.model import data
    from firstspike.model.infer import evaluate
    from firstspike.model.network import Network

    cfg = TrainConfig(algorithm=algorithm, arch="784-64-10", dataset="mnist-mini", epochs=10, seed=0,
                      val_size=300, sampling="permutation")
    summary = Trainer(cfg, tmp_path, progress=False, log=lambda m: None).fit()
    net = Network.load(tmp_path / "model.npz")
    test = data.load("mnist-mini", "test")
    metrics = evaluate(net, test.images, test.labels)
    # chance is 10 %; 1,700 training images are enough for well over half right
    assert metrics["accuracy_reference"] >= 0.6, (algorithm, metrics)
    assert metrics["accuracy_hardware"] >= 0.5, (algorithm, metrics)
    assert net.binary == (algorithm == "bs4nn")
    assert net.meta["dataset_sha256"] and net.meta["selected_on"]["split"] == "validation"
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"
    assert summary["best_epoch"] >= 1


def test_alpha_init_needs_one_value_or_one_per_layer(tmp_path):
    with pytest.raises(ValueError, match="--alpha-init has 3 values for 2 layers"):
        Trainer(_mini_config(alpha_init=[2.0, 3.0, 4.0]), tmp_path, progress=False, log=lambda m: None)


def test_scale_step_is_the_mean_gradient_step_floored_at_alpha_min():
    from firstspike.model.train_kernels import ALPHA_MIN, scale_step

    assert scale_step(2.0, 0.5, 8.0, 4) == 2.0 - 0.5 * 2.0
    assert scale_step(2.0, 0.5, -8.0, 4) == 3.0
    assert scale_step(0.5, 1.0, 10.0, 2) == ALPHA_MIN  # would be -4.5: the threshold must stay finite


def test_silent_rank_error_pushes_the_outputs_the_hardware_fallback_would_pick():
    from firstspike.model.train_kernels import SILENT_RANK, target_error

    def silent_rank_error(v_end, label, T, gamma):
        return target_error(np.full(len(v_end), T, dtype=np.int16), v_end, label, T, gamma, SILENT_RANK)

    # no output fired; the hardware rule picks argmax V(T - 2), the lowest index on equal potential
    v_end = np.array([3.0, 5.0, 5.0, 1.0, 7.0])
    e = silent_rank_error(v_end, 1, 100, 2.0)
    # the label is pulled earlier; index 4 (7 > 5) and index 2 (equal: the label wins that tie only by
    # its lower index) are pushed later
    assert e.tolist() == [0.0, -0.02, 0.02, 0.0, 0.02]
    assert silent_rank_error(np.array([9.0, 1.0]), 0, 100, 1.0).tolist() == [-0.01, 0.0]


def test_silent_rank_mode_is_checked():
    with pytest.raises(ValueError, match="push_silent_label must be one of"):
        _mini_config(push_silent_label="loud").resolved()
    # the per-sample step takes every mode, conv architectures too
    conv = TrainConfig(arch="28x28-c4k5-p2-fc10", dataset="mnist-mini", push_silent_label="rank")
    assert conv.resolved().push_silent_label == "rank"


def test_init_from_continues_from_the_other_runs_state_with_a_fresh_optimizer(tmp_path):
    quiet = dict(progress=False, log=lambda m: None)
    source = Trainer(_mini_config(epochs=2, ema=0.8, **_ADAM), tmp_path / "a", **quiet)
    source.fit()
    tuned = Trainer(_mini_config(epochs=1, ema=0.8, init_from=str(tmp_path / "a"), **_ADAM), tmp_path / "b", **quiet)
    for a, b in zip(source.weights, tuned.weights):
        assert (a == b).all()
    for a, b in zip(source.averages, tuned.averages):
        assert (a == b).all()
    assert (source.alphas == tuned.alphas).all()
    assert not (source.alphas == source.cfg.alpha_init).all()  # the scales did move
    assert tuned.adam_steps == 0 and all((m == 0).all() and (v == 0).all() for m, v in zip(tuned.adam_m, tuned.adam_v))
    assert tuned.epoch == 0 and tuned.history == []


def test_init_from_with_a_zero_rate_keeps_the_source_network(tmp_path):
    """No learning (eta 0, scale frozen, no average): the fine-tuned run's first epoch scores exactly
    what the source's last epoch scored."""
    quiet = dict(progress=False, log=lambda m: None)
    source = Trainer(_mini_config(epochs=2, **_ADAM), tmp_path / "a", **quiet)
    source.fit()
    frozen = dict(_ADAM, eta=[0.0], eta_alpha=0.0)
    tuned = Trainer(_mini_config(epochs=1, init_from=str(tmp_path / "a" / "checkpoint.npz"), **frozen),
                    tmp_path / "b", **quiet)
    tuned.fit()
    assert tuned.history[0]["val"] == source.history[-1]["val"]
    assert tuned.history[0]["test"] == source.history[-1]["test"]


def test_init_from_refuses_another_architecture_or_a_missing_run(tmp_path):
    quiet = dict(progress=False, log=lambda m: None)
    Trainer(_mini_config(epochs=1), tmp_path / "a", **quiet).fit()
    with pytest.raises(ValueError, match="784-24-10 network but this run trains 784-32-10"):
        Trainer(_mini_config(arch="784-32-10", init_from=str(tmp_path / "a")), tmp_path / "b", **quiet)
    with pytest.raises(FileNotFoundError, match="no checkpoint there"):
        Trainer(_mini_config(init_from=str(tmp_path / "nowhere")), tmp_path / "c", **quiet)
