# SPDX-License-Identifier: MIT
"""Training loop for S4NN / BS4NN: epochs, validation-based model selection, checkpoints, resume.

Every random draw comes from a generator seeded by ``(seed, purpose, epoch)``, so a run resumed
from its last per-epoch checkpoint continues bit for bit as if it had never been interrupted.
"""

from __future__ import annotations

import dataclasses
import io
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numba.typed import List

from . import data as datamod
from . import spec
from .atomic import atomic_write_bytes, atomic_write_json
from .infer import run_times
from .arch import parse_arch
from .network import Network
from .train_kernels import (ADAM_BETAS, LOSS_CE, LOSS_RELATIVE, SILENT_LABEL, SILENT_OFF, SILENT_RANK,
                            train_chunk, train_chunk_batched)

__all__ = ["PRESETS", "TrainConfig", "Trainer", "train"]

#: Hyperparameters of the authors' code (ttfs-algorithms.md tables 2.3 and 3.4).
PRESETS = {
    "bs4nn": dict(binary=True, encoding="bs4nn", gamma=1, eta=0.1, eta_alpha=0.01, alpha_init=5.0,
                  lam=0.0, init_high=(5.0, 48.0), sampling="replacement", dead_reset=False,
                  push_silent_label=False),
    "s4nn": dict(binary=False, encoding="s4nn", gamma=3, eta=0.2, eta_alpha=0.0, alpha_init=1.0,
                 lam=1e-6, init_high=(5.0, 48.0), sampling="ordered", dead_reset=True,
                 push_silent_label=True),
}

#: ``TrainConfig.push_silent_label`` -> the kernels' ``SILENT_*`` mode
SILENT_MODES = {False: SILENT_OFF, True: SILENT_LABEL, "rank": SILENT_RANK}

# seed streams
_INIT, _SPLIT, _ORDER, _RESET, _SHIFT, _DROP, _FLIP = 0, 1, 2, 3, 4, 5, 6


@dataclass
class TrainConfig:
    algorithm: str = "bs4nn"
    arch: str = "784-600-10"
    dataset: str = "mnist"
    epochs: int = 30
    seed: int = 0
    val_size: int = 5000
    theta: float = 100.0
    T: int = spec.T_DEFAULT
    select_rule: str = "hardware"
    # None = the preset's value
    binary: bool | None = None
    encoding: str | None = None
    gamma: float | None = None
    eta: list[float] | None = None
    eta_alpha: float | None = None
    alpha_init: float | list[float] | None = None
    lam: float | None = None
    init_high: list[float] | None = None
    init_low: list[float] | None = None
    sampling: str | None = None
    dead_reset: bool | None = None
    push_silent_label: bool | str | None = None  # False, True or "rank" (see train_kernels.SILENT_*)
    schedule: str = "constant"
    eta_final: float = 0.01
    train_limit: int | None = None
    chunk: int = 2000
    # additions of ours (not in the papers): mini-batch Adam on clipped latent weights
    optimizer: str = "sgd"
    batch: int = 1
    loss: str = "relative"
    tau: float = 4.0
    clip: list[float] | None = None
    shift: int = 0
    flip: bool = False  # mirror each training image left-right with probability 1/2 (ours)
    ema: float = 0.0  # decay per chunk of the latent-weight average the model is read from (0 = off)
    ema_start: int = 1  # first epoch that averages; before it the average is the weights themselves
    dropout: float = 0.0  # chance a hidden neuron is silenced for one training sample (ours; 0 = off)
    init_from: str | None = None  # fine-tune: start from another run's checkpoint (ours)
    thresholds_from: str | None = None  # with init_from: a model file's integer thresholds (ours)

    def layer_sizes(self) -> list[int]:
        """Flat layer sizes, input first (subclasses with other architecture grammars override)."""
        return parse_arch(self.arch).sizes

    def resolved(self) -> TrainConfig:
        """Fill the unset fields from the algorithm's preset and validate the whole config."""
        if self.algorithm not in PRESETS:
            raise ValueError(f"unknown algorithm {self.algorithm!r}; choose one of {list(PRESETS)}")
        cfg = dataclasses.replace(self)
        for key, value in PRESETS[self.algorithm].items():
            if getattr(cfg, key) is None:
                setattr(cfg, key, value)
        n_layers = len(cfg.layer_sizes()) - 1
        eta = cfg.eta if isinstance(cfg.eta, (list, tuple)) else [cfg.eta]
        if len(eta) == 1:
            eta = list(eta) * n_layers
        if len(eta) != n_layers:
            raise ValueError(f"{len(eta)} learning rates for {n_layers} layers")
        cfg.eta = [float(x) for x in eta]
        cfg.init_high = _bound_per_layer(cfg.init_high, n_layers)
        cfg.init_low = _bound_per_layer(cfg.init_low if cfg.init_low is not None else [0.0], n_layers)
        if any(lo >= hi for lo, hi in zip(cfg.init_low, cfg.init_high)):
            raise ValueError(f"init ranges must have low < high, got {cfg.init_low} / {cfg.init_high}")
        if cfg.sampling not in ("replacement", "permutation", "ordered"):
            raise ValueError(f"unknown sampling {cfg.sampling!r}; use replacement, permutation or ordered")
        if cfg.schedule not in ("constant", "cosine"):
            raise ValueError(f"unknown schedule {cfg.schedule!r}; use constant or cosine")
        if cfg.select_rule not in spec.DECISION_RULES:
            raise ValueError(f"unknown rule {cfg.select_rule!r}; choose one of {spec.DECISION_RULES}")
        if cfg.epochs < 1:
            raise ValueError("epochs must be >= 1")
        if cfg.thresholds_from and not cfg.binary:
            raise ValueError("--thresholds-from sets integer thresholds, which only binary networks have; "
                             "drop it for a real-valued run")
        if cfg.thresholds_from and not cfg.init_from:
            raise ValueError("--thresholds-from sets the starting thresholds of a fine-tune; give "
                             "--init-from RUN too")
        if cfg.optimizer not in ("sgd", "adam"):
            raise ValueError(f"unknown optimizer {cfg.optimizer!r}; use sgd (the papers) or adam")
        if cfg.loss not in ("relative", "ce"):
            raise ValueError(f"unknown loss {cfg.loss!r}; use relative (the papers) or ce")
        if cfg.optimizer == "sgd" and (cfg.batch != 1 or cfg.loss != "relative" or cfg.clip):
            raise ValueError("--batch, --loss ce and --clip need --optimizer adam "
                             "(the papers' per-sample SGD has none of them)")
        if cfg.batch < 1 or cfg.tau <= 0:
            raise ValueError(f"need batch >= 1 and tau > 0, got {cfg.batch} and {cfg.tau}")
        if cfg.clip is not None:
            cfg.clip = _bound_per_layer(cfg.clip, n_layers)
        if cfg.push_silent_label not in SILENT_MODES:
            raise ValueError(f"push_silent_label must be one of {list(SILENT_MODES)}, "
                             f"got {cfg.push_silent_label!r}")
        if not 0.0 <= cfg.ema < 1.0:
            raise ValueError(f"--ema is a decay per chunk in [0, 1), got {cfg.ema}")
        if cfg.ema_start < 1:
            raise ValueError(f"--ema-start is an epoch number >= 1, got {cfg.ema_start}")
        if not 0.0 <= cfg.dropout < 1.0:
            raise ValueError(f"--dropout is a probability in [0, 1), got {cfg.dropout}")
        if cfg.dropout and n_layers < 2:
            raise ValueError("--dropout needs at least one hidden layer")
        side = int(round(np.sqrt(cfg.layer_sizes()[0])))
        square = side * side == cfg.layer_sizes()[0]
        if cfg.shift and (cfg.shift < 0 or not square or cfg.shift >= side):
            raise ValueError(f"--shift {cfg.shift} needs square input images and 0 <= shift < side")
        if cfg.flip and not square:
            raise ValueError("--flip needs square input images")
        return cfg


def _bound_per_layer(bounds, n_layers: int) -> list[float]:
    """One init bound per layer: given fewer, the first layer keeps the first, deeper ones the last."""
    bounds = list(bounds)
    if len(bounds) < n_layers:
        bounds = [bounds[0]] + [bounds[-1]] * (n_layers - 1)
    return [float(x) for x in bounds[:n_layers]]


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
    """Holds the training state (real weights, scales) of one run directory."""

    def __init__(self, cfg: TrainConfig, out_dir: str | Path, data_dir=None, progress=True,
                 log=print, resume=False):
        """``resume=True`` skips what the checkpoint will replace (the ``--init-from`` source, a conv
        net's threshold search), so a fine-tune resumes even after its source run was moved."""
        self.cfg = cfg.resolved()
        self.resume = resume
        self.out = Path(out_dir)
        self.progress = progress
        self.log = log
        self.sizes = self.cfg.layer_sizes()
        self._load_data(data_dir)
        self.history: list[dict] = []
        self.epoch = 0
        self.best = {"epoch": 0, "accuracy": -1.0}
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
            raise ValueError(
                f"architecture {cfg.arch} has {n_in} inputs but {cfg.dataset} images have "
                f"{flat.shape[1]} pixels"
            )
        val_idx, train_idx = validation_split(len(labels), cfg.seed, cfg.val_size)
        times = spec.encode(flat, cfg.encoding, cfg.T)
        self.x_train, self.y_train = np.ascontiguousarray(times[train_idx]), labels[train_idx].astype(np.int64)
        self.x_val, self.y_val = times[val_idx], labels[val_idx].astype(np.int64)
        self.x_test = spec.encode(test.images.reshape(len(test), -1), cfg.encoding, cfg.T)
        self.y_test = test.labels.astype(np.int64)
        self.dataset_sha256 = train.sha256

    def _init_weights(self):
        rng = np.random.default_rng([self.cfg.seed, _INIT])
        self.weights = List()
        self.signs = List()
        for layer in range(len(self.sizes) - 1):
            shape = (self.sizes[layer], self.sizes[layer + 1])  # (n_in, n_out)
            w = rng.uniform(self.cfg.init_low[layer], self.cfg.init_high[layer], size=shape)
            self.weights.append(w)
            self.signs.append(spec.sign_bits(w) if self.cfg.binary else np.zeros((0, 0), np.int8))
        n_layers = len(self.sizes) - 1
        self.alphas = self._initial_alphas(n_layers) if self.cfg.binary else np.ones(n_layers)
        self._init_optimizer_state()

    def _init_optimizer_state(self) -> None:
        """Adam's moments and step count and the latent weights' moving average, for ``self.weights``."""
        self.adam_m = List([np.zeros_like(w) for w in self.weights])
        self.adam_v = List([np.zeros_like(w) for w in self.weights])
        self.adam_steps = 0
        self.averages = [w.copy() for w in self.weights] if self.cfg.ema else None

    def _initial_alphas(self, n_layers: int) -> np.ndarray:
        """BS4NN's per-layer scales at init: one ``alpha_init`` for all layers or one per layer."""
        init = np.atleast_1d(np.asarray(self.cfg.alpha_init, dtype=np.float64))
        if init.size not in (1, n_layers):
            raise ValueError(
                f"--alpha-init has {init.size} values for {n_layers} layers: give one value for all "
                f"layers or one per layer"
            )
        return np.broadcast_to(init, (n_layers,)).copy()

    def network(self) -> Network:
        """The inference network of the current state (binary: signs and integer thresholds); with
        ``ema`` the signs (or real weights) of the latent weights' moving average."""
        cfg = self.cfg
        source = self.averages if cfg.ema else self.weights
        if cfg.binary:
            weights = [spec.sign_bits(w.T) for w in source]
            thresholds = [spec.integer_threshold(cfg.theta, a) for a in self.alphas]
        else:
            weights = [np.array(w.T) for w in source]
            thresholds = [cfg.theta] * len(self.weights)
        meta = {
            "algorithm": cfg.algorithm,
            "config": dataclasses.asdict(cfg),
            "dataset": cfg.dataset,
            "dataset_sha256": self.dataset_sha256,
            "alphas": [float(a) for a in self.alphas],
            "theta": cfg.theta,
            "epoch": self.epoch,
        }
        return Network(weights, thresholds, binary=cfg.binary, encoding=cfg.encoding, T=cfg.T,
                       rule=cfg.select_rule, meta=meta)

    # ---------------------------------------------------------------- checkpoints
    @property
    def checkpoint_path(self) -> Path:
        return self.out / "checkpoint.npz"

    def save_checkpoint(self):
        arrays = {f"w{i}": w for i, w in enumerate(self.weights)}
        arrays["alphas"] = self.alphas
        arrays.update(self._extra_state())
        state = {"epoch": self.epoch, "best": self.best, "history": self.history,
                 "config": dataclasses.asdict(self.cfg)}
        arrays["state"] = np.frombuffer(json.dumps(state).encode(), dtype=np.uint8)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        atomic_write_bytes(self.checkpoint_path, buffer.getvalue())

    def load_checkpoint(self):
        path = self.checkpoint_path
        if not path.is_file():
            raise FileNotFoundError(f"no checkpoint in {self.out}; start without --resume")
        with np.load(path) as archive:
            state = _saved_state(archive)
            self._check_resumable(path, state["config"])
            self._load_weights(archive)
            self.alphas = np.array(archive["alphas"])
            self._load_extra_state(archive)
        self.epoch = state["epoch"]
        self.best = state["best"]
        self.history = state["history"]

    def _load_weights(self, archive) -> None:
        """A checkpoint's latent weights ``w0, w1, ...`` and, for a binary net, their signs."""
        for i in range(len(self.weights)):
            self.weights[i] = np.ascontiguousarray(archive[f"w{i}"])
            if self.cfg.binary:
                self.signs[i] = spec.sign_bits(self.weights[i])

    def _warm_start(self, source) -> None:
        """Fine-tuning (``--init-from``): take the latent weights, scales and weight average of another
        run's checkpoint; the optimizer, the schedule, the epoch count and the history start afresh."""
        path = Path(source)
        if path.is_dir():
            path = path / "checkpoint.npz"
        if not path.is_file():
            raise FileNotFoundError(f"--init-from {source}: no checkpoint there; give a run folder written "
                                    "by 'firstspike train' (or its checkpoint.npz)")
        with np.load(path) as archive:
            saved = _saved_state(archive)["config"]
            if saved.get("arch") != self.cfg.arch:
                raise ValueError(f"--init-from {path} holds a {saved.get('arch')} network but this run trains "
                                 f"{self.cfg.arch}; fine-tune with the same --arch")
            self._load_weights(archive)
            averages = [np.array(archive[f"ema{i}"]) if f"ema{i}" in archive else w.copy()
                        for i, w in enumerate(self.weights)]
            if saved.get("binary") == self.cfg.binary:  # a real-valued run's scales are all 1
                self.alphas = np.array(archive["alphas"])
        if self.cfg.thresholds_from:
            self.alphas = self._scales_of_model(self.cfg.thresholds_from)
        self._init_optimizer_state()
        if self.averages is not None:
            self.averages = averages

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
        current = dataclasses.asdict(self.cfg)
        unknown = {k: v for k, v in saved.items() if k not in current and v not in (None, {}, [])}
        changed = [k for k in saved if k in current and k != "epochs" and saved[k] != current[k]]
        if unknown or changed:
            raise ValueError(
                f"{path} was written with a different configuration ({', '.join(changed + list(unknown))}); "
                "resume with the same options (only --epochs may change) or use a new --out folder"
            )

    def _extra_state(self) -> dict:
        """More arrays for the checkpoint: the Adam moments and step count, the weight average."""
        state = {f"ema{i}": a for i, a in enumerate(self.averages or [])}
        if self.cfg.optimizer == "adam":
            state["adam_steps"] = np.array(self.adam_steps)
            for i in range(len(self.weights)):
                state[f"adam_m{i}"], state[f"adam_v{i}"] = self.adam_m[i], self.adam_v[i]
        return state

    def _load_extra_state(self, archive) -> None:
        """Restore what :meth:`_extra_state` saved."""
        if self.averages is not None:
            self.averages = [np.array(archive[f"ema{i}"]) for i in range(len(self.weights))]
        if self.cfg.optimizer != "adam":
            return
        # older FC checkpoints name the step count "adam_step" (a 1-element array)
        steps = archive["adam_steps"] if "adam_steps" in archive else archive["adam_step"]
        self.adam_steps = int(np.asarray(steps).reshape(-1)[0])
        for i in range(len(self.weights)):
            self.adam_m[i] = np.ascontiguousarray(archive[f"adam_m{i}"])
            self.adam_v[i] = np.ascontiguousarray(archive[f"adam_v{i}"])

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
        """S4NN: redraw the input weights of hidden neurons that fired on < 0.1 % of samples."""
        rng = np.random.default_rng([self.cfg.seed, _RESET, epoch])
        offset, reset = 0, 0
        for layer in range(len(self.weights) - 1):
            w = self.weights[layer]
            counts = fire_counts[offset : offset + w.shape[1]]
            dead = np.flatnonzero(counts < 0.001 * n_samples)
            for j in dead:
                w[:, j] = rng.uniform(self.cfg.init_low[layer], self.cfg.init_high[layer], size=w.shape[0])
                if self.cfg.binary:
                    self.signs[layer][:, j] = spec.sign_bits(w[:, j])
            reset += len(dead)
            offset += w.shape[1]
        return reset

    def rate_factor(self, epoch: int) -> float:
        """Learning-rate multiplier of an epoch: 1 (constant, as the papers) or a cosine from 1 to
        ``eta_final`` over the run (an addition of ours, not in S4NN/BS4NN)."""
        if self.cfg.schedule == "constant" or self.cfg.epochs == 1:
            return 1.0
        progress = (epoch - 1) / (self.cfg.epochs - 1)
        return self.cfg.eta_final + (1 - self.cfg.eta_final) * 0.5 * (1 + np.cos(np.pi * progress))

    def _run_chunks(self, epoch: int, order: np.ndarray, step, on_chunk) -> tuple[int, float]:
        """Call ``step(chunk) -> n correct`` on consecutive chunks of ``order`` with a progress bar."""
        correct = 0
        bar = _bar(len(order), f"epoch {epoch}/{self.cfg.epochs}", self.progress)
        start = time.perf_counter()
        size = -(-self.cfg.chunk // self.cfg.batch) * self.cfg.batch  # whole batches per chunk
        for lo in range(0, len(order), size):
            chunk = order[lo : lo + size]
            correct += step(chunk)
            done = lo + len(chunk)
            if bar is not None:
                bar.update(len(chunk))
                bar.set_postfix(acc=f"{correct / done:.4f}")
            if on_chunk is not None:
                on_chunk(epoch, done)
        seconds = time.perf_counter() - start
        if bar is not None:
            bar.close()
        return correct, seconds

    def train_epoch(self, epoch: int, on_chunk=None) -> dict:
        cfg = self.cfg
        factor = self.rate_factor(epoch)
        order = self._epoch_order(epoch)
        times = List([np.empty(s, dtype=np.int16) for s in self.sizes[1:]])
        snaps = np.zeros((3, self.sizes[-1]))
        fire_counts = np.zeros(sum(self.sizes[1:-1]) or 1, dtype=np.int64)
        thetas = np.full(len(self.weights), cfg.theta)
        etas = np.array(cfg.eta) * factor
        eta_alphas = np.full(len(self.weights), cfg.eta_alpha) * factor
        lambdas = np.full(len(self.weights), cfg.lam)

        drops, train_thetas = self._dropout_function(epoch), self._dropout_thetas(thetas)

        def sgd(x, y, idx):
            return train_chunk(x, y, idx, self.weights, self.signs, train_thetas, self.alphas, cfg.binary,
                               cfg.T, float(cfg.gamma), SILENT_MODES[cfg.push_silent_label], etas, eta_alphas,
                               lambdas, fire_counts, times, snaps, drops(len(idx)))

        train = sgd
        if cfg.optimizer == "adam":
            train = self._adam_function(etas, eta_alphas, train_thetas, fire_counts, times, snaps, drops)
        source = self._chunk_source(epoch)

        def step(chunk):
            correct = train(*source(chunk))
            self._update_averages()
            return correct

        correct, seconds = self._run_chunks(epoch, order, step, on_chunk)
        reset = self._dead_reset(epoch, fire_counts, len(order)) if cfg.dead_reset else 0
        return {"train_accuracy_running": correct / len(order), "seconds": seconds, "rate_factor": factor,
                "dead_reset": int(reset)}

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
        """``source(chunk) -> (images, labels, indices)`` a chunk trains on: the training set and
        the chunk, or with ``shift`` / ``flip`` the chunk's moved images (:meth:`_augment_function`)."""
        if not (self.cfg.shift or self.cfg.flip):
            return lambda chunk: (self.x_train, self.y_train, chunk)
        moved = self._augment_function(epoch)
        return lambda chunk: (moved(chunk), self.y_train[chunk], np.arange(len(chunk)))

    def _dropout_function(self, epoch):
        """``drops(n) -> (n, n_hidden) uint8``: which hidden neurons each of the next ``n`` training
        samples silences (``--dropout``: Srivastava et al., JMLR 2014, on spike times; not in the
        papers; seeded per chunk); ``(0, 0)`` when dropout is off.

        Only the layers of :meth:`_dropout_layers` are drawn (the other columns stay 0); the layer
        after each of them trains with its threshold scaled by ``1 - p`` (see :meth:`train_epoch`),
        so a neuron's expected potential is the one it sees at inference."""
        hidden = self.sizes[1:-1]
        chosen = self._dropout_layers()
        columns = np.concatenate([np.zeros(0, dtype=bool)] + [np.full(size, keep, dtype=bool)
                                                              for size, keep in zip(hidden, chosen)])
        counter = iter(range(1 << 30))

        def drops(n):
            if not self.cfg.dropout:
                return np.zeros((0, 0), dtype=np.uint8)
            rng = np.random.default_rng([self.cfg.seed, _DROP, epoch, next(counter)])
            mask = np.zeros((n, len(columns)), dtype=np.uint8)
            mask[:, columns] = rng.random((n, int(columns.sum()))) < self.cfg.dropout
            return mask

        return drops

    def _dropout_layers(self) -> list[bool]:
        """Which hidden layers ``--dropout`` acts on: every one in a fully connected net."""
        return [True] * (len(self.sizes) - 2)

    def _dropout_thetas(self, thetas: np.ndarray) -> np.ndarray:
        """Training thresholds: the layer after each dropped one at ``(1 - p) theta``, so a neuron's
        expected potential is the one it sees at inference (ours)."""
        out = thetas.copy()
        for layer, dropped in enumerate(self._dropout_layers()):
            if dropped:
                out[layer + 1] *= 1.0 - self.cfg.dropout
        return out

    def _augment_function(self, epoch):
        """``moved(chunk)``: the chunk's training images, each translated by a random whole number
        of pixels in ``[-shift, shift]`` per axis, then with ``flip`` mirrored left-right with
        probability 1/2 (data augmentation, ours); each draw seeded per chunk, on its own stream."""
        side = int(round(np.sqrt(self.sizes[0])))
        silent = spec.encode(np.zeros((1, 1), np.uint8), self.cfg.encoding, self.cfg.T)[0, 0]
        counter = iter(range(1 << 30))

        def moved(chunk):
            k = next(counter)
            images = self.x_train[chunk].reshape(-1, side, side)
            if self.cfg.shift:
                rng = np.random.default_rng([self.cfg.seed, _SHIFT, epoch, k])
                moves = rng.integers(-self.cfg.shift, self.cfg.shift + 1, size=(len(chunk), 2))
                images = shift_images(images, moves, silent)
            if self.cfg.flip:
                mirror = np.random.default_rng([self.cfg.seed, _FLIP, epoch, k]).random(len(chunk)) < 0.5
                images = np.where(mirror[:, None, None], images[:, :, ::-1], images)
            return np.ascontiguousarray(images.reshape(len(chunk), -1))

        return moved

    def _adam_function(self, etas, eta_alphas, thetas, fire_counts, times, snaps, drops):
        """``train(x, y, idx)`` for mini-batch Adam (chunks hold whole batches, see ``_run_chunks``)."""
        cfg = self.cfg
        grads = List([np.zeros_like(w) for w in self.weights])
        clips = np.array(cfg.clip if cfg.clip else [0.0] * len(self.weights))
        loss = LOSS_CE if cfg.loss == "ce" else LOSS_RELATIVE

        def train(x, y, idx):
            correct, steps = train_chunk_batched(
                x, y, idx, cfg.batch, self.weights, self.signs, thetas, self.alphas, cfg.binary,
                cfg.T, float(cfg.gamma), SILENT_MODES[cfg.push_silent_label], loss, float(cfg.tau), etas,
                eta_alphas, clips, ADAM_BETAS[0], ADAM_BETAS[1], self.adam_steps, grads,
                self.adam_m, self.adam_v, fire_counts, times, snaps, drops(len(idx)))
            self.adam_steps += steps
            return correct

        return train

    def _score(self, net: Network, x, y) -> dict:
        result = run_times(net, x)
        return {rule: float(result.correct(y, rule).mean()) for rule in spec.DECISION_RULES}

    def fit(self, resume: bool = False, on_chunk=None) -> dict:
        """Train up to ``cfg.epochs``; writes checkpoint, best model, metrics and plot every epoch.
        With ``resume`` (or a trainer built with ``resume=True``) it continues from the run folder's
        checkpoint."""
        self.out.mkdir(parents=True, exist_ok=True)
        if resume or self.resume:
            self.load_checkpoint()
            self.log(f"resuming {self.out} after epoch {self.epoch}")
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
            self.log(
                f"epoch {epoch}: {stats['seconds']:.1f} s, val hw {val['hardware']:.4f} "
                f"ref {val['reference']:.4f} | test hw {test['hardware']:.4f} "
                f"ref {test['reference']:.4f} | alphas {np.round(self.alphas, 3).tolist()}"
            )
        return self.summary()

    def summary(self) -> dict:
        best = next(r for r in self.history if r["epoch"] == self.best["epoch"])
        return {"out": str(self.out), "epochs": self.epoch, "best_epoch": self.best["epoch"],
                "val": best["val"], "test": best["test"],
                "seconds_per_epoch": float(np.mean([r["seconds"] for r in self.history]))}

    def _write_metrics(self):
        atomic_write_json(self.out / "metrics.json", {"history": self.history, "best": self.best,
                                                      "config": dataclasses.asdict(self.cfg)})
        try:
            from .plots import training_curve
        except ImportError:
            return
        training_curve(self.history, self.out / "curve.png", title=f"{self.cfg.algorithm} {self.cfg.arch} "
                       f"on {self.cfg.dataset}")


def shift_images(images: np.ndarray, moves: np.ndarray, fill) -> np.ndarray:
    """Translate each ``(H, W)`` image by ``moves[n] = (dy, dx)`` pixels, filling with ``fill``."""
    out = np.full_like(images, fill)
    H, W = images.shape[1:]
    for n, (dy, dx) in enumerate(moves):
        out[n, max(dy, 0) : H + min(dy, 0), max(dx, 0) : W + min(dx, 0)] = \
            images[n, max(-dy, 0) : H + min(-dy, 0), max(-dx, 0) : W + min(-dx, 0)]
    return out


def _bar(total, desc, enabled):
    if not enabled:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, unit="img", file=sys.stderr, leave=False, dynamic_ncols=True)


def train(cfg: TrainConfig, out_dir, data_dir=None, resume=False, progress=True) -> dict:
    return Trainer(cfg, out_dir, data_dir=data_dir, progress=progress, resume=resume).fit()


def _saved_state(archive) -> dict:
    """The JSON state (epoch, best, history, config) a checkpoint stores as bytes."""
    return json.loads(bytes(archive["state"]).decode())
