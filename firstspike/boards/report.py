# SPDX-License-Identifier: MIT
"""Reading yosys/nextpnr logs and writing a build's ``report.json`` / ``report.md``."""

import re

from ..outputs import atomic_write_json, atomic_write_text

__all__ = ["parse_nextpnr_log", "parse_yosys_log", "write_reports"]

_UTIL = re.compile(r"^Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", re.M)
_FMAX = re.compile(r"Max frequency for clock\s+'([^']+)':\s+([\d.]+) MHz \((PASS|FAIL) at ([\d.]+) MHz\)")

#: nextpnr cell types -> report keys, per family
CELL_KEYS = {
    "ecp5": {"luts": "TRELLIS_COMB", "ffs": "TRELLIS_FF", "ebr": "DP16KD", "dsp": "MULT18X18D"},
    "ice40": {"luts": "ICESTORM_LC", "ebr": "ICESTORM_RAM", "dsp": "ICESTORM_DSP", "spram": "ICESTORM_SPRAM"},
}


def parse_nextpnr_log(text: str) -> dict:
    """Utilisation ``{cell: (used, total)}`` of the last 'Device utilisation' block and, per clock,
    the **last** 'Max frequency for clock' line (the post-route one; earlier ones are estimates)."""
    blocks = text.split("Device utilisation:")
    if len(blocks) < 2:
        raise ValueError("no 'Device utilisation' block in the nextpnr log; did place and route run?")
    block = blocks[-1].split("\n\n")[0]
    util = {name: (int(used), int(total)) for name, used, total in _UTIL.findall(block)}
    clocks = {}
    for name, fmax, verdict, target in _FMAX.findall(text):
        clocks[name] = {"fmax_mhz": float(fmax), "target_mhz": float(target), "pass": verdict == "PASS"}
    if not clocks:
        raise ValueError("no 'Max frequency for clock' line in the nextpnr log; timing analysis did not run")
    return {"utilisation": util, "clocks": clocks}


def parse_yosys_log(text: str) -> dict:
    """Yosys version and the final cell counts of ``stat`` (e.g. ``SB_DFF``: 12)."""
    version = re.search(r"Yosys (\d+\.\d+\S*)", text)
    stats = text.rsplit("Printing statistics.", 1)[-1]
    cells = {name: int(count) for count, name in re.findall(r"^\s+(\d+)\s+(?:[\d.]+\s+)?\$?(\w+)\s*$", stats, re.M)}
    return {"version": version.group(1) if version else "unknown", "cells": cells}


def write_reports(out_dir, report: dict) -> None:
    """``report.json`` (machine-readable) and ``report.md`` (the same numbers for people)."""
    atomic_write_json(out_dir / "report.json", report)
    d = report["device"]
    lines = [
        f"# firstspike build: {report['board']} ({d['name']})",
        "",
        f"Model `{report['model']}` ({report['arch']}), {report['lanes']} lanes, "
        f"core clock {report['clock_mhz']:.2f} MHz, UART {report['baud']} baud.",
        "",
        "| resource | used | device | share |",
        "|---|---|---|---|",
    ]
    for key in ("luts", "ffs", "ebr", "dsp"):
        if report.get(key) is not None and d.get(key):
            lines.append(f"| {key.upper()} | {report[key]} | {d[key]} | {100 * report[key] / d[key]:.1f} % |")
    lines += [
        "",
        f"- post-route Fmax: **{report['fmax_mhz']:.2f} MHz** "
        f"({'meets' if report['timing_met'] else 'MISSES'} the {report['clock_mhz']:.2f} MHz clock)",
        f"- cycles per image ({report['cycles_images']} images of {report['cycles_dataset']}): "
        f"mean {report['cycles_mean']:.1f}, max {report['cycles_max']}",
        f"- latency per image at {report['clock_mhz']:.2f} MHz: mean **{report['latency_us_mean']:.2f} µs**; "
        f"at Fmax: {report['latency_us_mean_at_fmax']:.2f} µs",
        f"- images/s (core only, back to back): {report['images_per_s']:.0f}",
    ]
    link = report.get("end_to_end")
    if link:
        lines.append(
            f"- end to end over the UART at {link['baud']} baud ({link['event_frames']} of "
            f"{report['cycles_images']} images as event frames, {link['request_bytes_mean']:.0f} request bytes "
            f"on average): **{link['images_per_s']:.0f} images/s** with frames in flight; first byte to "
            f"reply {link['latency_us_mean']:.0f} µs mean, {link['latency_us_max']:.0f} µs max")
    lines += [
        f"- fit model estimate: {report['estimate']['luts']} LUTs, {report['estimate']['ebr']} EBR",
        f"- build time: {report['build_seconds']:.1f} s",
        f"- tools: {', '.join(f'{k} {v}' for k, v in report['tools'].items())}",
        "",
    ]
    atomic_write_text(out_dir / "report.md", "\n".join(lines))
