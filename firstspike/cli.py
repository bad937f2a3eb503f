# SPDX-License-Identifier: MIT
"""The ``firstspike`` command line. Each subsystem registers its own subcommands."""

from __future__ import annotations

import argparse
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
)


class UserError(Exception):
    """An error whose message tells the user what is wrong and how to fix it (no traceback)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="firstspike",
        description="Binarized time-to-first-spike networks: train, export, simulate, build.",
    )
    parser.add_argument("--version", action="version", version=f"firstspike {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    use_numba_cache()  # before any command module imports a kernel: a source edit never runs stale kernels
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (UserError, ValueError, FileNotFoundError, RuntimeError) as error:
        if getattr(args, "debug", False):
            raise
        print(f"firstspike {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
