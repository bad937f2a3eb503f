# SPDX-License-Identifier: MIT
"""A fully connected TTFS network and its versioned, self-describing model file.

A model file is an ``.npz`` archive holding a JSON header (``header``) and one array per layer.
Binary layers are stored as packed sign bits (bit 1 = +1, bit 0 = -1, row-major over
``(n_out, n_in)``, numpy ``packbits`` big-endian bit order) with an integer threshold; real
layers as float64 weights with a float threshold. The header records shapes, thresholds,
encoding, T, decision rule, training config and the dataset checksum.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import spec
from .atomic import atomic_write_bytes

__all__ = ["FORMAT", "FORMAT_VERSION", "Network", "ModelFileError", "parse_arch"]

FORMAT = "firstspike-model"
FORMAT_VERSION = 1


def coerce_weights(w: np.ndarray, binary: bool, index: int) -> np.ndarray:
    """Contiguous int8 +1/-1 (binary) or float64 weights of layer ``index``; rejects other values."""
    if binary:
        if not np.isin(w, (-1, 1)).all():
            raise ValueError(f"layer {index}: binary weights must be +1/-1")
        return np.ascontiguousarray(w, dtype=np.int8)
    return np.ascontiguousarray(w, dtype=np.float64)


def check_thresholds(thresholds) -> None:
    """Thresholds must be >= 0: with ``V > theta`` a negative one fires a neuron with no input."""
    if any(t < 0 for t in thresholds):
        raise ValueError(
            f"thresholds must be >= 0 (a negative one would fire neurons with no input), "
            f"got {list(thresholds)}"
        )


class ModelFileError(ValueError):
    """A model file is missing, corrupt, or of an unknown format."""


def parse_arch(text: str) -> list[int]:
    """Parse an architecture string such as ``784-600-10`` into layer sizes."""
    try:
        sizes = [int(part) for part in text.split("-")]
    except ValueError:
        raise ValueError(
            f"architecture {text!r} is not a list of sizes; write it like '784-600-10'"
        ) from None
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"architecture {text!r} needs at least an input and an output size >= 1")
    return sizes


@dataclass
class Network:
    """Layer sizes, weights ``(n_out, n_in)`` per layer, thresholds and the time contract.

    Binary networks hold int8 +1/-1 weights and integer thresholds (fire when ``V > theta``);
    real networks hold float64 weights and float thresholds.
    """

    weights: list[np.ndarray]
    thresholds: list[float]
    binary: bool
    encoding: str = "bs4nn"
    T: int = spec.T_DEFAULT
    rule: str = "hardware"
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        if len(self.weights) != len(self.thresholds):
            raise ValueError(
                f"{len(self.weights)} weight matrices but {len(self.thresholds)} thresholds"
            )
        if self.encoding not in spec.ENCODINGS:
            raise ValueError(f"unknown encoding {self.encoding!r}; choose one of {spec.ENCODINGS}")
        if self.rule not in spec.DECISION_RULES:
            raise ValueError(f"unknown rule {self.rule!r}; choose one of {spec.DECISION_RULES}")
        fixed = []
        for index, w in enumerate(self.weights):
            w = np.asarray(w)
            if w.ndim != 2:
                raise ValueError(f"layer {index}: weights must be 2-D (n_out, n_in), got {w.shape}")
            if index and w.shape[1] != fixed[-1].shape[0]:
                raise ValueError(
                    f"layer {index} expects {w.shape[1]} inputs but layer {index - 1} "
                    f"has {fixed[-1].shape[0]} neurons"
                )
            fixed.append(coerce_weights(w, self.binary, index))
        self.weights = fixed
        check_thresholds(self.thresholds)
        if self.binary:
            self.thresholds = [int(t) for t in self.thresholds]
        else:
            self.thresholds = [float(t) for t in self.thresholds]

    @property
    def sizes(self) -> list[int]:
        """Layer sizes, input first: ``[n_in, n_1, ..., n_out]``."""
        return [self.weights[0].shape[1]] + [w.shape[0] for w in self.weights]

    @property
    def arch(self) -> str:
        return "-".join(str(s) for s in self.sizes)

    def accumulator_bits(self) -> list[int]:
        """Signed potential width per layer, from the fan-in (binary networks)."""
        return [spec.accumulator_bits(w.shape[1]) for w in self.weights]

    # ----------------------------------------------------------------------------- file format
    def to_bytes(self) -> bytes:
        header = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "sizes": self.sizes,
            "binary": self.binary,
            "thresholds": self.thresholds,
            "threshold_test": "V > theta (strict), spike at crossing index + 1",
            "encoding": self.encoding,
            "T": self.T,
            "rule": self.rule,
            "weight_layout": "(n_out, n_in) row-major; binary: packbits, bit 1 = +1, bit 0 = -1",
            "meta": self.meta,
        }
        return model_bytes(header, self.weights, self.binary)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model file atomically (a crash never leaves a half-written model)."""
        path = Path(path)
        atomic_write_bytes(path, self.to_bytes())
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> Network:
        """Load a model file; ``models/x`` also finds ``models/x.npz``."""
        header, arrays, path = read_model_file(path)
        if header.get("kind") == "conv":
            raise ModelFileError(
                f"{path} holds a convolutional network; load it with "
                "firstspike.model.conv_network.load_model (reads both kinds)"
            )
        if header.get("version") != FORMAT_VERSION:
            raise ModelFileError(
                f"{path}: model format version {header.get('version')} is not supported "
                f"(this firstspike reads version {FORMAT_VERSION}); upgrade firstspike"
            )
        sizes = header["sizes"]
        weights = []
        for index in range(len(sizes) - 1):
            shape = (sizes[index + 1], sizes[index])
            raw = arrays.get(f"w{index}")
            if raw is None:
                raise ModelFileError(f"{path}: layer {index} weights are missing")
            if header["binary"]:
                n_bits = shape[0] * shape[1]
                if raw.size != (n_bits + 7) // 8:  # unpackbits would silently pad a short array
                    raise ModelFileError(
                        f"{path}: layer {index} holds {raw.size} bytes of sign bits, its shape "
                        f"{shape} needs {(n_bits + 7) // 8}; the file is corrupt"
                    )
                bits = np.unpackbits(raw, count=n_bits)
                w = np.where(bits.reshape(shape) == 1, 1, -1).astype(np.int8)
            else:
                if raw.shape != shape:
                    raise ModelFileError(f"{path}: layer {index} has shape {raw.shape}, header says {shape}")
                w = raw
            weights.append(w)
        return cls(
            weights=weights,
            thresholds=header["thresholds"],
            binary=header["binary"],
            encoding=header["encoding"],
            T=header["T"],
            rule=header["rule"],
            meta=header.get("meta", {}),
        )


def model_bytes(header: dict, weights: list[np.ndarray], binary: bool) -> bytes:
    """The ``.npz`` bytes of a model file: JSON ``header`` and ``w<i>`` per layer (binary: packed
    sign bits of the row-major weights, bit 1 = +1)."""
    arrays = {"header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)}
    for index, w in enumerate(weights):
        arrays[f"w{index}"] = np.packbits(w.reshape(-1) > 0) if binary else w
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def read_model_file(path: str | os.PathLike) -> tuple[dict, dict, Path]:
    """(JSON header, arrays, resolved path) of a firstspike model file of any version or kind."""
    path = resolve_model_path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            header = json.loads(bytes(archive["header"]).decode())
            arrays = {k: archive[k] for k in archive.files if k != "header"}
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as error:
        raise ModelFileError(
            f"{path} is not a readable firstspike model ({error}); "
            "re-create it with 'firstspike train' or 'firstspike import-bs4nn'"
        ) from None
    if header.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a firstspike model file (format {header.get('format')!r})")
    return header, arrays, path


def resolve_model_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    if path.is_file():
        return path
    with_suffix = path.with_name(path.name + ".npz")
    if with_suffix.is_file():
        return with_suffix
    raise ModelFileError(
        f"no model at {path}; train one with 'firstspike train --out {path}' "
        "or import published weights with 'firstspike import-bs4nn'"
    )
