# SPDX-License-Identifier: MIT
"""The cache folders: numba's compiled kernels are keyed by the package sources."""

import os
import subprocess
import sys

from firstspike import cache


def _package(root):
    (root / "sub").mkdir(parents=True)
    (root / "a.py").write_text("x = 1\n")
    (root / "sub" / "b.py").write_text("y = 2\n")
    (root / "data.bin").write_bytes(b"not source")
    return root


def test_source_hash_follows_every_source_file(tmp_path):
    pkg = _package(tmp_path / "pkg")
    first = cache.source_hash(pkg)
    assert cache.source_hash(pkg) == first  # deterministic
    (pkg / "data.bin").write_bytes(b"changed")  # not a source file
    assert cache.source_hash(pkg) == first
    (pkg / "sub" / "b.py").write_text("y = 3\n")  # an edit in a called module
    edited = cache.source_hash(pkg)
    assert edited != first
    (pkg / "sub" / "b.py").rename(pkg / "sub" / "c.py")  # same bytes, other module
    assert cache.source_hash(pkg) not in (first, edited)


def test_numba_cache_under_firstspike_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FIRSTSPIKE_CACHE", str(tmp_path))
    environ = {}
    folder = cache.use_numba_cache(environ)
    assert folder == tmp_path / f"numba-{cache.source_hash()}"
    assert folder.is_dir()
    assert environ["NUMBA_CACHE_DIR"] == str(folder)


def test_users_numba_cache_dir_is_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("FIRSTSPIKE_CACHE", str(tmp_path))
    environ = {"NUMBA_CACHE_DIR": "/somewhere/else"}
    assert cache.use_numba_cache(environ) is None
    assert environ["NUMBA_CACHE_DIR"] == "/somewhere/else"
    assert not any(tmp_path.iterdir())


def test_importing_the_package_configures_numba(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["FIRSTSPIKE_CACHE"] = str(tmp_path)
    out = subprocess.run(
        [sys.executable, "-c", "import firstspike.model.kernels, numba; print(numba.config.CACHE_DIR)"],
        env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(tmp_path / f"numba-{cache.source_hash()}")
