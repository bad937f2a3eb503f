# SPDX-License-Identifier: MIT
"""Export of convolutional binary TTFS networks: one 1-bit kernel ROM per neuron layer.

A conv layer's weights are its ``(c_out, c_in, kh, kw)`` sign kernel, shared by every output
position. Its ROM is the FC layout of :mod:`firstspike.export.rom` applied to the kernel seen as
a ``(c_out, c_in * kh * kw)`` matrix: the "input" of a word is a kernel *tap*
``(ci, dy, dx)`` and its bits are the output *channels*, so

* word ``a = tap * G + g`` with ``tap = (ci * kh + dy) * kw + dx`` and ``G = ceil(c_out / P)``;
* bit ``j`` of a word is the sign of output channel ``g * P + j`` (1 = +1, 0 = -1, padding 0).

An input event at ``(ci, y, x)`` lands at pooled position ``(y // pool, x // pool)``; for every
output position ``(oy, ox)`` whose window covers it, the core reads the ``G`` words of tap
``(ci, py + pad - oy * stride, px + pad - ox * stride)`` (the read of
:func:`firstspike.model.kernels.layer_forward`). An fc layer of a conv network is the
kernel covering the whole pooled map (``kh, kw = h_in // pool, w_in // pool``), so its taps are
the pooled inputs numbered row-major over ``(C, H, W)``.

``manifest.json`` (``"kind": "conv"``, version 2) records per layer the kind and the geometry
(channels, map sizes, kernel, stride, padding, pooling of the layer's input), the integer
threshold, the accumulator width and the SHA-256 of every image; :func:`load_conv_export`
checks all of it against the architecture string and rebuilds the exact network.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..model import spec
from ..model.atomic import atomic_write_json
from ..model.arch import parse_arch
from ..model.network import Network
from ..rtl.params import resolve_lanes
from . import rom
from .manifest import FORMAT, Exported, _fail, read_images, write_images

__all__ = ["CONV_EXPORT_VERSION", "export_conv_network", "load_conv_export"]

CONV_EXPORT_VERSION = 2

GEOMETRY = ("c_in", "h_in", "w_in", "pool", "kh", "kw", "stride", "pad", "c_out", "h_out", "w_out")

LAYOUT = {
    "address": "word a = tap * groups + group, tap = (c_in_index * kh + dy) * kw + dx",
    "bit_order": "bit j (LSB = 0) of a word = sign of output channel group * lanes + j",
    "polarity": "bit 1 = +1, bit 0 = -1; padding bits of the last group (channel >= c_out) are 0",
    "event": "an input spike at (c, y, x) sits at pooled (y // pool, x // pool) = (py, px); output "
             "(co, oy, ox) reads tap (c, py + pad - oy * stride, px + pad - ox * stride) if inside the kernel",
    "pooling": "pool = k x k sum pooling of the layer's input spikes (stride k, rows/columns beyond "
               "k * (H // k) dropped), folded into the layer's threshold",
    "neuron_numbering": "row-major over (c_out, h_out, w_out)",
    "hex": "one word per line, ceil(lanes/4) hex digits, most significant digit first ($readmemh)",
    "bin": "ceil(lanes/8) bytes per word, little-endian",
    "init": "JSON list of integers, one per word (amaranth.lib.memory.Memory init)",
}


def _taps(layer) -> int:
    return layer.c_in * layer.kh * layer.kw


def export_conv_network(net: Network, lanes, out_dir: str | os.PathLike, source: str | None = None) -> Path:
    """Write one kernel ROM per layer (``lanes``: int or one per layer, over output channels)."""
    if not net.binary:
        raise ValueError("only binary (+1/-1) networks export to 1-bit ROMs; train a binary model")
    out = Path(out_dir)
    layers = net.layers
    per_layer = resolve_lanes([0] + [layer.c_out for layer in layers], lanes)
    entries = []
    for k, (layer, kernel, p) in enumerate(zip(layers, net.kernels, per_layer)):
        words = rom.pack_layer(kernel.reshape(layer.c_out, _taps(layer)), p)
        entries.append({
            "kind": layer.kind, **{name: int(getattr(layer, name)) for name in GEOMETRY},
            "taps": _taps(layer), "n_out": layer.n_out, "lanes": p, "groups": rom.groups(layer.c_out, p),
            "depth": len(words), "width": p, "threshold": int(net.thresholds[k]),
            "accumulator_bits": spec.accumulator_bits(layer.fan_in),
            "files": write_images(out, f"layer{k}", words, p),
        })
    manifest = {
        "format": FORMAT, "version": CONV_EXPORT_VERSION, "kind": "conv", "arch": net.arch,
        "input_shape": list(net.structure.input_shape), "sizes": net.sizes, "lanes": per_layer,
        "T": net.T, "encoding": net.encoding, "rule": net.rule,
        "thresholds": [int(t) for t in net.thresholds],
        "threshold_test": "V > threshold (strict), spike at crossing index + 1",
        "accumulator_bits": net.accumulator_bits(), "layout": LAYOUT, "layers": entries,
        "source_model": source, "meta": net.meta,
    }
    path = out / "manifest.json"
    atomic_write_json(path, manifest)
    return path


def load_conv_export(folder: str | os.PathLike, manifest: dict) -> Exported:
    """Verify a conv export folder against its architecture string; rebuild the network."""
    folder = Path(folder)
    if manifest.get("version") != CONV_EXPORT_VERSION:
        raise _fail(folder, f"conv manifest version {manifest.get('version')} is not supported "
                            f"(this firstspike reads version {CONV_EXPORT_VERSION})")
    try:
        arch = parse_arch(manifest["arch"])
    except (KeyError, ValueError) as error:
        raise _fail(folder, f"the manifest's architecture is unusable ({error})") from None
    entries = manifest["layers"]
    if len(entries) != len(arch.layers) or len(manifest["thresholds"]) != len(arch.layers):
        raise _fail(folder, f"{len(entries)} layer entries / {len(manifest['thresholds'])} thresholds "
                            f"for {arch.text} ({len(arch.layers)} neuron layers)")
    if manifest["sizes"] != arch.sizes:
        raise _fail(folder, f"sizes {manifest['sizes']} do not match {arch.text} ({arch.sizes})")
    kernels = []
    for k, (layer, entry) in enumerate(zip(arch.layers, entries)):
        expected = {"kind": layer.kind, **{name: getattr(layer, name) for name in GEOMETRY},
                    "taps": _taps(layer), "threshold": manifest["thresholds"][k],
                    "accumulator_bits": spec.accumulator_bits(layer.fan_in)}
        wrong = [f"{name} {entry.get(name)} != {value}" for name, value in expected.items()
                 if entry.get(name) != value]
        if wrong:
            raise _fail(folder, f"layer {k} does not match {arch.text}: {', '.join(wrong)}")
        p = entry["lanes"]
        words = read_images(folder, entry, k, p)
        try:
            if len(words) != entry["depth"] or entry["groups"] != rom.groups(layer.c_out, p):
                raise ValueError(f"depth/groups do not match {_taps(layer)} taps, {layer.c_out} channels, "
                                 f"{p} lanes")
            matrix = rom.unpack_layer(words, layer.c_out, _taps(layer), p)
        except ValueError as error:
            raise _fail(folder, f"layer {k}: {error}") from None
        kernels.append(matrix.reshape(layer.kernel_shape))
    net = Network(arch=arch.text, kernels=kernels, thresholds=manifest["thresholds"], binary=True,
                      encoding=manifest["encoding"], T=manifest["T"], rule=manifest["rule"],
                      meta=manifest.get("meta", {}))
    return Exported(network=net, lanes=list(manifest["lanes"]), manifest=manifest)
