# SPDX-License-Identifier: MIT
"""Queue between two layers of a K-events-per-cycle core: tokens in one per cycle, bundles out.

K block-RAM FIFOs (``SyncFIFOBuffered``) are written round robin, so token ``i`` sits in bank
``i mod K`` and the K oldest tokens are always at the K banks' outputs. The read side offers the
oldest tokens, starting at the read pointer's bank, as one bundle (:func:`~.tokens.bundle_layout`):
every token already at its bank's output, up to K, up to the first that closes its time step
(``last``); a ``done`` token is offered alone. Taking the bundle pops those banks and moves the read
pointer by the bundle's size. A token written in cycle ``c`` is at its bank's output from ``c + 2``
(a token behind another in its bank comes out one cycle after that one is popped, and the two never
share a bundle), so the layer sees what the one-token FIFO would give it, K at a time.
"""

from __future__ import annotations

from amaranth.hdl import Array, Module, Signal
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from .tokens import bundle_layout, token_layout

__all__ = ["BundleQueue"]


class BundleQueue(wiring.Component):
    """Signature: ``inp`` (tokens; ``ready`` low only when full, which a layer never makes happen),
    ``out`` (bundles of up to ``events`` tokens). ``depth``: tokens the queue holds."""

    def __init__(self, neuron_bits: int, time_bits: int, events: int, depth: int):
        self.events, self.depth = events, depth
        self.token = token_layout(neuron_bits, time_bits)
        super().__init__({
            "inp": In(stream.Signature(self.token)),
            "out": Out(stream.Signature(bundle_layout(neuron_bits, time_bits, events))),
        })

    def elaborate(self, platform):
        m = Module()
        K = self.events
        banks = [fifo.SyncFIFOBuffered(width=self.token.size, depth=-(-self.depth // K) + 1) for _ in range(K)]
        for b, bank in enumerate(banks):
            m.submodules[f"bank{b}"] = bank
        wp = Signal(range(K))
        rp = Signal(range(K))

        # write side: round robin
        w_rdy = Array(bank.w_rdy for bank in banks)
        m.d.comb += self.inp.ready.eq(w_rdy[wp])
        for b, bank in enumerate(banks):
            m.d.comb += [bank.w_data.eq(self.inp.payload), bank.w_en.eq(self.inp.valid & (wp == b))]
        with m.If(self.inp.valid & self.inp.ready):
            m.d.sync += wp.eq(0 if K == 1 else (wp + 1) % K)

        # read side: slot j is bank (rp + j) mod K
        ready = Array(bank.r_rdy for bank in banks)
        data = Array(bank.r_data for bank in banks)
        heads, oks = [], []
        ok = None
        for j in range(K):
            at = Signal(range(K), name=f"slot{j}_bank")
            m.d.comb += at.eq((rp + j) % K)
            head = Signal(self.token, name=f"slot{j}")
            m.d.comb += head.eq(data[at])
            slot_ok = Signal(name=f"slot{j}_ok")
            if ok is None:
                m.d.comb += slot_ok.eq(ready[at])
            else:
                prev = heads[-1]
                m.d.comb += slot_ok.eq(ok & ready[at] & ~prev.last & ~prev.done & ~head.done)
            heads.append(head)
            oks.append(slot_ok)
            ok = slot_ok
        size = Signal(range(K + 1))
        m.d.comb += size.eq(sum(oks))
        m.d.comb += [self.out.valid.eq(oks[0]), self.out.payload.time.eq(heads[0].time),
                     self.out.payload.done.eq(heads[0].done)]
        last = 0
        for j in range(K):
            m.d.comb += [self.out.payload.neuron[j].eq(heads[j].neuron), self.out.payload.valid[j].eq(oks[j])]
            last = last | (oks[j] & heads[j].last)
        m.d.comb += self.out.payload.last.eq(last)
        with m.If(self.out.valid & self.out.ready):
            for b, bank in enumerate(banks):
                taken = 0
                for j in range(K):
                    taken = taken | (oks[j] & ((rp + j) % K == b))
                m.d.comb += bank.r_en.eq(taken)
            m.d.sync += rp.eq((rp + size) % K)
        return m
