# SPDX-License-Identifier: MIT
"""Counter bank of a fully parallel layer: one up/down potential counter per neuron.

Each counter holds ``V - threshold - 1`` (reset to ``-(threshold + 1)``), so ``V > threshold``
(``spec``'s strict crossing) is "sign bit clear". ``add`` adds +1 (weight bit 1) or -1 (bit 0) to
every counter in one clock unless ``freeze`` is high; ``clear`` reloads the reset value and wins
over everything. That priority (clear over enable) is what ECP5/iCE40 flip-flops implement with
their synchronous set/reset pin, so a counter bit costs one carry-chain LUT and nothing more;
this is why the core places the bank outside its stall-gated engine and feeds the stall in as
``freeze``.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed
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
        self.n, self.offset = n_counters, threshold + 1
        # V lies in -fan_in .. fan_in (each input spikes at most once, weights +/-1)
        self.width = signed_bits(-fan_in - self.offset, fan_in - self.offset)
        super().__init__({
            "add": In(1), "weights": In(n_counters), "clear": In(1), "freeze": In(1),
            "values": Out(data.ArrayLayout(signed(self.width), n_counters)),
            "cross": Out(n_counters),
        })

    def elaborate(self, platform):
        m = Module()
        counters = [Signal(signed(self.width), init=-self.offset, name=f"v{j}") for j in range(self.n)]
        with m.If(self.clear):
            m.d.sync += [v.eq(-self.offset) for v in counters]
        with m.Elif(self.add & ~self.freeze):
            m.d.sync += [v.eq(v + Mux(self.weights[j], 1, -1)) for j, v in enumerate(counters)]
        m.d.comb += [self.values.eq(Cat(*counters)), self.cross.eq(Cat(*[~v[-1] for v in counters]))]
        return m
