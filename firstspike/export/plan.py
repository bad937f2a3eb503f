# SPDX-License-Identifier: MIT
"""The hardware plan: every number the RTL, the simulator and the board build read, resolved once.

:func:`build_plan` takes a binary network and a lane request and fixes, per neuron layer, the lanes,
the lane groups ``G = ceil(outputs / lanes)``, the ROM words (:mod:`.rom`), the accumulator and
parallel-counter widths (from :mod:`firstspike.model.spec`, checked whenever a plan is made) and the
integer threshold. An export folder's ``manifest.json`` is this plan serialised
(:meth:`HardwarePlan.to_manifest`); :meth:`HardwarePlan.from_manifest` reads it back to an equal plan.

A layer's ROM is a matrix of ``inputs`` rows by ``outputs`` sign columns: for an fc layer its inputs
and neurons, for a conv layer its kernel taps ``c_in * kh * kw`` and output channels (the lanes run
over output channels). A *layout* plan (``rom`` None) has the shapes and widths only, for what-if
fit checks at other lane counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from dataclasses import fields as dataclass_fields
from functools import cached_property, lru_cache

import numpy as np

from ..model import spec
from ..model.arch import fc_arch, parse_arch
from . import rom as romfmt

__all__ = ["GEOMETRY", "HardwarePlan", "LayerPlan", "build_plan", "plan_differences", "resolve_lanes"]

#: geometry of a layer of a conv-grammar network (see :class:`firstspike.model.arch.Layer`)
GEOMETRY = ("c_in", "h_in", "w_in", "pool", "kh", "kw", "stride", "pad", "c_out", "h_out", "w_out")


def resolve_lanes(widths: list[int], lanes) -> list[int]:
    """Lanes per layer of ROM width ``widths``: one number (an int or a one-item list) applies to every
    layer, capped at its width; otherwise one lane count per layer, each in ``1 .. width``."""
    lanes = [int(lanes)] if isinstance(lanes, (int, np.integer)) else [int(p) for p in lanes]
    if len(lanes) == 1:
        if lanes[0] < 1:
            raise ValueError(f"lanes must be >= 1, got {lanes[0]}")
        return [min(lanes[0], n) for n in widths]
    if len(lanes) != len(widths):
        raise ValueError(f"give one lane count for all layers or one per layer ({len(widths)}), "
                         f"got {len(lanes)}")
    for index, (p, n) in enumerate(zip(lanes, widths)):
        if not 1 <= p <= n:
            raise ValueError(f"layer {index}: lanes must lie in 1..{n}, got {p}")
    return lanes


@dataclass(frozen=True)
class LayerPlan:
    """One neuron layer as the hardware sees it; widths are checked against ``spec``."""

    kind: str              # "fc" or "conv"
    inputs: int            # ROM rows: fc inputs, conv kernel taps c_in * kh * kw
    outputs: int           # ROM columns: fc neurons, conv output channels
    neurons: int           # neurons of the layer (conv: c_out * h_out * w_out)
    fan_in: int            # most input spikes one neuron sums (conv: taps * pool^2)
    lanes: int
    groups: int            # ceil(outputs / lanes): ROM words per input
    depth: int             # ROM words
    accumulator_bits: int  # spec.accumulator_bits(fan_in)
    counter_bits: int      # spec.parallel_counter_bits(fan_in, threshold), used when groups == 1
    threshold: int
    geometry: tuple[tuple[str, int], ...] = ()  # conv-grammar layers: GEOMETRY names and values
    rom: tuple[int, ...] | None = field(default=None, repr=False)

    def __post_init__(self):
        g = romfmt.groups(self.outputs, self.lanes)
        expected = {"groups": g, "depth": self.inputs * g,
                    "accumulator_bits": spec.accumulator_bits(self.fan_in),
                    "counter_bits": spec.parallel_counter_bits(self.fan_in, self.threshold)}
        wrong = [f"{name} {getattr(self, name)} != {value}" for name, value in expected.items()
                 if getattr(self, name) != value]
        if self.kind not in ("fc", "conv"):
            wrong.append(f"kind {self.kind!r} is not 'fc' or 'conv'")
        if self.rom is not None and len(self.rom) != self.depth:
            wrong.append(f"{len(self.rom)} ROM words != depth {self.depth}")
        if wrong:
            raise ValueError(f"inconsistent layer plan: {', '.join(wrong)}")

    @classmethod
    def make(cls, kind, inputs, outputs, neurons, fan_in, lanes, threshold, geometry=(), rom=None):
        """A layer plan with its groups, depth and widths derived (``spec``, :mod:`.rom`)."""
        g = romfmt.groups(outputs, lanes)
        return cls(kind, inputs, outputs, neurons, fan_in, lanes, g, inputs * g,
                   spec.accumulator_bits(fan_in), spec.parallel_counter_bits(fan_in, threshold),
                   int(threshold), tuple(geometry), None if rom is None else tuple(rom))

    @property
    def parallel(self) -> bool:
        """One lane per ROM column (``P = outputs``): counters instead of a potential memory."""
        return self.groups == 1

    def entry(self) -> dict:
        """This layer in the manifest (without its files)."""
        names = ("kind", "inputs", "outputs", "neurons", "fan_in", "lanes", "groups", "depth",
                 "accumulator_bits", "counter_bits", "threshold")
        return {**{name: getattr(self, name) for name in names}, "width": self.lanes, **dict(self.geometry)}

    @classmethod
    def from_entry(cls, entry: dict, rom=None) -> LayerPlan:
        geometry = tuple((name, int(entry[name])) for name in GEOMETRY if name in entry)
        return cls(entry["kind"], entry["inputs"], entry["outputs"], entry["neurons"], entry["fan_in"],
                   entry["lanes"], entry["groups"], entry["depth"], entry["accumulator_bits"],
                   entry["counter_bits"], entry["threshold"], geometry, None if rom is None else tuple(rom))


@dataclass(frozen=True)
class HardwarePlan:
    """A network as hardware: architecture, time contract and one :class:`LayerPlan` per layer."""

    arch: str
    input_shape: tuple[int, int, int]
    T: int
    encoding: str
    rule: str
    layers: tuple[LayerPlan, ...]

    def __post_init__(self):
        problem = _shape_problem(self)
        if problem:
            raise ValueError(f"plan of {self.arch} is inconsistent: {problem}")

    @property
    def kind(self) -> str:
        """"fc" for a plain stack of fully connected layers (``784-64-10``, ``28x28-fc64-fc10``), else
        "conv" (conv or pooling layers)."""
        return "fc" if parse_arch(self.arch).is_fully_connected else "conv"

    @property
    def sizes(self) -> list[int]:
        return [math.prod(self.input_shape)] + [layer.neurons for layer in self.layers]

    @property
    def lanes(self) -> list[int]:
        return [layer.lanes for layer in self.layers]

    @property
    def thresholds(self) -> list[int]:
        return [layer.threshold for layer in self.layers]

    @property
    def groups(self) -> list[int]:
        return [layer.groups for layer in self.layers]

    @property
    def has_roms(self) -> bool:
        return all(layer.rom is not None for layer in self.layers)

    def relaned(self, lanes) -> HardwarePlan:
        """The layout plan (no ROMs) of the same network with other lanes (int or one per layer)."""
        per_layer = resolve_lanes([layer.outputs for layer in self.layers], lanes)
        layers = tuple(LayerPlan.make(layer.kind, layer.inputs, layer.outputs, layer.neurons, layer.fan_in,
                                      p, layer.threshold, layer.geometry)
                       for layer, p in zip(self.layers, per_layer))
        return replace(self, layers=layers)

    @classmethod
    def fc_layout(cls, sizes: list[int], lanes, T: int = spec.T_DEFAULT) -> HardwarePlan:
        """Layout plan of a fully connected ``sizes`` network with thresholds 0 (what-if fit checks)."""
        arch = fc_arch(sizes)
        input_shape, fields = _arch_shapes(arch)
        per_layer = resolve_lanes([f["outputs"] for f in fields], lanes)
        return cls(arch, input_shape, T, "bs4nn", "hardware",
                   tuple(_layer(f, p, 0) for f, p in zip(fields, per_layer)))

    @cached_property
    def network(self):
        """The binary network the ROMs hold (``rom.unpack_layer``): the golden model of this plan."""
        from ..model.network import Network

        if not self.has_roms:
            raise ValueError(f"the plan of {self.arch} is a layout (no ROM words), it holds no network")
        matrices = [romfmt.unpack_layer(list(layer.rom), layer.outputs, layer.inputs, layer.lanes)
                    for layer in self.layers]
        # a layer's (c_out, c_in * kh * kw) matrix is its kernel in row-major order
        return Network(matrices, self.thresholds, arch=self.arch, binary=True, encoding=self.encoding,
                       T=self.T, rule=self.rule)

    def to_manifest(self) -> dict:
        """The plan's part of ``manifest.json`` (layer entries without files)."""
        return {"kind": self.kind, "arch": self.arch, "input_shape": list(self.input_shape),
                "sizes": self.sizes, "lanes": self.lanes, "T": self.T, "encoding": self.encoding,
                "rule": self.rule, "thresholds": self.thresholds,
                "accumulator_bits": [layer.accumulator_bits for layer in self.layers],
                "counter_bits": [layer.counter_bits for layer in self.layers],
                "layers": [layer.entry() for layer in self.layers]}

    @classmethod
    def from_manifest(cls, manifest: dict, roms=None) -> HardwarePlan:
        """The plan a manifest describes (``roms``: the words of every layer, or None for a layout)."""
        entries = manifest["layers"]
        roms = roms if roms is not None else [None] * len(entries)
        layers = []
        for k, (entry, words) in enumerate(zip(entries, roms)):
            try:
                layers.append(LayerPlan.from_entry(entry, words))
            except ValueError as error:
                raise ValueError(f"layer {k}: {error}") from None
        plan = cls(manifest["arch"], tuple(manifest["input_shape"]), manifest["T"], manifest["encoding"],
                   manifest["rule"], tuple(layers))
        mine = plan.to_manifest()
        wrong = [f"{name} {manifest.get(name)} != {mine[name]}" for name in ("kind", "sizes")
                 if manifest.get(name) != mine[name]]
        for name, attr in (("lanes", "lanes"), ("thresholds", "threshold"),
                           ("accumulator_bits", "accumulator_bits"), ("counter_bits", "counter_bits")):
            listed = manifest.get(name)
            if not isinstance(listed, list) or len(listed) != len(layers):
                wrong.append(f"{name} {listed} is not a list of {len(layers)}")
                continue
            wrong += [f"layer {k} {attr} {getattr(layer, attr)} != {value} in '{name}'"
                      for k, (layer, value) in enumerate(zip(layers, listed))
                      if getattr(layer, attr) != value]
        if wrong:
            raise ValueError(f"the manifest disagrees with its layers: {', '.join(wrong)}")
        return plan


@lru_cache(maxsize=256)
def _arch_shapes(arch_text: str) -> tuple[tuple[int, ...], list[dict]]:
    """Input shape and per-layer shape fields an architecture string asks for (cached: fit checks
    build many plans of one network)."""
    arch = parse_arch(arch_text)
    return tuple(arch.input_shape), [_shape_fields(layer, arch.is_fully_connected) for layer in arch.layers]


def _shape_fields(layer, plain_fc: bool) -> dict:
    """A layer's ROM shape (rows = output channels, columns = kernel taps) and, unless the whole network
    is a plain fc stack, its conv geometry."""
    geometry = {} if plain_fc else {name: int(getattr(layer, name)) for name in GEOMETRY}
    return dict(kind=layer.kind, inputs=layer.c_in * layer.kh * layer.kw, outputs=layer.c_out,
                neurons=layer.n_out, fan_in=layer.fan_in, **geometry)


def _fields(layer: LayerPlan) -> dict:
    return {"kind": layer.kind, "inputs": layer.inputs, "outputs": layer.outputs, "neurons": layer.neurons,
            "fan_in": layer.fan_in, **dict(layer.geometry)}


def _shape_problem(plan: HardwarePlan) -> str | None:
    """What is wrong with the layer shapes of ``plan`` against its architecture, or None."""
    want_shape, wanted = _arch_shapes(plan.arch)
    if tuple(plan.input_shape) == want_shape and [_fields(layer) for layer in plan.layers] == wanted:
        return None
    if tuple(plan.input_shape) != want_shape or len(plan.layers) != len(wanted):
        return (f"input shape {tuple(plan.input_shape)} and {len(plan.layers)} layers do not match "
                f"{plan.arch} ({want_shape}, {len(wanted)} layers)")
    for k, (layer, want) in enumerate(zip(plan.layers, wanted)):
        got = _fields(layer)
        diffs = [f"{name} {got.get(name)} != {value}" for name, value in want.items()
                 if got.get(name) != value]
        diffs += [f"{name} {got[name]} is extra" for name in got if name not in want]
        if diffs:
            return f"layer {k} and {plan.arch} do not match: {', '.join(diffs)}"
    return None


def build_plan(net, lanes) -> HardwarePlan:
    """Resolve ``net`` (binary) with ``lanes`` (int for all layers, capped, or one per layer)."""
    if not net.binary:
        raise ValueError("only binary (+1/-1) networks map to 1-bit ROMs; train one with --algorithm bs4nn")
    input_shape, fields = _arch_shapes(net.arch)
    # one (c_out, c_in * kh * kw) sign matrix per layer: the kernel in row-major order
    matrices = [k.reshape(f["outputs"], f["inputs"]) for k, f in zip(net.kernels, fields)]
    per_layer = resolve_lanes([f["outputs"] for f in fields], lanes)
    layers = tuple(_layer(f, p, t, romfmt.pack_layer(m, p))
                   for f, m, p, t in zip(fields, matrices, per_layer, net.thresholds))
    return HardwarePlan(net.arch, input_shape, int(net.T), net.encoding, net.rule, layers)


def plan_differences(a: HardwarePlan, b: HardwarePlan) -> list[str]:
    """Every field in which two plans differ, named as in the manifest (``layers[1].threshold``),
    with both values (ROMs: how many words differ)."""
    diffs = [f"{name} {getattr(a, name)!r} vs {getattr(b, name)!r}"
             for name in ("arch", "input_shape", "T", "encoding", "rule") if getattr(a, name) != getattr(b, name)]
    if len(a.layers) != len(b.layers):
        return diffs + [f"layers: {len(a.layers)} vs {len(b.layers)}"]
    for k, (x, y) in enumerate(zip(a.layers, b.layers)):
        for name in (f.name for f in dataclass_fields(LayerPlan)):
            mine, theirs = getattr(x, name), getattr(y, name)
            if mine == theirs:
                continue
            if name == "rom" and mine is not None and theirs is not None and len(mine) == len(theirs):
                count = sum(p != q for p, q in zip(mine, theirs))
                diffs.append(f"layers[{k}].rom (weights): {count} of {len(mine)} words differ")
            else:
                diffs.append(f"layers[{k}].{name} {_short(mine)} vs {_short(theirs)}")
    return diffs


def _short(value) -> str:
    return f"{len(value)} ROM words" if isinstance(value, tuple) and len(value) > 12 else repr(value)


def _layer(fields: dict, lanes: int, threshold, rom=None) -> LayerPlan:
    """The :class:`LayerPlan` of a layer's shape fields (:func:`_shape_fields`) at ``lanes``."""
    geometry = tuple((name, fields[name]) for name in GEOMETRY if name in fields)
    return LayerPlan.make(fields["kind"], fields["inputs"], fields["outputs"], fields["neurons"],
                          fields["fan_in"], lanes, threshold, geometry, rom)
