# SPDX-License-Identifier: MIT
"""Where firstspike keeps what it can rebuild: datasets as arrays, Verilator models, numba kernels.

Everything lives under ``$FIRSTSPIKE_CACHE`` (default ``~/.cache/firstspike``).

numba's on-disk cache checks only the timestamp of the file that defines a jitted function, not
of the modules whose jitted functions it calls: after an edit to ``train_kernels.py`` alone, a
cached kernel of ``batch_kernels.py`` keeps running the old code. :func:`use_numba_cache`
therefore points numba at a folder named by a hash of the package's own sources, so any edit to
any module starts a fresh cache (and an unchanged package keeps its compiled kernels). Importing
the package does not call it: the command line and the test suite do, and a script that imports the
kernels directly calls it first.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def cache_root() -> Path:
    """``$FIRSTSPIKE_CACHE`` or ``~/.cache/firstspike``."""
    base = os.environ.get("FIRSTSPIKE_CACHE")
    return Path(base) if base else Path.home() / ".cache" / "firstspike"


def source_hash(package: Path = PACKAGE) -> str:
    """SHA-256 (16 hex digits) over the relative path and bytes of every ``.py`` file under ``package``."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def use_numba_cache() -> Path | None:
    """Point numba's cache at ``cache_root()/numba-<source hash>`` unless ``NUMBA_CACHE_DIR`` is set.

    Sets ``numba.config.CACHE_DIR`` (not the environment); numba picks a function's cache folder
    when ``@njit(cache=True)`` decorates it, so call this before importing any kernel module.
    Returns the folder, or None when the user's setting is kept or the folder cannot be created
    (numba then caches beside the sources, as it does by default).
    """
    if os.environ.get("NUMBA_CACHE_DIR"):
        return None
    folder = cache_root() / f"numba-{source_hash()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    if not os.access(folder, os.W_OK):
        return None
    import numba

    numba.config.CACHE_DIR = str(folder)
    return folder
