# SPDX-License-Identifier: MIT
"""The import arrow model <- export <- rtl <- sim/boards, checked by import-linter (``lint-imports``)
with the contract in pyproject.toml; and proof that the check fails on a wrong-way import."""

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

pytest.importorskip("importlinter")

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports(project: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on ``project`` (its pyproject.toml and its own ``firstspike`` package)."""
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    env = {**os.environ, "PYTHONPATH": str(project)}
    return subprocess.run([exe, "--no-cache", "--no-logo", str(project / "pyproject.toml")], cwd=project,
                          env=env, capture_output=True, text=True, timeout=300)


def test_the_package_keeps_the_layer_contract():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_a_wrong_way_import_breaks_the_contract(tmp_path):
    """A copy of the package with ``export`` importing ``rtl`` (and only that change) fails."""
    shutil.copytree(ROOT / "firstspike", tmp_path / "firstspike",
                    ignore=shutil.ignore_patterns("__pycache__", "*.npz"))
    linter = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = linter["contracts"]
    lines = ["[tool.importlinter]", f"root_package = {linter['root_package']!r}", "",
             "[[tool.importlinter.contracts]]", f"name = {contract['name']!r}",
             f"type = {contract['type']!r}",
             "layers = [" + ", ".join(repr(layer) for layer in contract["layers"]) + "]"]
    (tmp_path / "pyproject.toml").write_text("\n".join(lines) + "\n")
    assert _lint_imports(tmp_path).returncode == 0  # the copy alone keeps the contract

    plan = tmp_path / "firstspike" / "export" / "plan.py"
    plan.write_text(plan.read_text() + "\nfrom ..rtl.params import CoreParams  # noqa: E402,F401\n")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    assert "BROKEN" in result.stdout and "0 kept, 1 broken" in result.stdout, result.stdout
    assert "firstspike.export.plan -> firstspike.rtl.params" in result.stdout, result.stdout
