# SPDX-License-Identifier: MIT
"""Conv networks through the whole core in the Amaranth simulator: every spike, decision and cycle
count ``==`` the golden model and the cycle model (``firstspike.sim.check.compare``).

Seeded random binary networks of small conv-grammar architectures (1 to 3 conv-engine layers,
odd channel counts and map sizes, padding, stride, pooling with cropped borders, an fc layer over a
pooled map as a hidden or the output layer, fc layers after conv layers), with idle gaps on the pixels and back-pressure on the
result and spike streams in some cases, at 1, 2 and 3 output positions per cycle (taps).
"""

import numpy as np
import pytest

from firstspike.model.arch import parse_arch
from firstspike.model.infer import run
from firstspike.model.network import Network
from firstspike.rtl.core import TTFSCore
from firstspike.sim.check import compare
from firstspike.sim.pysim import simulate

ARCHS = [
    "1x7x9-c3k3-fc4-fc3",                 # conv, fc without pooling (fc engine), output
    "2x8x7-c3k3s2p1-p2-fc5-fc3",          # stride + padding, fc over a pooled map (conv engine)
    "1x9x9-p2-c3k2-c5k2p1-fc3",           # pooling before the first conv (cropped row/column), 2 convs
    "1x13x11-c3k3-p2-c5k2s2-p2-fc3-fc2",  # 3 conv-engine layers (the last an fc over a pool)
    "1x9x9-c3k3-p3-fc5",                  # output layer over a pooled map (cropped): conv engine decides
    "1x12x12-c3k3-p2-c5k3-p2-fc4",        # conv-conv-fc stack, pooled output layer
]


def _net(arch, seed, T=24):
    rng = np.random.default_rng(seed)
    layers = parse_arch(arch).layers
    kernels = [np.where(rng.random(layer.kernel_shape) < 0.6, 1, -1).astype(np.int8) for layer in layers]
    thresholds = [int(rng.integers(0, 2 + layer.fan_in // 8)) for layer in layers]
    net = Network(kernels, thresholds, arch=arch, binary=True, encoding="s4nn", T=T)
    pixels = rng.integers(0, 256, (4, net.sizes[0])).astype(np.uint8)
    pixels[rng.random(pixels.shape) < 0.4] = 0
    return net, pixels


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("seed,taps", [(0, 1), (1, 2), (2, 3)])
def test_conv_networks_bit_exact_on_the_core(arch, seed, taps):
    net, pixels = _net(arch, seed)
    golden = run(net, pixels)
    assert any((t < net.T).any() for t in golden.times[:-1]), f"{arch} seed {seed}: no hidden spikes"
    lanes = [1 + (seed + k) % layer.c_out for k, layer in enumerate(net.layers)]
    core = TTFSCore.from_network(net, lanes, taps=taps)
    hw = simulate(core, pixels, gaps=0.3 * (seed % 2), backpressure=0.4 * (seed % 2), seed=seed)
    result = compare(core.params.plan, pixels, hw, seed=seed, taps=taps)
    assert result.ok, f"{arch} lanes {lanes} taps {taps}: {result.first_mismatch}"
