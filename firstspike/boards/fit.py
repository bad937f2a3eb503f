# SPDX-License-Identifier: MIT
"""Analytic resource model: will a network with P lanes fit a device, before running yosys?

Block RAM: every layer keeps its sign weights in a ROM of ``n_in * ceil(n_out / P)`` words of ``P``
bits (one word = the weight bits the P lanes need in one clock, see ``firstspike.export``); the
front end buffers one image (``n_in`` bytes). Each memory is mapped to the block-RAM aspect ratio
that needs the fewest blocks (ECP5 DP16KD: 16K x 1 .. 512 x 36; iCE40 SB_RAM40_4K: 2K x 2 .. 256 x 16).

Logic: each lane of layer ``l`` is an up/down accumulator of ``b_l = accumulator_bits(n_in_l)``
bits plus a threshold compare, about ``LUT_PER_LANE_BIT * b_l`` LUTs; the fixed part (UART, front
end, encoder, control, decision) is ``LUT_BASE``. The coefficients are calibrated against real
yosys/nextpnr reports (BENCHMARKS.md compares estimate and measurement for every build).
"""

import math
from dataclasses import dataclass

from ..model import spec
from .base import Device

__all__ = ["Estimate", "estimate", "check_fit", "EBR_SHAPES"]

#: (depth, width) aspect ratios of one block RAM per family
EBR_SHAPES = {
    "ecp5": [(16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36)],
    "ice40": [(2048, 2), (1024, 4), (512, 8), (256, 16)],
}

LUT_BASE = 900
LUT_PER_LANE_BIT = 2.0
FF_PER_LANE_BIT = 1.0
#: share of the device's LUTs a design may use and still route well
LUT_BUDGET = 0.9


def blocks_for(depth: int, width: int, family: str) -> int:
    """Fewest block RAMs holding a ``depth x width`` memory (shapes combined side by side / stacked)."""
    return min(math.ceil(depth / d) * math.ceil(width / w) for d, w in EBR_SHAPES[family])


@dataclass(frozen=True)
class Estimate:
    lanes: list[int]
    ebr: int
    luts: int
    ffs: int
    weight_bits: int

    def as_dict(self) -> dict:
        return {"lanes": self.lanes, "ebr": self.ebr, "luts": self.luts, "ffs": self.ffs,
                "weight_bits": self.weight_bits}


def lanes_per_layer(sizes: list[int], lanes: int) -> list[int]:
    return [min(lanes, n_out) for n_out in sizes[1:]]


def estimate(sizes: list[int], lanes: int, family: str) -> Estimate:
    if lanes < 1:
        raise ValueError(f"lanes must be >= 1, not {lanes}")
    per_layer = lanes_per_layer(sizes, lanes)
    ebr = blocks_for(sizes[0], 8, family)  # the front end's frame buffer
    luts = float(LUT_BASE)
    ffs = 0.0
    for n_in, n_out, p in zip(sizes[:-1], sizes[1:], per_layer):
        ebr += blocks_for(n_in * math.ceil(n_out / p), p, family)
        bits = spec.accumulator_bits(n_in)
        luts += LUT_PER_LANE_BIT * p * bits
        ffs += FF_PER_LANE_BIT * p * bits
    weight_bits = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    return Estimate(per_layer, ebr, round(luts), round(ffs + LUT_BASE / 2), weight_bits)


def fits(est: Estimate, device: Device) -> bool:
    return est.ebr <= device.ebr and est.luts <= LUT_BUDGET * device.luts


def max_lanes(sizes: list[int], device: Device) -> int | None:
    """Largest lane count that fits the device (None if even one lane does not)."""
    best = None
    for p in range(1, max(sizes[1:]) + 1):
        if fits(estimate(sizes, p, device.family), device):
            best = p
    return best


def check_fit(sizes: list[int], lanes: int, device: Device, board_name: str, other_boards=()) -> Estimate:
    """The estimate, or a ValueError saying what would fit (fewer lanes, a smaller net, a larger part)."""
    est = estimate(sizes, lanes, device.family)
    if fits(est, device):
        return est
    arch = "-".join(map(str, sizes))
    problems = []
    if est.ebr > device.ebr:
        problems.append(f"needs about {est.ebr} block RAMs, the {device.name} has {device.ebr} "
                        f"({est.weight_bits / 1024:.0f} kbit of weights vs {device.ebr * device.ebr_kbit} kbit)")
    if est.luts > LUT_BUDGET * device.luts:
        problems.append(f"needs about {est.luts} LUTs, more than {LUT_BUDGET:.0%} of the {device.luts} available")
    hints = []
    p = max_lanes(sizes, device)
    if p is not None:
        hints.append(f"--lanes {p} (or fewer) fits this board")
    else:
        budget_bits = device.ebr * device.ebr_kbit * 1024
        hidden = max(1, int(budget_bits * 0.8 / max(sizes[0], 1)))
        hints.append(f"a smaller network (e.g. {sizes[0]}-{min(hidden, sizes[1])}-{sizes[-1]} holds "
                     f"about {sizes[0] * min(hidden, sizes[1]) / 1024:.0f} kbit of weights)")
    larger = [b.name for b in other_boards if b.device.name != device.name and fits(
        estimate(sizes, lanes, b.device.family), b.device)]
    if larger:
        hints.append(f"a larger part: {', '.join(larger)}")
    raise ValueError(f"{arch} with {lanes} lanes does not fit {board_name}: {'; '.join(problems)}. "
                     f"What would fit: {'; '.join(hints)}")
