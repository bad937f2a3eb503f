# SPDX-License-Identifier: MIT
"""Export folder: 1-bit ROM images of every layer plus ``manifest.json``; a loader that verifies.

Files per layer ``k`` (same words in three formats, layout in :mod:`firstspike.export.rom`):

* ``layerK.hex``: ``$readmemh`` text, one word per line, ``ceil(P / 4)`` hex digits;
* ``layerK.bin``: raw words, ``ceil(P / 8)`` bytes each, little-endian;
* ``layerK.init.json``: the list of words as integers, the ``init`` of
  ``amaranth.lib.memory.Memory(shape=unsigned(P), depth=n_in * G, init=...)``.

``manifest.json`` records the format version, layer shapes, lanes, groups, ``T``, encoding,
integer thresholds, decision rule, accumulator widths, the ROM layout and the SHA-256 of every
file. :func:`load_export` checks all of it and rebuilds the exact network.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..model import spec
from ..model.atomic import atomic_write_bytes, atomic_write_json, atomic_write_text
from ..model.network import Network
from . import rom
from ..rtl.params import resolve_lanes

__all__ = ["FORMAT", "FORMAT_VERSION", "ExportError", "Exported", "export_network", "load_export"]

FORMAT = "firstspike-rom"
FORMAT_VERSION = 1

LAYOUT = {
    "address": "word a = input_index * groups + group",
    "bit_order": "bit j (LSB = 0) of a word = weight of neuron group * lanes + j",
    "polarity": "bit 1 = +1, bit 0 = -1; padding bits of the last group (neuron >= n_out) are 0",
    "hex": "one word per line, ceil(lanes/4) hex digits, most significant digit first ($readmemh)",
    "bin": "ceil(lanes/8) bytes per word, little-endian",
    "init": "JSON list of integers, one per word (amaranth.lib.memory.Memory init)",
}


class ExportError(ValueError):
    """An export folder is missing, corrupt, or inconsistent."""


@dataclass
class Exported:
    network: Network
    lanes: list[int]
    manifest: dict


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def export_network(net: Network, lanes, out_dir: str | os.PathLike, source: str | None = None) -> Path:
    """Write the ROM images and the manifest of ``net`` for ``lanes`` (int or list per layer)."""
    if not net.binary:
        raise ValueError("only binary (+1/-1) networks export to 1-bit ROMs; train with --algorithm bs4nn")
    out = Path(out_dir)
    per_layer = resolve_lanes(net.sizes, lanes)
    layers = []
    for k, (w, p) in enumerate(zip(net.weights, per_layer)):
        words = rom.pack_layer(w, p)
        n_out, n_in = w.shape
        layers.append({
            "n_in": n_in, "n_out": n_out, "lanes": p, "groups": rom.groups(n_out, p),
            "depth": len(words), "width": p, "threshold": int(net.thresholds[k]),
            "accumulator_bits": spec.accumulator_bits(n_in),
            "files": write_images(out, f"layer{k}", words, p),
        })
    manifest = {
        "format": FORMAT, "version": FORMAT_VERSION, "sizes": net.sizes, "lanes": per_layer,
        "T": net.T, "encoding": net.encoding, "rule": net.rule,
        "thresholds": [int(t) for t in net.thresholds],
        "threshold_test": "V > threshold (strict), spike at crossing index + 1",
        "accumulator_bits": net.accumulator_bits(), "layout": LAYOUT, "layers": layers,
        "source_model": source, "meta": net.meta,
    }
    path = out / "manifest.json"
    atomic_write_json(path, manifest)
    return path


def write_images(out: Path, stem: str, words: list[int], p: int) -> dict:
    """Write one ROM in the three formats; returns the manifest's ``files`` entry."""
    blobs = {
        "hex": (f"{stem}.hex", rom.words_to_hex(words, p).encode()),
        "bin": (f"{stem}.bin", rom.words_to_bytes(words, p)),
        "init": (f"{stem}.init.json", (json.dumps(words) + "\n").encode()),
    }
    for name, blob in blobs.values():
        atomic_write_bytes(out / name, blob)
    return {kind: {"name": name, "sha256": _sha256(blob)} for kind, (name, blob) in blobs.items()}


def read_images(folder: Path, entry: dict, k: int, p: int) -> list[int]:
    """Read one layer's three images, check their SHA-256 and that they agree; returns the words."""
    blobs = {}
    for kind in ("hex", "bin", "init"):
        info = entry["files"][kind]
        file = folder / info["name"]
        if not file.is_file():
            raise _fail(folder, f"layer {k} {kind} image {info['name']} is missing")
        blob = file.read_bytes()
        if _sha256(blob) != info["sha256"]:
            raise _fail(folder, f"{info['name']} does not match its SHA-256 in the manifest "
                                "(the file was changed or damaged)")
        blobs[kind] = blob
    try:
        words = rom.words_from_hex(blobs["hex"].decode(), p)
        same = rom.words_from_bytes(blobs["bin"], p) == words and json.loads(blobs["init"]) == words
    except ValueError as error:
        raise _fail(folder, f"layer {k}: {error}") from None
    if not same:
        raise _fail(folder, f"layer {k}: the hex, bin and init images disagree")
    return words


def _fail(folder: Path, what: str) -> ExportError:
    return ExportError(f"{folder}: {what}; re-create the folder with 'firstspike export'")


def load_export(folder: str | os.PathLike) -> Exported:
    """Read and verify an export folder; returns the network and the lanes it was packed for."""
    folder = Path(folder)
    path = folder / "manifest.json"
    if not path.is_file():
        raise ExportError(f"no manifest.json in {folder}; write one with 'firstspike export --out {folder}'")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise _fail(folder, f"manifest.json is not valid JSON ({error})") from None
    if manifest.get("format") != FORMAT:
        raise _fail(folder, f"manifest format is {manifest.get('format')!r}, expected {FORMAT!r}")
    if manifest.get("kind") == "conv":
        from .conv import load_conv_export

        return load_conv_export(folder, manifest)
    if manifest.get("version") != FORMAT_VERSION:
        raise _fail(folder, f"manifest version {manifest.get('version')} is not supported "
                            f"(this firstspike reads version {FORMAT_VERSION})")
    sizes = manifest["sizes"]
    layers = manifest["layers"]
    if len(layers) != len(sizes) - 1:
        raise _fail(folder, f"{len(layers)} layer entries for sizes {sizes}")
    weights = []
    for k, entry in enumerate(layers):
        n_in, n_out, p = entry["n_in"], entry["n_out"], entry["lanes"]
        if (n_in, n_out) != (sizes[k], sizes[k + 1]):
            raise _fail(folder, f"layer {k} is {n_out}x{n_in} but sizes say {sizes[k + 1]}x{sizes[k]}")
        if entry["accumulator_bits"] != spec.accumulator_bits(n_in):
            raise _fail(folder, f"layer {k} accumulator width {entry['accumulator_bits']} != "
                                f"{spec.accumulator_bits(n_in)} from spec.accumulator_bits({n_in})")
        words = read_images(folder, entry, k, p)
        if len(words) != entry["depth"] or entry["groups"] != rom.groups(n_out, p):
            raise _fail(folder, f"layer {k}: depth/groups do not match {n_in} inputs, {n_out} neurons, {p} lanes")
        try:
            weights.append(rom.unpack_layer(words, n_out, n_in, p))
        except ValueError as error:
            raise _fail(folder, f"layer {k}: {error}") from None
    net = Network(weights, manifest["thresholds"], binary=True,
                  encoding=manifest["encoding"], T=manifest["T"], rule=manifest["rule"],
                  meta=manifest.get("meta", {}))
    return Exported(network=net, lanes=list(manifest["lanes"]), manifest=manifest)
