# SPDX-License-Identifier: MIT
"""All board targets by name."""

from . import icebreaker, orangecrab, ulx3s
from .base import Board

__all__ = ["BOARDS", "get_board"]

BOARDS: dict[str, Board] = {b.name: b for module in (ulx3s, orangecrab, icebreaker) for b in module.BOARDS}


def get_board(name: str) -> Board:
    try:
        return BOARDS[name]
    except KeyError:
        raise ValueError(f"unknown board {name!r}; choose one of {', '.join(BOARDS)}") from None
