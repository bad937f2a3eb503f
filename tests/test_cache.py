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
    import numba

    monkeypatch.setenv("FIRSTSPIKE_CACHE", str(tmp_path))
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    before = dict(os.environ)
    folder = cache.use_numba_cache()
    assert folder == tmp_path / f"numba-{cache.source_hash()}"
    assert folder.is_dir()
    assert numba.config.CACHE_DIR == str(folder)
    assert dict(os.environ) == before  # numba's setting, not the environment


def test_users_numba_cache_dir_is_kept(tmp_path, monkeypatch):
    import numba

    monkeypatch.setenv("FIRSTSPIKE_CACHE", str(tmp_path))
    monkeypatch.setenv("NUMBA_CACHE_DIR", "/somewhere/else")
    monkeypatch.setattr(numba.config, "CACHE_DIR", "/somewhere/else")
    assert cache.use_numba_cache() is None
    assert numba.config.CACHE_DIR == "/somewhere/else"
    assert not any(tmp_path.iterdir())


def _python(code, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["FIRSTSPIKE_CACHE"] = str(tmp_path)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          check=True).stdout.split()


def test_importing_the_package_has_no_side_effects(tmp_path):
    # count every source file read while importing, and compare the environment before and after
    code = """
import os, pathlib, sys
reads = []
read_bytes = pathlib.Path.read_bytes
pathlib.Path.read_bytes = lambda self: reads.append(self) or read_bytes(self)
before = dict(os.environ)
import firstspike, firstspike.cache
print(dict(os.environ) == before, "NUMBA_CACHE_DIR" in os.environ, "numba" in sys.modules,
      sum(p.suffix == ".py" for p in reads))
"""
    assert _python(code, tmp_path) == ["True", "False", "False", "0"]
    assert not any(tmp_path.iterdir())  # no cache folder made either


def test_command_line_configures_numba(tmp_path):
    code = """
import os, numba
from firstspike import cli
try:
    cli.main(["--version"])  # prints the version first
except SystemExit:
    pass
import firstspike.model.kernels as kernels
print(numba.config.CACHE_DIR, "NUMBA_CACHE_DIR" in os.environ)
"""
    assert _python(code, tmp_path)[-2:] == [str(tmp_path / f"numba-{cache.source_hash()}"), "False"]
