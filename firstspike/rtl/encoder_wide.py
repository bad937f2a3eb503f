# SPDX-License-Identifier: MIT
"""Input encoder for a core that takes K events per cycle: bundles of up to K events of one time step.

Like :class:`~.encoder.InputEncoder` (same signature, same pixel intake and timing), but every time
bucket is K linked lists ("banks"). The ``n``-th pixel of a bucket goes to bank ``n mod K`` (a
per-bucket count kept in the bucket's head entry), so the banks of a bucket differ in length by at
most one. The walk reads the K banks side by side (K read ports on the ``next`` memory): a bucket of
``n`` events is presented as ``n // K`` full bundles, then one bundle of the ``n mod K`` rest, the
last flagged ``last``, then the next bucket; finally a ``done`` bundle. Timing (cycle 0 = the cycle
after the last pixel is accepted): the first bundle is presented in cycle 2, every further bundle in
the cycle after the previous one was accepted.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..model import spec
from .bits import first_set
from .encoder import take_image
from .tokens import EVENT_LAYOUT, bundle_layout

__all__ = ["WideInputEncoder"]


class WideInputEncoder(wiring.Component):
    """Signature: ``pixels`` (8-bit stream) or ``events`` (:data:`EVENT_LAYOUT` stream, as for
    :class:`~.encoder.InputEncoder`), accepted while ``load`` is high; ``tokens`` (bundles of up to
    ``events`` events); ``loaded`` (high in the cycle the last pixel or the ``end`` record of the image
    is accepted); ``event`` (high when an input event is accepted)."""

    def __init__(self, n_in: int, T: int, time_lut: list[int], neuron_bits: int, time_bits: int,
                 events: int):
        if events < 2:
            raise ValueError(f"the wide encoder presents 2 or more events per cycle, got {events}; "
                             "use InputEncoder for one")
        self.n_in, self.T, self.lut, self.per_cycle = n_in, T, list(time_lut), events
        super().__init__({
            "pixels": In(stream.Signature(unsigned(8))),
            "events": In(stream.Signature(EVENT_LAYOUT)),
            "tokens": Out(stream.Signature(bundle_layout(neuron_bits, time_bits, events))),
            "load": In(1),
            "loaded": Out(1),
            "event": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        n_in, K = self.n_in, self.per_cycle
        buckets = spec.last_effective_time(self.T) + 1  # times 0 .. T-2
        ptr_bits = max(1, (n_in - 1).bit_length())
        link = data.StructLayout({"ptr": unsigned(ptr_bits), "tail": unsigned(1)})
        head_entry = data.StructLayout({"heads": data.ArrayLayout(link, K), "used": unsigned(K),
                                        "count": range(K)})
        time_w = max(1, max(self.lut).bit_length())

        # a table that is just 255 - p (the bs4nn encoding) is the complement of the pixel: no table
        complement = self.lut == [255 - p for p in range(256)]
        if not complement:
            m.submodules.lut = lut = memory.Memory(shape=unsigned(time_w), depth=256, init=self.lut)
            lut_rd = lut.read_port(domain="comb")
        m.submodules.head = head = memory.Memory(shape=head_entry, depth=buckets, init=[])
        m.submodules.next = nxt = memory.Memory(shape=link, depth=n_in, init=[])
        head_wr = head.write_port()
        head_rd = head.read_port(transparent_for=(head_wr,))
        next_wr = nxt.write_port()
        next_rds = [nxt.read_port() for _ in range(K)]
        m.d.comb += [head_rd.en.eq(0)] + [p.en.eq(0) for p in next_rds]

        bitmap = Signal(buckets)
        index = Signal(range(n_in + 1))
        s_valid = Signal()
        s_time = Signal(range(buckets))
        s_index = Signal(ptr_bits)

        # ---- insertion, stage 2: link the pixel in front of bank `count` of its bucket
        old = Signal(head_entry)
        new = Signal(head_entry)
        with m.If(bitmap.bit_select(s_time, 1)):
            m.d.comb += old.eq(head_rd.data)  # an empty bucket's stored entry is stale: read as zero
        m.d.comb += new.eq(old)
        with m.If(s_valid):
            m.d.comb += [head_wr.addr.eq(s_time), head_wr.en.eq(1), head_wr.data.eq(new),
                         next_wr.addr.eq(s_index), next_wr.en.eq(1)]
            for b in range(K):
                with m.If(old.count == b):
                    m.d.comb += [new.heads[b].ptr.eq(s_index), new.heads[b].tail.eq(~old.used[b]),
                                 new.used[b].eq(1), new.count.eq((b + 1) % K),
                                 next_wr.data.eq(old.heads[b])]
            m.d.sync += bitmap.eq(bitmap | (Const(1, buckets) << s_time)[:buckets])
        m.d.sync += s_valid.eq(0)

        first = first_set(m, bitmap, "first_bucket")
        t_cur = Signal(range(buckets))
        from_head = Signal()
        active = Signal(K)  # banks whose list is not exhausted (walking from `next`)
        rest = Signal(buckets)
        m.d.comb += rest.eq(bitmap & ~first.onehot)
        current = Signal(data.ArrayLayout(link, K))
        live = Signal(K)
        with m.If(from_head):
            m.d.comb += [current.eq(head_rd.data.heads), live.eq(head_rd.data.used)]
        with m.Else():
            m.d.comb += [current.eq(Cat(*[p.data for p in next_rds])), live.eq(active)]
        ends = Signal(K)  # this bundle's entry ends its bank (or the bank holds nothing)
        m.d.comb += ends.eq(Cat(*[~live[b] | current[b].tail for b in range(K)]))

        def open_bucket():
            m.d.comb += [head_rd.addr.eq(first.index), head_rd.en.eq(1)]
            m.d.sync += [t_cur.eq(first.index), from_head.eq(1), bitmap.eq(rest)]

        with m.FSM(init="LOAD"):
            with m.State("LOAD"):
                if not complement:
                    m.d.comb += lut_rd.addr.eq(self.pixels.payload)
                take_image(m, self, ~self.pixels.payload if complement else lut_rd.data, n_in, buckets,
                           index, head_rd, s_valid, s_time, s_index)
            with m.State("SETTLE"):
                m.next = "FIRST"
            with m.State("FIRST"):
                with m.If(~first.any):
                    m.next = "DONE"
                with m.Else():
                    open_bucket()
                    m.next = "PRESENT"
            with m.State("PRESENT"):
                m.d.comb += [self.tokens.valid.eq(1), self.tokens.payload.valid.eq(live),
                             self.tokens.payload.time.eq(t_cur), self.tokens.payload.last.eq(ends.all())]
                for b in range(K):
                    m.d.comb += self.tokens.payload.neuron[b].eq(current[b].ptr)
                with m.If(self.tokens.ready):
                    with m.If(~ends.all()):
                        for b in range(K):
                            m.d.comb += [next_rds[b].addr.eq(current[b].ptr), next_rds[b].en.eq(1)]
                        m.d.sync += [from_head.eq(0), active.eq(live & ~ends)]
                    with m.Elif(~first.any):
                        m.next = "DONE"
                    with m.Else():
                        open_bucket()
            with m.State("DONE"):
                m.d.comb += [self.tokens.valid.eq(1), self.tokens.payload.done.eq(1)]
                with m.If(self.tokens.ready):
                    m.next = "IDLE"
            with m.State("IDLE"):
                pass
        return m
