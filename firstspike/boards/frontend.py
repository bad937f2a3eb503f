# SPDX-License-Identifier: MIT
"""The framed-protocol front end between a UART and the TTFS core (see :mod:`.protocol`).

:class:`FrameReceiver` checks request frames and releases only checked images, :class:`ReplySender`
turns one reply record into reply bytes, and :class:`FrontEnd` joins the two with the core.
"""

from amaranth.hdl import Array, Cat, Module, Mux, ResetInserter, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from . import protocol
from .protocol import Status

__all__ = ["FrameReceiver", "FrontEnd", "REPLY_FIELDS", "RESULT_FIELDS", "ReplySender", "VERDICT_FIELDS"]

#: Fields of the core's result stream (``firstspike.rtl.core.RESULT_LAYOUT``).
RESULT_FIELDS = data.StructLayout({"cls": unsigned(8), "step": unsigned(16), "cycles": unsigned(32)})
#: The receiver's verdict on one frame: a :class:`~.protocol.Status` and the frame's ``seq``.
VERDICT_FIELDS = data.StructLayout({"status": unsigned(8), "seq": unsigned(8)})
#: One reply, in wire order (:class:`~.protocol.Reply`).
REPLY_FIELDS = data.StructLayout({"status": unsigned(8), "seq": unsigned(8), "result": RESULT_FIELDS})


class FrameReceiver(wiring.Component):
    """Checks request frames; streams a frame's image only after its CRC matched, then its verdict.

    The image waits in a FIFO of ``n_pixels`` bytes (one block RAM) that is emptied at every sync
    byte, so a corrupted or truncated frame never reaches ``pixels``.

    Members
    -------
    rx : In(stream.Signature(8))
        Received characters; always accepted (ignored from a frame's end until its verdict is taken).
    rx_error : In(1)
        A UART framing error (a pulse).
    pixels : Out(stream.Signature(8))
        The checked image, ``n_pixels`` bytes row-major.
    verdict : Out(stream.Signature(VERDICT_FIELDS))
        One per frame, after its image when the status is OK; the receiver hunts for the next sync
        byte once the verdict is accepted.
    busy : Out(1)
        High from a sync byte until its verdict is accepted.
    """

    rx: In(stream.Signature(unsigned(8)))
    rx_error: In(1)
    pixels: Out(stream.Signature(unsigned(8)))
    verdict: Out(stream.Signature(VERDICT_FIELDS))
    busy: Out(1)

    def __init__(self, n_pixels: int, timeout: int, gap: int):
        for name, value in (("n_pixels", n_pixels), ("timeout", timeout), ("gap", gap)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        if n_pixels > 0xFFFF:
            raise ValueError(f"n_pixels must fit the 16-bit length field, not {n_pixels}")
        if gap >= timeout:
            raise ValueError(f"the drain gap ({gap}) must be shorter than the timeout ({timeout})")
        self.n_pixels, self.timeout, self.gap = n_pixels, timeout, gap
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        n = self.n_pixels
        sync_byte = Signal()  # a frame begins: restart the CRC, empty the image store
        m.submodules.store = store = ResetInserter(sync_byte)(SyncFIFOBuffered(width=8, depth=n))
        m.submodules.crc = crc = protocol.CRC.create()

        quiet = Signal(range(self.timeout + 1))  # cycles since the last received character
        with m.If(self.rx.valid | self.rx_error):
            m.d.sync += quiet.eq(0)
        with m.Elif(quiet != self.timeout):
            m.d.sync += quiet.eq(quiet + 1)

        byte = self.rx.payload
        status, seq = self.verdict.payload.status, self.verdict.payload.seq
        length_lo = Signal(8)
        header_index = Signal(2)
        m.d.comb += [
            self.rx.ready.eq(1),
            crc.start.eq(sync_byte), crc.data.eq(byte),
            store.w_data.eq(byte),
            self.pixels.payload.eq(store.r_data),
        ]

        def receive(on_byte):
            """A frame byte, or the errors that end a frame: framing error, stall."""
            with m.If(self.rx_error):
                m.d.sync += status.eq(Status.BAD_FRAMING)
                m.next = "DRAIN"
            with m.Elif(self.rx.valid):
                on_byte()
            with m.Elif(quiet == self.timeout):
                m.d.sync += status.eq(Status.TIMEOUT)
                m.next = "VERDICT"

        def header_byte():
            m.d.comb += crc.valid.eq(1)
            m.d.sync += header_index.eq(header_index + 1)
            with m.Switch(header_index):
                with m.Case(0):
                    m.d.sync += seq.eq(byte)
                with m.Case(1):
                    m.d.sync += length_lo.eq(byte)
                with m.Case(2):
                    with m.If(Cat(length_lo, byte) == n):
                        m.next = "PIXELS"
                    with m.Else():
                        m.d.sync += status.eq(Status.BAD_LENGTH)
                        m.next = "DRAIN"

        def pixel_byte():
            m.d.comb += [crc.valid.eq(1), store.w_en.eq(1)]
            with m.If(store.level == n - 1):
                m.next = "CHECK"

        def crc_byte():
            with m.If(byte == crc.crc):
                m.d.sync += status.eq(Status.OK)
                m.next = "FEED"
            with m.Else():
                m.d.sync += status.eq(Status.BAD_CRC)
                m.next = "VERDICT"

        with m.FSM():
            with m.State("HUNT"):
                with m.If(self.rx.valid & (byte == protocol.REQUEST_SYNC)):
                    m.d.comb += sync_byte.eq(1)
                    m.d.sync += header_index.eq(0)
                    m.next = "HEADER"
            with m.State("HEADER"):
                m.d.comb += self.busy.eq(1)
                receive(header_byte)
            with m.State("PIXELS"):
                m.d.comb += self.busy.eq(1)
                receive(pixel_byte)
            with m.State("CHECK"):
                m.d.comb += self.busy.eq(1)
                receive(crc_byte)
            with m.State("DRAIN"):
                # discard the rest of a bad frame until the line has been quiet for `gap` cycles
                m.d.comb += self.busy.eq(1)
                with m.If(~self.rx.valid & ~self.rx_error & (quiet >= self.gap)):
                    m.next = "VERDICT"
            with m.State("FEED"):
                m.d.comb += [self.busy.eq(1),
                             self.pixels.valid.eq(store.r_rdy), store.r_en.eq(self.pixels.ready)]
                with m.If(self.pixels.valid & self.pixels.ready & (store.level == 1)):
                    m.next = "VERDICT"
            with m.State("VERDICT"):
                m.d.comb += [self.busy.eq(1), self.verdict.valid.eq(1)]
                with m.If(self.verdict.ready):
                    m.next = "HUNT"
        return m


class ReplySender(wiring.Component):
    """Sends one reply frame per ``reply`` record: the sync byte, the fields, then their CRC.

    The record is acknowledged with the frame's last byte, so its source holds it until then (the
    core holds its result; nothing is copied here).

    Members
    -------
    reply : In(stream.Signature(REPLY_FIELDS))
        The reply to send.
    tx : Out(stream.Signature(8))
        Reply characters.
    """

    reply: In(stream.Signature(REPLY_FIELDS))
    tx: Out(stream.Signature(unsigned(8)))

    def elaborate(self, platform):
        m = Module()
        m.submodules.crc = crc = protocol.CRC.create()
        fields = self.reply.payload.as_value()  # status, seq, cls, step, cycles: little-endian bytes
        body = [fields[8 * i:8 * i + 8] for i in range(protocol.REPLY_BYTES - 2)]
        frame = Array([protocol.REPLY_SYNC, *body, crc.crc])
        index = Signal(range(protocol.REPLY_BYTES))
        last = index == protocol.REPLY_BYTES - 1
        m.d.comb += [self.tx.valid.eq(self.reply.valid), self.tx.payload.eq(frame[index]),
                     crc.data.eq(self.tx.payload)]
        with m.If(self.tx.valid & self.tx.ready):
            m.d.comb += [crc.start.eq(index == 0), crc.valid.eq((index != 0) & ~last),
                         self.reply.ready.eq(last)]
            m.d.sync += index.eq(Mux(last, 0, index + 1))
        return m


class FrontEnd(wiring.Component):
    """Checks request frames, feeds checked images to the core and sends one reply per frame.

    Members
    -------
    rx : In(stream.Signature(8))
        Received characters; always accepted (characters arriving while busy are ignored).
    rx_error : In(1)
        A UART framing error (a pulse).
    tx : Out(stream.Signature(8))
        Reply characters.
    pixels : Out(stream.Signature(8))
        The image, ``n_pixels`` bytes row-major; back-pressured by the core.
    result : In(stream.Signature(RESULT_FIELDS))
        The core's answer for the image it was fed; acknowledged with its reply's last byte.
    last_class : Out(4)
        Class of the last successful inference (for LEDs).
    busy : Out(1)
        High from a sync byte until its reply has been sent.
    """

    rx: In(stream.Signature(unsigned(8)))
    rx_error: In(1)
    tx: Out(stream.Signature(unsigned(8)))
    pixels: Out(stream.Signature(unsigned(8)))
    result: In(stream.Signature(RESULT_FIELDS))
    last_class: Out(4)
    busy: Out(1)

    def __init__(self, n_pixels: int, timeout: int, gap: int):
        self.receiver = FrameReceiver(n_pixels, timeout=timeout, gap=gap)
        self.sender = ReplySender()
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.receiver = receiver = self.receiver
        m.submodules.sender = sender = self.sender
        wiring.connect(m, line=wiring.flipped(self.rx), receiver=receiver.rx)
        wiring.connect(m, receiver=receiver.pixels, core=wiring.flipped(self.pixels))
        wiring.connect(m, sender=sender.tx, line=wiring.flipped(self.tx))
        m.d.comb += [receiver.rx_error.eq(self.rx_error), self.busy.eq(receiver.busy)]

        # join: a verdict, and for an OK frame the core's result, make one reply (errors carry zeros)
        verdict, reply = receiver.verdict, sender.reply
        ok = verdict.payload.status == Status.OK
        m.d.comb += [
            reply.valid.eq(verdict.valid & (~ok | self.result.valid)),
            reply.payload.status.eq(verdict.payload.status),
            reply.payload.seq.eq(verdict.payload.seq),
            reply.payload.result.eq(Mux(ok, self.result.payload.as_value(), 0)),
            verdict.ready.eq(reply.ready),
            self.result.ready.eq(reply.ready & ok),
        ]
        with m.If(self.result.valid & self.result.ready):
            m.d.sync += self.last_class.eq(self.result.payload.cls)
        return m
