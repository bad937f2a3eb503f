# SPDX-License-Identifier: MIT
"""Compare what the core produced with the golden model and the cycle model, with ``==``.

Per image: the class and the decision step (``spec``'s ``hardware`` rule via the golden model),
the cycle count (:func:`firstspike.rtl.cycles.predict`), and every reported spike: for each hidden
layer the records must be, in order, the golden spikes of that layer sorted by (time, neuron), as
many as the cycle model says were emitted before the decision, and they must include every spike
that can influence the decision (:func:`influences_decision`); the output records must be the
golden output spikes at the decision step. The first difference is described with the image, the
event and the seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..export.plan import HardwarePlan
from ..model import spec
from ..model.infer import Event, event_trace, first_difference, run
from ..rtl.cycles import event_load_cycles, predict

__all__ = ["Comparison", "HardwareImage", "compare", "influences_decision"]


@dataclass
class HardwareImage:
    """What the core reported for one image."""

    cls: int
    step: int
    cycles: int
    spikes: list[tuple[int, int, int]] = field(default_factory=list)  # (layer, neuron, time), as emitted


@dataclass
class Comparison:
    images: int
    mismatched: list[int]
    first_mismatch: str | None
    cycles: np.ndarray
    predicted_cycles: np.ndarray

    @property
    def ok(self) -> bool:
        return not self.mismatched


def influences_decision(event: Event, n_layers: int, step: int, T: int) -> bool:
    """Whether a hidden spike can change the decision of an image decided at ``step``.

    A spike of layer ``L`` at time ``t`` counts in layer ``L + 1``'s potential from index ``t`` on;
    every layer above adds one step (a crossing at index ``c`` spikes at ``c + 1``), so it reaches
    the output potentials at index ``t + (n_layers - 2 - L)`` at the earliest. The hardware rule
    reads them at ``c* = step - 1`` when an output fired, else at ``T - 2`` (step ``T``). So the
    spike matters iff ``t + (n_layers - 2 - L) <= read index``; for the last hidden layer with an
    output spike that is ``t < step``.
    """
    read = step - 1 if step < T else spec.last_effective_time(T)
    return event.time + (n_layers - 2 - event.layer) <= read


def _expected_spikes(trace: list[Event], counts: list[int], step: int, n_layers: int) -> list[Event]:
    expected = []
    for layer in range(n_layers):
        mine = [e for e in trace if e.layer == layer]
        if layer < n_layers - 1:
            expected += mine[: counts[layer]]
        else:
            expected += [e for e in mine if e.time == step]
    return expected


def compare(plan: HardwarePlan, pixels: np.ndarray, hardware: list[HardwareImage],
            seed=None, golden=None, taps: int = 1, inputs: str = "pixels",
            spikes: bool = True, events: int = 1) -> Comparison:
    """Check what the core of ``plan`` (conv layers at ``taps`` positions per cycle, ``CoreParams.taps``;
    fc layers at ``events`` per cycle, ``CoreParams.events``) reported against ``golden`` (a network; default the golden model of the plan's ROMs); ``inputs``:
    how the images were fed ("pixels" or "events", which changes the cycle count); ``spikes=False``:
    only class, step and cycles (a board top answers with no spikes)."""
    pixels = np.asarray(pixels).reshape(len(pixels), -1)
    if len(hardware) != len(pixels):
        raise ValueError(f"{len(pixels)} images fed but {len(hardware)} results came back")
    schedule = predict(plan, pixels, taps, events)
    load = event_load_cycles(plan, pixels) if inputs == "events" else np.zeros(len(pixels), np.int64)
    golden = run(plan.network if golden is None else golden, pixels)
    cls, step = golden.hardware_decision()
    n_layers = len(plan.layers)
    mismatched, first = [], None
    where = f" (seed {seed})" if seed is not None else ""
    for i, (hw, sch) in enumerate(zip(hardware, schedule)):
        problems = []
        if (hw.cls, hw.step) != (int(cls[i]), int(step[i])):
            problems.append(f"decision: expected class {cls[i]} at step {step[i]}, "
                            f"got class {hw.cls} at step {hw.step}")
        if hw.cycles != sch.cycles + load[i]:
            problems.append(f"cycles: expected {sch.cycles + load[i]}, got {hw.cycles}")
        if not spikes:
            if problems:
                mismatched.append(i)
                first = first or f"image {i}{where}: " + "; ".join(problems)
            continue
        trace = event_trace(golden, i)
        expected = _expected_spikes(trace, sch.records, int(step[i]), n_layers)
        actual = []
        for layer in range(n_layers):
            actual += [Event(layer, t, n) for (lay, n, t) in hw.spikes if lay == layer]
        diff = first_difference(expected, actual)
        if diff:
            problems.append(f"spikes: {diff}")
        needed = [e for e in trace if e.layer < n_layers - 1
                  and influences_decision(e, n_layers, int(step[i]), plan.T)]
        missing = [e for e in needed if e not in actual]
        if missing:
            problems.append(f"spikes: {missing[0]} can influence the decision but was not reported")
        if problems:
            mismatched.append(i)
            if first is None:
                first = f"image {i}{where}: " + "; ".join(problems)
    return Comparison(
        images=len(pixels), mismatched=mismatched, first_mismatch=first,
        cycles=np.array([hw.cycles for hw in hardware], dtype=np.int64),
        predicted_cycles=np.array([s.cycles for s in schedule], dtype=np.int64) + load,
    )
