# SPDX-License-Identifier: MIT
"""A TTFS network (any stack of the layers of :mod:`.arch`) and its versioned model file.

A network is an architecture string, one weight kernel per neuron layer, one threshold per layer
(fire when ``V > threshold``) and the time contract of :mod:`.spec`. A kernel is
``(c_out, c_in, kh, kw)``; a fully connected layer's kernel covers its whole input map, so its
``(n_out, n_in)`` weight matrix is the kernel reshaped (:attr:`Network.weights`).

File format, version 3: an ``.npz`` archive holding a JSON ``header`` and one array ``w<i>`` per
layer. Binary kernels are packed sign bits (bit 1 = +1, bit 0 = -1, numpy ``packbits`` big-endian)
of the row-major kernel; real ones float64. The header records the architecture, thresholds,
encoding, T, decision rule and the training metadata. Files of versions 1 (fully connected,
``sizes``) and 2 (``"kind": "conv"``, ``arch``) load unchanged: their layouts are the same
row-major arrays.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import zipfile
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path

import numpy as np

from . import spec
from .arch import Arch, fc_arch, parse_arch
from .atomic import atomic_write_bytes

__all__ = ["FORMAT", "FORMAT_VERSION", "Network", "ModelFileError", "load_model"]

FORMAT = "firstspike-model"
FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)


class ModelFileError(ValueError):
    """A model file is missing, corrupt, or of an unknown format."""


@dataclass
class Network:
    """Kernels and thresholds of a TTFS network over the architecture ``arch``.

    ``kernels[l]`` has ``layers[l].kernel_shape`` weights (any array of that size; a fully connected
    layer may be given as its ``(n_out, n_in)`` matrix). Binary networks hold int8 +1/-1 weights and
    integer thresholds, real networks float64 weights and float thresholds. Without ``arch`` the
    kernels must be the weight matrices of a fully connected stack, and the architecture is read off
    their shapes (``784-600-10``).
    """

    kernels: list[np.ndarray]
    thresholds: list[float]
    _: KW_ONLY
    binary: bool = True
    encoding: str = "bs4nn"
    T: int = spec.T_DEFAULT
    rule: str = "hardware"
    meta: dict = field(default_factory=dict)
    arch: str | None = None

    def __post_init__(self):
        if self.arch is None:
            self.arch = fc_arch(_matrix_sizes(self.kernels))
        self.structure: Arch = parse_arch(self.arch)
        layers = self.structure.layers
        if len(self.kernels) != len(layers) or len(self.thresholds) != len(layers):
            raise ValueError(f"{self.arch} has {len(layers)} neuron layers, got {len(self.kernels)} "
                             f"kernels and {len(self.thresholds)} thresholds")
        if self.encoding not in spec.ENCODINGS:
            raise ValueError(f"unknown encoding {self.encoding!r}; choose one of {spec.ENCODINGS}")
        if self.rule not in spec.DECISION_RULES:
            raise ValueError(f"unknown rule {self.rule!r}; choose one of {spec.DECISION_RULES}")
        self.kernels = [_coerce(np.asarray(k), layer, self.binary, index)
                        for index, (layer, k) in enumerate(zip(layers, self.kernels))]
        if any(not np.isfinite(t) or t < 0 for t in self.thresholds):
            raise ValueError(f"thresholds must be finite and >= 0 (a negative one would fire neurons with "
                             f"no input), got {list(self.thresholds)}")
        cast = int if self.binary else float
        self.thresholds = [cast(t) for t in self.thresholds]

    # ----------------------------------------------------------------------------- structure
    # the architecture's (:class:`.arch.Arch`) neuron layers, flat sizes and plain-FC test
    layers = property(lambda self: self.structure.layers)
    sizes = property(lambda self: self.structure.sizes)
    is_fully_connected = property(lambda self: self.structure.is_fully_connected)

    @property
    def weights(self) -> list[np.ndarray]:
        """The ``(n_out, n_in)`` weight matrix of every layer of a fully connected stack."""
        if not self.is_fully_connected:
            raise ValueError(f"{self.arch} has conv or pooling layers, which have kernels, not weight "
                             "matrices; use net.kernels")
        return [k.reshape(k.shape[0], -1) for k in self.kernels]

    def accumulator_bits(self) -> list[int]:
        """Signed potential width per layer from the fan-in (kernel taps times pooling window)."""
        return [spec.accumulator_bits(layer.fan_in) for layer in self.layers]

    def with_threshold(self, layer: int, threshold) -> Network:
        """The same network with layer ``layer``'s threshold replaced (metadata copied)."""
        thresholds = list(self.thresholds)
        thresholds[layer] = threshold
        return dataclasses.replace(self, thresholds=thresholds, meta=dict(self.meta or {}))

    # ----------------------------------------------------------------------------- file format
    def to_bytes(self) -> bytes:
        header = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "arch": self.arch,
            "sizes": self.sizes,
            "binary": self.binary,
            "thresholds": self.thresholds,
            "threshold_test": "V > theta (strict), spike at crossing index + 1",
            "pooling": "p<k> = k x k sum pooling of spike events (stride k), folded into the next "
                       "layer's threshold; it emits no spikes of its own",
            "encoding": self.encoding,
            "T": self.T,
            "rule": self.rule,
            "weight_layout": "(c_out, c_in, kh, kw) row-major (fc: (n_out, C*H*W)); "
                             "binary: packbits, bit 1 = +1, bit 0 = -1",
            "neuron_numbering": "row-major over (C, H, W)",
            "accumulator_bits": self.accumulator_bits(),
            "meta": self.meta,
        }
        arrays = {"header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)}
        for index, k in enumerate(self.kernels):
            arrays[f"w{index}"] = np.packbits(k.reshape(-1) > 0) if self.binary else k
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        return buffer.getvalue()

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model file atomically (a crash never leaves a half-written model)."""
        path = Path(path)
        atomic_write_bytes(path, self.to_bytes())
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Network:
        """Load a model file of any version; ``models/x`` also finds ``models/x.npz``."""
        header, arrays, path = read_model_file(path)
        version = header.get("version")
        if version not in READABLE_VERSIONS:
            raise ModelFileError(f"{path}: model format version {version} is not supported (this "
                                 f"firstspike reads versions {READABLE_VERSIONS}); upgrade firstspike")
        try:
            arch = header["arch"] if version >= 2 else fc_arch(header["sizes"])
            layers = parse_arch(arch).layers
            binary = bool(header["binary"])
            kernels = [_read_kernel(arrays, index, layer, binary) for index, layer in enumerate(layers)]
            return cls(kernels, header["thresholds"], binary=binary, encoding=header["encoding"],
                       T=header["T"], rule=header["rule"], meta=header.get("meta", {}), arch=arch)
        except ModelFileError as error:
            raise ModelFileError(f"{path}: {error}") from None
        except (KeyError, TypeError, ValueError) as error:
            raise ModelFileError(f"{path}: the header or weights are inconsistent ({error}); the file "
                                 "is corrupt, re-create it with 'firstspike train'") from None


def load_model(path: str | os.PathLike) -> Network:
    """Load a model file of any version (the same as :meth:`Network.load`)."""
    return Network.load(path)


def _matrix_sizes(weights) -> list[int]:
    """Layer sizes of a fully connected stack given as ``(n_out, n_in)`` matrices; checks they chain."""
    shapes = [np.shape(w) for w in weights]
    if not shapes:
        raise ValueError("a network needs at least one layer")
    for index, shape in enumerate(shapes):
        if len(shape) != 2:
            raise ValueError(f"layer {index}: weights must be 2-D (n_out, n_in), got {shape}; give "
                             "kernels together with an arch string")
        if index and shape[1] != shapes[index - 1][0]:
            raise ValueError(f"layer {index} expects {shape[1]} inputs but layer {index - 1} has "
                             f"{shapes[index - 1][0]} neurons")
    return [shapes[0][1]] + [shape[0] for shape in shapes]


def _coerce(k: np.ndarray, layer, binary: bool, index: int) -> np.ndarray:
    """Layer ``index``'s kernel as a contiguous ``kernel_shape`` array: int8 +1/-1 or float64."""
    if k.size != int(np.prod(layer.kernel_shape)):
        raise ValueError(f"layer {index}: {k.size} weights given, the layer needs {layer.kernel_shape}")
    k = k.reshape(layer.kernel_shape)
    if binary:
        if not np.isin(k, (-1, 1)).all():
            raise ValueError(f"layer {index}: binary weights must be +1/-1")
        return np.ascontiguousarray(k, dtype=np.int8)
    if not np.isfinite(k).all():
        raise ValueError(f"layer {index}: weights must be finite (the model holds NaN or inf)")
    return np.ascontiguousarray(k, dtype=np.float64)


def _read_kernel(arrays: dict, index: int, layer, binary: bool) -> np.ndarray:
    """Layer ``index``'s kernel from a model file's arrays (packed sign bits or reals)."""
    raw = arrays.get(f"w{index}")
    if raw is None:
        raise ModelFileError(f"layer {index} weights are missing")
    count = int(np.prod(layer.kernel_shape))
    if not binary:
        if raw.size != count:
            raise ModelFileError(f"layer {index} has {raw.size} weights, its shape {layer.kernel_shape} "
                                 f"needs {count}")
        return raw
    if raw.size != (count + 7) // 8:  # unpackbits would pad a short array with zeros silently
        raise ModelFileError(f"layer {index} holds {raw.size} bytes of sign bits, its shape "
                             f"{layer.kernel_shape} needs {(count + 7) // 8}; the file is corrupt")
    return np.where(np.unpackbits(raw, count=count) == 1, 1, -1).astype(np.int8)


def read_model_file(path: str | os.PathLike) -> tuple[dict, dict, Path]:
    """(JSON header, arrays, resolved path) of a firstspike model file of any version."""
    path = Path(path)
    if not path.is_file() and path.with_name(path.name + ".npz").is_file():
        path = path.with_name(path.name + ".npz")
    if not path.is_file():
        raise ModelFileError(f"no model at {path}; train one with 'firstspike train --out {path}' "
                             "or import published weights with 'firstspike import-bs4nn'")
    try:
        with np.load(path, allow_pickle=False) as archive:
            header = json.loads(bytes(archive["header"]).decode())
            arrays = {k: archive[k] for k in archive.files if k != "header"}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError) as error:
        raise ModelFileError(
            f"{path} is not a readable firstspike model ({error}); "
            "re-create it with 'firstspike train' or 'firstspike import-bs4nn'"
        ) from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a firstspike model file (format "
                             f"{header.get('format') if isinstance(header, dict) else None!r})")
    return header, arrays, path
