# SPDX-License-Identifier: MIT
"""The configuration of a training run: :class:`TrainConfig`, its layer-geometry options
:class:`ConvOptions` (``TrainConfig.conv``), the papers' presets, validation, and the mapping to
and from plain dicts (``meta["config"]``, checkpoints, TOML recipes).

One configuration trains any architecture of :mod:`.arch` (``784-600-10`` is
``784-fc600-fc10``). Where the old FC and conv trainers had different defaults, the unset value
(None) resolves by the network: a plain fully connected stack (or a real-valued S4NN net) gets the
FC trainer's (``error_weights = "real"``, no clipping), a net with conv or pooling layers the conv
trainer's (``"sign"``, clip 1); the resolved config records the value used.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

import numpy as np

from . import spec
from .arch import parse_arch
from .sgd_kernels import BACKWARDS_BY_NAME, DECODINGS_BY_NAME
from .train_kernels import SILENT_LABEL, SILENT_OFF, SILENT_RANK

__all__ = ["PRESETS", "SILENT_MODES", "ConvOptions", "TrainConfig", "config_from_dict", "flat_config"]

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

#: Fields that name one of a few choices (checked by :meth:`TrainConfig.resolved`, offered by ``train``).
CHOICES = {"algorithm": tuple(PRESETS), "sampling": ("replacement", "permutation", "ordered"),
           "schedule": ("constant", "cosine"), "select_rule": spec.DECISION_RULES, "optimizer": ("sgd", "adam"),
           "init": ("bs4nn", "che"), "decoding": tuple(DECODINGS_BY_NAME), "backward": tuple(BACKWARDS_BY_NAME),
           "error_weights": ("sign", "real")}

#: Research options removed from the trainer (docs/research.md; the last commit with them: a189f41) ->
#: the value that behaves as the trainer does now (None: inert without another removed option).
REMOVED = {"init_positive": 0.5, "init_kernels": "random", "fire_reg": 0.0, "fire_band": None,
           "error_mask": "before", "centre_conv_grads": False, "flip": False, "hw_scale": None,
           "ce_weight": None, "loss": "relative", "tau": None}


@dataclass(frozen=True)
class ConvOptions:
    """Options beyond the papers' FC algorithms (Che et al. 2024 and ours); see :mod:`.trainer`."""

    init: str = "bs4nn"
    init_fire: float = 0.3
    init_fire_out: float = 0.5
    calibration: int = 256
    decoding: str = "s4nn"
    decoding_scale: float = 0.25
    eta_decoding: float = 0.001
    backward: str = "s4nn"
    error_weights: str | None = None  # None: "real" for an FC stack or a real-valued net, else "sign"
    silent_margin: float = 0.0


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
    dead_reset: bool | None = None  # S4NN: redraw the fc hidden neurons that (almost) never fire
    push_silent_label: bool | str | None = None  # False, True or "rank" (see train_kernels.SILENT_*)
    schedule: str = "constant"
    eta_final: float = 0.01
    train_limit: int | None = None
    chunk: int = 2000
    # additions of ours (not in the papers): mini-batch Adam on clipped latent weights
    optimizer: str = "sgd"
    batch: int = 1
    clip: list[float] | None = None  # None: no clipping for an FC stack, 1 otherwise (adam)
    shift: int = 0
    ema: float = 0.0  # decay per chunk of the latent-weight average the model is read from (0 = off)
    ema_start: int = 1  # first epoch that averages; before it the average is the weights themselves
    dropout: float = 0.0  # chance an fc hidden neuron is silenced for one training sample (ours; 0 = off)
    init_from: str | None = None  # fine-tune: start from another run's checkpoint (ours)
    thresholds_from: str | None = None  # with init_from: a model file's integer thresholds (ours)
    conv: ConvOptions = field(default_factory=ConvOptions)

    def resolved(self) -> TrainConfig:
        """Fill the unset fields from the algorithm's preset and the architecture, and validate."""
        _check_choice("algorithm", self.algorithm)
        cfg = dataclasses.replace(self)
        for key, value in PRESETS[self.algorithm].items():
            if getattr(cfg, key) is None:
                setattr(cfg, key, value)
        arch = parse_arch(cfg.arch)
        n_layers = len(arch.layers)
        fc_stack = arch.is_fully_connected or not cfg.binary
        eta = cfg.eta if isinstance(cfg.eta, (list, tuple)) else [cfg.eta]
        if len(eta) == 1:
            eta = list(eta) * n_layers
        if len(eta) != n_layers:
            raise ValueError(f"{len(eta)} learning rates for {n_layers} layers")
        cfg.eta = [float(x) for x in eta]
        if np.size(cfg.alpha_init) not in (1, n_layers):
            raise ValueError(f"--alpha-init has {np.size(cfg.alpha_init)} values for {n_layers} layers: "
                             "give one value for all layers or one per layer")
        cfg.init_high = _bound_per_layer(cfg.init_high, n_layers)
        cfg.init_low = _bound_per_layer(cfg.init_low if cfg.init_low is not None else [0.0], n_layers)
        if any(lo >= hi for lo, hi in zip(cfg.init_low, cfg.init_high)):
            raise ValueError(f"init ranges must have low < high, got {cfg.init_low} / {cfg.init_high}")
        for name in ("sampling", "schedule", "select_rule", "optimizer"):
            _check_choice(name, getattr(cfg, name))
        if cfg.epochs < 1:
            raise ValueError("epochs must be >= 1")
        _check_rates(cfg)
        if cfg.thresholds_from and not cfg.binary:
            raise ValueError("--thresholds-from sets integer thresholds, which only binary networks have; "
                             "drop it for a real-valued run")
        if cfg.thresholds_from and not cfg.init_from:
            raise ValueError("--thresholds-from sets the starting thresholds of a fine-tune; give "
                             "--init-from RUN too")
        if cfg.optimizer == "sgd" and (cfg.batch != 1 or cfg.clip):
            raise ValueError("--batch and --clip need --optimizer adam "
                             "(the papers' per-sample SGD has none of them)")
        if cfg.batch < 1:
            raise ValueError(f"need batch >= 1, got {cfg.batch}")
        if cfg.clip is None and cfg.optimizer == "adam" and not fc_stack:
            cfg.clip = [1.0]
        if cfg.clip is not None:
            cfg.clip = _bound_per_layer(cfg.clip, n_layers)
            if min(cfg.clip) <= 0:
                raise ValueError(f"--clip must be > 0, got {cfg.clip}")
        if cfg.push_silent_label not in SILENT_MODES:
            raise ValueError(f"push_silent_label must be one of {list(SILENT_MODES)}, "
                             f"got {cfg.push_silent_label!r}")
        if not 0.0 <= cfg.ema < 1.0:
            raise ValueError(f"--ema is a decay per chunk in [0, 1), got {cfg.ema}")
        if cfg.ema_start < 1:
            raise ValueError(f"--ema-start is an epoch number >= 1, got {cfg.ema_start}")
        if not 0.0 <= cfg.dropout < 1.0:
            raise ValueError(f"--dropout is a probability in [0, 1), got {cfg.dropout}")
        if cfg.dropout and not any(fc_hidden(arch)):
            raise ValueError(f"--dropout acts on fully connected hidden layers; {cfg.arch!r} has none "
                             f"(e.g. 784-600-10 or 28x28-c16k5-p2-fc600-fc10)")
        if cfg.shift < 0 or (cfg.shift and not _square_side(arch)) or cfg.shift >= max(_square_side(arch), 1):
            c, h, w = arch.input_shape
            raise ValueError(f"--shift needs a single-channel square input image (e.g. 28x28 or "
                             f"784) and 0 <= shift < side; got shift {cfg.shift}, input {c}x{h}x{w} in "
                             f"{cfg.arch!r}")
        cfg.conv = _resolved_conv(cfg, arch, fc_stack)
        return cfg


def _check_rates(cfg: TrainConfig) -> None:
    """Numbers that would train to chance or crash after an epoch, refused before any data loads."""
    for name in ("eta", "eta_alpha", "lam", "gamma", "eta_final"):
        values = np.atleast_1d(np.asarray(getattr(cfg, name), dtype=np.float64))
        if not (np.isfinite(values).all() and (values >= 0).all()):
            raise ValueError(f"--{name.replace('_', '-')} must be finite and >= 0, got {getattr(cfg, name)}")
    alpha_init = np.atleast_1d(np.asarray(cfg.alpha_init, dtype=np.float64))
    if not (np.isfinite(alpha_init).all() and (alpha_init > 0).all()):
        raise ValueError(f"--alpha-init must be finite and > 0 (a layer's threshold is theta / alpha), "
                         f"got {cfg.alpha_init}")
    if not (np.isfinite(cfg.theta) and cfg.theta > 0):
        raise ValueError(f"theta must be finite and > 0, got {cfg.theta}")
    if cfg.val_size < 0:
        raise ValueError(f"--val-size must be >= 0, got {cfg.val_size}")
    if cfg.train_limit is not None and cfg.train_limit < 2:
        raise ValueError(f"--train-limit {cfg.train_limit} leaves no images to train on; give N >= 2 "
                         "or leave it out for the whole training set")


def _resolved_conv(cfg: TrainConfig, arch, fc_stack: bool) -> ConvOptions:
    """Validate ``cfg.conv`` against the rest of ``cfg`` and fill its per-architecture defaults."""
    o = cfg.conv
    error_weights = o.error_weights or ("real" if fc_stack else "sign")
    for name, value in (("init", o.init), ("decoding", o.decoding), ("backward", o.backward),
                        ("error_weights", error_weights)):
        _check_choice(name, value)
    if not cfg.binary and (error_weights == "sign" or o.init == "che"):
        raise ValueError("a real-valued (s4nn) net passes errors through its real weights and has no "
                         "integer thresholds to calibrate; drop --error-weights sign and --init che")
    if not 0.0 < o.init_fire < 1.0 or not 0.0 < o.init_fire_out <= 1.0:
        raise ValueError("init_fire must lie in (0, 1) and init_fire_out in (0, 1]")
    if cfg.optimizer == "adam" and (o.decoding != "s4nn" or o.backward != "s4nn"):
        raise ValueError("--optimizer adam uses the relative targets and the S4NN backward; "
                         "leave --decoding and --backward at s4nn")
    if o.silent_margin < 0 or (o.silent_margin > 0 and cfg.optimizer != "adam"):
        raise ValueError(f"--silent-surrogate must be >= 0 and needs --optimizer adam, got "
                         f"{o.silent_margin} with {cfg.optimizer}")
    return dataclasses.replace(o, error_weights=error_weights)


def _check_choice(name: str, value) -> None:
    if value not in CHOICES[name]:
        raise ValueError(f"unknown {name} {value!r}; choose one of {list(CHOICES[name])}")


def fc_hidden(arch) -> list[bool]:
    """Per hidden layer: is it fully connected (the layers ``dropout`` and ``dead_reset`` act on)."""
    return [layer.kind == "fc" for layer in arch.layers[:-1]]


def _square_side(arch) -> int:
    """Side of the square single-channel input image (a flat input of N = side^2 is read as one),
    or 0 when the input is not such an image."""
    c, h, w = arch.input_shape
    if h == 1 and w == 1:
        c, h, w = 1, int(round(np.sqrt(c))), int(round(np.sqrt(c)))
        if h * w != arch.input_shape[0]:
            return 0
    return h if c == 1 and h == w else 0


def _bound_per_layer(bounds, n_layers: int) -> list[float]:
    """One value per layer: given fewer, the first layer keeps the first, deeper ones the last."""
    bounds = list(bounds)
    if len(bounds) < n_layers:
        bounds = [bounds[0]] + [bounds[-1]] * (n_layers - 1)
    return [float(x) for x in bounds[:n_layers]]


CONV_FIELDS = tuple(f.name for f in dataclasses.fields(ConvOptions))


def flat_config(saved: dict) -> dict:
    """A saved config as one flat dict: the ``conv`` table's keys beside the others (the layout of
    configs written before :class:`ConvOptions`, when conv options were top-level fields)."""
    flat = {k: v for k, v in saved.items() if k != "conv"}
    flat.update(saved.get("conv") or {})
    return flat


def without_removed(flat: dict, where: str) -> dict:
    """A flat config without the :data:`REMOVED` options; one set to act raises a one-line error."""
    for key, value in flat.items():
        if key in REMOVED and REMOVED[key] is not None and value != REMOVED[key]:
            raise ValueError(f"{where}: {key} = {value!r}: that option was removed from the trainer "
                             "(docs/research.md; its code is in git commit a189f41)")
    return {k: v for k, v in flat.items() if k not in REMOVED}


def config_from_dict(values: dict, where: str = "config") -> TrainConfig:
    """A :class:`TrainConfig` from a dict of field names (conv options in a ``conv`` table or, as
    older configs have them, top-level); an unknown key raises a one-line error naming it."""
    top = {f.name for f in dataclasses.fields(TrainConfig)} - {"conv"}
    flat = without_removed(flat_config(values), where)
    unknown = sorted(k for k in flat if k not in top and k not in CONV_FIELDS)
    if unknown or not isinstance(values.get("conv", {}), dict):
        raise ValueError(f"{where}: unknown key(s) {unknown or ['conv']}; valid keys are {sorted(top)} "
                         f"and, in [conv], {list(CONV_FIELDS)}")
    conv = ConvOptions(**{k: v for k, v in flat.items() if k in CONV_FIELDS})
    return TrainConfig(**{k: v for k, v in flat.items() if k in top}, conv=conv)


def _type_ok(value, annotation: str) -> bool:
    """Does a TOML value fit a field annotation such as ``float | list[float] | None``?"""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    for part in (p.strip() for p in annotation.split("|")):
        if (part == "bool" and isinstance(value, bool)) or (part == "str" and isinstance(value, str)) \
                or (part == "float" and number) or (part == "int" and number and isinstance(value, int)):
            return True
        if part.startswith("list[") and isinstance(value, list) and all(_type_ok(v, part[5:-1]) for v in value):
            return True
    return False


def check_types(values: dict, where: str) -> None:
    """One-line error for the first key (``conv`` table included) whose value has the wrong type."""
    fields = {f.name: str(f.type) for f in dataclasses.fields(TrainConfig)}
    fields.update({f.name: str(f.type) for f in dataclasses.fields(ConvOptions)})
    for key, value in flat_config(values).items():
        if key in fields and not _type_ok(value, fields[key]):
            raise ValueError(f"{where}: {key} = {value!r} is not of type {fields[key]}")


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value)  # numbers and double-quoted strings read back unchanged


def config_toml(cfg: TrainConfig) -> str:
    """``cfg`` as TOML: the top-level fields, then the ``[conv]`` table (None, which TOML lacks, is
    left out: reading the file back leaves those fields at their default None)."""
    saved = dataclasses.asdict(cfg)
    conv = saved.pop("conv")
    lines = [f"{k} = {_toml_value(v)}" for k, v in saved.items() if v is not None]
    lines += ["", "[conv]"] + [f"{k} = {_toml_value(v)}" for k, v in conv.items() if v is not None]
    return "\n".join(lines) + "\n"
