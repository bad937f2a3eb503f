# SPDX-License-Identifier: MIT
"""Counter bank of a fully parallel layer: one up/down potential counter per neuron.

Each counter holds ``u = threshold - V`` (reset to ``threshold``), so ``V > threshold`` (``spec``'s
strict crossing) is "sign bit set", no comparator. ``add`` moves every counter in one clock unless
``freeze`` is high: a weight bit 1 adds 1 to ``V`` (``u - 1``), a bit 0 subtracts 1 (``u + 1``). All
counters share bit 0 (see :meth:`CounterBank.elaborate`), so a neuron costs a ``W - 1``-bit carry
chain and ``W - 1`` flip-flops. ``values`` is ``~u = V - threshold - 1`` (an offset of ``V``, so it
ranks the neurons like ``V``). ``clear`` reloads the reset value and wins over everything: that
priority (clear over enable) is what ECP5/iCE40 flip-flops implement with their synchronous
set/reset pin, which is why the core places the bank outside its stall-gated engine and feeds the
stall in as ``freeze``.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["CounterBank", "signed_bits"]


def signed_bits(lo: int, hi: int) -> int:
    """Width of a signed integer holding every value in ``lo .. hi``."""
    return max((-lo - 1).bit_length() if lo < 0 else 0, hi.bit_length() if hi > 0 else 0) + 1


class CounterBank(wiring.Component):
    """Signature: ``add``, ``weights`` (one bit per counter), ``clear``, ``freeze`` in;
    ``values`` (``V - threshold - 1`` per neuron) and ``cross`` (``V > threshold``) out."""

    def __init__(self, n_counters: int, fan_in: int, threshold: int):
        self.n, self.threshold = n_counters, threshold
        # V lies in -fan_in .. fan_in (each input spikes at most once, weights +/-1)
        self.width = signed_bits(threshold - fan_in, threshold + fan_in)
        super().__init__({
            "add": In(1), "weights": In(n_counters), "clear": In(1), "freeze": In(1),
            "values": Out(data.ArrayLayout(signed(self.width), n_counters)),
            "cross": Out(n_counters),
        })

    def elaborate(self, platform):
        m = Module()
        W = self.width
        # every counter moves by +/-1 on every add, so all bit 0s are equal (the parity of the
        # reset value plus the number of adds): one shared flip-flop. The rest of counter j is
        # hi_j = u_j >> 1, and u + (w ? -1 : +1) is hi + (w ? -1 : 0) + bit0 (the carry out of
        # bit 0 is bit 0 in both cases): a (W-1)-bit carry chain per neuron and nothing else
        low = Signal(init=self.threshold & 1)
        high = [Signal(signed(W - 1), init=self.threshold >> 1, name=f"u{j}") for j in range(self.n)]
        with m.If(self.clear):
            m.d.sync += [low.eq(self.threshold & 1)] + [h.eq(self.threshold >> 1) for h in high]
        with m.Elif(self.add & ~self.freeze):
            m.d.sync += [low.eq(~low)] + [h.eq(h + self.weights[j].replicate(W - 1).as_signed() + low)
                                          for j, h in enumerate(high)]
        m.d.comb += [self.values.eq(Cat(*[~Cat(low, h) for h in high])),
                     self.cross.eq(Cat(*[h[-1] for h in high]))]
        return m
