# SPDX-License-Identifier: MIT
"""The conv accumulate bound (BENCHMARKS.md section 3): its per-event count from first principles,
and, on random conv networks, the bound of the work up to the decision against the exact cycles."""

import numpy as np
import pytest

from firstspike.export.plan import build_plan
from firstspike.model.arch import parse_arch
from firstspike.model.network import Network
from firstspike.rtl.conv_cycles import conv_accumulate_bound
from firstspike.rtl.conv_geometry import ConvGeometry
from firstspike.rtl.cycles import layer_accumulate_bounds, predict_cycles

T = 24


@pytest.mark.parametrize("kw, taps", [(3, 1), (3, 2), (4, 2), (5, 2), (5, 3), (4, 4)])
def test_an_interior_event_costs_k_rows_times_the_blocks_its_columns_span_times_groups(kw, taps):
    kh = kw  # square kernels
    layer = parse_arch(f"3x12x13-c7k{kw}-fc2").layers[0]
    geo = ConvGeometry(layer, lanes=3, taps=taps)  # 7 channels on 3 lanes: 3 groups
    for y in range(kh - 1, layer.h_out):
        for x in range(kw - 1, layer.w_out):
            times = np.full(layer.n_in, T)
            times[1 * 12 * 13 + y * 13 + x] = 5  # channel 1
            ox_lo = x - kw + 1  # output columns x - kw + 1 .. x, rows y - kh + 1 .. y
            blocks = (ox_lo % taps + kw - 1) // taps + 1
            assert conv_accumulate_bound(geo, times, T) == kh * blocks * 3, (x, y)


@pytest.mark.parametrize("arch, lanes, taps, seed", [
    ("12x12-c3k3p1-p2-c4k2s2-fc5", 2, 1, 1),
    ("12x12-c3k3p1-p2-c4k2s2-fc5", 3, 2, 2),
    ("2x11x9-c5k3-p2-fc6-fc3", 2, 3, 3),
])
def test_the_work_to_the_decision_bounds_every_layer_engine_from_below(arch, lanes, taps, seed):
    rng = np.random.default_rng(seed)
    layers = parse_arch(arch).layers
    kernels = [np.where(rng.random(layer.kernel_shape) < 0.6, 1, -1).astype(np.int8) for layer in layers]
    net = Network(kernels, [int(rng.integers(0, 2 + layer.fan_in // 8)) for layer in layers], arch=arch,
                  binary=True, encoding="s4nn", T=T)
    pixels = rng.integers(0, 256, (40, net.sizes[0])).astype(np.uint8)
    plan = build_plan(net, lanes)
    full = layer_accumulate_bounds(plan, pixels, taps)
    needed = layer_accumulate_bounds(plan, pixels, taps, to_decision=True)
    cycles = predict_cycles(plan, pixels, taps)
    assert (needed <= full).all(), f"seed {seed}"
    assert (needed < full).any(), f"seed {seed}: some image should decide before its last events"
    # one engine does its layer's updates one (row, block, group) per cycle, before the decision
    assert (cycles >= needed.max(axis=1)).all(), f"seed {seed}"
