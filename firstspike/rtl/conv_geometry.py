# SPDX-License-Identifier: MIT
"""Addressing of a conv layer engine (:mod:`.conv_layer`): where an input event lands and what it touches.

Plain Python shared by the RTL (which turns the per-row and per-column tables into constants) and
the cycle model (:mod:`.conv_cycles`), so both walk exactly the same blocks.

An input event ``i`` (row-major ``(c, y, x)``) sits at pooled ``(py, px) = (y // pool, x // pool)``
(none if pooling crops it) and reaches output rows ``oy_lo .. oy_hi`` and columns ``ox_lo .. ox_hi``
(:func:`firstspike.model.kernels.window_range`). The output map is stored in *blocks* of ``taps``
consecutive columns: block ``(oy, bx)`` holds columns ``bx * taps .. bx * taps + taps - 1`` of row
``oy``, one per potential bank, so one cycle updates ``taps`` positions of one channel group. An
event visits the blocks ``bx_lo = ox_lo // taps .. bx_hi = ox_hi // taps`` of each row it reaches.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from ..model.arch import Layer

__all__ = ["ConvGeometry", "window_range"]

#: the fields that define an arch.Layer after its kind (h_out, w_out follow from them)
_DEFINING = ("c_in", "h_in", "w_in", "pool", "kh", "kw", "stride", "pad", "c_out")


def window_range(p: int, pad: int, k: int, stride: int, n_out: int) -> tuple[int, int]:
    """Output rows ``lo .. hi`` (inclusive, empty if ``lo > hi``) whose kernel window covers pooled
    row ``p`` (the rule of ``model.kernels.window_range``, restated for plain integers)."""
    a = p + pad - k + 1
    lo = 0 if a <= 0 else -(-a // stride)
    hi = min((p + pad) // stride, n_out - 1)
    return lo, hi


class _LayerField:
    """Reads the attribute of the same name of the geometry's :class:`~firstspike.model.arch.Layer`."""

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, geo, owner=None):
        return getattr(geo.layer, self.name)


@dataclass(frozen=True)
class ConvGeometry:
    """A conv-grammar layer (:class:`firstspike.model.arch.Layer`) with ``lanes`` channel lanes and
    ``taps`` positions (banks) per cycle; its geometry fields read through."""

    layer: Layer
    lanes: int
    taps: int = 1

    c_in, h_in, w_in, pool = _LayerField(), _LayerField(), _LayerField(), _LayerField()
    kh, kw, stride, pad = _LayerField(), _LayerField(), _LayerField(), _LayerField()
    c_out, h_out, w_out = _LayerField(), _LayerField(), _LayerField()
    n_in, n_out = _LayerField(), _LayerField()

    def __post_init__(self):
        if not 1 <= self.lanes <= self.c_out:
            raise ValueError(f"lanes must lie in 1..{self.c_out} (output channels), got {self.lanes}")
        if not 1 <= self.taps <= self.w_out:
            raise ValueError(f"taps must lie in 1..{self.w_out} (output columns), got {self.taps}")

    @classmethod
    def from_plan(cls, layer, taps: int = 1) -> ConvGeometry:
        """The geometry of a :class:`firstspike.export.plan.LayerPlan` of a conv-grammar network."""
        g = dict(layer.geometry)
        if not g:
            raise ValueError("the layer plan has no conv geometry (a plain fc stack); use the fc layer engine")
        arch_layer = Layer(layer.kind, *(g[name] for name in _DEFINING))
        if (arch_layer.h_out, arch_layer.w_out) != (g["h_out"], g["w_out"]):
            raise ValueError(f"the layer plan's output map {g['h_out']}x{g['w_out']} is not the "
                             f"{arch_layer.h_out}x{arch_layer.w_out} its geometry gives; re-export the model")
        return cls(arch_layer, lanes=layer.lanes, taps=taps)

    @property
    def groups(self) -> int:
        return -(-self.c_out // self.lanes)

    @property
    def positions(self) -> int:
        return self.h_out * self.w_out

    @property
    def blocks_per_row(self) -> int:
        return -(-self.w_out // self.taps)

    @property
    def blocks(self) -> int:
        return self.h_out * self.blocks_per_row

    @cached_property
    def row_table(self) -> tuple[tuple[int, int], ...]:
        """``(oy_lo, oy_hi)`` for every pooled row ``py``."""
        return tuple(window_range(p, self.pad, self.kh, self.stride, self.h_out)
                     for p in range(self.h_in // self.pool))

    @cached_property
    def column_table(self) -> tuple[tuple[int, int, int, int], ...]:
        """``(ox_lo, ox_hi, bx_lo, bx_hi)`` for every pooled column ``px``."""
        out = []
        for p in range(self.w_in // self.pool):
            lo, hi = window_range(p, self.pad, self.kw, self.stride, self.w_out)
            out.append((lo, hi, lo // self.taps, hi // self.taps))
        return tuple(out)

    def reach(self, i: int) -> tuple[int, int, int] | None:
        """``(ci, py, px)`` of input ``i``, or None if pooling crops it."""
        plane = self.h_in * self.w_in
        ci, r = divmod(i, plane)
        py, px = (r // self.w_in) // self.pool, (r % self.w_in) // self.pool
        if py >= self.h_in // self.pool or px >= self.w_in // self.pool:
            return None
        return ci, py, px

    def event_blocks(self, i: int) -> list[int]:
        """Blocks ``oy * blocks_per_row + bx`` input ``i`` visits, in the engine's order (may be empty)."""
        where = self.reach(i)
        if where is None:
            return []
        _, py, px = where
        oy_lo, oy_hi = self.row_table[py]
        ox_lo, ox_hi, bx_lo, bx_hi = self.column_table[px]
        if ox_lo > ox_hi:
            return []
        return [oy * self.blocks_per_row + bx for oy in range(oy_lo, oy_hi + 1) for bx in range(bx_lo, bx_hi + 1)]

    def block_of(self, neuron: int) -> tuple[int, int, int]:
        """``(channel, block, bank)`` of output neuron ``neuron`` (row-major ``(c_out, h_out, w_out)``)."""
        co, pos = divmod(neuron, self.positions)
        oy, ox = divmod(pos, self.w_out)
        return co, oy * self.blocks_per_row + ox // self.taps, ox % self.taps
