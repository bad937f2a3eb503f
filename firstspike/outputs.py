# SPDX-License-Identifier: MIT
"""Outputs a command owns: atomic writes, a lock per output, and the "may I write here" rule.

* :func:`atomic_write_bytes` writes ``.NAME.XXXXXXXX.tmp`` beside the target, fsyncs it and renames
  it over the target, so a reader sees the old file or the new one, never half of one.
* :func:`claim_folder` / :func:`claim_file` hold an exclusive ``flock`` on a lock file while a
  command writes (a second writer is refused with the holder's pid, command and start time; the
  kernel drops the lock when its process dies, so a killed run never blocks the next one), refuse
  an existing output unless the user said ``--overwrite`` (or ``--resume``), and remove the
  temporary files a killed write left behind.
* :func:`waiting_lock` serialises builders of one cache entry (Verilator models).

It sits outside the package's layers: every subsystem may import it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["OutputBusy", "OutputExists", "atomic_write_bytes", "atomic_write_json", "atomic_write_text",
           "claim_file", "claim_folder", "remove_orphans", "waiting_lock"]

#: the lock file inside a claimed folder
FOLDER_LOCK = ".firstspike.lock"
#: what :func:`atomic_write_bytes` names its temporary file: ``.NAME.`` + mkstemp's 8 characters + ``.tmp``
_TMP = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9_]{8}\.tmp$")


class OutputBusy(RuntimeError):
    """Another process is writing this output now."""


class OutputExists(ValueError):
    """The output holds an earlier result and the user did not ask to replace it."""


# --- atomic writes --------------------------------------------------------------------------------

def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as error:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(error, OSError) and error.errno and error.filename is None:
            # a failed write or fsync (a full disk) names no file: name the one being written
            raise OSError(error.errno, error.strerror, str(path)) from error
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: str | os.PathLike, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def remove_orphans(folder: str | os.PathLike, name: str | None = None) -> list[Path]:
    """Delete the temporary files of :func:`atomic_write_bytes` in ``folder`` (only those of target
    ``name`` when given). Call it only while holding the lock of what they belong to: a live writer's
    temporary file looks the same. Returns what was removed."""
    removed = []
    with contextlib.suppress(FileNotFoundError):
        for entry in os.scandir(folder):
            match = _TMP.match(entry.name)
            if match and entry.is_file(follow_symlinks=False) and (name is None or match["name"] == name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


# --- locks ----------------------------------------------------------------------------------------

def _holder(lock: Path, patience: float = 1.0) -> str:
    """Who holds ``lock``, as it recorded itself; a holder that has just taken the lock gets up to
    ``patience`` seconds to write its record."""
    deadline = time.monotonic() + patience
    while True:
        try:
            info = json.loads(lock.read_text())
            started = time.strftime("%H:%M:%S", time.localtime(info["started"]))
            return f"pid {info['pid']} ({info['command']}, started {started})"
        except (OSError, ValueError, KeyError, TypeError):
            if time.monotonic() >= deadline:
                return "another process"  # it holds the lock but has not said who it is
            time.sleep(0.02)


@contextlib.contextmanager
def _locked(lock: Path, command: str, what: str, *, wait: bool, flag: str = "--out") -> Iterator[None]:
    """Hold ``flock`` on ``lock`` (created if absent; removed on release) and record who holds it."""
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError as error:
            os.close(fd)
            if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            raise OutputBusy(f"{what} is in use by {_holder(lock)}; wait for it or choose another "
                             f"{flag}") from None
        try:  # the previous holder may have removed the file between our open and our lock
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "command": command, "started": time.time()}).encode())
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)  # before the release: whoever opens it next opens a new file
        os.close(fd)


def _command() -> str:
    """What a refused writer is told the holder runs: ``firstspike train``, else the program's name."""
    program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    if program not in ("firstspike", "__main__.py", "cli.py"):
        return program
    words = [a for a in sys.argv[1:] if not a.startswith("-")]
    return f"firstspike {words[0]}" if words else "firstspike"


def _contents(folder: Path) -> list[str]:
    """What ``folder`` holds, without locks (``.NAME.lock``) and orphan temporary files."""
    return sorted(e.name for e in os.scandir(folder)
                  if not (e.name.startswith(".") and e.name.endswith(".lock")) and not _TMP.match(e.name))


@contextlib.contextmanager
def claim_folder(folder: str | os.PathLike, *, overwrite: bool = False, resume: bool = False,
                 command: str | None = None, flag: str = "--out", remove: Iterable[str] = (),
                 inputs: Iterable[str | os.PathLike] = (), resumable: bool = False) -> Iterator[Path]:
    """Lock ``folder`` (created if absent) for this process while the ``with`` block writes into it.

    An existing folder with anything in it is refused unless ``overwrite`` (then the entries named
    in ``remove`` are deleted first, so no earlier product is left beside the new ones) or
    ``resume`` (the caller continues what is there; ``resumable`` says the command has
    ``--resume``, and the refusal names it). ``inputs`` inside the folder are refused unless
    resuming (a new result never replaces what it is made from). The temporary files of killed
    writes are removed. Raises :class:`OutputBusy` or :class:`OutputExists`, before any work.
    """
    import shutil

    command = command or _command()
    folder = Path(folder)
    if overwrite and resume:
        raise OutputExists("--resume continues the run in the folder, --overwrite replaces it; give one "
                           "of them")
    for source in map(Path, inputs):
        if not resume and source.resolve().is_relative_to(folder.resolve()):
            raise OutputExists(f"{flag} {folder} holds the input {source}; write the new result to another "
                               f"{flag}")
    if folder.exists() and not folder.is_dir():
        raise OutputExists(f"{flag} {folder} is a file, not a folder; give a folder")
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder / FOLDER_LOCK, command, str(folder), wait=False, flag=flag):
        found = _contents(folder)
        if found and not (overwrite or resume):
            shown = ", ".join(found[:4]) + (", ..." if len(found) > 4 else "")
            fixes = "--resume to continue it, --overwrite" if resumable else "--overwrite"
            raise OutputExists(f"{flag} {folder} already holds {shown}; add {fixes} to replace it "
                               f"or choose another {flag}")
        if overwrite and not resume:
            for name in remove:
                target = folder / name
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                elif target.exists() or target.is_symlink():
                    target.unlink()
        remove_orphans(folder)
        yield folder


@contextlib.contextmanager
def claim_file(path: str | os.PathLike, *, overwrite: bool = False, command: str | None = None,
               flag: str = "--out", inputs: Iterable[str | os.PathLike] = ()) -> Iterator[Path]:
    """Lock the output file ``path`` (``.NAME.lock`` beside it) while the ``with`` block writes it.

    Refuses an existing file unless ``overwrite``, and always refuses a path that is one of
    ``inputs`` (a command never writes over what it reads). Removes orphan temporary files of
    ``path``. Raises :class:`OutputBusy` or :class:`OutputExists`, before any work.
    """
    command = command or _command()
    path = Path(path)
    for source in map(Path, inputs):
        same_file = source.exists() and path.exists() and os.path.samefile(source, path)
        if same_file or source.resolve() == path.resolve():
            raise OutputExists(f"{flag} {path} is the input {source}; write the result to another file")
    if path.is_dir():
        raise OutputExists(f"{flag} {path} is a folder; give a file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path.parent / f".{path.name}.lock", command, str(path), wait=False, flag=flag):
        if path.exists() and not overwrite:
            raise OutputExists(f"{flag} {path} already exists; add --overwrite to replace it or choose "
                               f"another {flag}")
        remove_orphans(path.parent, path.name)
        yield path


@contextlib.contextmanager
def waiting_lock(lock: str | os.PathLike, what: str = "") -> Iterator[None]:
    """Hold an exclusive lock on ``lock``, waiting while another process holds it (cache builds)."""
    lock = Path(lock)
    lock.parent.mkdir(parents=True, exist_ok=True)
    with _locked(lock, _command(), what or str(lock), wait=True):
        yield
