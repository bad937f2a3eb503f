# SPDX-License-Identifier: MIT
"""Input encoder: pixels or input events in, time-ordered input events out (a linked-list bucket sort).

While an image streams in, each pixel ``i`` becomes its spike time ``t`` (a 256-entry table made
by ``spec.encode``); pixels with ``t > T - 2`` are dropped (``spec.is_effective``). A kept pixel is
pushed onto the front of bucket ``t``: ``next[i] = head[t]``, ``head[t] = i``, and bit ``t`` of an
occupancy bitmap is set. Each list entry also carries a ``tail`` flag (the entry is the bucket's
last), so the walk knows the end of a time step when it presents an event.

An image may come instead as input events (``events``: address and spike time, any order, each
address at most once; an ``end`` record closes it): each event is linked in exactly like a pixel of
that index and time, one per cycle, so an image of ``E`` events loads in ``E + 1`` cycles instead of
``n_in``. ``event`` pulses for each event taken.

After the last pixel (or the ``end`` record): one settle cycle, one cycle to find the first occupied bucket, then one
event per accepted handshake, buckets in increasing time (find-first-set over the bitmap), the
last event of a bucket flagged ``last``, and finally a ``done`` token. Empty time steps cost
nothing. Timing (cycle 0 = the cycle after the last pixel is accepted): the first token is
presented in cycle 2, every further token in the cycle after the previous one was accepted.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Signal, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from ..model import spec
from .bits import first_set
from .tokens import EVENT_LAYOUT, token_layout

__all__ = ["InputEncoder"]


def take_image(m, enc, pixel_time, n_in: int, buckets: int, index, head_rd, s_valid, s_time, s_index):
    """The body of an encoder's ``LOAD`` state (:class:`InputEncoder`, :class:`.WideInputEncoder`):
    an input event or a pixel of time ``pixel_time`` is accepted (events first); one of time
    ``<= buckets - 1`` starts its insertion (the bucket's head read, stage-2 registers); the ``end``
    record or the last pixel raises ``loaded`` and moves on to ``SETTLE``."""
    m.d.comb += [enc.events.ready.eq(enc.load), enc.pixels.ready.eq(enc.load & ~enc.events.valid)]
    ev = enc.events.payload
    with m.If(enc.events.valid & enc.load):
        with m.If(ev.end):
            m.d.comb += enc.loaded.eq(1)
            m.next = "SETTLE"
        with m.Else():  # linked in like a pixel of that address and time
            m.d.comb += enc.event.eq(1)
            with m.If(ev.time <= buckets - 1):
                m.d.comb += [head_rd.addr.eq(ev.time[:len(s_time)]), head_rd.en.eq(1)]
                m.d.sync += [s_valid.eq(1), s_time.eq(ev.time), s_index.eq(ev.address)]
    with m.Elif(enc.pixels.valid & enc.load):
        with m.If(pixel_time <= buckets - 1):
            m.d.comb += [head_rd.addr.eq(pixel_time[:len(s_time)]), head_rd.en.eq(1)]
            m.d.sync += [s_valid.eq(1), s_time.eq(pixel_time), s_index.eq(index)]
        m.d.sync += index.eq(index + 1)
        with m.If(index == n_in - 1):
            m.d.comb += enc.loaded.eq(1)
            m.next = "SETTLE"


class InputEncoder(wiring.Component):
    """Signature: ``pixels`` (8-bit stream) or ``events`` (:data:`EVENT_LAYOUT` stream), accepted
    while ``load`` is high; ``tokens`` (event stream); ``loaded`` (high in the cycle the last pixel
    or the ``end`` record of the image is accepted); ``event`` (high when an event is accepted)."""

    def __init__(self, n_in: int, T: int, time_lut: list[int], neuron_bits: int, time_bits: int):
        self.n_in, self.T, self.lut = n_in, T, list(time_lut)
        self.neuron_bits, self.time_bits = neuron_bits, time_bits
        super().__init__({
            "pixels": In(stream.Signature(unsigned(8))),
            "tokens": Out(stream.Signature(token_layout(neuron_bits, time_bits))),
            "events": In(stream.Signature(EVENT_LAYOUT)),
            "load": In(1),
            "loaded": Out(1),
            "event": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        n_in, T = self.n_in, self.T
        buckets = spec.last_effective_time(T) + 1  # times 0 .. T-2
        ptr_bits = max(1, (n_in - 1).bit_length())
        entry = data.StructLayout({"ptr": unsigned(ptr_bits), "tail": unsigned(1)})
        time_w = max(1, (max(self.lut)).bit_length())

        # a table that is just 255 - p (the bs4nn encoding) is the complement of the pixel: no table
        complement = self.lut == [255 - p for p in range(256)]
        if not complement:
            m.submodules.lut = lut = memory.Memory(shape=unsigned(time_w), depth=256, init=self.lut)
        m.submodules.head = head = memory.Memory(shape=entry, depth=buckets, init=[])
        m.submodules.next = nxt = memory.Memory(shape=entry, depth=n_in, init=[])
        if not complement:
            lut_rd = lut.read_port(domain="comb")
        head_wr = head.write_port()
        head_rd = head.read_port(transparent_for=(head_wr,))
        next_wr = nxt.write_port()
        next_rd = nxt.read_port()
        m.d.comb += [head_rd.en.eq(0), next_rd.en.eq(0)]

        bitmap = Signal(buckets)
        index = Signal(range(n_in + 1))
        # insertion stage 2 registers
        s_valid = Signal()
        s_time = Signal(range(buckets))
        s_index = Signal(ptr_bits)

        # ---- insertion, stage 2: link the pixel in front of its bucket
        with m.If(s_valid):
            m.d.comb += [
                head_wr.addr.eq(s_time), head_wr.en.eq(1),
                head_wr.data.ptr.eq(s_index), head_wr.data.tail.eq(~bitmap.bit_select(s_time, 1)),
                next_wr.addr.eq(s_index), next_wr.en.eq(1), next_wr.data.eq(head_rd.data),
            ]
            m.d.sync += bitmap.eq(bitmap | (Const(1, buckets) << s_time)[:buckets])
        m.d.sync += s_valid.eq(0)

        # buckets are walked in increasing time; a bucket's bit is cleared when its walk starts, so
        # while it is presented the lowest set bit is already the next bucket (one find-first-set
        # straight from the register, not two in a row)
        first = first_set(m, bitmap, "first_bucket")
        first_index = first.index
        t_cur = Signal(range(buckets))
        from_head = Signal()
        rest = Signal(buckets)
        m.d.comb += rest.eq(bitmap & ~first.onehot)
        current = Signal(entry)
        m.d.comb += current.eq(0)

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
                    m.d.comb += [head_rd.addr.eq(first_index), head_rd.en.eq(1)]
                    m.d.sync += [t_cur.eq(first_index), from_head.eq(1), bitmap.eq(rest)]
                    m.next = "PRESENT"
            with m.State("PRESENT"):
                with m.If(from_head):
                    m.d.comb += current.eq(head_rd.data)
                with m.Else():
                    m.d.comb += current.eq(next_rd.data)
                m.d.comb += [
                    self.tokens.valid.eq(1),
                    self.tokens.payload.neuron.eq(current.ptr),
                    self.tokens.payload.time.eq(t_cur),
                    self.tokens.payload.last.eq(current.tail),
                ]
                with m.If(self.tokens.ready):
                    with m.If(~current.tail):
                        m.d.comb += [next_rd.addr.eq(current.ptr), next_rd.en.eq(1)]
                        m.d.sync += from_head.eq(0)
                    with m.Elif(~first.any):
                        m.next = "DONE"
                    with m.Else():
                        m.d.comb += [head_rd.addr.eq(first_index), head_rd.en.eq(1)]
                        m.d.sync += [t_cur.eq(first_index), from_head.eq(1), bitmap.eq(rest)]
            with m.State("DONE"):
                m.d.comb += [self.tokens.valid.eq(1), self.tokens.payload.done.eq(1)]
                with m.If(self.tokens.ready):
                    m.next = "IDLE"
            with m.State("IDLE"):
                pass
        return m
