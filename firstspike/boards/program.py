# SPDX-License-Identifier: MIT
"""``firstspike program``: load a built bitstream with the first programmer found on PATH."""

import json
import subprocess
from pathlib import Path

from .registry import get_board

__all__ = ["program"]


def program(board_name: str, build_dir, run=subprocess.run) -> list[str]:
    """Program the board; returns the command run. ``run`` is replaceable for tests."""
    board = get_board(board_name)
    folder = Path(build_dir)
    bitstream = folder / board.bitstream
    if not bitstream.is_file():
        raise FileNotFoundError(f"no {board.bitstream} in {folder}; run 'firstspike build --board "
                                f"{board.name} --model M --out {folder}' first")
    report = folder / "report.json"
    if report.is_file():
        built_for = json.loads(report.read_text()).get("board")
        if built_for and built_for != board.name:
            raise ValueError(f"{folder} was built for {built_for}, not {board.name}; rebuild or pass --board {built_for}")
    found = board.programmer()
    if found is None:
        tools = " or ".join(tool for tool, _ in board.programmers)
        raise RuntimeError(f"no programmer for {board.name} on PATH: install {tools} "
                           f"(e.g. 'apt-get install openfpgaloader dfu-util fpga-icestorm'), then retry")
    _, argv = found
    command = [part.replace("{bitstream}", str(bitstream)) for part in argv]
    result = run(command)
    if getattr(result, "returncode", 0) != 0:
        raise RuntimeError(f"{command[0]} failed (exit {result.returncode}); is the board connected "
                           f"and in programming mode?")
    return command
