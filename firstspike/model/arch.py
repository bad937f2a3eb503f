# SPDX-License-Identifier: MIT
"""Architecture strings of TTFS networks: ``784-600-10`` or ``28x28-c32k5-p2-c64k5-p2-fc10``.

Grammar (tokens separated by ``-``, case-insensitive)::

    arch   := input ( "-" layer )+          the last layer must be fully connected
    input  := H "x" W  |  C "x" H "x" W  |  N            (N = a flat vector of N inputs)
    layer  := conv | pool | fc
    conv   := "c" OUT "k" K [ "s" STRIDE ] [ "p" PAD ]   square K x K kernel, default s1 p0
    pool   := "p" K                                      K x K sum pooling, stride K (see below)
    fc     := "fc" N  |  N                               fully connected over the flattened map

A bare number after the input is a fully connected layer, so ``784-600-10`` and
``784-fc600-fc10`` are the same network.

Every ``conv`` and ``fc`` token is a layer of spiking neurons. A ``pool`` token is not: it is a
fixed address map that routes each spike of its input map to the pooled position
``(c, y // K, x // K)`` (rows and columns beyond ``K * (H // K)`` are dropped). The next neuron
layer therefore sees the *sum* of the K x K window: average pooling with the 1/K^2 factor folded
into that layer's integer threshold, so every neuron still fires at most once and all potentials
stay integers (Che et al. 2024 use average pooling because max pooling breaks the one-spike
property). Neurons and inputs are numbered row-major over ``(C, H, W)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Layer", "Arch", "parse_arch", "fc_arch"]

_CONV = re.compile(r"c(\d+)k(\d+)(?:s(\d+))?(?:p(\d+))?")
_POOL = re.compile(r"p(\d+)")
_FC = re.compile(r"(?:fc)?(\d+)")
_INPUT = re.compile(r"(\d+)(?:x(\d+))?(?:x(\d+))?")

_HELP = ("write it like '784-600-10' or '28x28-c32k5-p2-c64k5-p2-fc10': input N, HxW or CxHxW, then "
         "c<out>k<k>[s<s>][p<pad>] for a convolution, p<k> for k x k sum pooling, fc<n> or <n> for a fully "
         "connected layer (last)")


@dataclass(frozen=True)
class Layer:
    """Sum pooling ``pool`` of the ``(c_in, h_in, w_in)`` input map, then a convolution."""

    kind: str  # "conv" or "fc"
    c_in: int
    h_in: int
    w_in: int
    pool: int
    kh: int
    kw: int
    stride: int
    pad: int
    c_out: int

    @property
    def hp(self) -> int:
        return self.h_in // self.pool

    @property
    def wp(self) -> int:
        return self.w_in // self.pool

    @property
    def h_out(self) -> int:
        return (self.hp + 2 * self.pad - self.kh) // self.stride + 1

    @property
    def w_out(self) -> int:
        return (self.wp + 2 * self.pad - self.kw) // self.stride + 1

    @property
    def n_in(self) -> int:
        return self.c_in * self.h_in * self.w_in

    @property
    def n_out(self) -> int:
        return self.c_out * self.h_out * self.w_out

    @property
    def fan_in(self) -> int:
        """Most inputs (spikes of the unpooled map) one neuron can sum: sets the accumulator width."""
        return self.c_in * self.kh * self.kw * self.pool * self.pool

    @property
    def kernel_shape(self) -> tuple[int, int, int, int]:
        """Weights as ``(c_out, c_in, kh, kw)``; an fc layer's ``(n, C*H*W)`` is its reshape."""
        return (self.c_out, self.c_in, self.kh, self.kw)

    def geometry(self) -> list[int]:
        """The integers the numba kernels read (see :mod:`.kernels`)."""
        return [self.c_in, self.h_in, self.w_in, self.pool, self.kh, self.kw, self.stride,
                self.pad, self.c_out, self.h_out, self.w_out]


@dataclass(frozen=True)
class Arch:
    """A parsed architecture: the input map and its neuron layers."""

    text: str
    input_shape: tuple[int, int, int]
    layers: tuple[Layer, ...]

    @property
    def sizes(self) -> list[int]:
        """Flat sizes, input first: ``[n_in, n_1, ..., n_out]``."""
        return [self.layers[0].n_in] + [layer.n_out for layer in self.layers]

    @property
    def is_fully_connected(self) -> bool:
        """True when the network is a plain FC stack (no conv, no pooling)."""
        return all(layer.kind == "fc" and layer.pool == 1 for layer in self.layers)


def fc_arch(sizes) -> str:
    """The architecture string of a plain fully connected stack, e.g. ``[784, 600, 10]`` -> ``784-600-10``."""
    return "-".join(str(int(s)) for s in sizes)


def parse_arch(text: str) -> Arch:
    """Parse an architecture string; raises ``ValueError`` naming the bad token and the fix."""
    tokens = [tok.strip().lower() for tok in str(text).split("-")]
    if len(tokens) < 2 or not all(tokens):
        raise ValueError(f"architecture {text!r} needs an input and at least one layer; {_HELP}")
    m = _INPUT.fullmatch(tokens[0])
    if not m:
        raise ValueError(f"architecture {text!r}: input {tokens[0]!r} is not HxW, CxHxW or N; {_HELP}")
    dims = [int(g) for g in m.groups() if g is not None]
    shape = tuple(dims) if len(dims) == 3 else (1, *dims) if len(dims) == 2 else (dims[0], 1, 1)
    if min(shape) < 1:
        raise ValueError(f"architecture {text!r}: input sizes must be >= 1")
    c, h, w = shape
    pool = 1
    layers: list[Layer] = []
    for tok in tokens[1:]:
        where = f"architecture {text!r}, layer {tok!r}"
        if layers and layers[-1].kind == "fc" and not _FC.fullmatch(tok):
            raise ValueError(f"{where}: only fc layers may follow an fc layer; {_HELP}")
        if m := _FC.fullmatch(tok):
            n = int(m.group(1))
            if n < 1:
                raise ValueError(f"{where}: an fc layer needs >= 1 neuron")
            if h // pool < 1 or w // pool < 1:
                raise ValueError(f"{where}: pooling by {pool} leaves an empty {h}x{w} map")
            layer = Layer("fc", c, h, w, pool, h // pool, w // pool, 1, 0, n)
        elif m := _CONV.fullmatch(tok):
            out, k = int(m.group(1)), int(m.group(2))
            stride = int(m.group(3)) if m.group(3) else 1
            pad = int(m.group(4)) if m.group(4) else 0
            if out < 1 or k < 1 or stride < 1:
                raise ValueError(f"{where}: channels, kernel size and stride must be >= 1")
            if pad >= k:
                raise ValueError(f"{where}: padding {pad} must be smaller than the kernel size {k}")
            layer = Layer("conv", c, h, w, pool, k, k, stride, pad, out)
            if layer.h_out < 1 or layer.w_out < 1:
                raise ValueError(
                    f"{where}: a {k}x{k} kernel does not fit the {h // pool}x{w // pool} map "
                    "(pad it, e.g. p2, or use a smaller kernel)")
        elif m := _POOL.fullmatch(tok):
            k = int(m.group(1))
            if k < 2:
                raise ValueError(f"{where}: pooling size must be >= 2")
            if not layers and c * h * w == 0:
                raise ValueError(f"{where}: nothing to pool")
            if h // (pool * k) < 1 or w // (pool * k) < 1:
                raise ValueError(f"{where}: pooling by {k} does not fit the {h // pool}x{w // pool} map")
            if pool > 1:
                raise ValueError(f"{where}: two pooling tokens in a row; write one p<k> with the product")
            pool = k
            continue
        else:
            raise ValueError(f"{where}: unknown token; {_HELP}")
        layers.append(layer)
        c, h, w, pool = layer.c_out, layer.h_out, layer.w_out, 1
    if pool > 1:
        raise ValueError(f"architecture {text!r}: it ends with pooling; end with an fc<classes> layer")
    if not layers or layers[-1].kind != "fc":
        raise ValueError(f"architecture {text!r}: the output layer must be fc<classes>; {_HELP}")
    return Arch(text=str(text), input_shape=shape, layers=tuple(layers))
