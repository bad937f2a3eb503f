# SPDX-License-Identifier: MIT
"""The synthesized board top of a ``firstspike build`` folder at gate level: images go in as
request frames on the UART pin, replies come out of the other, and class, decision step and
cycles are compared with the golden model (``firstspike sim --netlist BUILD_DIR``).

Here, above both, the frame protocol (:mod:`firstspike.boards.protocol`) and the host's reply
decoder (:mod:`firstspike.boards.host`) meet the gate-level UART harness of
:mod:`firstspike.sim.board_netlist`, which knows only bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

__all__ = ["build_folder", "simulate_board", "simulate_build_folder"]

#: quiet cycles after which the harness gives up waiting for a reply, beyond the frame's own time
_SLACK_CYCLES = 2_000_000


def build_folder(path) -> tuple[Path, dict]:
    """The synthesized netlist (``build/top.json``) and report of a ``firstspike build`` folder."""
    folder = Path(path)
    for report in (folder / "report.json", folder.parent / "report.json"):
        netlist = report.parent / "build" / "top.json"
        if report.is_file() and netlist.is_file():
            return netlist, json.loads(report.read_text())
    raise ValueError(f"{folder} is not a firstspike build folder (no report.json and build/top.json); "
                     "give the --out folder of 'firstspike build'")


def simulate_board(net, plan, images, *, cycles_per_bit: float, golden=None, taps: int = 1, log=None) -> dict:
    """Run ``images`` through the board top ``net`` (:class:`~firstspike.sim.board_netlist.BoardNetlist`)
    frame by frame; a summary with the keys of ``firstspike sim``'s."""
    from .boards import protocol
    from .boards.host import ReplyReader
    from .rtl.cycles import accumulate_bound
    from .sim.board_netlist import uart_exchange
    from .sim.check import HardwareImage, compare

    images = np.asarray(images).reshape(len(images), -1)
    requests = [protocol.encode_request(i % 256, image) for i, image in enumerate(images)]
    frame_cycles = int(max(len(r) for r in requests) * 10 * cycles_per_bit)
    run = uart_exchange(net, requests, reply_bytes=protocol.REPLY_BYTES, cycles_per_bit=cycles_per_bit,
                        timeout_cycles=frame_cycles + _SLACK_CYCLES, log=log)
    reader = ReplyReader()
    replies = reader.feed(run.received)
    first = (f"{len(replies)} replies for {len(images)} frames ({reader.damaged} damaged)"
             if len(replies) != len(images) else None)
    hardware = []
    for i in range(len(images)):
        reply = replies[i] if i < len(replies) else None
        if reply is None or reply.status != protocol.Status.OK or reply.seq != i % 256:
            first = first or f"image {i}: reply {reply}"
            hardware.append(HardwareImage(-1, -1, -1))  # counts as a mismatch in the comparison
        else:
            hardware.append(HardwareImage(reply.cls, reply.step, reply.cycles))
    cmp = compare(plan, images, hardware, golden=golden, taps=taps, spikes=False)
    first = first or cmp.first_mismatch
    bound = accumulate_bound(plan, images, taps)
    return {
        "arch": plan.arch, "lanes": plan.lanes, "counters": "auto", "taps": taps, "netlist": net.family,
        "synth_seconds": None, "images": cmp.images, "mismatches": len(cmp.mismatched), "first_mismatch": first,
        "cycles_mean": float(cmp.cycles.mean()), "cycles_max": int(cmp.cycles.max()),
        "cycles_min": int(cmp.cycles.min()),
        "cycle_model_equal": bool((cmp.cycles == cmp.predicted_cycles).all()),
        "bound_mean": float(bound.mean()), "cycles_over_bound": float(cmp.cycles.mean() / bound.mean()),
        "sim_seconds": round(run.seconds, 2), "images_per_second": round(cmp.images / run.seconds, 2),
        "build_seconds": round(run.build_seconds, 1), "waves": None,
        "classes": [hw.cls for hw in hardware], "uart_cycles_per_bit": cycles_per_bit,
    }


def simulate_build_folder(path, plan, images, *, golden=None, taps: int = 1, log=None) -> dict:
    """:func:`simulate_board` on the netlist of build folder ``path``, which must have been built
    from ``plan`` (same architecture and lanes)."""
    from .boards.registry import get_board
    from .sim.board_netlist import board_netlist

    netlist, report = build_folder(path)
    built = (report.get("arch"), list(report.get("lanes") or []), int(report.get("taps", 1)))
    if built != (plan.arch, list(plan.lanes), int(taps)):
        raise ValueError(f"{path} was built for {built[0]} lanes {built[1]} taps {built[2]}, not {plan.arch} "
                         f"lanes {list(plan.lanes)} taps {taps}; give the model or export it was built from")
    family = get_board(report["board"]).device.family
    net = board_netlist(netlist, family)
    cycles_per_bit = report["clock_mhz"] * 1e6 / report["baud"]
    summary = simulate_board(net, plan, images, cycles_per_bit=cycles_per_bit, golden=golden, taps=taps, log=log)
    summary.update(netlist=str(path), board=report["board"])
    return summary
