# SPDX-License-Identifier: MIT
"""Verilog of the core (``amaranth.back.verilog``, with the yosys ``AMARANTH_USE_YOSYS`` selects)."""

from __future__ import annotations

from amaranth.back import verilog

from .core import TTFSCore

__all__ = ["to_verilog"]


def to_verilog(core: TTFSCore, name: str = "firstspike_core") -> str:
    """Verilog text of ``core`` as module ``name`` (ports: clk, rst and the stream signals)."""
    return verilog.convert(core, name=name, emit_src=False)
