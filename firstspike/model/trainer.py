# SPDX-License-Identifier: MIT
"""Training loop for S4NN / BS4NN over any architecture of :mod:`.arch`: epochs,
validation-based model selection, per-epoch atomic checkpoints, bit-for-bit resume.

Every random draw comes from a generator seeded by ``(seed, purpose, epoch)``, so a run resumed
from its last per-epoch checkpoint continues bit for bit as if it had never been interrupted.
The options are :class:`.train_config.TrainConfig`'s. ``optimizer = "sgd"`` is the papers'
per-sample step (:mod:`.sgd_kernels`; ``binary=False``: S4NN with real weights, L2 decay and the
dead-neuron reset); ``"adam"`` (ours) sums per-sample gradients over ``batch`` images
(:mod:`.batch_kernels`) and takes one Adam step on latent weights clipped to ``[-clip, clip]``
(BinaryConnect). ``dropout`` silences fully connected hidden neurons only (Srivastava et al. 2014;
neighbouring positions of a feature map are strongly correlated, Tompson et al. 2015).
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import sys
import time
from pathlib import Path

import numba
import numpy as np
from numba.typed import List
from tqdm import tqdm

from . import data as datamod
from . import spec
from ..outputs import atomic_write_bytes, atomic_write_json
from .parallel_adam import adam_update as fused_adam_update
from .parallel_batch import batch_gradients
from .arch import parse_arch
from .infer import run_times
from .network import Network
from .sgd_kernels import BACKWARDS_BY_NAME, DECODINGS_BY_NAME, fan_in_of, train_chunk
from .train_config import (PRESETS, SILENT_MODES, ConvOptions, TrainConfig, fc_hidden, flat_config,
                           without_removed)
from .train_init import che_scales, init_firing_fractions
from .train_kernels import ADAM_BETAS, adam_step, scale_step

__all__ = ["PRESETS", "ConvOptions", "TrainConfig", "Trainer"]

# seed streams (calibration and shift share 4: they draw with different keys)
_INIT, _SPLIT, _ORDER, _RESET, _CALIB, _SHIFT, _DROP = 0, 1, 2, 3, 4, 4, 5


def training_pool(dataset: str, train_limit: int | None, data_dir=None):
    """(the training split, its images flattened, its labels), cut to the first ``train_limit``
    images when given: the pool that :func:`validation_split` divides."""
    train = datamod.load(dataset, "train", data_dir=data_dir)
    flat, labels = train.images.reshape(len(train), -1), train.labels
    if train_limit:
        flat, labels = flat[:train_limit], labels[:train_limit]
    return train, flat, labels


def validation_split(n: int, seed: int, val_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (validation, training) indices into the first ``n`` training images.

    At most a fifth of the images go to validation; seeded, so a model's metadata (seed, val_size,
    train_limit) is enough to rebuild the split it was selected on.
    """
    size = min(val_size, n // 5)
    split = np.random.default_rng([seed, _SPLIT]).permutation(n)
    return np.sort(split[:size]), np.sort(split[size:])


class Trainer:
    """Holds the training state (latent weights ``(c_in, kh, kw, c_out)``, scales) of one run directory."""

    def __init__(self, cfg: TrainConfig, out_dir: str | Path, data_dir=None, progress=True,
                 log=print, resume=False):
        """``resume=True`` skips what the checkpoint will replace (the ``--init-from`` source, the
        threshold search), so a fine-tune resumes even after its source run was moved."""
        self.cfg = cfg.resolved()
        self.arch = parse_arch(self.cfg.arch)
        self.resume = resume
        self.out = Path(out_dir)
        self.progress = progress
        self.log = log
        self.sizes = self.arch.sizes
        self._load_data(data_dir)
        self.history: list[dict] = []
        self.epoch = 0
        self.best = {"epoch": 0, "accuracy": -1.0}
        self.init_fractions = None  # firing per layer of the starting net; a resumed run keeps init.json
        self._init_weights()
        if self.cfg.init_from and not resume:
            self._warm_start(self.cfg.init_from)

    # ---------------------------------------------------------------- data and state
    def _load_data(self, data_dir):
        cfg = self.cfg
        train, flat, labels = training_pool(cfg.dataset, cfg.train_limit, data_dir)
        test = datamod.load(cfg.dataset, "test", data_dir=data_dir)
        n_in = self.sizes[0]
        if flat.shape[1] != n_in:
            raise ValueError(f"architecture {cfg.arch} has {n_in} inputs but {cfg.dataset} images have "
                             f"{flat.shape[1]} pixels")
        classes = int(max(labels.max(), test.labels.max())) + 1
        if self.sizes[-1] < classes:
            raise ValueError(f"architecture {cfg.arch} ends with {self.sizes[-1]} outputs but {cfg.dataset} has "
                             f"{classes} classes; end it with {classes} (e.g. 784-600-{classes})")
        val_idx, train_idx = validation_split(len(labels), cfg.seed, cfg.val_size)
        times = spec.encode(flat, cfg.encoding, cfg.T)
        self.x_train, self.y_train = np.ascontiguousarray(times[train_idx]), labels[train_idx].astype(np.int64)
        self.x_val, self.y_val = times[val_idx], labels[val_idx].astype(np.int64)
        self.x_test = spec.encode(test.images.reshape(len(test), -1), cfg.encoding, cfg.T)
        self.y_test = test.labels.astype(np.int64)
        self.dataset_sha256 = train.sha256

    def _init_weights(self):
        cfg, opt = self.cfg, self.cfg.conv
        rng = np.random.default_rng([cfg.seed, _INIT])
        self.geoms = np.array([layer.geometry() for layer in self.arch.layers], dtype=np.int64)
        self.weights, self.signs, self.grads = List(), List(), List()
        for index, layer in enumerate(self.arch.layers):
            high = cfg.init_high[index]
            low = -high if opt.init == "che" else cfg.init_low[index]
            w = rng.uniform(low, high, size=(layer.c_in, layer.kh, layer.kw, layer.c_out))
            self.weights.append(w)
            self.signs.append(spec.sign_bits(w))
            self.grads.append(np.zeros_like(w))
        self.adam_m = List([np.zeros_like(w) for w in self.weights])
        self.adam_v = List([np.zeros_like(w) for w in self.weights])
        self.adam_steps = 0
        self.averages = [w.copy() for w in self.weights] if cfg.ema else None  # the model's weights with ema
        n_layers = len(self.arch.layers)
        alpha_init = np.asarray(cfg.alpha_init, dtype=np.float64)  # one for all layers or one per layer
        self.alphas = np.broadcast_to(alpha_init, (n_layers,)).copy() if cfg.binary else np.ones(n_layers)
        # temporal decoding weights: decoding_scale logits per step earlier, 0 for a silent neuron
        self.lam_table = opt.decoding_scale * (cfg.T - np.arange(cfg.T + 1, dtype=np.float64))
        if self.resume or cfg.init_from:  # the checkpoint or the source replaces the state
            return
        if opt.init == "che":
            targets = [opt.init_fire] * (n_layers - 1) + [opt.init_fire_out]
            x = self._calibration_images()
            che_scales(self.alphas, self.arch.layers, cfg.theta, targets,
                       lambda: init_firing_fractions(self.network(), x))
        self.init_fractions = init_firing_fractions(self.network(), self._calibration_images())

    def _calibration_images(self) -> np.ndarray:
        rng = np.random.default_rng([self.cfg.seed, _CALIB])
        n = min(self.cfg.conv.calibration, len(self.x_train))
        return self.x_train[np.sort(rng.choice(len(self.x_train), size=n, replace=False))]

    def network(self) -> Network:
        """The inference network of the current state (binary: signs and integer thresholds); with
        ``ema`` the signs (or real weights) of the latent weights' moving average."""
        cfg = self.cfg
        source = self.averages if cfg.ema else self.weights
        kernels = [w.transpose(3, 0, 1, 2) for w in source]  # (c_out, c_in, kh, kw)
        if cfg.binary:
            kernels = [spec.sign_bits(k) for k in kernels]
            thresholds = [spec.integer_threshold(cfg.theta, a) for a in self.alphas]
        else:
            kernels = [np.array(k) for k in kernels]
            thresholds = [cfg.theta] * len(kernels)
        meta = {"algorithm": cfg.algorithm, "config": dataclasses.asdict(cfg), "dataset": cfg.dataset,
                "dataset_sha256": self.dataset_sha256, "alphas": [float(a) for a in self.alphas],
                "theta": cfg.theta, "epoch": self.epoch}
        return Network(kernels, thresholds, arch=cfg.arch, binary=cfg.binary, encoding=cfg.encoding,
                       T=cfg.T, rule=cfg.select_rule, meta=meta)

    # ---------------------------------------------------------------- checkpoints
    def save_checkpoint(self):
        arrays = {f"w{i}": w for i, w in enumerate(self.weights)}
        arrays.update({"alphas": self.alphas, "lam_table": self.lam_table})
        arrays.update({f"ema{i}": a for i, a in enumerate(self.averages or [])})
        if self.cfg.optimizer == "adam":
            arrays["adam_steps"] = np.array(self.adam_steps)
            arrays.update({f"adam_m{i}": m for i, m in enumerate(self.adam_m)})
            arrays.update({f"adam_v{i}": v for i, v in enumerate(self.adam_v)})
        state = {"epoch": self.epoch, "best": self.best, "history": self.history,
                 "config": dataclasses.asdict(self.cfg)}
        arrays["state"] = np.frombuffer(json.dumps(state).encode(), dtype=np.uint8)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        atomic_write_bytes(self.out / "checkpoint.npz", buffer.getvalue())

    def load_checkpoint(self):
        """Resume from the run folder's checkpoint (older FC checkpoints: no decoding weights, the
        step count named ``adam_step``)."""
        path = self.out / "checkpoint.npz"
        if not path.is_file():
            raise FileNotFoundError(f"no checkpoint in {self.out}; start without --resume")
        archive, state = _read_checkpoint(path, "start without --resume (or with a new --out folder)")
        self._check_resumable(path, state["config"])
        self._load_weights(archive)
        self.alphas = np.array(archive["alphas"])
        if "lam_table" in archive:
            self.lam_table = np.array(archive["lam_table"])
        if self.cfg.optimizer == "adam":
            steps = archive["adam_steps"] if "adam_steps" in archive else archive["adam_step"]
            self.adam_steps = int(np.asarray(steps).reshape(-1)[0])
            for i, w in enumerate(self.weights):
                self.adam_m[i] = np.ascontiguousarray(archive[f"adam_m{i}"]).reshape(w.shape)
                self.adam_v[i] = np.ascontiguousarray(archive[f"adam_v{i}"]).reshape(w.shape)
        self.epoch, self.best, self.history = state["epoch"], state["best"], state["history"]

    def _load_weights(self, archive) -> None:
        """A checkpoint's latent weights ``w0, w1, ...`` (older FC checkpoints hold ``(n_in, n_out)``
        matrices: the same numbers), their signs and, with ``ema``, their average (``ema0, ...``; a
        checkpoint without one: the weights)."""
        for i in range(len(self.weights)):
            self.weights[i] = np.ascontiguousarray(archive[f"w{i}"]).reshape(self.weights[i].shape)
            self.signs[i] = spec.sign_bits(self.weights[i])
        if self.averages is not None:
            self.averages = [np.array(archive[f"ema{i}"]).reshape(w.shape) if f"ema{i}" in archive
                             else w.copy() for i, w in enumerate(self.weights)]

    def _warm_start(self, source) -> None:
        """Fine-tuning (``--init-from``): take the latent weights, scales and weight average of another
        run's checkpoint; the optimizer (fresh from :meth:`_init_weights`), the schedule, the epoch count
        and the history start afresh."""
        path = Path(source)
        if path.is_dir():
            path = path / "checkpoint.npz"
        if not path.is_file():
            raise FileNotFoundError(f"--init-from {source}: no checkpoint there; give a run folder written "
                                    "by 'firstspike train' (or its checkpoint.npz)")
        archive, state = _read_checkpoint(path, "give --init-from another run")
        saved = without_removed(flat_config(state["config"]), f"--init-from {path}")
        if saved.get("arch") != self.cfg.arch:
            raise ValueError(f"--init-from {path} holds a {saved.get('arch')} network but this run trains "
                             f"{self.cfg.arch}; fine-tune with the same --arch")
        self._load_weights(archive)
        if saved.get("binary") == self.cfg.binary:  # a real-valued run's scales are all 1
            self.alphas = np.array(archive["alphas"])
        if self.cfg.thresholds_from:
            self.alphas = self._scales_of_model(self.cfg.thresholds_from)
        self.init_fractions = init_firing_fractions(self.network(), self._calibration_images())

    def _scales_of_model(self, source) -> np.ndarray:
        """Scales giving the integer thresholds of model file ``source`` (``--thresholds-from``, e.g.
        the run's calibrated model), checked against this run's architecture."""
        from .network import load_model

        net = load_model(source)
        if not net.binary or net.arch != self.cfg.arch:
            raise ValueError(f"--thresholds-from {source} holds a {'binary' if net.binary else 'real'} "
                             f"{net.arch} network; give a binary {self.cfg.arch} model (e.g. the calibrated "
                             f"model of the --init-from run)")
        return np.array([spec.scale_for_threshold(self.cfg.theta, int(t)) for t in net.thresholds])

    def _check_resumable(self, path, saved: dict) -> None:
        """Refuse to resume with other options; only ``epochs`` may change. Options a newer
        firstspike added (absent from an older checkpoint) keep their defaults' old behaviour."""
        current = flat_config(dataclasses.asdict(self.cfg))
        saved = without_removed(flat_config(saved), str(path))
        unknown = {k: v for k, v in saved.items() if k not in current and v not in (None, {}, [])}
        changed = [k for k in saved if k in current and k != "epochs" and saved[k] != current[k]]
        if unknown or changed:
            raise ValueError(
                f"{path} was written with a different configuration ({', '.join(changed + list(unknown))}); "
                "resume with the same options (only --epochs may change) or use a new --out folder"
            )

    # ---------------------------------------------------------------- training
    def _epoch_order(self, epoch: int) -> np.ndarray:
        n = len(self.y_train)
        rng = np.random.default_rng([self.cfg.seed, _ORDER, epoch])
        if self.cfg.sampling == "replacement":
            return rng.integers(0, n, size=n)
        if self.cfg.sampling == "permutation":
            return rng.permutation(n)
        return np.arange(n)

    def _dead_reset(self, epoch, fire_counts, n_samples):
        """S4NN: redraw the input weights of fc hidden neurons that fired on < 0.1 % of samples."""
        rng = np.random.default_rng([self.cfg.seed, _RESET, epoch])
        offset, reset = 0, 0
        for layer, fc in enumerate(fc_hidden(self.arch)):
            w = self.weights[layer].reshape(-1, self.weights[layer].shape[-1])  # a view: (fan_in, n_out)
            n_out = self.sizes[layer + 1]
            dead = np.flatnonzero(fire_counts[offset : offset + n_out] < 0.001 * n_samples) if fc else []
            for j in dead:
                w[:, j] = rng.uniform(self.cfg.init_low[layer], self.cfg.init_high[layer], size=w.shape[0])
            self.signs[layer] = spec.sign_bits(self.weights[layer])
            reset += len(dead)
            offset += n_out
        return reset

    def rate_factor(self, epoch: int) -> float:
        """Learning-rate multiplier of an epoch: 1 (constant, as the papers) or a cosine from 1 to
        ``eta_final`` over the run (an addition of ours, not in S4NN/BS4NN)."""
        if self.cfg.schedule == "constant" or self.cfg.epochs == 1:
            return 1.0
        progress = (epoch - 1) / (self.cfg.epochs - 1)
        return self.cfg.eta_final + (1 - self.cfg.eta_final) * 0.5 * (1 + np.cos(np.pi * progress))

    def _run_chunks(self, epoch: int, order: np.ndarray, step, on_chunk) -> tuple[int, float]:
        """Call ``step(images, labels, indices, dropout masks) -> n correct`` on consecutive chunks of
        ``order`` with a progress bar, updating the weight average after each."""
        source, drops = self._chunk_source(epoch), self._dropout_function(epoch)
        correct = 0
        bar = tqdm(total=len(order), desc=f"epoch {epoch}/{self.cfg.epochs}", unit="img", file=sys.stderr,
                   leave=False, dynamic_ncols=True, disable=not self.progress)
        start = time.perf_counter()
        size = -(-self.cfg.chunk // self.cfg.batch) * self.cfg.batch  # whole batches per chunk
        for lo in range(0, len(order), size):
            chunk = order[lo : lo + size]
            x, y, idx = source(chunk)
            correct += step(x, y, idx, drops(len(idx)))
            self._update_averages()
            done = lo + len(chunk)
            bar.update(len(chunk))
            bar.set_postfix(acc=f"{correct / done:.4f}")
            if on_chunk is not None:
                on_chunk(epoch, done)
        seconds = time.perf_counter() - start
        bar.close()
        return correct, seconds

    def train_epoch(self, epoch: int, on_chunk=None) -> dict:
        """One pass over the training set: the papers' per-sample step (sgd) or mini-batch Adam."""
        cfg = self.cfg
        factor = self.rate_factor(epoch)
        order = self._epoch_order(epoch)
        n_layers = len(self.weights)
        buffers = dict(times=List([np.empty(s, dtype=np.int16) for s in self.sizes[1:]]),
                       snaps=np.zeros((3, self.sizes[-1])), fire_counts=np.zeros(sum(self.sizes[1:]), np.int64),
                       etas=np.array(cfg.eta) * factor, eta_alphas=np.full(n_layers, cfg.eta_alpha) * factor,
                       thetas=self._dropout_thetas(np.full(n_layers, cfg.theta)), loss=[0.0])
        step = self._adam_function(**buffers) if cfg.optimizer == "adam" else self._sgd_function(**buffers)
        correct, seconds = self._run_chunks(epoch, order, step, on_chunk)
        counts = buffers["fire_counts"]
        reset = self._dead_reset(epoch, counts, len(order)) if cfg.dead_reset else 0
        bounds = np.cumsum([0] + self.sizes[1:])
        fractions = [float(counts[a:b].sum() / (len(order) * (b - a))) for a, b in zip(bounds, bounds[1:])]
        extra = {"train_loss": buffers["loss"][0] / len(order)} if cfg.optimizer == "adam" else {}
        return {"train_accuracy_running": correct / len(order), "seconds": seconds,
                "images_per_second": len(order) / seconds, "dead_reset": int(reset), "rate_factor": factor,
                **extra, "firing_fraction": fractions}

    def _sgd_function(self, times, snaps, fire_counts, etas, eta_alphas, thetas, loss):
        """The chunk step of :meth:`_run_chunks`: the papers' per-sample SGD
        (:func:`.sgd_kernels.train_chunk`)."""
        cfg, opt = self.cfg, self.cfg.conv
        lambdas = np.full(len(self.weights), cfg.lam)
        eta_lam = opt.eta_decoding if opt.decoding != "s4nn" else 0.0

        def step(x, y, idx, masks):
            return train_chunk(x, y, idx, self.geoms, self.weights, self.signs, self.grads, thetas, self.alphas,
                               cfg.binary, cfg.T, float(cfg.gamma), SILENT_MODES[cfg.push_silent_label], etas,
                               eta_alphas, lambdas, times, snaps, DECODINGS_BY_NAME[opt.decoding],
                               self.lam_table, eta_lam, BACKWARDS_BY_NAME[opt.backward], fire_counts, masks)

        return step

    def _adam_function(self, times, snaps, fire_counts, etas, eta_alphas, thetas, loss):
        """The chunk step of :meth:`_run_chunks`: summed per-sample gradients
        (:func:`.parallel_batch.batch_gradients`, the parallel equal of
        :func:`.batch_kernels.batch_gradients`), one Adam step per batch of ``batch`` samples
        (:func:`.parallel_adam.adam_update`, equal to :func:`adam_update`; chunks hold whole batches)."""
        cfg, opt = self.cfg, self.cfg.conv
        connections = np.array([n * int(fan_in_of(g)) for n, g in zip(self.sizes[1:], self.geoms)], dtype=np.int64)
        carriers = self.weights if opt.error_weights == "real" else self.signs
        clips = np.array(cfg.clip or [0.0] * len(self.weights), dtype=np.float64)  # 0: no clipping

        n_threads = training_threads()  # a bad setting fails here, before the first batch

        def step(x, y, idx, masks):
            threads = numba.get_num_threads()
            numba.set_num_threads(n_threads)
            try:
                correct = batches(x, y, idx, masks)
            finally:
                numba.set_num_threads(threads)
            return correct

        def batches(x, y, idx, masks):
            correct = 0
            for lo in range(0, len(idx), cfg.batch):
                c, batch_loss = batch_gradients(
                    x, y, idx[lo : lo + cfg.batch], self.geoms, self.weights, self.signs, cfg.binary, carriers,
                    thetas, self.alphas, cfg.T, float(cfg.gamma), SILENT_MODES[cfg.push_silent_label],
                    float(opt.silent_margin), self.grads, fire_counts, masks[lo : lo + cfg.batch])
                correct += c
                loss[0] += batch_loss
                self.adam_steps += 1
                fused_adam_update(self.weights, self.signs, self.grads, self.adam_m, self.adam_v, self.alphas,
                                  cfg.binary, etas, eta_alphas, clips, self.adam_steps, connections, *ADAM_BETAS)
            return correct

        return step

    def _update_averages(self):
        """``a = ema * a + (1 - ema) * w`` after every chunk (Polyak-style averaging, ours): the
        signs of a binary net's latent weights flip back and forth near 0 late in training; the
        average's signs are the ones the weights keep most of the time."""
        if self.averages is None:
            return
        # self.epoch is the last finished epoch; before ema_start the average restarts every chunk,
        # so it does not carry the large early weights into a long average
        decay = self.cfg.ema if self.epoch + 1 >= self.cfg.ema_start else 0.0
        for a, w in zip(self.averages, self.weights):
            a *= decay
            a += (1.0 - decay) * w

    def _chunk_source(self, epoch):
        """``source(chunk) -> (images, labels, indices)`` a chunk trains on: the training set and the
        chunk, or with ``shift`` the chunk's images, each translated by a random whole number of pixels
        in ``[-shift, shift]`` per axis (data augmentation, ours; seeded per chunk)."""
        if not self.cfg.shift:
            return lambda chunk: (self.x_train, self.y_train, chunk)
        side = int(round(np.sqrt(self.sizes[0])))
        silent = spec.encode(np.zeros((1, 1), np.uint8), self.cfg.encoding, self.cfg.T)[0, 0]
        counter = iter(range(1 << 30))

        def source(chunk):
            rng = np.random.default_rng([self.cfg.seed, _SHIFT, epoch, next(counter)])
            moves = rng.integers(-self.cfg.shift, self.cfg.shift + 1, size=(len(chunk), 2))
            images = shift_images(self.x_train[chunk].reshape(-1, side, side), moves, silent)
            images = np.ascontiguousarray(images.reshape(len(chunk), -1))
            return images, self.y_train[chunk], np.arange(len(chunk))

        return source

    def _dropout_function(self, epoch):
        """``drops(n) -> (n, n_hidden) uint8``: which hidden neurons each of the next ``n`` training
        samples silences (``--dropout``, ours; seeded per chunk; ``(0, 0)`` when off); only the fully
        connected hidden layers are drawn, the other columns stay 0."""
        columns = np.repeat(np.array(fc_hidden(self.arch), dtype=bool), self.sizes[1:-1])
        counter = iter(range(1 << 30))

        def drops(n):
            if not self.cfg.dropout:
                return np.zeros((0, 0), dtype=np.uint8)
            rng = np.random.default_rng([self.cfg.seed, _DROP, epoch, next(counter)])
            mask = np.zeros((n, len(columns)), dtype=np.uint8)
            mask[:, columns] = rng.random((n, int(columns.sum()))) < self.cfg.dropout
            return mask

        return drops

    def _dropout_thetas(self, thetas: np.ndarray) -> np.ndarray:
        """Training thresholds: the layer after each dropped one at ``(1 - p) theta``, so a neuron's
        expected potential is the one it sees at inference (ours)."""
        out = thetas.copy()
        for layer, dropped in enumerate(fc_hidden(self.arch)):
            if dropped:
                out[layer + 1] *= 1.0 - self.cfg.dropout
        return out

    def _score(self, net: Network, x, y) -> dict:
        result = run_times(net, x)
        return {rule: float(result.correct(y, rule).mean()) for rule in spec.DECISION_RULES}

    def fit(self, resume: bool = False, on_chunk=None, on_epoch=None) -> dict:
        """Train up to ``cfg.epochs``; writes checkpoint, best model, metrics and plot every epoch.
        With ``resume`` (or a trainer built with ``resume=True``) it continues from the run folder's
        checkpoint. ``on_epoch(record)`` is called after each epoch's files are written (a sweep
        reports progress from it; it must not change the trainer)."""
        if not len(self.y_val):
            raise ValueError(f"--val-size {self.cfg.val_size}: the best epoch is picked on validation images; "
                             "give at least 1 (default 5000)")
        self.out.mkdir(parents=True, exist_ok=True)
        if resume or self.resume:
            self.load_checkpoint()
            self.log(f"resuming {self.out} after epoch {self.epoch}")
        else:  # a resumed run keeps the init.json of its start
            atomic_write_json(self.out / "init.json", {"firing_fraction_at_init": self.init_fractions,
                                                       "alphas_at_init": [float(a) for a in self.alphas]})
            self.log(f"firing fraction per layer at init: {np.round(self.init_fractions, 3).tolist()}")
        if len(self.y_val) < self.cfg.val_size:  # validation_split keeps at least 4/5 of the pool for training
            pool = len(self.y_val) + len(self.y_train)
            self.log(f"validation: {len(self.y_val)} of {pool} images (--val-size {self.cfg.val_size} capped at "
                     "a fifth of the pool)")
        atomic_write_json(self.out / "config.json", dataclasses.asdict(self.cfg))
        while self.epoch < self.cfg.epochs:
            epoch = self.epoch + 1
            stats = self.train_epoch(epoch, on_chunk)
            self.epoch = epoch
            net = self.network()
            val = self._score(net, self.x_val, self.y_val)
            test = self._score(net, self.x_test, self.y_test)
            record = {"epoch": epoch, **stats, "val": val, "test": test,
                      "alphas": [float(a) for a in self.alphas], "thresholds": net.thresholds}
            self.history.append(record)
            if val[self.cfg.select_rule] > self.best["accuracy"]:
                self.best = {"epoch": epoch, "accuracy": val[self.cfg.select_rule]}
                net.meta["selected_on"] = {"split": "validation", "rule": self.cfg.select_rule,
                                           "accuracy": val[self.cfg.select_rule]}
                net.save(self.out / "model.npz")
            self.save_checkpoint()
            self._write_metrics()
            self.log(f"epoch {epoch}: {stats['seconds']:.1f} s, val hw {val['hardware']:.4f} "
                     f"ref {val['reference']:.4f} | test hw {test['hardware']:.4f} "
                     f"ref {test['reference']:.4f} | alphas {np.round(self.alphas, 3).tolist()}")
            if on_epoch is not None:
                on_epoch(record)
        return self.summary()

    def summary(self) -> dict:
        best = next(r for r in self.history if r["epoch"] == self.best["epoch"])
        return {"out": str(self.out), "epochs": self.epoch, "best_epoch": self.best["epoch"],
                "val": best["val"], "test": best["test"],
                "seconds_per_epoch": float(np.mean([r["seconds"] for r in self.history]))}

    def _write_metrics(self):
        atomic_write_json(self.out / "metrics.json", {"history": self.history, "best": self.best,
                                                      "config": dataclasses.asdict(self.cfg)})
        from .plots import training_curve

        training_curve(self.history, self.out / "curve.png", title=f"{self.cfg.algorithm} {self.cfg.arch} "
                       f"on {self.cfg.dataset}")


def training_threads() -> int:
    """Threads of the mini-batch kernels: ``FIRSTSPIKE_TRAIN_THREADS`` (default 1, at most numba's
    thread count). Results do not depend on it; on a machine shared with other jobs, parallel regions
    every batch wait for descheduled threads and run slower than one thread."""
    value = os.environ.get("FIRSTSPIKE_TRAIN_THREADS", "1")
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"FIRSTSPIKE_TRAIN_THREADS={value!r}: give a whole number of threads, e.g. 1 or 2")
    return min(int(value), numba.config.NUMBA_NUM_THREADS)


def adam_update(weights, signs, grads, adam_m, adam_v, alphas, binary, lrs, eta_alphas, clips, step, connections):
    """Per layer, BS4NN's scale step on the mean of ``grad * sign(w)`` over the layer's ``connections``
    (signs before the step), then one Adam step (:func:`.train_kernels.adam_step`, clip 0 = none)."""
    for layer, w in enumerate(weights):
        if binary:
            alpha_grad = float(np.sum(grads[layer] * signs[layer]))
            alphas[layer] = scale_step(alphas[layer], eta_alphas[layer], alpha_grad, connections[layer])
        adam_step(w, signs[layer], binary, grads[layer], adam_m[layer], adam_v[layer], lrs[layer], ADAM_BETAS[0],
                  ADAM_BETAS[1], step, float(clips[layer]))


def shift_images(images: np.ndarray, moves: np.ndarray, fill) -> np.ndarray:
    """Translate each ``(H, W)`` image by ``moves[n] = (dy, dx)`` pixels, filling with ``fill``."""
    out = np.full_like(images, fill)
    H, W = images.shape[1:]
    for n, (dy, dx) in enumerate(moves):
        out[n, max(dy, 0) : H + min(dy, 0), max(dx, 0) : W + min(dx, 0)] = \
            images[n, max(-dy, 0) : H + min(-dy, 0), max(-dx, 0) : W + min(-dx, 0)]
    return out


def _read_checkpoint(path: Path, fix: str) -> tuple[dict, dict]:
    """Every array of checkpoint ``path`` and its JSON state (epoch, best, history, config), read in
    full here so a damaged file (cut short, overwritten) is one ``ValueError`` naming it and ``fix``."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        state = json.loads(bytes(arrays["state"]).decode())
        if not isinstance(state, dict) or not isinstance(state.get("config"), dict):
            raise ValueError("its state holds no configuration")
        if not all(isinstance(array, np.ndarray) for array in arrays.values()):
            raise ValueError("a member is not a numpy array")  # numpy returns raw bytes without the magic
    except Exception as error:  # noqa: BLE001 - damaged bytes make zipfile/numpy raise a dozen types
        raise ValueError(f"{path} is not a readable checkpoint ({type(error).__name__}: {error}); "
                         f"it is damaged: {fix}") from None
    return arrays, state
