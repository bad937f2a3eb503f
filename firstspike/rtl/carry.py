# SPDX-License-Identifier: MIT
"""One ECP5 carry cell (``CCU2C``): the vendor primitive on ECP5, its behaviour everywhere else.

A ``CCU2C`` is two halves, each a 4-input LUT (``INIT``) on the carry chain. Half ``h`` computes
``P = LUT4(A, B, C, D)`` (index ``D C B A``) and ``G = LUT2(A, B)`` (``INIT[3:0]``, index ``B A``);
with ``INJECT1_h = "NO"`` its sum is ``P ^ carry_in`` and its carry out ``P ? carry_in : G``; with
``"YES"`` the sum is ``P`` alone (a free LUT4) and the carry out ``P & carry_in``. This is the
behaviour of yosys's ECP5 simulation model (``ecp5/ccu2c_sim.vh``); a test checks the two agree.

Why instantiate it by hand (see :class:`~.counters.CounterBank`): a yosys adder chain gets two
extra cells from nextpnr per chain (a feed-in for its constant carry-in, a feed-out for its unused
carry-out). A chain whose first half never propagates (``P = 0``) needs no carry-in and one whose
carry-out nobody reads needs no feed-out; ``chain_start`` / ``chain_end`` leave those pins
unconnected (and :mod:`firstspike.boards.carry_chains` strips the constants yosys ties to them).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Instance, Module, Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["CarryCell", "is_ecp5"]


def is_ecp5(platform) -> bool:
    """True when elaborating for an ECP5 part (the vendor ``CCU2C`` primitive exists)."""
    return getattr(platform, "family", None) == "ecp5"


def lut4(init: int, a, b, c, d):
    """``INIT[{d, c, b, a}]``."""
    return Const(init, 16).bit_select(Cat(a, b, c, d), 1)


def lut2(init: int, a, b):
    """``INIT[{b, a}]`` over the low four bits of ``init``."""
    return Const(init & 0xF, 4).bit_select(Cat(a, b), 1)


class CarryCell(wiring.Component):
    """Signature: ``cin``, ``a0 b0 c0 d0``, ``a1 b1 c1 d1`` in; ``s0``, ``s1``, ``cout`` out.

    ``init`` and ``inject`` are the two halves' ``INIT`` words and ``INJECT1`` flags."""

    def __init__(self, init: tuple[int, int], inject: tuple[bool, bool], *,
                 chain_start: bool = False, chain_end: bool = False):
        self.init, self.inject = tuple(init), tuple(inject)
        self.chain_start, self.chain_end = chain_start, chain_end
        super().__init__({"cin": In(1), "a0": In(1), "b0": In(1), "c0": In(1), "d0": In(1),
                          "a1": In(1), "b1": In(1), "c1": In(1), "d1": In(1),
                          "s0": Out(1), "s1": Out(1), "cout": Out(1)})

    def elaborate(self, platform):
        m = Module()
        if is_ecp5(platform):
            ports = {f"i_{p.upper()}{h}": getattr(self, f"{p}{h}") for p in "abcd" for h in (0, 1)}
            if not self.chain_start:
                ports["i_CIN"] = self.cin
            if not self.chain_end:
                ports["o_COUT"] = self.cout
            m.submodules.ccu2c = Instance(
                "CCU2C", p_INIT0=Const(self.init[0], 16), p_INIT1=Const(self.init[1], 16),
                p_INJECT1_0="YES" if self.inject[0] else "NO", p_INJECT1_1="YES" if self.inject[1] else "NO",
                o_S0=self.s0, o_S1=self.s1, **ports)
            return m
        carry = self.cin
        for h in (0, 1):
            a, b, c, d = (getattr(self, f"{p}{h}") for p in "abcd")
            p = lut4(self.init[h], a, b, c, d)
            if self.inject[h]:
                m.d.comb += getattr(self, f"s{h}").eq(p)
                carry = p & carry
            else:
                m.d.comb += getattr(self, f"s{h}").eq(p ^ carry)
                carry = Mux(p, carry, lut2(self.init[h], a, b))
        m.d.comb += self.cout.eq(carry)
        return m
