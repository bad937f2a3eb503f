# SPDX-License-Identifier: MIT
"""A conv network on Verilator (cocotb): the generated Verilog equals the golden model.

One build (one C++ compile): a seeded random network with two conv layers (padding, stride, pooling
with a cropped border), an fc layer over a pooled map and an fc output layer, at odd lane counts,
fed many images without and with idle gaps and back-pressure. Every spike, decision and cycle count
is compared with ``==``; a failure names image, event and seed.
"""

import numpy as np
import pytest

from firstspike.model.arch import parse_arch
from firstspike.model.infer import run
from firstspike.model.network import Network
from firstspike.rtl.params import CoreParams
from firstspike.sim.check import compare

pytestmark = pytest.mark.verilator

ARCH = "2x13x11-c5k3p1-p2-c3k2s2-p2-fc7-fc4"


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    import os

    if "FIRSTSPIKE_CACHE" not in os.environ:
        monkeypatch.setenv("FIRSTSPIKE_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def test_random_conv_network_many_images_with_gaps_and_backpressure():
    from firstspike.sim.verilator import run_images

    seed = 2029
    rng = np.random.default_rng(seed)
    layers = parse_arch(ARCH).layers
    kernels = [np.where(rng.random(layer.kernel_shape) < 0.6, 1, -1).astype(np.int8) for layer in layers]
    net = Network(kernels, [3, 4, 2, 1], arch=ARCH, binary=True, encoding="s4nn", T=48)
    pixels = rng.integers(0, 256, (150, net.sizes[0])).astype(np.uint8)
    pixels[rng.random(pixels.shape) < 0.4] = 0
    pixels[0] = 0      # all black
    pixels[1] = 255    # all white
    golden = run(net, pixels)
    assert all((t < net.T).any() for t in golden.times), "every layer should spike on some image"
    params = CoreParams.from_network(net, [3, 2, 4, 3])   # none divides its layer's channels
    for gaps, bp, s in ((0.0, 0.0, 1), (0.3, 0.5, seed)):
        result = run_images(params, pixels, gaps=gaps, backpressure=bp, seed=s)
        cmp = compare(params.plan, pixels, result.images, seed=seed)
        assert cmp.ok, f"gaps {gaps}, back-pressure {bp}: {cmp.first_mismatch}"
