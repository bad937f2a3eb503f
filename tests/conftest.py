# SPDX-License-Identifier: MIT
"""Shared fixtures: where the full datasets and the published weights live, if anywhere."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


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
