# SPDX-License-Identifier: MIT
"""Generator parameters of the TTFS core: a :class:`~firstspike.export.plan.HardwarePlan` it can build."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..export.plan import HardwarePlan, build_plan
from ..model import spec

__all__ = ["CoreParams", "check_events", "check_plan", "conv_taps", "uses_conv_engine"]


def uses_conv_engine(layer) -> bool:
    """A plan layer runs on :class:`~.conv_layer.ConvLayerEngine`: a conv layer, or an fc layer over a
    pooled map. An fc layer without pooling keeps the fc engine: its ROM rows are its input neurons."""
    geometry = dict(layer.geometry)
    return layer.kind == "conv" or geometry.get("pool", 1) > 1


def conv_taps(layer, taps: int) -> int:
    """Positions per cycle of a conv-engine layer for a requested ``taps``: capped at its output width."""
    return max(1, min(int(taps), dict(layer.geometry)["w_out"]))


def check_plan(plan: HardwarePlan) -> HardwarePlan:
    """``plan`` if the RTL core implements it; a one-line ValueError otherwise."""
    if not plan.has_roms:
        raise ValueError(f"the plan of {plan.arch} is a layout without ROM words; build it from a model "
                         "or an export folder")
    return plan


def check_events(plan: HardwarePlan, events: int) -> int:
    """``events`` (input events a layer adds per cycle) if the core of ``plan`` can take that many; a
    one-line ValueError otherwise. More than one needs every layer fully parallel on the fc engine
    (one counter per neuron, ``lanes = n_out``), where a cycle adds a signed popcount per neuron."""
    if int(events) != events or events < 1:
        raise ValueError(f"events per cycle must be an integer >= 1, got {events}")
    if events > 1:
        for i, layer in enumerate(plan.layers):
            if uses_conv_engine(layer) or layer.groups != 1:
                raise ValueError(f"{events} events per cycle needs fully parallel fc layers, but layer {i} "
                                 f"of {plan.arch} is {'a conv-engine layer' if uses_conv_engine(layer) else f'{layer.groups} lane groups'}; "
                                 f"use --lanes {max(plan.sizes[1:])} (one lane per neuron) or --events-per-cycle 1")
    return int(events)


@dataclass(frozen=True)
class CoreParams:
    """The plan, the counter style (fully parallel layers: see ``rtl.counters.CounterBank``), the
    conv engines' positions per cycle ``taps`` (capped at each layer's output width) and the events
    per cycle of fully parallel fc layers; every other number the generator uses is the plan's."""

    plan: HardwarePlan
    counter_style: str = "auto"
    taps: int = 1
    events: int = 1  # input events a fully parallel layer adds per cycle (:func:`check_events`)

    def __post_init__(self):
        check_plan(self.plan)
        if self.taps < 1:
            raise ValueError(f"taps (output positions per cycle of a conv layer) must be >= 1, got {self.taps}")
        check_events(self.plan, self.events)

    @classmethod
    def from_network(cls, net, lanes, counter_style: str = "auto", taps: int = 1, events: int = 1) -> CoreParams:
        return cls(build_plan(net, lanes), counter_style, taps, events)

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(self.plan.sizes)

    @property
    def lanes(self) -> tuple[int, ...]:
        return tuple(self.plan.lanes)

    @property
    def thresholds(self) -> tuple[int, ...]:
        return tuple(self.plan.thresholds)

    @property
    def T(self) -> int:
        return self.plan.T

    @property
    def encoding(self) -> str:
        return self.plan.encoding

    @property
    def roms(self) -> tuple[tuple[int, ...], ...]:
        return tuple(layer.rom for layer in self.plan.layers)

    @property
    def n_layers(self) -> int:
        return len(self.plan.layers)

    @property
    def groups(self) -> list[int]:
        return self.plan.groups

    @property
    def time_bits(self) -> int:
        return max(1, int(self.T).bit_length())

    @property
    def neuron_bits(self) -> int:
        return max(1, (max(self.sizes) - 1).bit_length())

    def time_lut(self) -> list[int]:
        """Spike time of every 8-bit pixel value under the network's encoding (``spec.encode``)."""
        return [int(t) for t in spec.encode(np.arange(256, dtype=np.uint8), self.encoding, self.T)]
