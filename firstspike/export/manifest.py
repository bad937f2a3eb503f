# SPDX-License-Identifier: MIT
"""Export folder: 1-bit ROM images of every layer plus ``manifest.json``; a loader that verifies.

Files per layer ``k`` (same words in three formats, layout in :mod:`firstspike.export.rom`):

* ``layerK.hex``: ``$readmemh`` text, one word per line, ``ceil(P / 4)`` hex digits;
* ``layerK.bin``: raw words, ``ceil(P / 8)`` bytes each, little-endian;
* ``layerK.init.json``: the list of words as integers, the ``init`` of
  ``amaranth.lib.memory.Memory(shape=unsigned(P), depth=n_in * G, init=...)``.

``manifest.json`` is the :class:`~.plan.HardwarePlan` serialised (architecture, ``T``, encoding,
rule; per layer kind, shape, lanes, groups, depth, threshold, accumulator and counter widths) plus
the format version, the ROM layout and the SHA-256 of every file; fc and conv networks share it
(conv layout: :mod:`.conv`). A seal (:mod:`.seal`) over all of it makes an edit after export
detectable, field by field. :func:`load_export` checks the seal first, then everything else, and
rebuilds the exact plan; :func:`check_model` compares an export with the model it should hold.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..model.atomic import atomic_write_bytes, atomic_write_json
from . import rom
from .conv import LAYOUT as CONV_LAYOUT
from .plan import HardwarePlan, build_plan, plan_differences
from .seal import SEAL_KEY, seal, seal_problems

__all__ = ["FORMAT", "FORMAT_VERSION", "ExportError", "Exported", "check_model", "export_network",
           "write_export", "load_export"]

FORMAT = "firstspike-rom"
#: 3: one manifest for fc and conv networks, the hardware plan; 4: sealed (version 3 is refused:
#: without a seal an edited manifest cannot be told from an exported one)
FORMAT_VERSION = 4

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
    """A verified export folder: its plan, the network its ROMs hold, the manifest as read."""

    plan: HardwarePlan
    manifest: dict
    folder: Path | None = None

    @property
    def digest(self) -> str:
        """The seal's SHA-256 of the manifest."""
        return self.manifest[SEAL_KEY]["digest"]

    @property
    def network(self):
        return self.plan.network

    @property
    def lanes(self) -> list[int]:
        return self.plan.lanes


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def export_network(net, lanes, out_dir: str | os.PathLike, source: str | None = None) -> Path:
    """Write the ROM images and the manifest of binary ``net`` (fc or conv) for ``lanes`` (int or
    one per layer; a conv layer's lanes run over its output channels)."""
    return write_export(build_plan(net, lanes), out_dir, source=source, meta=net.meta)


def export_verified(net, lanes, out_dir: str | os.PathLike, source: str | None = None) -> Exported:
    """:func:`export_network`, then the folder read back (:func:`load_export`) and its ROMs checked to
    unpack to ``net``'s kernels; returns the verified export."""
    export_network(net, lanes, out_dir, source=source)
    exported = load_export(out_dir)
    back = exported.network.kernels
    if len(back) != len(net.kernels) or not all((a == b).all() for a, b in zip(net.kernels, back)):
        raise RuntimeError("the exported ROMs do not unpack to the model's weights (bug)")
    return exported


def write_export(plan: HardwarePlan, out_dir: str | os.PathLike, source: str | None = None,
                 meta: dict | None = None) -> Path:
    """Write the ROMs of ``plan`` in three formats and its manifest; returns the manifest's path."""
    if not plan.has_roms:
        raise ValueError(f"the plan of {plan.arch} is a layout without ROM words; nothing to export")
    out = Path(out_dir)
    body = plan.to_manifest()
    for k, (entry, layer) in enumerate(zip(body["layers"], plan.layers)):
        entry["files"] = write_images(out, f"layer{k}", list(layer.rom), layer.lanes)
    manifest = {"format": FORMAT, "version": FORMAT_VERSION, **body,
                "threshold_test": "V > threshold (strict), spike at crossing index + 1",
                "layout": CONV_LAYOUT if plan.kind == "conv" else LAYOUT,
                "source_model": source, "meta": meta or {}}
    manifest[SEAL_KEY] = seal(manifest)
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
                                f"(layers[{k}].files.{kind}.sha256: the file was changed or damaged)")
        blobs[kind] = blob
    try:
        words = rom.words_from_hex(blobs["hex"].decode(), p)
        same = rom.words_from_bytes(blobs["bin"], p) == words and json.loads(blobs["init"]) == words
    except ValueError as error:
        raise _fail(folder, f"layer {k}: {error}") from None
    if not same:
        raise _fail(folder, f"layer {k}: the hex, bin and init images disagree")
    return words


def _fail(folder: Path, what: str, manifest=None) -> ExportError:
    return ExportError(f"{folder}: {what}; {reexport_hint(folder, manifest)}")


def reexport_hint(folder: Path, manifest=None) -> str:
    """How to write the folder again, with the model and lanes the manifest names when it can."""
    manifest = manifest if isinstance(manifest, dict) else {}
    source, lanes = manifest.get("source_model"), manifest.get("lanes")
    model = source if isinstance(source, str) and source else "MODEL"
    lanes = (" ".join(str(p) for p in lanes)
             if isinstance(lanes, list) and lanes and all(isinstance(p, int) for p in lanes) else "P")
    return f"re-export with 'firstspike export --model {model} --lanes {lanes} --out {folder}'"


def read_manifest(folder: str | os.PathLike) -> dict:
    """``manifest.json`` of an export folder, refused unless it is a version-4 manifest whose seal
    matches every field (an edit names the edited fields)."""
    folder = Path(folder)
    path = folder / "manifest.json"
    if not path.is_file():
        raise ExportError(f"no manifest.json in {folder}; write one with 'firstspike export --out {folder}'")
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise _fail(folder, f"manifest.json is not valid JSON ({error})") from None
    if not isinstance(manifest, dict):
        raise _fail(folder, f"manifest.json holds a {type(manifest).__name__}, not an object")
    if manifest.get("format") != FORMAT:
        raise _fail(folder, f"manifest format is {manifest.get('format')!r}, expected {FORMAT!r}", manifest)
    version = manifest.get("version")
    if version == 3:
        raise _fail(folder, "manifest version 3 has no seal, so an edit after export cannot be detected "
                            f"(this firstspike reads sealed version {FORMAT_VERSION})", manifest)
    if version != FORMAT_VERSION:
        raise _fail(folder, f"manifest version {version} is not supported "
                            f"(this firstspike reads version {FORMAT_VERSION})", manifest)
    problems = seal_problems(manifest)
    if problems:
        shown = problems[:4] + ([f"{len(problems) - 4} more"] if len(problems) > 4 else [])
        raise _fail(folder, f"manifest.json was edited after export: {'; '.join(shown)}", manifest)
    return manifest


def load_export(folder: str | os.PathLike) -> Exported:
    """Read and verify an export folder: format, the seal of the manifest, every SHA-256, the three
    images of each ROM, the plan against its architecture and ``spec``'s widths, the ROM padding bits."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    try:
        roms = [read_images(folder, entry, k, entry["lanes"]) for k, entry in enumerate(manifest["layers"])]
        plan = HardwarePlan.from_manifest(manifest, roms)
        plan.network  # unpacks every ROM: checks the padding bits
    except ExportError:
        raise
    except KeyError as error:
        raise _fail(folder, f"the manifest has no entry {error}", manifest) from None
    except (TypeError, ValueError, AttributeError) as error:
        raise _fail(folder, str(error), manifest) from None
    return Exported(plan=plan, manifest=manifest, folder=folder)


def check_model(exported: Exported, net, model_name: str) -> None:
    """Refuse unless ``net`` resolved for the export's lanes is the export's plan, field by field
    (weights, thresholds, ``T``, encoding, rule, shapes, widths)."""
    try:
        mine = build_plan(net, exported.lanes)
    except ValueError as error:
        raise ExportError(f"{model_name} does not fit the lanes {exported.lanes} of {exported.folder}: "
                          f"{error}") from None
    diffs = plan_differences(exported.plan, mine)
    if diffs:
        shown = diffs[:4] + ([f"{len(diffs) - 4} more"] if len(diffs) > 4 else [])
        raise ExportError(f"{exported.folder} was not exported from {model_name}: {'; '.join(shown)} "
                          f"(export vs model); pass the model it came from, or "
                          f"{reexport_hint(exported.folder, {'lanes': exported.lanes, 'source_model': model_name})}")
