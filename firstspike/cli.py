# SPDX-License-Identifier: MIT
"""The ``firstspike`` command line. Each subsystem registers its own subcommands.

:func:`main` is the one error boundary: an expected failure (bad input, a damaged or missing file, a
full disk, a tool that failed) is one line naming the problem and the fix, exit code
:data:`EXIT_ERROR`; any other exception is a bug, reported in a few lines with the version and where to
file it, exit code :data:`EXIT_INTERNAL` (``--debug`` shows the traceback instead).
"""

from __future__ import annotations

import argparse
import errno
import importlib
import importlib.util
import sys

from . import __version__
from .cache import use_numba_cache

#: Modules with a ``register(subparsers)`` function, in the order they appear in ``--help``.
COMMAND_MODULES = (
    "firstspike.model.cli",
    "firstspike.export.cli",
    "firstspike.rtl.cli",
    "firstspike.sim.cli",
    "firstspike.boards.cli",
    "firstspike.flow",
    "firstspike.orchestration.cli",
)

EXIT_ERROR = 1  # an expected failure: the message says what to fix (argparse usage errors exit 2)
EXIT_INTERNAL = 70  # a bug in firstspike (EX_SOFTWARE of sysexits.h)
EXIT_INTERRUPTED = 130
#: Where bugs are reported. The project has no public tracker address yet: no URL is invented here;
#: put the real one in this constant (only) when there is one.
ISSUE_TRACKER = "the firstspike issue tracker"

#: Failures the user can fix: commands raise these with a message naming the problem and the fix.
#: Everything else (KeyError, TypeError, ZeroDivisionError, ...) is a bug unless translated where it
#: happens (a damaged file into a ValueError naming the file, and so on).
EXPECTED = (ValueError, RuntimeError, OSError)

_OS_FIXES = {
    errno.ENOSPC: "the disk is full; free some space or write somewhere else",
    errno.EDQUOT: "the disk quota is used up; free some space or write somewhere else",
    errno.EROFS: "the file system is read-only; write somewhere else",
    errno.EACCES: "permission denied; choose a path you may write (or read), or fix its permissions",
    errno.EPERM: "permission denied; choose a path you may write (or read), or fix its permissions",
    errno.ENOTDIR: "a part of this path is a file where a folder is expected; choose another path "
                   "or move that file away",
    errno.EISDIR: "this is a folder where a file is expected; give a file path",
    errno.EEXIST: "a file is in the way where a folder or new file is expected; choose another path "
                  "or move it away",
    errno.ENOENT: "no such file or folder; check the path",
}


class UserError(Exception):
    """An error whose message tells the user what is wrong and how to fix it (no traceback)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="firstspike",
        description="Binarized time-to-first-spike networks: train, export, simulate, build.",
        epilog=f"exit codes: 0 done, {EXIT_ERROR} an error the message tells how to fix, 2 a usage "
               f"error, {EXIT_INTERNAL} an internal error (a bug: rerun with --debug and report it), "
               f"{EXIT_INTERRUPTED} interrupted",
    )
    parser.add_argument("--version", action="version", version=f"firstspike {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name).register(sub)
    if "sim" in sub.choices:  # 'sim --netlist BUILD_DIR' needs the board protocol, a layer above sim
        sub.choices["sim"].set_defaults(simulate_build_folder=_simulate_build_folder)
    return parser


def _simulate_build_folder(*args, **kwargs):
    from .gate_board import simulate_build_folder

    return simulate_build_folder(*args, **kwargs)


def expected_message(error: BaseException) -> str:
    """One line for an expected failure: the error's own message, or for a bare OS error (no message
    of ours) the path, what went wrong and the fix."""
    if isinstance(error, OSError) and error.strerror and error.errno is not None:
        where = error.filename if error.filename is not None else "a file"
        if error.filename2 is not None:
            where = f"{where} -> {error.filename2}"
        fix = _OS_FIXES.get(error.errno, "check the path, its permissions and the free disk space")
        text = f"{where}: {error.strerror}; {fix}"
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split())


def internal_report(command: str, error: BaseException) -> str:
    """The few lines printed for an unexpected exception (a bug)."""
    detail = " ".join(str(error).split())[:300]
    return (f"firstspike {command}: internal error: {type(error).__name__}: {detail}\n"
            f"this is a bug in firstspike {__version__}; please report it at {ISSUE_TRACKER} with the "
            f"command line and the output of 'firstspike --debug {command} ...'")


def main(argv: list[str] | None = None) -> int:
    use_numba_cache()  # before any command module imports a kernel: a source edit never runs stale kernels
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except (UserError, *EXPECTED) as error:
        if debug:
            raise
        print(f"firstspike {args.command}: error: {expected_message(error)}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as error:  # noqa: BLE001 - the boundary: anything else is a bug, reported as one
        if debug:
            raise
        print(internal_report(args.command, error), file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
