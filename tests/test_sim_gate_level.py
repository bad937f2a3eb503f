# SPDX-License-Identifier: MIT
"""Gate-level simulation: the netlist yosys synthesizes for each FPGA family (after the ECP5 carry
pass) runs on Verilator with yosys's vendor cell models through the same harness and checker as
the RTL, and equals the golden model with ``==``; a deliberately broken netlist is caught."""

import numpy as np
import pytest

from firstspike.model.network import Network
from firstspike.rtl.params import CoreParams
from firstspike.sim.check import compare
from firstspike.sim.verilator import CORE_NAME, GateNetlist, run_images

pytestmark = [pytest.mark.synth, pytest.mark.verilator]

SEED = 20320


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    import os

    if "FIRSTSPIKE_CACHE" not in os.environ:
        monkeypatch.setenv("FIRSTSPIKE_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def _case(n_images=48):
    """A seeded random binary 24-9-5 network (lanes 4, then fully parallel) and its images."""
    rng = np.random.default_rng(SEED)
    sizes = [24, 9, 5]
    weights = [np.where(rng.random((sizes[i + 1], sizes[i])) < 0.65, 1, -1).astype(np.int8)
               for i in range(len(sizes) - 1)]
    net = Network(weights, [3, 1], binary=True, encoding="s4nn", T=32)
    pixels = rng.integers(0, 256, (n_images, sizes[0])).astype(np.uint8)
    pixels[rng.random(pixels.shape) < 0.4] = 0
    return CoreParams.from_network(net, [4, 5]), pixels


def _gate_level(params, family, tamper=None):
    from firstspike.sim.netlist import cell_models, synthesize

    text = synthesize(params, family, CORE_NAME, tamper=tamper)
    return GateNetlist(family, text, cell_models(family))


@pytest.mark.parametrize("family, cells", [("ice40", ("SB_LUT4", "SB_CARRY", "SB_RAM40_4K")),
                                           ("ecp5", ("LUT4", "CCU2C", "TRELLIS_FF", "MULT18X18D"))])
def test_synthesized_netlist_equals_the_golden_model(family, cells):
    """Through ``simulate_dataset(netlist=...)``, what ``firstspike sim --netlist`` runs."""
    from firstspike.sim.cli import simulate_dataset

    params, pixels = _case()
    netlist = _gate_level(params, family)
    # it is the mapped netlist, not the RTL: vendor cells and no behavioural processes (on ECP5 a
    # small multiply in layer 0 maps to MULT18X18D, so the model netlist.py appends is exercised)
    assert all(f"  {cell} " in netlist.verilog for cell in cells)
    assert "always" not in netlist.verilog.split("module MULT18X18D")[0]
    summary = simulate_dataset(params.plan, pixels, gaps=0.2, backpressure=0.4, seed=SEED, netlist=family)
    assert summary["netlist"] == family and summary["images"] == len(pixels)
    assert summary["mismatches"] == 0, f"{family}, seed {SEED}: {summary['first_mismatch']}"
    assert summary["cycle_model_equal"]
    assert len(set(summary["classes"])) >= 2  # the check saw more than one answer


def test_a_broken_netlist_is_caught():
    """Invert the LUT in front of the class register's bit 0: the check must report the class."""
    from firstspike.sim.netlist import invert_lut_behind

    params, pixels = _case()
    flipped = []
    netlist = _gate_level(params, "ice40", tamper=lambda n: flipped.append(
        invert_lut_behind(n, "ice40", CORE_NAME, "result__payload", 0)))
    assert len(flipped) == 1
    run = run_images(params, pixels, seed=SEED, netlist=netlist)
    cmp = compare(params.plan, pixels, run.images, seed=SEED)
    assert not cmp.ok
    assert "class" in cmp.first_mismatch, cmp.first_mismatch


def test_a_carry_pass_without_its_safety_check_is_caught():
    """A broken ECP5 carry pass that unhooks every constant carry-in, also of chains whose first
    half lets it through (a carry-in of 1 completes a subtraction): the comparison must fail."""
    params, pixels = _case()
    unhooked = []

    def unhook_every_constant_cin(netlist):
        for cell in netlist["modules"][CORE_NAME]["cells"].values():
            if cell["type"] == "CCU2C" and cell["connections"].get("CIN", ["x"])[0] in ("0", "1"):
                unhooked.append(cell["connections"]["CIN"][0])
                cell["connections"]["CIN"] = ["x"]

    netlist = _gate_level(params, "ecp5", tamper=unhook_every_constant_cin)
    assert "1" in unhooked  # the real pass keeps these
    run = run_images(params, pixels, seed=SEED, netlist=netlist)
    cmp = compare(params.plan, pixels, run.images, seed=SEED)
    assert not cmp.ok, f"seed {SEED}: the broken carry pass went unnoticed"
