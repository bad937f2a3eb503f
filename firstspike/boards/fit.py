# SPDX-License-Identifier: MIT
"""Analytic resource model: will a hardware plan (``firstspike.export.plan``) fit a device, before yosys?

It lists the memories of the board design (``firstspike.boards.frontend`` and the core's
``rtl.encoder`` / ``rtl.layer`` / inter-layer FIFOs) and maps each one to the block-RAM aspect ratio
that needs the fewest blocks (ECP5 DP16KD: 16K x 1 .. 512 x 36; iCE40 SB_RAM40_4K: 2K x 2 .. 256 x 16);
memories below :data:`SMALL_MEMORY_BITS`, and on ECP5 memories at most :data:`LUTRAM_DEPTH` words
deep, go to distributed RAM or flip-flops instead (what yosys's memory mapping chose in every build):

* front end receive ring: ``frontend.ring_depth(n_in) x 9`` (a byte and its hole mark);
* encoder bucket heads ``(T - 1) x (ptr + 1)`` and list links ``n_in x (ptr + 1)``;
* per layer: weight ROM ``n_in * G x P`` (``G = ceil(n_out / P)``; one word = the P weight bits the
  lanes need in one clock, see ``firstspike.export.rom``) and potentials ``G x P * b`` (``b`` = the
  plan's accumulator width, ``spec.accumulator_bits(n_in)``).

* the FIFO between two layers (``SyncFIFOBuffered``): ``n_out x token`` plus an output register;
* per conv-engine layer (``rtl.conv_layer``, geometry ``rtl.conv_geometry``; :func:`conv_memories`):
  ``Q`` kernel ROMs ``c_in * kh * kw * G x P``, ``Q`` potential banks ``blocks * G x (P * b + P + 1)``
  (accumulators, fired bits, dirty bit), the touched list ``blocks x entry``; the crossing words
  (``G * P x h_out * w_out``, bit-granular writes) never go to block RAM.

Logic per family: ``base`` (UART, front end, encoder, control, decision); for a layer with lane
groups (``G > 1``) ``slot`` per neuron slot ``G * P`` (fired/pending flags and the find-first-set
that emits spikes) and ``lane_bit`` per accumulator bit of each lane (add, compare); for a fully
parallel layer (``P = n_out``, ``rtl.counters``) the counter chains and ``neuron`` per neuron
(emission), with the plan's counter width ``W`` (``spec.parallel_counter_bits``). On ECP5 a counter is exactly ``ceil((W + 1) / 2)`` hand-placed carry cells of two LUT
slots each (the fired flag rides in the last slot, and ``boards.carry_chains`` keeps nextpnr from
adding cells); on iCE40 it is ``chain_bit`` per counter bit (``W - 1`` bits; carry and LUT share a
cell) plus the fired flag in ``neuron``. The coefficients are fitted to the real yosys/nextpnr
reports listed in BENCHMARKS.md (estimate beside measurement): ``base``, ``slot``, ``lane_bit`` to
the lane-group builds of the earlier core; the ECP5 ``neuron`` to the P = 600 ULX3S 25F build of
the carry-cell counters with ``base`` kept; the iCE40 ``neuron`` is the ECP5 value of the earlier
(adder) counters, not fitted; its ``base`` is refitted to the 784-32-10 ``--lanes 32`` iCEBreaker
build of the current core (3,181 cells). Both ``base`` values then grew by what the fractional-period
UART and the event-frame front end added to the same tiny build (784-8-10, lanes 4) on each board:
+354 iCE40 cells, +400 ECP5 LUTs (3,139 -> 3,493 and 3,031 -> 3,431). Conv-engine layers: ``lane_bit`` as for fc, ``crossing_bit``
one LUT per stored crossing bit (write enable, read multiplexer; by reasoning), ``position`` and
``conv`` fitted to two ULX3S 25F builds of random conv nets (28x28-c4k5-p2-c6k3s2p1-fc10 at lanes 2:
11,938 LUTs; 28x28-p2-c5k3p1-c3k2s2-fc10 at lanes 3: 7,121), not to iCE40 builds.
"""

import math
from dataclasses import dataclass

from ..export.plan import HardwarePlan
from ..model import spec
from ..rtl.conv_geometry import ConvGeometry
from ..rtl.params import conv_taps, uses_conv_engine
from .base import Device
from .frontend import STORED_FIELDS, ring_depth

__all__ = ["Estimate", "estimate", "check_fit", "EBR_SHAPES", "max_lanes"]

#: (depth, width) aspect ratios of one block RAM per family
EBR_SHAPES = {
    "ecp5": [(16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18), (512, 36)],
    "ice40": [(2048, 2), (1024, 4), (512, 8), (256, 16)],
}
#: memories smaller than this stay out of block RAM (LUT RAM on ECP5, flip-flops on iCE40)
SMALL_MEMORY_BITS = {"ecp5": 2048, "ice40": 512}
#: memories this shallow become LUT RAM (ECP5 TRELLIS_DPR16X4 is 16 deep) rather than block RAM
LUTRAM_DEPTH = {"ecp5": 16, "ice40": 0}

#: logic coefficients (LUT4 / iCE40 logic cells), fitted to the builds in BENCHMARKS.md
LOGIC = {
    "ecp5": {"base": 1620, "slot": 13.0, "lane_bit": 8.5, "neuron": 5.33,
             "conv": 631, "position": 10.4, "crossing_bit": 1.0},
    "ice40": {"base": 2888, "slot": 17.4, "lane_bit": 3.0, "chain_bit": 1.0, "neuron": 6.35,
              "conv": 631, "position": 10.4, "crossing_bit": 1.0},
}
#: share of the device's LUTs a design may use and still route well
LUT_BUDGET = 0.9


def blocks_for(depth: int, width: int, family: str) -> int:
    """Fewest block RAMs holding a ``depth x width`` memory (shapes combined side by side / stacked)."""
    if depth * width < SMALL_MEMORY_BITS[family] or depth <= LUTRAM_DEPTH[family]:
        return 0
    return min(math.ceil(depth / d) * math.ceil(width / w) for d, w in EBR_SHAPES[family])


@dataclass(frozen=True)
class Estimate:
    lanes: list[int]
    ebr: int
    luts: int
    weight_bits: int
    memories: dict

    def as_dict(self) -> dict:
        return {"lanes": self.lanes, "ebr": self.ebr, "luts": self.luts, "weight_bits": self.weight_bits,
                "memories": self.memories}


def conv_memories(geo: ConvGeometry, layer, family: str) -> dict:
    """Block RAMs of one conv-engine layer (``rtl.conv_layer``): ``Q`` copies of the kernel ROM (one
    per read port), ``Q`` potential banks of ``blocks * G`` words (``P`` accumulators, ``P`` fired bits,
    one dirty bit), the touched list (block, its first position, its column block). The crossing
    words are written bit by bit: no block RAM has per-bit write enables, so yosys keeps them in
    flip-flops or LUT RAM (counted in :func:`conv_luts`)."""
    q, p = geo.taps, geo.lanes
    width = p * layer.accumulator_bits + p + 1
    entry = sum(_bits(n) for n in (geo.blocks, geo.positions, geo.blocks_per_row))
    return {"kernel": q * blocks_for(layer.depth, p, family),
            "potentials": q * _engine_blocks(geo.blocks * geo.groups, width, family),
            "touched": _engine_blocks(max(geo.blocks, 2), entry, family),
            "crossings": 0}


def _engine_blocks(depth: int, width: int, family: str) -> int:
    """:func:`blocks_for`, except that on ECP5 a small RAM (a ROM becomes logic) deeper than LUT RAM
    takes one block RAM when yosys's memory mapping finds LUT RAM dearer: ``4`` per 16 x 4 cell (its
    library cost) plus a read multiplexer of ``width`` bits per extra 16-word slice, against ``128``
    for a DP16KD. Four conv builds agree (49 x 22 and 112 x 13 banks in block RAM; 36 x 15, 49 x 15,
    56 x 16 lists in LUT RAM); the fc memories keep the rule their builds were fitted with."""
    small = depth * width < SMALL_MEMORY_BITS[family] and depth > LUTRAM_DEPTH[family]
    if family == "ecp5" and small:
        slices = math.ceil(depth / 16)
        return int(4 * slices * math.ceil(width / 4) + width * (slices - 1) > 128)
    return blocks_for(depth, width, family)


def conv_luts(geo: ConvGeometry, layer, k: dict) -> float:
    """LUTs of one conv-engine layer: ``conv`` (control, event decode), ``lane_bit`` per accumulator
    bit of every lane of every bank (add, compare, as in the fc engine), ``position`` per output
    position (the crossing word register, its find-first-set, the bit-enable decode) and
    ``crossing_bit`` per stored crossing bit (``G * P`` channels x positions, kept in flip-flops or
    LUT RAM: write enable, read multiplexer)."""
    lanes = geo.taps * geo.lanes
    return (k["conv"] + k["lane_bit"] * lanes * (layer.accumulator_bits + 1)
            + k["position"] * geo.positions + k["crossing_bit"] * geo.groups * geo.lanes * geo.positions)


def _bits(n: int) -> int:
    """Width of an Amaranth ``range(max(n, 2))`` signal."""
    return (max(n, 2) - 1).bit_length()


def read_copies(ports: int, family: str) -> int:
    """Copies of a memory read through ``ports`` read ports: an ECP5 block RAM reads on both ports."""
    return math.ceil(ports / 2) if family == "ecp5" else ports


def estimate(plan: HardwarePlan, family: str, taps: int = 1, events: int = 1) -> Estimate:
    """Block RAMs and LUTs of the board design of ``plan`` (a layout plan is enough); ``taps`` is the
    conv engines' positions per cycle, ``events`` the fc layers' events per cycle (K read ports on
    each weight ROM and on the encoder's links, K bucket heads, K queue banks)."""
    sizes = plan.sizes
    ptr = max(1, (sizes[0] - 1).bit_length()) + 1
    token = max(1, (max(sizes) - 1).bit_length()) + int(plan.T).bit_length() + 2
    copies = read_copies(events, family)
    memories = {
        "receive_ring": blocks_for(ring_depth(sizes[0]), STORED_FIELDS.size, family),
        "encoder": blocks_for(spec.last_effective_time(plan.T) + 1, ptr * events + _bits(events), family)
        + copies * blocks_for(sizes[0], ptr, family),
    }
    k = LOGIC[family]
    luts = float(k["base"])
    for index, layer in enumerate(plan.layers):
        if index < len(plan.layers) - 1:
            memories[f"queue{index}"] = (blocks_for(layer.neurons, token, family) if events == 1 else
                                         events * blocks_for(-(-(layer.neurons + 1) // events) + 1, token, family))
        if uses_conv_engine(layer):
            geo = ConvGeometry.from_plan(layer, conv_taps(layer, taps))
            memories.update({f"layer{index}_{name}": n for name, n in conv_memories(geo, layer, family).items()})
            luts += conv_luts(geo, layer, k)
            continue
        p, g, bits = layer.lanes, layer.groups, layer.accumulator_bits
        memories[f"layer{index}_weights"] = copies * blocks_for(layer.depth, p, family)
        # a fully parallel layer keeps its potentials in counter flip-flops, not in a memory
        memories[f"layer{index}_potentials"] = 0 if layer.parallel else blocks_for(g, p * bits, family)
        if layer.parallel:
            width = layer.counter_bits
            if events > 2 or (events > 1 and family != "ecp5"):  # rtl.counters adder: hi + c - popcount
                chain = 2 * (width - 1) + events
            elif family == "ecp5":  # rtl.counters "cells" (K <= 2): carry cells of two LUT slots each
                chain = 2 * math.ceil((width + 1) / 2)
            else:
                chain = k["chain_bit"] * (width - 1)
            luts += p * (chain + k["neuron"])
        else:
            luts += k["slot"] * g * p + k["lane_bit"] * p * bits
    weight_bits = sum(layer.inputs * layer.outputs for layer in plan.layers)
    return Estimate(plan.lanes, sum(memories.values()), round(luts), weight_bits, memories)


def fits(est: Estimate, device: Device) -> bool:
    return est.ebr <= device.ebr and est.luts <= LUT_BUDGET * device.luts


def max_lanes(plan: HardwarePlan, device: Device, taps: int = 1, events: int = 1) -> int | None:
    """Largest lane count (one for all layers, capped) whose plan fits the device (None if none does).
    Not monotonic: a fully parallel layer (``P = n_out``) has no potential memory or lane groups and
    can fit where ``P = n_out / 2`` does not."""
    best = None
    for p in range(1, max(layer.outputs for layer in plan.layers) + 1):
        if (events == 1 or p >= max(plan.sizes[1:])) and fits(
                estimate(plan.relaned(p), device.family, taps, events), device):
            best = p
    return best


def check_fit(plan: HardwarePlan, device: Device, board_name: str, other_boards=(), taps: int = 1,
              events: int = 1) -> Estimate:
    """The estimate, or a ValueError saying what would fit (fewer lanes, a smaller net, a larger part)."""
    est = estimate(plan, device.family, taps, events)
    if fits(est, device):
        return est
    sizes = plan.sizes
    problems = []
    if est.ebr > device.ebr:
        problems.append(f"needs about {est.ebr} block RAMs, the {device.name} has {device.ebr} "
                        f"({est.weight_bits / 1024:.0f} kbit of weights vs {device.ebr * device.ebr_kbit} kbit)")
    if est.luts > LUT_BUDGET * device.luts:
        problems.append(f"needs about {est.luts} LUTs, more than {LUT_BUDGET:.0%} of the {device.luts} available")
    hints = []
    p = max_lanes(plan, device, taps, events)
    if p is not None:
        hints.append(f"--lanes {p} fits this board (the largest lane count that does)")
    elif plan.kind == "fc":
        for hidden in range(sizes[1] - 1, 0, -1):
            smaller = HardwarePlan.fc_layout([sizes[0], hidden, *sizes[2:]], 1, plan.T)
            best = max_lanes(smaller, device)
            if best:
                hints.append(f"a smaller network, e.g. {smaller.arch} with --lanes {best}")
                break
    larger = sorted({b.name for b in other_boards if b.device.luts > device.luts and fits(
        estimate(plan, b.device.family, taps, events), b.device)})
    if larger:
        hints.append(f"a larger part: {', '.join(larger)}")
    if not hints:
        hints.append("nothing at this input size; downsample the images" if plan.kind == "fc" else
                     "nothing with these layers; fewer output channels or smaller maps (stride, pooling)")
    lanes = " ".join(map(str, plan.lanes))
    raise ValueError(f"{plan.arch} with lanes {lanes} does not fit {board_name}: {'; '.join(problems)}. "
                     f"What would fit: {'; '.join(hints)}")
