# SPDX-License-Identifier: MIT
"""Training binary convolutional TTFS networks: BS4NN-style, with the Che et al. 2024 options.

The loop, validation-based model selection, per-epoch atomic checkpoints and bit-for-bit resume
are those of :class:`.trainer.Trainer`; this module swaps in the conv architecture grammar
(:mod:`.arch`), the conv kernels (:mod:`.conv_train_kernels`) and these options:

``init``
    ``bs4nn``: real weights ``U[0, init_high)`` (all signs +1 at the start) and threshold
    ``theta / alpha_init`` in every layer, as the BS4NN code. ``che``: our reading of Che et al.'s
    initialisation (balanced membrane potentials, no activity diminishing with depth; their
    formula is not available): real weights ``U(-init_high, init_high)`` (random signs; with
    ``init_positive`` p != 0.5, ``U(low, init_high)`` with a share p positive: see :func:`che_low`), then,
    layer by layer on ``calibration`` training images, the integer threshold is set by bisection
    so that a fraction ``init_fire`` of the layer's neurons fires (for the output layer:
    ``init_fire_out`` of the output neurons), and ``alpha = theta / (threshold + 0.5)``.
``init_kernels``
    ``random`` (the init above) or ``kmeans`` (ours): the first conv layer's latent weights are
    the k-means centroids of zero-mean training-image patches (:mod:`.patch_init`, after Coates &
    Ng 2011), scaled to ``init_high``; the thresholds still come from ``init``.
``decoding``
    ``s4nn``: relative targets; ``temporal``: Che et al. temporal-weighting decoding; ``mixed``: both, see
    :mod:`.conv_train_kernels` (the learned weights per time step are saved in the checkpoint).
``backward``
    ``s4nn`` (temporal backprop through every layer) or ``stidi`` (our reading of STiDi-BP).

``optimizer``
    ``sgd``: the per-sample S4NN/BS4NN step of :mod:`.conv_train_kernels` (the options above).
    ``adam`` (ours): per-sample gradients summed over ``batch`` images
    (:mod:`.conv_batch_kernels`), one Adam step on the latent weights, clipped to ``[-clip, clip]``
    (BinaryConnect); ``loss`` ``relative`` / ``ce`` / ``hw`` (cross-entropy on the potentials
    the hardware rule compares) / ``ce+hw``, optional activity term ``fire_reg`` / ``fire_band``;
    ``push_silent_label = "rank"`` as the FC trainer (the per-sample rule takes on / off only).

``shift`` translates the training images as the FC trainer does (single-channel square inputs).
``centre_conv_grads`` (Adam only, ours) subtracts each conv kernel's mean over its taps from its
gradient before the step: most of a first-layer gradient moves every tap of a kernel the same way
(BENCHMARKS.md, ``benchmarks/conv_grad_dc.py``).
``dropout`` (Adam only) silences each neuron of the fully connected hidden layers with probability
p for one training sample, as the FC trainer does; conv layers are left alone (neighbouring
positions of a feature map are strongly correlated, so single dropped conv neurons regularise
little: Tompson et al., CVPR 2015).

Average pooling is part of the architecture string (``p<k>``, sum pooling folded into the next
threshold). :func:`init_firing_fractions` measures the per-layer firing fraction at init.

Measured state (BENCHMARKS.md): the per-sample rule learns binary conv nets slowly (77.65 % on
MNIST, hardware rule); the Adam path does better with the FC trainer's recipe (relative targets
normalised per sample, learned scale, sign error weights), still short of 98.6 %. With ``che`` the
output threshold matters most: ``init_fire_out`` 0.01-0.05 instead of 0.5 adds about 20 points
after a short run. On Fashion-MNIST the conv kernels do not learn (freezing them at init changes
nothing), so conv nets stay behind FC ones there. With ``relative`` loss, ``error_weights =
"real"`` and an FC stack the Adam path is the FC mini-batch trainer (tested). ``error_mask =
"fired"`` passes errors to every lower neuron that fired (ours; helps deep FC stacks).
With ``sgd`` rates matter per layer: a conv tap's update sums over every output position, so conv
layers want small rates (``--eta 0.005 0.01 ...``) and the large latent weights of the BS4NN
bounds, while the readout learns faster with a larger one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from numba.typed import List

from . import spec
from .atomic import atomic_write_json
from .arch import parse_arch
from .network import Network
from .patch_init import kmeans_kernels
from .conv_train_kernels import BACKWARDS_BY_NAME as BACKWARDS
from .conv_train_kernels import DECODINGS_BY_NAME as DECODINGS
from .conv_train_kernels import fan_in_of, train_chunk
from .conv_batch_kernels import LOSSES_BY_NAME as LOSSES
from .conv_batch_kernels import batch_gradients
from .train_kernels import ADAM_BETAS, adam_step, scale_step
from .trainer import SILENT_MODES, TrainConfig, Trainer

__all__ = ["ConvTrainConfig", "ConvTrainer", "init_firing_fractions"]

_INIT, _CALIB, _KMEANS = 0, 4, 7  # seed streams (the base trainer's are 0..6, drawn with other keys)
INITS = ("bs4nn", "che")
INIT_KERNELS = ("random", "kmeans")
FC_LOSSES = ("relative", "ce")
ERROR_WEIGHTS = ("sign", "real")
ERROR_MASKS = ("before", "fired")


@dataclass
class ConvTrainConfig(TrainConfig):
    arch: str = "28x28-c16k5-p2-c32k5-p2-fc10"
    init: str = "bs4nn"
    init_fire: float = 0.3
    init_fire_out: float = 0.5
    init_positive: float = 0.5
    init_kernels: str = "random"
    calibration: int = 256
    decoding: str = "s4nn"
    decoding_scale: float = 0.25
    eta_decoding: float = 0.001
    backward: str = "s4nn"
    tau: float = 8.0
    hw_scale: float = 2.0
    ce_weight: float = 1.0
    fire_reg: float = 0.0
    fire_band: list[float] | None = None
    error_weights: str = "sign"
    error_mask: str = "before"
    silent_margin: float = 0.0
    centre_conv_grads: bool = False

    def layer_sizes(self) -> list[int]:
        return parse_arch(self.arch).sizes

    def resolved(self) -> ConvTrainConfig:
        if self.algorithm != "bs4nn":
            raise ValueError(f"conv networks train with --algorithm bs4nn (binary), got {self.algorithm!r}")
        if self.shift or self.flip:
            _check_shift_input(parse_arch(self.arch))
        if self.dropout and (self.optimizer != "adam" or not any(_fc_hidden(parse_arch(self.arch)))):
            raise ValueError(f"--dropout with a conv architecture acts on its fully connected hidden "
                             f"layers and needs --optimizer adam; {self.arch!r} with {self.optimizer} "
                             f"has {'no such layer' if self.optimizer == 'adam' else 'the sgd optimizer'}"
                             f" (e.g. 28x28-c16k5-p2-fc600-fc10 --optimizer adam)")
        # the FC trainer knows the relative and ce losses only; the conv-only ones are checked below
        base = self if self.loss in FC_LOSSES else dataclasses.replace(self, loss="ce")
        cfg = dataclasses.replace(super(ConvTrainConfig, base).resolved(), loss=self.loss)
        if cfg.init not in INITS:
            raise ValueError(f"unknown init {cfg.init!r}; choose one of {INITS}")
        if cfg.decoding not in DECODINGS:
            raise ValueError(f"unknown decoding {cfg.decoding!r}; choose one of {list(DECODINGS)}")
        if cfg.backward not in BACKWARDS:
            raise ValueError(f"unknown backward {cfg.backward!r}; choose one of {list(BACKWARDS)}")
        if not 0.0 < cfg.init_fire < 1.0 or not 0.0 < cfg.init_fire_out <= 1.0:
            raise ValueError("init_fire must lie in (0, 1) and init_fire_out in (0, 1]")
        if not 0.0 < cfg.init_positive < 1.0 or (cfg.init != "che" and cfg.init_positive != 0.5):
            raise ValueError(f"--init-positive must lie in (0, 1) and applies to --init che only, got "
                             f"{cfg.init_positive} with --init {cfg.init}")
        if cfg.init_kernels not in INIT_KERNELS:
            raise ValueError(f"unknown --init-kernels {cfg.init_kernels!r}; choose one of {INIT_KERNELS}")
        first = parse_arch(cfg.arch).layers[0]
        if cfg.init_kernels == "kmeans" and (first.kind != "conv" or first.c_in != 1 or first.pool != 1):
            raise ValueError(f"--init-kernels kmeans draws the first conv layer from single-channel image "
                             f"patches; {cfg.arch!r} starts with a {first.kind} layer of {first.c_in} "
                             f"input channel(s) after {first.pool}x{first.pool} pooling (use e.g. "
                             f"28x28-c16k5-p2-fc600-fc10: a conv layer straight on the image)")
        if cfg.error_weights not in ERROR_WEIGHTS:
            raise ValueError(f"unknown error weights {cfg.error_weights!r}; choose one of {ERROR_WEIGHTS}")
        if cfg.error_mask not in ERROR_MASKS:
            raise ValueError(f"unknown error mask {cfg.error_mask!r}; choose one of {ERROR_MASKS}")
        if cfg.loss not in LOSSES:
            raise ValueError(f"unknown loss {cfg.loss!r}; choose one of {list(LOSSES)}")
        if cfg.optimizer == "adam" and (cfg.decoding != "s4nn" or cfg.backward != "s4nn"):
            raise ValueError("--optimizer adam uses --loss and the S4NN backward; "
                             "leave --decoding and --backward at s4nn")
        if cfg.optimizer == "adam" and cfg.clip is None:
            cfg.clip = [1.0] * len(cfg.eta)
        if cfg.push_silent_label == "rank" and cfg.optimizer != "adam":
            raise ValueError("--push-silent-label rank is implemented for --optimizer adam with conv "
                             "architectures; use on or off with --optimizer sgd")
        if cfg.fire_band is None:
            cfg.fire_band = [cfg.init_fire, cfg.init_fire]
        cfg.fire_band = [float(x) for x in cfg.fire_band]
        if len(cfg.fire_band) != 2 or not 0.0 <= cfg.fire_band[0] <= cfg.fire_band[1] <= 1.0:
            raise ValueError(f"fire_band must be two fractions LOW <= HIGH in [0, 1], got {cfg.fire_band}")
        if not cfg.hw_scale > 0 or (cfg.clip is not None and min(cfg.clip) <= 0):
            raise ValueError("hw_scale and clip must be > 0")
        if cfg.silent_margin < 0 or (cfg.silent_margin > 0 and cfg.optimizer != "adam"):
            raise ValueError(f"--silent-surrogate must be >= 0 and needs --optimizer adam, got "
                             f"{cfg.silent_margin} with {cfg.optimizer}")
        if cfg.dead_reset:
            raise ValueError("dead-neuron reset is not implemented for conv networks; leave it off")
        if cfg.centre_conv_grads and cfg.optimizer != "adam":
            raise ValueError("--centre-conv-grads acts on the Adam step; add --optimizer adam")
        return cfg


def _fc_hidden(arch) -> list[bool]:
    """Per hidden layer: is it fully connected (the layers ``--dropout`` acts on in a conv net)."""
    return [layer.kind == "fc" for layer in arch.layers[:-1]]


def _check_shift_input(arch) -> None:
    """``--shift`` and ``--flip`` move pixels of one square image: the input must be HxW or 1xHxW
    with H = W, or flat (N, read as a square as the FC trainer does)."""
    c, h, w = arch.input_shape
    if h != w or (c > 1 and h > 1):
        raise ValueError(f"--shift and --flip need a single-channel square input image (e.g. 28x28), "
                         f"got {c}x{h}x{w} in {arch.text!r}")


class ConvTrainer(Trainer):
    """Training state of one run directory (real kernels ``(c_in, kh, kw, c_out)``, scales)."""

    def __init__(self, cfg: ConvTrainConfig, out_dir, data_dir=None, progress=True, log=print, resume=False):
        self.arch = parse_arch(cfg.arch)
        self.init_fractions = None  # firing per layer of the starting net; a resumed run keeps init.json
        super().__init__(cfg, out_dir, data_dir=data_dir, progress=progress, log=log, resume=resume)

    # ---------------------------------------------------------------- state
    def _init_weights(self):
        cfg = self.cfg
        rng = np.random.default_rng([cfg.seed, _INIT])
        self.geoms = np.array([layer.geometry() for layer in self.arch.layers], dtype=np.int64)
        self.weights, self.signs, self.grads = List(), List(), List()
        for index, layer in enumerate(self.arch.layers):
            shape = (layer.c_in, layer.kh, layer.kw, layer.c_out)
            high = cfg.init_high[index]
            low = che_low(high, cfg.init_positive) if cfg.init == "che" else 0.0
            w = rng.uniform(low, high, size=shape)
            self.weights.append(w)
            self.signs.append(spec.sign_bits(w))
            self.grads.append(np.zeros(shape))
        if cfg.init_kernels == "kmeans" and not (self.resume or cfg.init_from):  # else replaced below
            self._kmeans_first_layer()
        self._init_optimizer_state()
        self.alphas = self._initial_alphas(len(self.arch.layers))
        # temporal decoding weights: decoding_scale logits per step earlier, 0 for a silent neuron
        self.lam_table = cfg.decoding_scale * (cfg.T - np.arange(cfg.T + 1, dtype=np.float64))
        if self.resume or cfg.init_from:
            return  # the checkpoint or the --init-from source replaces the thresholds
        if cfg.init == "che":
            self._calibrate_thresholds()
        self.init_fractions = init_firing_fractions(self.network(), self._calibration_images())

    def _kmeans_first_layer(self):
        """``--init-kernels kmeans``: the first conv layer's latent weights are k-means centroids of
        training-image patches (:mod:`.patch_init`), times ``init_high``; brightness is read back
        from the encoded spike times (earlier = brighter)."""
        layer, cfg = self.arch.layers[0], self.cfg
        rng = np.random.default_rng([cfg.seed, _KMEANS])
        some = rng.choice(len(self.x_train), size=min(len(self.x_train), 10000), replace=False)
        t = self.x_train[np.sort(some)].reshape(-1, layer.h_in, layer.w_in).astype(np.float64)
        latest = max(float(t.max()), 1.0)
        centroids = kmeans_kernels(1.0 - t / latest, layer.c_out, layer.kh, layer.kw, rng)
        w = cfg.init_high[0] * centroids.transpose(1, 2, 0)[None]  # (c_in=1, kh, kw, c_out)
        self.weights[0] = np.ascontiguousarray(w)
        self.signs[0] = spec.sign_bits(self.weights[0])

    def _calibration_images(self) -> np.ndarray:
        rng = np.random.default_rng([self.cfg.seed, _CALIB])
        n = min(self.cfg.calibration, len(self.x_train))
        return self.x_train[np.sort(rng.choice(len(self.x_train), size=n, replace=False))]

    def _calibrate_thresholds(self):
        """Che-style init (our reading): per layer, the integer threshold giving ``init_fire``."""
        x = self._calibration_images()
        theta = self.cfg.theta
        for index, layer in enumerate(self.arch.layers):
            target = self.cfg.init_fire_out if index == len(self.arch.layers) - 1 else self.cfg.init_fire
            lo, hi = 0, layer.fan_in  # fraction firing is non-increasing in the threshold
            while lo < hi:
                mid = (lo + hi) // 2
                self.alphas[index] = spec.scale_for_threshold(theta, mid)
                frac = init_firing_fractions(self.network(), x)[index]
                if frac > target:
                    lo = mid + 1
                else:
                    hi = mid
            self.alphas[index] = spec.scale_for_threshold(theta, lo)

    def _warm_start(self, source) -> None:
        super()._warm_start(source)
        self.init_fractions = init_firing_fractions(self.network(), self._calibration_images())

    def _extra_state(self) -> dict:
        return {"lam_table": self.lam_table, **super()._extra_state()}

    def _load_extra_state(self, archive) -> None:
        for i in range(len(self.grads)):
            self.grads[i] = np.zeros_like(self.weights[i])
        self.lam_table = np.array(archive["lam_table"])
        super()._load_extra_state(archive)

    def network(self) -> Network:
        """The inference network of the current state: signs (of the weights' moving average with
        ``ema``) and integer thresholds."""
        cfg = self.cfg
        source = self.averages if cfg.ema else self.weights
        kernels = [spec.sign_bits(w.transpose(3, 0, 1, 2)) for w in source]
        thresholds = [spec.integer_threshold(cfg.theta, a) for a in self.alphas]
        meta = {"algorithm": cfg.algorithm, "config": dataclasses.asdict(cfg), "dataset": cfg.dataset,
                "dataset_sha256": getattr(self, "dataset_sha256", None),
                "alphas": [float(a) for a in self.alphas], "theta": cfg.theta,
                "epoch": getattr(self, "epoch", 0)}
        return Network(cfg.arch, kernels, thresholds, binary=True, encoding=cfg.encoding, T=cfg.T,
                           rule=cfg.select_rule, meta=meta)

    # ---------------------------------------------------------------- training
    def fit(self, resume: bool = False, on_chunk=None) -> dict:
        resume = resume or self.resume  # a trainer built to resume never starts afresh
        if not resume:  # a resumed run keeps the init.json of its start
            self.out.mkdir(parents=True, exist_ok=True)
            atomic_write_json(self.out / "init.json", {"firing_fraction_at_init": self.init_fractions,
                                                       "alphas_at_init": [float(a) for a in self.alphas]})
            self.log(f"firing fraction per layer at init: {np.round(self.init_fractions, 3).tolist()}")
        return super().fit(resume=resume, on_chunk=on_chunk)

    def _epoch_buffers(self, epoch: int):
        """Order, per-layer time buffers, snapshots, spike counters, thetas and rate factor of an epoch."""
        n_layers = len(self.weights)
        return (self._epoch_order(epoch), List([np.empty(s, dtype=np.int16) for s in self.sizes[1:]]),
                np.zeros((3, self.sizes[-1]), dtype=np.int32), np.zeros(n_layers, dtype=np.int64),
                np.full(n_layers, self.cfg.theta), self.rate_factor(epoch))

    def train_epoch(self, epoch: int, on_chunk=None) -> dict:
        if self.cfg.optimizer == "adam":
            return self._train_epoch_adam(epoch, on_chunk)
        cfg = self.cfg
        order, times, snaps, fire_counts, thetas, factor = self._epoch_buffers(epoch)
        n_layers = len(self.weights)
        etas, eta_alphas = np.array(cfg.eta) * factor, np.full(n_layers, cfg.eta_alpha) * factor
        lambdas = np.full(n_layers, cfg.lam)
        eta_lam = cfg.eta_decoding if cfg.decoding != "s4nn" else 0.0
        source = self._chunk_source(epoch)

        def step(chunk):
            x, y, idx = source(chunk)
            correct = train_chunk(x, y, idx, self.geoms, self.weights, self.signs, self.grads, thetas,
                                  self.alphas, cfg.T, float(cfg.gamma), SILENT_MODES[cfg.push_silent_label],
                                  etas, eta_alphas, lambdas, times, snaps, DECODINGS[cfg.decoding],
                                  self.lam_table, eta_lam, BACKWARDS[cfg.backward], fire_counts)
            self._update_averages()
            return correct

        correct, seconds = self._run_chunks(epoch, order, step, on_chunk)
        return self._epoch_summary(len(order), correct, seconds, factor, fire_counts)

    def _train_epoch_adam(self, epoch: int, on_chunk=None) -> dict:
        """Mini-batch epoch: summed per-sample gradients, one Adam step per batch, clip, signs."""
        cfg = self.cfg
        order, times, snaps, fire_counts, thetas, factor = self._epoch_buffers(epoch)
        n_layers = len(self.weights)
        lrs = np.array(cfg.eta) * factor
        eta_alphas = np.full(n_layers, cfg.eta_alpha) * factor
        fan_ins = [int(fan_in_of(g)) for g in self.geoms]
        carriers = self.weights if cfg.error_weights == "real" else self.signs
        loss_sum = [0.0]
        source = self._chunk_source(epoch)
        pots = List([np.zeros(len(t)) for t in times])
        drops, thetas = self._dropout_function(epoch), self._dropout_thetas(thetas)
        centred = [i for i, layer in enumerate(self.arch.layers) if layer.kind == "conv" and cfg.centre_conv_grads]

        def step(chunk):
            correct = 0
            x, y, idx = source(chunk)
            masks = drops(len(idx))
            for lo in range(0, len(idx), cfg.batch):
                batch = idx[lo : lo + cfg.batch]
                c, loss = batch_gradients(x, y, batch, self.geoms, self.signs, carriers, thetas,
                                          self.alphas, cfg.T, LOSSES[cfg.loss],
                                          float(cfg.tau), float(cfg.hw_scale), float(cfg.ce_weight),
                                          float(cfg.gamma), SILENT_MODES[cfg.push_silent_label],
                                          cfg.error_mask == "fired", float(cfg.fire_reg),
                                          float(cfg.fire_band[0]), float(cfg.fire_band[1]),
                                          float(cfg.silent_margin), times, pots, snaps, self.grads,
                                          fire_counts, masks[lo : lo + cfg.batch])
                correct += c
                loss_sum[0] += loss
                self.adam_steps += 1
                for layer in centred:  # the kernel-wide part of a conv gradient taken out (ours)
                    g = self.grads[layer]
                    g -= g.mean(axis=(0, 1, 2), keepdims=True)
                for layer in range(n_layers):
                    if eta_alphas[layer] > 0.0:  # BS4NN's scale: mean gradient over all connections
                        alpha_grad = float(np.sum(self.grads[layer] * self.signs[layer]))
                        self.alphas[layer] = scale_step(self.alphas[layer], eta_alphas[layer], alpha_grad,
                                                        self.sizes[layer + 1] * fan_ins[layer])
                    adam_step(self.weights[layer], self.signs[layer], True, self.grads[layer],
                              self.adam_m[layer], self.adam_v[layer], lrs[layer], ADAM_BETAS[0],
                              ADAM_BETAS[1], self.adam_steps, float(cfg.clip[layer]))
            self._update_averages()
            return correct

        correct, seconds = self._run_chunks(epoch, order, step, on_chunk)
        return self._epoch_summary(len(order), correct, seconds, factor, fire_counts,
                                   train_loss=loss_sum[0] / len(order))

    def _dropout_layers(self) -> list[bool]:
        return _fc_hidden(self.arch)

    def _epoch_summary(self, n: int, correct: int, seconds: float, factor: float, fire_counts, **extra) -> dict:
        """The metrics row of one training epoch over ``n`` samples."""
        fractions = fire_counts / (n * np.array(self.sizes[1:]))
        return {"train_accuracy_running": correct / n, "seconds": seconds, "images_per_second": n / seconds,
                "dead_reset": 0, "rate_factor": factor, **extra, "firing_fraction": [float(f) for f in fractions]}


def che_low(high: float, positive: float) -> float:
    """Lower bound of the che init's ``U(low, high)`` that makes a share ``positive`` of the latent
    weights (hence of the +1 signs) positive: ``high / (high - low) = positive``; 0.5 gives ``-high``."""
    return -high * (1.0 - positive) / positive


def init_firing_fractions(net: Network, in_times: np.ndarray) -> list[float]:
    """Mean share of each neuron layer's neurons that fire, over the given encoded images."""
    result = net.forward_times(in_times)
    return [float((t < net.T).mean()) for t in result.times]
