# SPDX-License-Identifier: MIT
"""Formal equivalence of a synthesized netlist with its RTL, by yosys's ``equiv_*`` passes.

:func:`prove_equivalent` reads two designs of one module and asks yosys whether they compute the
same outputs cycle by cycle from every state both agree on:

* **gold**: the RTL, Verilog as Amaranth writes it (``prep``; ROMs turned into logic by ``memory_map``);
* **gate**: the synthesized JSON netlist (after the ECP5 carry pass when the caller ran it), its
  vendor cells given behaviour by yosys's own simulation models (``share/<family>/cells_sim.v``,
  only the modules the netlist uses, see :func:`cell_library`), flattened, block RAMs also through
  ``memory_map``.

Then ``equiv_make`` pairs the signals with equal names (registers keep their RTL names through
synthesis), ``equiv_simple -seq N`` proves most pairs from their N-cycle input cones and
``equiv_induct`` the rest by induction over the paired state, and ``equiv_status -assert`` fails
unless every pair is proven. The proof is for all input sequences and does not depend on reset:
it covers any state in which the paired registers agree, which includes the reset state. A pair
it cannot prove (a real difference, or state synthesis re-encoded beyond recognition) fails the
proof, never passes it.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..outputs import atomic_write_text
from .netlist import _check_family, _simulation_copy, _yosys, cell_models

__all__ = ["EquivalenceProof", "cell_library", "prove_equivalent"]

_MODULE = re.compile(r"^\s*module\s+(\\\S+|[A-Za-z_][A-Za-z0-9_$]*)", re.M)
_INCLUDE = re.compile(r'^\s*`include\s+"([^"]+)"\s*$', re.M)


@dataclass
class EquivalenceProof:
    """The outcome: how many signal pairs yosys proved and how long it took."""

    family: str
    module: str
    proven: int
    seconds: float
    log: Path | None


def _inline(path: Path, seen: set[Path]) -> str:
    """``path`` with its ``include``s inlined, each file once (ECP5's models include one twice)."""
    seen.add(path)

    def sub(match):
        child = (path.parent / match.group(1)).resolve()
        return "" if child in seen else _inline(child, seen)

    return _INCLUDE.sub(sub, path.read_text())


def cell_library(family: str, types: set[str]) -> str:
    """The modules of ``family``'s ``cells_sim.v`` that ``types`` need (and the modules those
    instantiate), with the file's macro definitions: reading the whole file costs yosys ~40 s on
    iCE40 (its SPRAM model is a 16k-word memory)."""
    text = _inline(cell_models(family).resolve(), set())
    header, modules = [], {}
    pos = 0
    for match in _MODULE.finditer(text):
        if match.start() < pos:
            continue
        end = text.index("endmodule", match.end()) + len("endmodule")
        lead = text[pos:match.start()]
        header += [line for line in lead.splitlines() if line.lstrip().startswith("`")]
        body = "\n".join(line for line in lead.splitlines() if not line.lstrip().startswith("`"))
        modules[match.group(1)] = body + text[match.start():end] + "\n"
        pos = end
    header += [line for line in text[pos:].splitlines() if line.lstrip().startswith("`")]
    wanted, todo = set(), [t for t in types if t in modules]
    while todo:
        name = todo.pop()
        if name in wanted:
            continue
        wanted.add(name)
        todo += [other for other in modules if other not in wanted
                 and re.search(rf"(?<![\w$]){re.escape(other)}\s*(#|\w)", modules[name].split("\n", 1)[-1])]
    return "\n".join(header) + "\n" + "".join(modules[name] for name in sorted(wanted))


def _top_only(netlist: dict, module: str) -> dict:
    """The ``module`` of a yosys JSON netlist as :func:`.netlist._simulation_copy` writes it for
    simulation (the vendor models replace the libraries' blackboxes; pins the carry pass unhooked
    are left unconnected), without names that synthesis left partly ``x``: such a name's bit lives
    on only under another name (e.g. inverted), so pairing it with the RTL could never be proven."""
    if module not in netlist.get("modules", {}):
        raise ValueError(f"the netlist has no module {module!r}; it has {', '.join(netlist.get('modules', {}))}")
    copy = _simulation_copy(netlist, module)
    top = copy["modules"][module]
    top["netnames"] = {name: net for name, net in top.get("netnames", {}).items() if "x" not in net["bits"]}
    return copy


def prove_equivalent(gold_verilog: str, gate_netlist: dict, family: str, module: str, *,
                     seq: int = 2, work_dir: Path | None = None, log=None) -> EquivalenceProof:
    """Prove module ``module`` of ``gate_netlist`` (yosys JSON, vendor cells of ``family``) equal
    to module ``module`` of ``gold_verilog``; raises ``AssertionError`` naming the unproven
    signals when yosys cannot prove it."""
    _check_family(family)
    top = _top_only(gate_netlist, module)
    types = {cell["type"] for cell in top["modules"][module]["cells"].values()}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="firstspike-equiv-") as tmp:
        work = Path(work_dir) if work_dir is not None else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        atomic_write_text(work / "gold.v", gold_verilog)
        atomic_write_text(work / "gate.json", json.dumps(top))
        atomic_write_text(work / "cells.v", cell_library(family, types))
        script = f"""
read_verilog gold.v
hierarchy -top {module}
prep -flatten -top {module}
memory_map
opt_clean
rename -hide w:$*
rename {module} gold
design -stash gold
read_json gate.json
read_verilog cells.v
hierarchy -top {module}
proc
flatten -wb
hierarchy -top {module}
opt_clean
memory_map
opt -fast
rename -hide w:$*
rename {module} gate
design -stash gate
design -copy-from gold -as gold gold
design -copy-from gate -as gate gate
equiv_make gold gate equiv
hierarchy -top equiv
equiv_simple -seq {seq}
equiv_induct -seq {seq}
equiv_status
tee -o status.txt equiv_status
"""
        try:
            _yosys(script, work, "equiv")
        except RuntimeError as error:
            raise RuntimeError(f"the equivalence check of {module} ({family}) did not run: {error}") from None
        status = (work / "status.txt").read_text()
        proven = re.search(r"Of those cells (\d+) are proven and (\d+) are unproven", status)
        if proven is None:
            raise RuntimeError(f"unexpected equiv_status output for {module} ({family}):\n{status[-2000:]}")
        good, bad = int(proven.group(1)), int(proven.group(2))
        if bad or not good:
            unproven = [line.strip() for line in status.splitlines() if "Unproven $equiv" in line][:8]
            raise AssertionError(f"{module} ({family}): {bad} of {good + bad} signal pairs not proven equal "
                                 f"to the RTL (e.g. {'; '.join(unproven) or 'none paired'})")
        seconds = time.perf_counter() - start
        kept = work if work_dir is not None else None
    if log:
        log(f"{module} ({family}): {good} signal pairs proven equal to the RTL in {seconds:.1f} s")
    return EquivalenceProof(family, module, good, seconds, kept)
