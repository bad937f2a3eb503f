# SPDX-License-Identifier: MIT
"""Generator parameters of the TTFS core, derived from a network (or an exported ROM folder)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..export.rom import groups, pack_layer
from ..model import spec
from ..model.network import Network

__all__ = ["CoreParams", "resolve_lanes"]


def resolve_lanes(sizes: list[int], lanes) -> list[int]:
    """Lanes per layer: an int applies to every layer (capped at the layer width); a list is
    taken as given, one entry per layer, each in ``1 .. n_out``."""
    widths = sizes[1:]
    if isinstance(lanes, (int, np.integer)):
        if lanes < 1:
            raise ValueError(f"lanes must be >= 1, got {lanes}")
        return [min(int(lanes), n) for n in widths]
    lanes = [int(p) for p in lanes]
    if len(lanes) != len(widths):
        raise ValueError(f"give one lane count per layer ({len(widths)}), got {len(lanes)}")
    for index, (p, n) in enumerate(zip(lanes, widths)):
        if not 1 <= p <= n:
            raise ValueError(f"layer {index}: lanes must lie in 1..{n}, got {p}")
    return lanes


@dataclass(frozen=True)
class CoreParams:
    """Everything the RTL generator needs; all of it derives from :mod:`firstspike.model.spec`."""

    sizes: tuple[int, ...]
    lanes: tuple[int, ...]
    thresholds: tuple[int, ...]
    T: int
    encoding: str
    roms: tuple[tuple[int, ...], ...]  # per layer, the ROM words of :func:`pack_layer`
    counter_style: str = "auto"  # fully parallel layers: see rtl.counters.CounterBank

    @classmethod
    def from_network(cls, net: Network, lanes, counter_style: str = "auto") -> CoreParams:
        if not net.is_fully_connected:
            raise ValueError(f"the RTL core implements fully connected networks; {net.arch} is a conv "
                             "network (its kernel ROMs export with 'firstspike export', no conv RTL yet)")
        if not net.binary:
            raise ValueError("the RTL core implements binary (+1/-1) networks; "
                             "train with --algorithm bs4nn or import binary weights")
        per_layer = resolve_lanes(net.sizes, lanes)
        return cls(
            sizes=tuple(net.sizes), lanes=tuple(per_layer),
            thresholds=tuple(int(t) for t in net.thresholds), T=int(net.T), encoding=net.encoding,
            roms=tuple(tuple(pack_layer(w, p)) for w, p in zip(net.weights, per_layer)),
            counter_style=counter_style,
        )

    @property
    def n_layers(self) -> int:
        return len(self.sizes) - 1

    @property
    def groups(self) -> list[int]:
        return [groups(n, p) for n, p in zip(self.sizes[1:], self.lanes)]

    @property
    def acc_bits(self) -> list[int]:
        return [spec.accumulator_bits(n) for n in self.sizes[:-1]]

    @property
    def time_bits(self) -> int:
        return max(1, int(self.T).bit_length())

    @property
    def neuron_bits(self) -> int:
        return max(1, (max(self.sizes) - 1).bit_length())

    def time_lut(self) -> list[int]:
        """Spike time of every 8-bit pixel value under the network's encoding (``spec.encode``)."""
        return [int(t) for t in spec.encode(np.arange(256, dtype=np.uint8), self.encoding, self.T)]
