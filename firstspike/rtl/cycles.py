# SPDX-License-Identifier: MIT
"""Analytic cycle model of :class:`~firstspike.rtl.core.TTFSCore`: the exact ``cycles`` value.

The model walks the core's event schedule token by token with the per-token costs documented in
:mod:`.encoder` and :mod:`.layer`; it needs the golden model's spike times (which neurons cross at
which step) and nothing from the RTL. Cycle 0 is the first cycle after the last pixel is accepted.

* Encoder: the first event is presented in cycle 2 (1 settle + 1 find-first-set cycle), every
  further token (event or ``done``) in the cycle after the previous token was accepted.
* Layer with ``G = ceil(n_out / P)`` groups, free from cycle 0: a token presented in cycle ``c`` is
  accepted in ``a = max(c, free)``. An event that is not the last of its step frees the layer at
  ``a + G``. The last event of step ``s`` is followed by a compare pass issued in ``y = a + G ..
  y + G - 1`` and a drain cycle ``y + G``; its ``k`` newly crossing neurons are emitted in cycles
  ``y + G + 1 .. y + G + k`` and the layer is free again at ``y + G + 1 + k``. An emitted spike
  (time ``s + 1`` effective) reaches the next layer's FIFO output two cycles after it is pushed
  (``SyncFIFOBuffered``: the write lands in cycle ``c``, the memory is read in ``c + 1``, the
  output register holds it from ``c + 2``; an entry behind others is read in the cycle its
  predecessor is taken, so it is ready one cycle later, never later than the consumer is free).
  ``done`` is passed on in the cycle it is accepted.
* Output layer: the first step ``s`` with a crossing decides in cycle ``y + G + 1``; otherwise the
  decision is taken in the cycle ``done`` is accepted. ``result.valid`` rises one cycle later:
  ``cycles = decision cycle + 1``.

Bound used in the benchmarks (accumulate cycles): ``sum_l events_l * ceil(n_l / P_l)`` over the
events each layer receives (input events, then hidden spikes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..export.plan import HardwarePlan
from ..model import spec
from ..model.infer import run
from .params import check_plan

__all__ = ["ImageSchedule", "predict", "predict_cycles", "accumulate_bound"]

FIRST_TOKEN_CYCLE = 2  # settle + find-first-set after the last pixel
FIFO_LATENCY = 2       # amaranth.lib.fifo.SyncFIFOBuffered: written in cycle c, readable in c + 2


@dataclass
class ImageSchedule:
    cycles: int
    decision_cycle: int
    records: list[int]  # spike records each layer reports (hidden: emitted up to the decision)


def _groups(times: np.ndarray, T: int) -> list[tuple[int, int]]:
    """(time, count) of the effective events in ``times``, in increasing time."""
    eff = times[times <= spec.last_effective_time(T)]
    values, counts = np.unique(eff, return_counts=True)
    return [(int(v), int(c)) for v, c in zip(values, counts)]


def _schedule_image(in_times, layer_times, G, T) -> ImageSchedule:
    n_layers = len(G)
    incoming = _groups(in_times, T)  # layer 0 input groups
    avail = None  # None: encoder-coupled availability for layer 0
    records = []
    for layer in range(n_layers):
        g_count = G[layer]
        is_output = layer == n_layers - 1
        out_times = layer_times[layer]
        crossing = np.bincount(out_times[out_times < T] - spec.SPIKE_DELAY, minlength=T)
        free = 0
        presented = FIRST_TOKEN_CYCLE
        token = 0
        pushes = []        # cycles of every emitted spike (records)
        next_avail = []    # availability of the tokens the next layer receives
        decision = None
        for s, n in incoming:
            for j in range(n):
                if avail is None:
                    c = presented
                else:
                    c = avail[token]
                token += 1
                a = max(c, free)
                presented = a + 1
                if j < n - 1:
                    free = a + g_count
                    continue
                y = a + g_count
                k = int(crossing[s])
                if is_output and k:
                    decision = y + g_count + 1
                    break
                emit = [y + g_count + 1 + q for q in range(k)]
                pushes.extend(emit)
                if spec.is_effective(s + spec.SPIKE_DELAY, T):
                    next_avail.extend(e + FIFO_LATENCY for e in emit)
                free = y + g_count + 1 + k
            if decision is not None:
                break
        if decision is None:
            c = presented if avail is None else avail[token]
            a = max(c, free)
            if is_output:
                decision = a
            else:
                next_avail.append(a + FIFO_LATENCY)
        records.append(pushes)
        incoming = _groups(out_times, T)
        avail = next_avail
    counts = [sum(1 for p in pushes if p <= decision) for pushes in records[:-1]]
    out = layer_times[-1]
    first = int(out.min())
    counts.append(int((out == first).sum()) if first < T else 0)
    return ImageSchedule(cycles=decision + 1, decision_cycle=decision, records=counts)


def predict(plan: HardwarePlan, pixels: np.ndarray) -> list[ImageSchedule]:
    """Schedule of every image (rows of ``pixels``, 8-bit, ``(n, n_in)``) on the core of ``plan``;
    the spike times come from the golden model of the plan's ROMs."""
    net = check_plan(plan).network
    pixels = np.asarray(pixels).reshape(len(pixels), -1)
    result = run(net, pixels)
    in_times = spec.encode(pixels, net.encoding, net.T).astype(np.int64)
    layer_times = [t.astype(np.int64) for t in result.times]
    return [_schedule_image(in_times[i], [t[i] for t in layer_times], plan.groups, net.T)
            for i in range(len(pixels))]


def predict_cycles(plan: HardwarePlan, pixels: np.ndarray) -> np.ndarray:
    """Exactly the core's ``cycles`` for each image (int64)."""
    return np.array([s.cycles for s in predict(plan, pixels)], dtype=np.int64)


def accumulate_bound(plan: HardwarePlan, pixels: np.ndarray) -> np.ndarray:
    """Per image: ``sum_l events_l * ceil(n_l / P_l)`` over all events each layer receives."""
    net = check_plan(plan).network
    pixels = np.asarray(pixels).reshape(len(pixels), -1)
    result = run(net, pixels)
    last = spec.last_effective_time(net.T)
    events = [(spec.encode(pixels, net.encoding, net.T) <= last).sum(axis=1)]
    events += [(t <= last).sum(axis=1) for t in result.times[:-1]]
    return sum(e.astype(np.int64) * g for e, g in zip(events, plan.groups))
