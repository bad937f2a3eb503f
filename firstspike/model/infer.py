# SPDX-License-Identifier: MIT
"""Inference with a :class:`.network.Network`: spike times of every layer, decisions, traces, metrics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba.typed import List

from . import spec
from .kernels import SNAP_END, SNAP_FIRST_CROSS, SNAP_REFERENCE, forward_batch
from .network import Network

__all__ = ["Run", "Event", "encode_images", "evaluate", "event_trace", "first_difference", "kernel_arrays",
           "run", "run_times"]


@dataclass(frozen=True, order=True)
class Event:
    """One spike: ``layer`` 0 is the first hidden layer; the last layer is the output."""

    layer: int
    time: int
    neuron: int


@dataclass
class Run:
    """Result of a forward pass over ``n`` images."""

    times: list[np.ndarray]  # per layer, (n, n_l) int16 spike times (T = silent)
    snaps: np.ndarray  # (n, 3, K) output potentials: first crossing, V(T-3), V(T-2)
    T: int

    @property
    def out_times(self) -> np.ndarray:
        return self.times[-1]

    def hardware_decision(self) -> tuple[np.ndarray, np.ndarray]:
        """(class, decision step) per image under the contract's hardware rule."""
        return spec.decide_hardware(
            self.out_times, self.snaps[:, SNAP_FIRST_CROSS], self.snaps[:, SNAP_END], self.T
        )

    def correct(self, labels: np.ndarray, rule: str) -> np.ndarray:
        if rule == "hardware":
            return self.hardware_decision()[0] == np.asarray(labels)
        if rule == "reference":
            return spec.reference_correct(self.out_times, self.snaps[:, SNAP_REFERENCE], labels, self.T)
        raise ValueError(f"unknown rule {rule!r}; choose one of {spec.DECISION_RULES}")


def kernel_arrays(net: Network) -> tuple[np.ndarray, List, np.ndarray]:
    """Arguments of :func:`.kernels.forward_batch`: per-layer geometry, kernels transposed to
    ``(c_in, kh, kw, c_out)``, thresholds."""
    geoms = np.array([layer.geometry() for layer in net.layers], dtype=np.int64)
    weights = List()
    for k in net.kernels:
        weights.append(np.ascontiguousarray(k.transpose(1, 2, 3, 0)))
    return geoms, weights, np.asarray(net.thresholds, dtype=np.float64)


def run_times(net: Network, in_times: np.ndarray) -> Run:
    """Forward pass on encoded input spike times ``(n, n_in)`` (``T`` or more = no spike)."""
    in_times = np.ascontiguousarray(np.atleast_2d(in_times), dtype=np.int16)
    if in_times.shape[1] != net.sizes[0]:
        shape = "x".join(str(s) for s in net.structure.input_shape)
        raise ValueError(f"the network expects {net.sizes[0]} inputs ({shape}) per image, got "
                         f"{in_times.shape[1]}; flatten images row-major to (n, {net.sizes[0]})")
    geoms, weights, thetas = kernel_arrays(net)
    sizes = net.sizes[1:]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    n = in_times.shape[0]
    times = np.empty((n, offsets[-1]), dtype=np.int16)
    snaps = np.zeros((n, 3, sizes[-1]), dtype=np.int32 if net.binary else np.float64)
    first = np.empty(n, dtype=np.int64)
    forward_batch(in_times, geoms, weights, thetas, net.T, offsets, times, snaps, first)
    return Run(times=[times[:, offsets[i] : offsets[i + 1]] for i in range(len(sizes))], snaps=snaps, T=net.T)


def run(net: Network, pixels: np.ndarray) -> Run:
    """Forward pass on 8-bit images ``(n, ...)``; they are flattened row-major and encoded."""
    return run_times(net, encode_images(net, pixels))


def encode_images(net: Network, pixels: np.ndarray) -> np.ndarray:
    """Flatten 8-bit images ``(n, ...)`` (or one flat image) row-major and encode them for ``net``."""
    pixels = np.asarray(pixels)
    if pixels.ndim == 1:
        pixels = pixels[None]
    return spec.encode(pixels.reshape(pixels.shape[0], -1), net.encoding, net.T)


def evaluate(net: Network, pixels: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy under both rules and activity statistics (the ``firstspike eval`` numbers)."""
    in_times = encode_images(net, pixels)
    labels = np.asarray(labels)
    if len(labels) != len(in_times):
        raise ValueError(f"{len(in_times)} images but {len(labels)} labels")
    result = run_times(net, in_times)
    T = net.T
    out = result.out_times
    first = out.min(axis=1)
    fired = first < T
    tie = fired & ((out == first[:, None]).sum(axis=1) > 1)
    _, steps = result.hardware_decision()
    return {
        "images": int(len(labels)),
        "accuracy_hardware": float(result.correct(labels, "hardware").mean()),
        "accuracy_reference": float(result.correct(labels, "reference").mean()),
        "mean_spikes_per_layer": [float((t < T).sum(axis=1).mean()) for t in result.times],
        "mean_input_events": float((in_times <= spec.last_effective_time(T)).sum(axis=1).mean()),
        "mean_decision_step": float(steps.mean()),
        "share_ties": float(tie.mean()),
        "share_no_output_spike": float((~fired).mean()),
    }


def event_trace(result: Run, image: int) -> list[Event]:
    """Every spike of one image, sorted by (layer, time, neuron): what the RTL must emit."""
    events = []
    for layer, times in enumerate(result.times):
        row = times[image]
        for neuron in np.flatnonzero(row < result.T):
            events.append(Event(layer, int(row[neuron]), int(neuron)))
    return sorted(events)


def first_difference(expected: list[Event], actual: list[Event]) -> str | None:
    """Describe the first differing event of two sorted traces, or None if they are equal."""
    for index, (a, b) in enumerate(zip(expected, actual)):
        if a != b:
            return f"event #{index}: expected {a}, got {b}"
    if len(expected) != len(actual):
        longer, name = (expected, "missing") if len(expected) > len(actual) else (actual, "extra")
        return f"event #{min(len(expected), len(actual))}: {name} {longer[min(len(expected), len(actual))]}"
    return None
