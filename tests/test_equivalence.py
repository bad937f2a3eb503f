# SPDX-License-Identifier: MIT
"""Formal equivalence: yosys proves the synthesized netlist of a component (after the ECP5 carry
pass) equal to its RTL for every input sequence, and the proof fails on a broken netlist."""

import pytest

from firstspike.rtl.counters import CounterBank
from firstspike.rtl.decision import DecisionUnit
from firstspike.sim.equivalence import prove_equivalent
from firstspike.sim.netlist import family_verilog, synthesize_json

pytestmark = pytest.mark.synth


def _bank(style):
    return CounterBank(n_counters=12, fan_in=24, threshold=5, style=style)


def _gate(component, family, module, tmp_path, tamper=None):
    netlist = synthesize_json(family_verilog(component, family, module), family, module, tmp_path)
    if tamper is not None:
        tamper(netlist)
    return netlist


def _cell_types(netlist, module):
    return {cell["type"] for cell in netlist["modules"][module]["cells"].values()}


@pytest.mark.parametrize("family", ["ice40", "ecp5"])
def test_counter_bank_netlist_equals_the_adder_rtl(family, tmp_path):
    """Gold is the plain-adder bank; the gate is what a build synthesizes: on ECP5 the hand-built
    ``CCU2C`` chains with the carry pins the carry pass unhooked."""
    gate = _gate(_bank("auto"), family, "bank", tmp_path)
    if family == "ecp5":
        assert "CCU2C" in _cell_types(gate, "bank")
        unhooked = [cell for cell in gate["modules"]["bank"]["cells"].values()
                    if cell["type"] == "CCU2C" and cell["connections"].get("CIN") == ["x"]]
        assert len(unhooked) == 12  # one chain start per counter
    proof = prove_equivalent(family_verilog(_bank("adder"), family, "bank"), gate, family, "bank")
    # every counter's 5 high bits, its cross and fired flags at least
    assert proof.proven >= 12 * 7


@pytest.mark.parametrize("family", ["ice40", "ecp5"])
@pytest.mark.parametrize("groups, lanes", [(1, 10), (3, 4)])
def test_decision_unit_netlist_equals_its_rtl(family, groups, lanes, tmp_path):
    """Both forms: the pipelined argmax of a fully parallel output layer and the running one."""
    def unit():
        return DecisionUnit(n_out=10, lanes=lanes, groups=groups, acc_bits=8)

    gate = _gate(unit(), family, "decision", tmp_path)
    proof = prove_equivalent(family_verilog(unit(), family, "decision"), gate, family, "decision")
    assert proof.proven >= len("best") and proof.family == family


def _invert_cross_lut(netlist):
    from firstspike.sim.netlist import invert_lut_behind

    invert_lut_behind(netlist, "ice40", "bank", "cross", 0)


def _break_a_sum_half(netlist):
    """Flip the propagate term ``P`` of one carry cell's sum half (INIT1 index 13: A=1, B=0)."""
    from firstspike.rtl.counters import INIT_SUM

    cell = next(c for c in netlist["modules"]["bank"]["cells"].values()
                if c["type"] == "CCU2C" and int(str(c["parameters"]["INIT1"]), 2) == INIT_SUM)
    cell["parameters"]["INIT1"] = format(INIT_SUM ^ (1 << 13), "016b")


@pytest.mark.parametrize("family, tamper", [("ice40", _invert_cross_lut), ("ecp5", _break_a_sum_half)])
def test_a_broken_netlist_fails_the_proof(family, tamper, tmp_path):
    """One LUT in front of a counter's sign flop inverted (iCE40); one truth-table bit of a
    hand-built carry cell flipped (ECP5)."""
    gate = _gate(_bank("auto"), family, "bank", tmp_path, tamper=tamper)
    with pytest.raises(AssertionError, match="not proven equal"):
        prove_equivalent(family_verilog(_bank("adder"), family, "bank"), gate, family, "bank")


def test_a_carry_pass_without_its_safety_check_fails_the_proof(tmp_path):
    """The broken pass of the gate-level test (unhook every constant carry-in, also where a
    carry-in of 1 completes a subtraction) on the decision unit's comparators."""
    unhooked = []

    def unhook_every_constant_cin(netlist):
        for cell in netlist["modules"]["decision"]["cells"].values():
            if cell["type"] == "CCU2C" and cell["connections"].get("CIN", ["x"])[0] in ("0", "1"):
                unhooked.append(cell["connections"]["CIN"][0])
                cell["connections"]["CIN"] = ["x"]

    def unit():
        return DecisionUnit(n_out=10, lanes=4, groups=3, acc_bits=8)

    gate = _gate(unit(), "ecp5", "decision", tmp_path, tamper=unhook_every_constant_cin)
    assert "1" in unhooked  # the real pass keeps these
    with pytest.raises(AssertionError, match="not proven equal"):
        prove_equivalent(family_verilog(unit(), "ecp5", "decision"), gate, "ecp5", "decision")
