# SPDX-License-Identifier: MIT
"""The integer TTFS contract: the one place that says what a spike time means.

Ref: Kheradpisheh & Masquelier, "Temporal backpropagation for spiking neural networks with one
spike per neuron" (S4NN), Int. J. Neural Systems 2020, doi:10.1142/S0129065720500276;
Kheradpisheh, Mirsadeghi & Masquelier, "BS4NN: Binarized spiking neural networks with temporal
coding and learning", Neural Processing Letters 2021, doi:10.1007/s11063-021-10680-x.
The discrete-time semantics below are those of the authors' official code (SRKH/S4NN, SRKH/BS4NN).

Everything else in firstspike (trainer, exporter, RTL generator, testbenches) imports its rules
from here instead of restating them.

Time grid
    Integer steps ``t = 0 .. T`` (``T = 256`` in both papers). Every neuron is a non-leaky
    integrate-and-fire neuron with step synapses, no bias, no reset, and fires at most once.

Potential
    ``V_j(t) = sum_i w_ji * [t_i <= t]``: an input spike at time ``t_i`` counts from index ``t_i``
    on, inclusive. All inputs that share a time are added as one group before the threshold test.

Threshold test and spike delay
    A neuron *crosses* at the first index ``c`` with ``V_j(c) > theta`` (strict). Its spike time
    is ``c + 1`` (one-step delay), clipped to ``T``.

Silent neurons
    A neuron that never crosses has spike time ``T`` ("silent"). A crossing at ``T - 1`` also
    gives ``T`` and is indistinguishable from silence. Valid spike times are ``1 .. T - 1``.
    Consequently an event at a time ``>= T - 1`` can never produce a valid spike in the layer it
    feeds, and no decision reads a potential after index ``T - 2``: such events are dropped
    (:func:`is_effective`).

Binary layers
    Weights are ``+1/-1`` (bit 1 = +1, bit 0 = -1; a real latent weight of exactly 0 maps to +1).
    The learned per-layer scale alpha of BS4NN is folded into an integer threshold:
    ``alpha * V > theta``  <=>  ``V > floor(theta / alpha)`` for integer ``V``
    (equivalently ``V >= floor(theta / alpha) + 1``), see :func:`integer_threshold`.

Decision rules
    ``reference``: the papers' scoring, used only to compare with published numbers. A sample is
    correct if its label is among the first output spikers (ties count as correct); if no output
    fires, the prediction is ``argmax_k V_k(T - 3)`` (lowest index on equal potential).

    ``hardware``: the deterministic rule the RTL implements. Let ``c*`` be the first index at
    which any output neuron crosses. The class is ``argmax_k V_k(c*)``, lowest index on equal
    potential, and the decision step is ``c* + 1`` (the winner's spike time). If no output
    crosses, the class is ``argmax_k V_k(T - 2)`` (the potential after the last effective event),
    lowest index on equal potential, and the decision step is ``T``.

Hardware widths: :func:`accumulator_bits`, :func:`parallel_counter_bits`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["DECISION_RULES", "ENCODINGS", "T_DEFAULT", "SPIKE_DELAY", "accumulator_bits", "decide_hardware",
           "encode", "integer_threshold", "scale_for_threshold", "is_effective", "last_effective_time",
           "parallel_counter_bits", "reference_correct", "sign_bits", "spike_time"]

#: Number of time steps of the grid (``t = 0 .. T``); both papers use 256.
T_DEFAULT = 256

#: A crossing at index ``c`` emits its spike at ``c + SPIKE_DELAY``.
SPIKE_DELAY = 1

#: Input encodings (pixel ``p`` in 0..255 -> spike time).
ENCODINGS = ("bs4nn", "s4nn")

#: Decision rules, see the module docstring.
DECISION_RULES = ("reference", "hardware")


def encode(pixels: np.ndarray, encoding: str, T: int = T_DEFAULT) -> np.ndarray:
    """Intensity-to-latency encoding of 8-bit pixels into spike times (int16).

    ``bs4nn``: ``t = 255 - p`` (BS4NN notebook; requires ``T >= 256``).
    ``s4nn``: ``t = floor((255 - p) * T / 255)`` (S4NN code; ``p = 0`` gives ``T``, never counted).
    """
    pixels = np.asarray(pixels)
    if pixels.dtype.kind not in "iu":
        raise TypeError(f"pixels must be integers 0..255, got dtype {pixels.dtype}; "
                        "convert floats in [0, 1] with np.round(x * 255).astype(np.uint8)")
    if pixels.size and (int(pixels.min()) < 0 or int(pixels.max()) > 255):
        raise ValueError(f"pixels must lie in 0..255, got range {int(pixels.min())}..{int(pixels.max())}; "
                         "rescale the images to 8-bit grey levels first")
    p = pixels.astype(np.int32)
    if encoding == "bs4nn":
        if T < 256:
            raise ValueError(f"the bs4nn encoding needs T >= 256, got T={T}; use encoding 's4nn'")
        t = 255 - p
    elif encoding == "s4nn":
        t = ((255 - p) * T) // 255
    else:
        raise ValueError(f"unknown encoding {encoding!r}; choose one of {ENCODINGS}")
    return t.astype(np.int16)


@njit(cache=True)
def spike_time(crossing_index: int, T: int) -> int:
    """Spike time of a neuron that first crosses at ``crossing_index`` (delay 1, clipped to T)."""
    t = crossing_index + SPIKE_DELAY
    return T if t > T else t


@njit(cache=True)
def last_effective_time(T: int) -> int:
    """Latest event time that can still change a spike time or a decision (``T - 2``); also the index
    whose output potentials the hardware rule reads when no output fires."""
    return T - 2


@njit(cache=True)
def is_effective(t: int, T: int) -> bool:
    """True if an event at time ``t`` can matter to the next layer (``t <= T - 2``)."""
    return t <= T - 2


def integer_threshold(theta: float, alpha: float) -> int:
    """Integer threshold of a binary layer with scale ``alpha`` (fires when ``V > result``; see
    "Binary layers" above)."""
    if not alpha > 0:
        raise ValueError(f"layer scale alpha must be > 0, got {alpha}")
    return int(math.floor(theta / alpha))


def scale_for_threshold(theta: float, threshold: int) -> float:
    """A scale alpha whose :func:`integer_threshold` is ``threshold``: ``theta / (threshold + 0.5)``,
    the middle of the interval of scales that floor to it."""
    if threshold < 0:
        raise ValueError(f"an integer threshold is >= 0, got {threshold}")
    return theta / (threshold + 0.5)


def sign_bits(weights: np.ndarray) -> np.ndarray:
    """Map real latent weights to +1/-1 (int8); exactly 0 maps to +1 (bit 1)."""
    return np.where(np.asarray(weights) >= 0, 1, -1).astype(np.int8)


def accumulator_bits(fan_in: int) -> int:
    """Signed width (bits) that holds any potential ``|V| <= fan_in`` of a binary neuron with ``fan_in``
    inputs."""
    if fan_in < 1:
        raise ValueError(f"fan_in must be >= 1, got {fan_in}")
    return int(fan_in).bit_length() + 1


def parallel_counter_bits(fan_in: int, threshold: int) -> int:
    """Signed width of a fully parallel layer's up/down counter (``P = n_out``, ``rtl.counters``).

    The counter holds ``u = threshold - V`` so that the strict crossing ``V > threshold`` is its sign
    bit; ``|V| <= fan_in``, so ``u`` spans ``threshold - fan_in .. threshold + fan_in`` (two's complement).
    """
    if fan_in < 1:
        raise ValueError(f"fan_in must be >= 1, got {fan_in}")
    lo, hi = threshold - fan_in, threshold + fan_in
    return max((-lo - 1).bit_length() if lo < 0 else 0, hi.bit_length() if hi > 0 else 0) + 1


def decide_hardware(out_times: np.ndarray, v_first_cross: np.ndarray, v_end: np.ndarray,
                    T: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``hardware`` decision rule, vectorised over images.

    Args: ``out_times`` (n, K) output spike times; ``v_first_cross`` (n, K) output potentials at
    the first crossing index (ignored where nothing fired); ``v_end`` (n, K) at ``T - 2``.
    Returns ``(classes, decision_steps)``.
    """
    out_times = np.atleast_2d(out_times)
    first = out_times.min(axis=1)
    fired = first < T
    cls = np.where(fired, np.argmax(v_first_cross, axis=-1), np.argmax(v_end, axis=-1))  # lowest on ties
    return cls.astype(np.int64), np.where(fired, first, T).astype(np.int64)


def reference_correct(out_times: np.ndarray, v_ref: np.ndarray, labels: np.ndarray, T: int) -> np.ndarray:
    """Per-image correctness under the papers' ``reference`` scoring (ties count as correct)."""
    out_times = np.atleast_2d(out_times)
    labels = np.asarray(labels, dtype=np.int64)
    first = out_times.min(axis=1)
    fired = first < T
    label_time = out_times[np.arange(len(labels)), labels]
    fallback = np.argmax(v_ref, axis=-1) == labels
    return np.where(fired, label_time == first, fallback)
