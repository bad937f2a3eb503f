# SPDX-License-Identifier: MIT
"""Exact cycle model of one :class:`~.conv_layer.ConvLayerEngine` (costs documented there).

Cycle 0 is the first cycle the engine is in state TAKE (its memories cleared). A token presented
from cycle ``c`` is accepted in ``a = max(c, free)``, with ``out`` and ``rec`` always ready:

* an event reaching ``n`` (row, block) pairs frees the engine at ``a + 1 + n * G`` (``a + 1`` if
  pooling crops it or its window is empty);
* after the step's last event, with ``start`` the cycle the engine is free again, the compare pass
  issues ``touched * G`` reads (``touched`` = distinct blocks the step's events visited), each
  compare result with ``k > 0`` crossings adds ``1 + k`` cycles, one cycle ends the pass; emission
  begins at ``find = start + 2 + touched * G + extra``: a channel with ``k`` crossings emits its
  spikes in ``find + 2 .. find + 1 + k`` and the next channel is found at ``find + 2 + k``; the
  cycle after the last channel finds none, and the engine accepts again one cycle later;
* ``done`` is accepted (and passed on) in ``a``;
* an output layer (1x1 map) decides in the first emission cycle (``find``) of the first step with
  a crossing, and takes no token after it; without a crossing it decides when it accepts ``done``.

Bound (accumulate cycles): ``sum over events of n * G``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..model import spec
from .conv_geometry import ConvGeometry

__all__ = ["ConvSchedule", "conv_layer_schedule", "conv_accumulate_bound"]


@dataclass
class ConvSchedule:
    accepted: list[int]  # accept cycle of every token, ``done`` last
    emitted: list[int]   # cycle of every spike, in emission order ((time, neuron) order)
    #: output layer: the first cycle of the first emission with crossings (it decides there), or
    #: the cycle ``done`` is accepted; None for a hidden layer
    decision: int | None = None


def _tokens(in_times: np.ndarray, T: int) -> list[tuple[int, int]]:
    """``(time, neuron)`` of the effective input events, in the order the engine receives them."""
    return sorted((int(t), int(i)) for i, t in enumerate(in_times) if 0 <= t and spec.is_effective(int(t), T))


def conv_layer_schedule(geo: ConvGeometry, in_times: np.ndarray, out_times: np.ndarray, T: int,
                        avail: list[int] | None = None, first: int | None = None,
                        is_output: bool = False) -> ConvSchedule:
    """Accept and emission cycles of one image. ``in_times``/``out_times``: the layer's input and
    (golden) output spike times; ``avail``: cycle each token (``done`` last) is first presented;
    None with ``first``: a source that presents token 0 in ``first`` and each further token in the
    cycle after the previous one was accepted (the encoder); None alone: tokens always waiting."""
    G, P = geo.groups, geo.lanes
    tokens = _tokens(np.asarray(in_times), T)
    coupled = avail is None and first is not None
    avail = list(avail) if avail is not None else [first or 0] * (len(tokens) + 1)
    crossing: dict[int, list[int]] = {}
    for n in np.flatnonzero(np.asarray(out_times) < T):
        crossing.setdefault(int(out_times[n]) - spec.SPIKE_DELAY, []).append(int(n))
    accepted, emitted = [], []
    free = 0
    touched: set[int] = set()
    for k, (t, i) in enumerate(tokens):
        a = max(avail[k], free)
        accepted.append(a)
        if coupled:
            avail[k + 1] = a + 1
        blocks = geo.event_blocks(i)
        touched.update(blocks)
        free = a + 1 + len(blocks) * G
        if k + 1 < len(tokens) and tokens[k + 1][0] == t:
            continue
        fired = sorted(crossing.get(t, []))
        where = [geo.block_of(n) for n in fired]
        per_word = Counter((block, co // P) for co, block, _ in where)
        extra = sum(1 + c for c in per_word.values())
        find = free + 2 + len(touched) * G + extra
        decision = find
        for co, count in sorted(Counter(co for co, _, _ in where).items()):
            emitted.extend(find + 2 + q for q in range(count))
            find += 2 + count
        if is_output and fired:  # the output layer decides in the first emission cycle and stops
            return ConvSchedule(accepted, emitted, decision)
        free = find + 1
        touched = set()
    accepted.append(max(avail[len(tokens)], free))
    return ConvSchedule(accepted, emitted, decision=accepted[-1] if is_output else None)


def conv_accumulate_bound(geo: ConvGeometry, in_times: np.ndarray, T: int) -> int:
    """Accumulate cycles of one image: ``G`` per (row, block) pair each input event reaches."""
    return sum(len(geo.event_blocks(i)) * geo.groups for _, i in _tokens(np.asarray(in_times), T))
