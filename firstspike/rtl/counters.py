# SPDX-License-Identifier: MIT
"""Counter bank of a fully parallel layer: one up/down potential counter per neuron.

Each counter holds ``u = threshold - V`` (reset to ``threshold``), so ``V > threshold`` (``spec``'s
strict crossing) is "sign bit set", no comparator. ``add`` moves every counter in one clock, unless
``freeze`` is high: a weight bit 1 adds 1 to ``V``, i.e. ``u + 0b1...11`` (-1), a bit 0 ``u + 1``;
so the addend is ``Cat(1, w, w, ...)`` with no inverter in front of the carry chain. ``values`` is
``~u = V - threshold - 1`` (an offset of ``V``, so it ranks the neurons like ``V``). ``clear`` reloads the reset value and wins
over everything. That priority (clear over enable) is what ECP5/iCE40 flip-flops implement with
their synchronous set/reset pin, so a counter bit costs one carry-chain LUT and nothing more;
this is why the core places the bank outside its stall-gated engine and feeds the stall in as
``freeze``.
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
        counters = [Signal(signed(W), init=self.threshold, name=f"u{j}") for j in range(self.n)]
        with m.If(self.clear):
            m.d.sync += [u.eq(self.threshold) for u in counters]
        with m.Elif(self.add & ~self.freeze):
            m.d.sync += [u.eq(u + Cat(Const(1, 1), self.weights[j].replicate(W - 1)).as_signed())
                         for j, u in enumerate(counters)]
        m.d.comb += [self.values.eq(Cat(*[~u for u in counters])), self.cross.eq(Cat(*[u[-1] for u in counters]))]
        return m
