# SPDX-License-Identifier: MIT
"""Post-training threshold calibration on the validation split (ours).

A trained binary TTFS network decides when its first output neuron crosses (the hardware rule of
:mod:`.spec`), so the output threshold sets how much of the input the decision has seen: a higher
one waits for later (fainter) input spikes and costs latency. Training never looks at that trade-off.
:func:`calibrate` searches the thresholds on the validation images the model was selected on
(:func:`validation_images` rebuilds that split from the model's metadata), so the test set stays
untouched. Its own "after" figure is optimistic (it picks what scores best on the images it sees);
:func:`holdout_split` keeps part of the split away from the search for an unbiased before/after.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import spec
from .infer import run_times
from .trainer import training_pool, validation_split


@dataclass
class Calibration:
    """Result of :func:`calibrate`: the new network and what the search saw."""

    net: object
    before: float
    after: float
    step_before: float  # mean hardware decision step on the same images
    step_after: float
    changes: list[dict] = field(default_factory=list)
    scans: dict[int, list[dict]] = field(default_factory=dict)  # last scan of each layer


def validation_images(net, data_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """Encoded validation images and labels the model was selected on during training."""
    cfg = (net.meta or {}).get("config")
    if not cfg or not all(k in cfg for k in ("dataset", "seed", "val_size")):
        raise ValueError(
            "this model has no training configuration in its metadata (imported or hand-made), so "
            "its validation split is unknown; calibrate only models written by 'firstspike train'"
        )
    _, flat, labels = training_pool(cfg["dataset"], cfg.get("train_limit"), data_dir)
    if flat.shape[1] != net.sizes[0]:
        raise ValueError(f"the model expects {net.sizes[0]} inputs, {cfg['dataset']} images have "
                         f"{flat.shape[1]} pixels")
    val_idx, _ = validation_split(len(labels), int(cfg["seed"]), int(cfg["val_size"]))
    return spec.encode(flat[val_idx], net.encoding, net.T), labels[val_idx].astype(np.int64)


def holdout_split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(search, held)``: sorted index arrays that partition ``range(n)``; ``held`` holds
    ``round(n * fraction)`` images drawn by a generator seeded with ``seed``."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"the held-out fraction must lie strictly between 0 and 1, got {fraction}")
    n_held = int(round(n * fraction))
    if not 0 < n_held < n:
        raise ValueError(f"a held-out fraction of {fraction} of {n} validation images leaves one part "
                         f"empty; use a fraction nearer 0.5")
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[n_held:]), np.sort(order[:n_held])


def threshold_candidates(current, span, binary: bool) -> list:
    """``current * f`` for every factor f of ``span`` (integers >= 0 for binary nets, 6 significant
    digits for real ones), sorted."""
    values = {current}
    for f in span:
        value = current * float(f)
        values.add(max(int(round(value)), 0) if binary else max(float(f"{value:.6g}"), 0.0))
    return sorted(values)


def score(net, x, y, rule: str) -> tuple[float, float]:
    """(accuracy under ``rule``, mean hardware decision step) on encoded images ``x``."""
    result = run_times(net, x)
    _, steps = result.hardware_decision()
    return float(result.correct(y, rule).mean()), float(np.mean(steps))


def calibrate(net, x, y, layers=None, rounds: int = 1, span=None, rule: str = "hardware",
              max_step: float | None = None, progress=None) -> Calibration:
    """Coordinate search of the thresholds of ``layers`` (default: the output layer) on ``(x, y)``:
    one layer at a time, output first, over ``current * factor`` for the factors of ``span``, keeping
    the best accuracy under ``rule`` (ties keep the current threshold, then the nearest); ``rounds``
    sweeps. ``max_step``: only thresholds whose mean hardware decision step stays at or below it
    (a latency budget); the current threshold is kept when no candidate meets it.
    """
    n_layers = len(net.thresholds)
    layers = [n_layers - 1] if layers is None else sorted(set(layers), reverse=True)
    for layer in layers:
        if not 0 <= layer < n_layers:
            raise ValueError(f"layer {layer} does not exist: the network has layers 0..{n_layers - 1}")
    span = np.linspace(0.6, 1.8, 25) if span is None else np.asarray(span, dtype=np.float64)
    if span.size == 0 or span.min() < 0:
        raise ValueError("span must hold factors >= 0, e.g. 0.6 0.8 1.0 1.2 1.5")
    best, step = score(net, x, y, rule)
    result = Calibration(net=net, before=best, after=best, step_before=step, step_after=step)
    for round_index in range(rounds):
        changed = False
        for layer in layers:
            current = net.thresholds[layer]
            scan = []
            for theta in threshold_candidates(current, span, net.binary):
                trial = net.with_threshold(layer, theta)
                accuracy, trial_step = score(trial, x, y, rule)
                scan.append({"threshold": theta, "accuracy": accuracy, "mean_decision_step": trial_step})
                if progress:
                    progress(round_index, layer, theta, accuracy)
            allowed = [r for r in scan if max_step is None or r["mean_decision_step"] <= max_step]
            result.scans[layer] = scan
            if not allowed:
                continue
            pick = max(allowed, key=lambda r: (r["accuracy"], r["threshold"] == current,
                                               -abs(r["threshold"] - current)))
            if pick["threshold"] != current:
                result.changes.append({"round": round_index, "layer": layer, "from": current,
                                       "to": pick["threshold"], "accuracy": pick["accuracy"]})
                net = net.with_threshold(layer, pick["threshold"])
                best, step, changed = pick["accuracy"], pick["mean_decision_step"], True
        if not changed:
            break
    result.net, result.after, result.step_after = net, best, step
    return result

