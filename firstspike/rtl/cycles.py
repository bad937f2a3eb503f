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
* Conv engine (conv layers and fc layers over a pooled map, :func:`.params.uses_conv_engine`):
  :func:`.conv_cycles.conv_layer_schedule`, with the same token availability rules.

Images fed as input events (``inputs="events"``): the count starts at the first event, the ``E``
effective events and the ``end`` record one cycle each, so it is ``E + 1`` plus the pixel-fed count.

Bound used in the benchmarks (accumulate cycles): ``sum_l events_l * ceil(n_l / P_l)`` over the
events each fc layer receives (input events, then hidden spikes), ``G`` per (row, block) an
event reaches for a conv layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..export.plan import HardwarePlan
from ..model import spec
from ..model.infer import run
from .conv_cycles import conv_accumulate_bound, conv_layer_schedule
from .conv_geometry import ConvGeometry
from .params import check_events, check_plan, conv_taps, uses_conv_engine

__all__ = ["ImageSchedule", "event_load_cycles", "predict", "predict_cycles", "accumulate_bound",
           "layer_accumulate_bounds"]

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


def _bundles(n: int, events: int) -> list[int]:
    """Sizes of the bundles the encoder presents for a time step of ``n`` events, ``events`` per
    cycle: full bundles, then the remainder (its bank lists are balanced, see ``.encoder_wide``)."""
    return [events] * (n // events) + ([n % events] if n % events else [])


def _fc_layer(in_times, out_times, g_count, T, avail, is_output, events=1):
    """One fc engine: ``(pushes, next_avail, decision)``; ``avail`` None = fed by the encoder.

    With ``events`` K > 1 (a fully parallel layer) a bundle of up to K events of one step is taken
    per cycle: from the encoder, the step's events in bundles of K (the remainder last); from a
    queue, every token available in the cycle of the take, up to K, up to the step's last one."""
    crossing = np.bincount(out_times[out_times < T] - spec.SPIKE_DELAY, minlength=T)
    free = 0
    presented = FIRST_TOKEN_CYCLE
    token = 0
    pushes = []        # cycles of every emitted spike (records)
    next_avail = []    # availability of the tokens the next layer receives
    decision = None
    for s, n in _groups(in_times, T):
        left = n
        sizes = iter(_bundles(n, events)) if avail is None else None
        while left:
            c = presented if avail is None else avail[token]
            a = max(c, free)
            presented = a + 1
            if avail is None:
                size = next(sizes)
            else:
                size = 1
                while size < min(events, left) and avail[token + size] <= a:
                    size += 1
            token += size
            left -= size
            if left:
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
    return pushes, next_avail, decision


def _conv_layer(geo, in_times, out_times, T, avail, is_output):
    """One conv engine: ``(pushes, next_avail, decision)`` (decision None for a hidden layer)."""
    sch = conv_layer_schedule(geo, in_times, out_times, T, avail,
                              first=FIRST_TOKEN_CYCLE if avail is None else None, is_output=is_output)
    if is_output:
        return sch.emitted, [], sch.decision
    times = sorted(int(t) for t in out_times[out_times < T])
    next_avail = [e + FIFO_LATENCY for e, t in zip(sch.emitted, times) if spec.is_effective(t, T)]
    return sch.emitted, next_avail + [sch.accepted[-1] + FIFO_LATENCY], None


def _schedule_image(in_times, layer_times, plan: HardwarePlan, taps: int, events: int = 1) -> ImageSchedule:
    T = plan.T
    n_layers = len(plan.layers)
    avail = None  # None: encoder-coupled availability for layer 0
    records = []
    cur = in_times
    for index, layer in enumerate(plan.layers):
        out_times = layer_times[index]
        if uses_conv_engine(layer):
            geo = ConvGeometry.from_plan(layer, conv_taps(layer, taps))
            pushes, avail, decision = _conv_layer(geo, cur, out_times, T, avail,
                                                  index == n_layers - 1)
        else:
            pushes, avail, decision = _fc_layer(cur, out_times, layer.groups, T, avail,
                                                index == n_layers - 1, events)
        records.append(pushes)
        cur = out_times
    counts = [sum(1 for p in pushes if p <= decision) for pushes in records[:-1]]
    out = layer_times[-1]
    first = int(out.min())
    counts.append(int((out == first).sum()) if first < T else 0)
    return ImageSchedule(cycles=decision + 1, decision_cycle=decision, records=counts)


def predict(plan: HardwarePlan, pixels: np.ndarray, taps: int = 1, events: int = 1) -> list[ImageSchedule]:
    """Schedule of every image (rows of ``pixels``, 8-bit, ``(n, n_in)``) on the core of ``plan``
    (conv layers at ``taps`` positions per cycle, fc layers taking up to ``events`` events per
    cycle); the spike times come from the golden model of the plan's ROMs."""
    net = check_plan(plan).network
    check_events(plan, events)
    pixels = np.asarray(pixels).reshape(len(pixels), -1)
    result = run(net, pixels)
    in_times = spec.encode(pixels, net.encoding, net.T).astype(np.int64)
    layer_times = [t.astype(np.int64) for t in result.times]
    return [_schedule_image(in_times[i], [t[i] for t in layer_times], plan, taps, events)
            for i in range(len(pixels))]


def predict_cycles(plan: HardwarePlan, pixels: np.ndarray, taps: int = 1, inputs: str = "pixels",
                   events: int = 1) -> np.ndarray:
    """Exactly the core's ``cycles`` for each image (int64), fed as ``inputs`` ("pixels" or "events"),
    at ``events`` input events per cycle."""
    cycles = np.array([s.cycles for s in predict(plan, pixels, taps, events)], dtype=np.int64)
    if inputs == "events":
        return cycles + event_load_cycles(plan, pixels)
    if inputs != "pixels":
        raise ValueError(f"inputs must be 'pixels' or 'events', not {inputs!r}")
    return cycles


def event_load_cycles(plan: HardwarePlan, pixels: np.ndarray) -> np.ndarray:
    """Per image: the cycles an event-fed image spends loading (its effective events + ``end``)."""
    net = check_plan(plan).network
    pixels = np.asarray(pixels).reshape(len(pixels), -1)
    times = spec.encode(pixels, net.encoding, net.T)
    return (times <= spec.last_effective_time(net.T)).sum(axis=1).astype(np.int64) + 1


def accumulate_bound(plan: HardwarePlan, pixels: np.ndarray, taps: int = 1) -> np.ndarray:
    """Per image: the accumulate cycles of every layer over the events it receives: an fc engine
    ``ceil(n_l / P_l)`` per event, a conv engine ``G`` per (row, block) an event reaches (one event
    per cycle: the bound of the ``events = 1`` core)."""
    return layer_accumulate_bounds(plan, pixels, taps).sum(axis=1)


def layer_accumulate_bounds(plan: HardwarePlan, pixels: np.ndarray, taps: int = 1,
                            to_decision: bool = False) -> np.ndarray:
    """:func:`accumulate_bound` per layer: ``(images, layers)`` int64. ``to_decision``: only the
    events the decision needs: with the first output spike at ``D < T``, layer ``l`` of ``L`` (from
    0) counts its input events of time ``<= D - L + l`` (each layer adds one step of spike delay),
    the work any engine that takes events in time order must do before it can decide."""
    net = check_plan(plan).network
    pixels = np.asarray(pixels).reshape(len(pixels), -1)
    result = run(net, pixels)
    last = spec.last_effective_time(net.T)
    inputs = [spec.encode(pixels, net.encoding, net.T).astype(np.int64)] + list(result.times[:-1])
    n_layers = len(plan.layers)
    decision = result.times[-1].min(axis=1).astype(np.int64)  # T: no output spike, no early exit
    out = np.zeros((len(pixels), n_layers), dtype=np.int64)
    for index, (layer, times) in enumerate(zip(plan.layers, inputs)):
        times = np.asarray(times, dtype=np.int64)
        if to_decision:
            limit = np.where(decision < net.T, decision - n_layers + index, net.T)[:, None]
            times = np.where(times <= limit, times, net.T)  # later events: as if absent
        if uses_conv_engine(layer):
            geo = ConvGeometry.from_plan(layer, conv_taps(layer, taps))
            out[:, index] = [conv_accumulate_bound(geo, row, net.T) for row in times]
        else:
            out[:, index] = (times <= last).sum(axis=1) * layer.groups
    return out
