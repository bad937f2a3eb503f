# SPDX-License-Identifier: MIT
"""A convolutional TTFS network and its model file (format version 2, ``"kind": "conv"``).

The file is an ``.npz`` archive like the fully connected one of :mod:`.network` (version 1,
unchanged): a JSON ``header`` and one array ``w<i>`` per neuron layer. Binary kernels are packed
sign bits (bit 1 = +1, bit 0 = -1, numpy ``packbits`` big-endian) of the ``(c_out, c_in, kh, kw)``
kernel in row-major order; for an fc layer that is its ``(n_out, C*H*W)`` matrix, inputs
numbered row-major over the (pooled) ``(C, H, W)`` map. The header carries the architecture
string (:mod:`.conv_arch`), the integer thresholds (fire when ``V > threshold``), encoding, T,
decision rule and the training metadata. :func:`load_model` reads either version.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numba.typed import List

from . import spec
from .atomic import atomic_write_bytes
from .conv_arch import ConvArch, parse_conv_arch
from .network import (FORMAT, ModelFileError, Network, check_thresholds, coerce_weights, model_bytes,
                      read_model_file)

__all__ = ["CONV_FORMAT_VERSION", "ConvNetwork", "load_model"]

CONV_FORMAT_VERSION = 2


@dataclass
class ConvNetwork:
    """Architecture string, one kernel ``(c_out, c_in, kh, kw)`` per neuron layer, thresholds."""

    arch: str
    kernels: list[np.ndarray]
    thresholds: list[float]
    binary: bool = True
    encoding: str = "bs4nn"
    T: int = spec.T_DEFAULT
    rule: str = "hardware"
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.spec_arch: ConvArch = parse_conv_arch(self.arch)
        layers = self.spec_arch.layers
        if len(self.kernels) != len(layers) or len(self.thresholds) != len(layers):
            raise ValueError(f"{self.arch} has {len(layers)} neuron layers, got {len(self.kernels)} "
                             f"kernels and {len(self.thresholds)} thresholds")
        if self.encoding not in spec.ENCODINGS:
            raise ValueError(f"unknown encoding {self.encoding!r}; choose one of {spec.ENCODINGS}")
        if self.rule not in spec.DECISION_RULES:
            raise ValueError(f"unknown rule {self.rule!r}; choose one of {spec.DECISION_RULES}")
        fixed = []
        for index, (layer, k) in enumerate(zip(layers, self.kernels)):
            k = np.asarray(k)
            if k.size != int(np.prod(layer.kernel_shape)):
                raise ValueError(f"layer {index}: kernel has {k.size} weights, {self.arch} needs "
                                 f"{layer.kernel_shape}")
            fixed.append(coerce_weights(k.reshape(layer.kernel_shape), self.binary, index))
        self.kernels = fixed
        check_thresholds(self.thresholds)
        cast = int if self.binary else float
        self.thresholds = [cast(t) for t in self.thresholds]

    @property
    def layers(self):
        return self.spec_arch.layers

    @property
    def sizes(self) -> list[int]:
        """Flat sizes, input first: ``[n_in, n_1, ..., n_out]``."""
        return self.spec_arch.sizes

    def accumulator_bits(self) -> list[int]:
        """Signed potential width per layer from the fan-in (kernel taps times pooling window)."""
        return [spec.accumulator_bits(layer.fan_in) for layer in self.layers]

    def to_network(self) -> Network:
        """The same network as a version-1 :class:`Network` (only for plain FC stacks)."""
        if not self.spec_arch.is_fully_connected:
            raise ValueError(f"{self.arch} has conv or pooling layers; only FC stacks convert")
        weights = [k.reshape(k.shape[0], -1) for k in self.kernels]
        return Network(weights, self.thresholds, binary=self.binary, encoding=self.encoding,
                       T=self.T, rule=self.rule, meta=self.meta)

    # ----------------------------------------------------------------------------- inference
    def kernel_arrays(self):
        """Arguments of :func:`conv_kernels.conv_forward_batch`: geometry, weights, thresholds."""
        geoms = np.array([layer.geometry() for layer in self.layers], dtype=np.int64)
        weights = List()
        for k in self.kernels:
            weights.append(np.ascontiguousarray(k.transpose(1, 2, 3, 0)))
        return geoms, weights, np.asarray(self.thresholds, dtype=np.float64)

    def forward_times(self, in_times: np.ndarray):
        """Forward pass on encoded input spike times ``(n, n_in)``; returns an :class:`infer.Run`."""
        from .conv_kernels import conv_forward_batch
        from .infer import Run

        in_times = np.ascontiguousarray(np.atleast_2d(in_times), dtype=np.int16)
        if in_times.shape[1] != self.sizes[0]:
            shape = "x".join(str(s) for s in self.spec_arch.input_shape)
            raise ValueError(f"the network expects {self.sizes[0]} inputs ({shape}) per image, got "
                             f"{in_times.shape[1]}; flatten images row-major to (n, {self.sizes[0]})")
        geoms, weights, thetas = self.kernel_arrays()
        sizes = self.sizes[1:]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        n = in_times.shape[0]
        times = np.empty((n, offsets[-1]), dtype=np.int16)
        snaps = np.zeros((n, 3, sizes[-1]), dtype=np.int32 if self.binary else np.float64)
        first = np.empty(n, dtype=np.int64)
        conv_forward_batch(in_times, geoms, weights, thetas, self.T, offsets, times, snaps, first)
        return Run(times=[times[:, offsets[i] : offsets[i + 1]] for i in range(len(sizes))],
                   snaps=snaps, T=self.T)

    # ----------------------------------------------------------------------------- file format
    def to_bytes(self) -> bytes:
        header = {
            "format": FORMAT,
            "version": CONV_FORMAT_VERSION,
            "kind": "conv",
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
        return model_bytes(header, self.kernels, self.binary)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model file atomically."""
        atomic_write_bytes(path, self.to_bytes())
        return Path(path)

    @classmethod
    def load(cls, path: str | os.PathLike) -> ConvNetwork:
        header, arrays, path = read_model_file(path)
        if header.get("version") != CONV_FORMAT_VERSION or header.get("kind") != "conv":
            raise ModelFileError(f"{path} is not a conv model (version {header.get('version')}); "
                                 "load it with firstspike.model.conv_network.load_model")
        layers = parse_conv_arch(header["arch"]).layers
        kernels = []
        for index, layer in enumerate(layers):
            raw = arrays.get(f"w{index}")
            if raw is None:
                raise ModelFileError(f"{path}: layer {index} weights are missing")
            count = int(np.prod(layer.kernel_shape))
            if header["binary"]:
                if raw.size * 8 < count:  # unpackbits would pad with zeros silently
                    raise ModelFileError(f"{path}: layer {index} holds too few sign bits")
                k = np.where(np.unpackbits(raw, count=count) == 1, 1, -1).astype(np.int8)
            else:
                if raw.size != count:
                    raise ModelFileError(f"{path}: layer {index} has {raw.size} weights, needs {count}")
                k = raw
            kernels.append(k.reshape(layer.kernel_shape))
        return cls(arch=header["arch"], kernels=kernels, thresholds=header["thresholds"],
                   binary=header["binary"], encoding=header["encoding"], T=header["T"],
                   rule=header["rule"], meta=header.get("meta", {}))


def load_model(path: str | os.PathLike) -> Network | ConvNetwork:
    """Load a model file of either kind, dispatching on its header (v1: FC, v2 conv: conv)."""
    header, _, resolved = read_model_file(path)
    if header.get("kind") == "conv":
        return ConvNetwork.load(resolved)
    return Network.load(resolved)
