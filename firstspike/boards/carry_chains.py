# SPDX-License-Identifier: MIT
"""ECP5 netlist pass between yosys and nextpnr: unhook carry pins that carry nothing.

nextpnr-ecp5 adds a whole carry cell (two LUT slots) in front of every chain whose first ``CIN``
is connected to anything, even a constant (a "feed-in"), and another behind every chain whose last
``COUT`` is connected to anything, even an unread wire (a "feed-out"). yosys ties every ``CCU2C``'s
``CIN`` to a constant and every ``COUT`` to a wire, so each of the 600 hand-built counter chains of
:class:`firstspike.rtl.counters.CounterBank` would cost four extra slots. This pass rewrites the
yosys JSON netlist so that those pins are unconnected when that changes no behaviour:

* ``CIN`` of a ``CCU2C`` whose first half never lets the carry-in through: its LUT4 is 0 for every
  value of its non-constant inputs (so ``S0 = CIN`` and carry-out ``= G``, or with ``INJECT1_0``
  ``S0 = 0``) and its ``S0`` is read by nobody;
* ``COUT`` that no cell input and no module port reads.

Usage (the ECP5 build runs it on the synthesized netlist): ``python -m firstspike.boards.carry_chains top.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ..outputs import atomic_write_text

__all__ = ["unhook_carry_pins", "main"]


def _param_bits(value) -> int:
    """A yosys JSON parameter (binary string, MSB first, or int) as an int."""
    if isinstance(value, int):
        return value
    return int(value.strip(), 2) if set(value.strip()) <= {"0", "1"} else int(value, 0)


def _first_half_blocks(cell: dict) -> bool:
    """True when the first half's LUT4 is 0 whatever its non-constant inputs are."""
    init = _param_bits(cell["parameters"].get("INIT0", 0))
    conns = cell["connections"]
    fixed, free = {}, []
    for k, pin in enumerate(("A0", "B0", "C0", "D0")):
        bits = conns.get(pin, ["x"])
        if bits and bits[0] in ("0", "1"):
            fixed[k] = int(bits[0])
        else:
            free.append(k)  # a net or unconnected: any value
    for combo in range(1 << len(free)):
        index = sum(v << k for k, v in fixed.items())
        index |= sum(((combo >> n) & 1) << k for n, k in enumerate(free))
        if (init >> index) & 1:
            return False
    return True


def unhook_carry_pins(netlist: dict) -> dict:
    """Rewrite ``netlist`` (yosys ``write_json`` output) in place; returns the counts per pin."""
    counts = {"cin": 0, "cout": 0}
    for module in netlist.get("modules", {}).values():
        cells = module.get("cells", {})
        readers: dict[int, int] = {}
        for cell in cells.values():
            directions = cell.get("port_directions", {})
            for pin, bits in cell.get("connections", {}).items():
                if directions.get(pin) != "output":
                    for b in bits:
                        if isinstance(b, int):
                            readers[b] = readers.get(b, 0) + 1
        for port in module.get("ports", {}).values():
            if port.get("direction") != "input":
                for b in port["bits"]:
                    if isinstance(b, int):
                        readers[b] = readers.get(b, 0) + 1
        for cell in cells.values():
            if cell.get("type") != "CCU2C":
                continue
            conns = cell["connections"]
            cin = conns.get("CIN", [])
            s0 = conns.get("S0", [])
            s0_unread = not s0 or not isinstance(s0[0], int) or readers.get(s0[0], 0) == 0
            if cin and cin[0] in ("0", "1") and _first_half_blocks(cell) and s0_unread:
                conns["CIN"] = ["x"]
                counts["cin"] += 1
            cout = conns.get("COUT", [])
            if cout and isinstance(cout[0], int) and readers.get(cout[0], 0) == 0:
                conns["COUT"] = ["x"]
                counts["cout"] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m firstspike.boards.carry_chains NETLIST.json", file=sys.stderr)
        return 2
    path = Path(args[0])
    netlist = json.loads(path.read_text())
    counts = unhook_carry_pins(netlist)
    atomic_write_text(path, json.dumps(netlist))
    print(f"carry chains: {counts['cin']} carry-ins and {counts['cout']} carry-outs unhooked in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
