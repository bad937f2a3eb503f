# SPDX-License-Identifier: MIT
"""The framed-protocol front end between a UART and the TTFS core (see :mod:`.protocol`)."""


from amaranth.hdl import Array, Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from . import protocol
from .protocol import Status

__all__ = ["FrontEnd", "RESULT_FIELDS", "crc8_next"]

#: Fields of the core's result stream (``firstspike.rtl.core.RESULT_LAYOUT``).
RESULT_FIELDS = data.StructLayout({"cls": unsigned(8), "step": unsigned(16), "cycles": unsigned(32)})


def crc8_next(crc, byte):
    """Gateware of :func:`protocol.crc8_byte`: CRC-8 is linear over GF(2) in ``crc ^ byte``,
    so each output bit is the xor of the input bits whose basis images have that bit set."""
    x = crc ^ byte
    columns = [protocol.crc8_byte(0, 1 << j) for j in range(8)]
    out = []
    for i in range(8):
        terms = [x[j] for j in range(8) if columns[j] >> i & 1]
        bit = terms[0]
        for term in terms[1:]:
            bit = bit ^ term
        out.append(bit)
    return Cat(*out)


class FrontEnd(wiring.Component):
    """Checks request frames, feeds checked images to the core and sends one reply per frame.

    A frame is buffered whole (one block RAM of ``n_pixels`` bytes) and only streamed to the core
    after its CRC matched, so a corrupted or truncated frame never reaches the core.

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
        The core's answer for the image it was fed.
    last_class : Out(4)
        Class of the last successful inference (for LEDs).
    busy : Out(1)
        High from a sync byte until its reply has been sent.
    """

    def __init__(self, n_pixels: int, timeout: int, gap: int):
        for name, value in (("n_pixels", n_pixels), ("timeout", timeout), ("gap", gap)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        if n_pixels > 0xFFFF:
            raise ValueError(f"n_pixels must fit the 16-bit length field, not {n_pixels}")
        if gap >= timeout:
            raise ValueError(f"the drain gap ({gap}) must be shorter than the timeout ({timeout})")
        self.n_pixels, self.timeout, self.gap = n_pixels, timeout, gap
        super().__init__({
            "rx": In(stream.Signature(unsigned(8))),
            "rx_error": In(1),
            "tx": Out(stream.Signature(unsigned(8))),
            "pixels": Out(stream.Signature(unsigned(8))),
            "result": In(stream.Signature(RESULT_FIELDS)),
            "last_class": Out(4),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        n = self.n_pixels
        m.submodules.buffer = buffer = Memory(shape=unsigned(8), depth=n, init=[])
        wr = buffer.write_port()
        rd = buffer.read_port(domain="sync")

        quiet = Signal(range(self.timeout + 1))  # cycles since the last received character
        with m.If(self.rx.valid | self.rx_error):
            m.d.sync += quiet.eq(0)
        with m.Elif(quiet != self.timeout):
            m.d.sync += quiet.eq(quiet + 1)
        m.d.comb += self.rx.ready.eq(1)
        byte = self.rx.payload

        crc = Signal(8)
        crc_in = Signal(8)  # one CRC network, shared by the received frame and the reply
        crc_next = Signal(8)
        m.d.comb += [crc_in.eq(self.rx.payload), crc_next.eq(crc8_next(crc, crc_in))]
        seq = Signal(8)
        length = Signal(16)
        header_index = Signal(2)
        addr = Signal(range(n + 1))
        status = Signal(Status)
        valid = Signal()  # pixels.valid, registered

        # an OK reply reads the core's result, which the core holds until it is acknowledged after
        # the reply's last byte (no copy in registers); an error reply carries zeros
        answer = Signal(RESULT_FIELDS)
        m.d.comb += answer.eq(Mux(status == Status.OK, self.result.payload.as_value(), 0))
        reply = Array([protocol.REPLY_SYNC, status, seq, answer.cls, answer.step[:8], answer.step[8:],
                       answer.cycles[:8], answer.cycles[8:16], answer.cycles[16:24], answer.cycles[24:]])
        reply_index = Signal(range(protocol.REPLY_BYTES))

        m.d.comb += [
            wr.addr.eq(addr), wr.data.eq(byte),
            rd.addr.eq(addr),
            self.pixels.payload.eq(rd.data), self.pixels.valid.eq(valid),
        ]

        with m.FSM():
            with m.State("HUNT"):
                with m.If(self.rx.valid & (byte == protocol.REQUEST_SYNC)):
                    m.d.sync += [crc.eq(0), header_index.eq(0), addr.eq(0)]
                    m.next = "HEADER"
            def receive(on_byte):
                """A frame byte, or the errors that end a frame: framing error, stall."""
                m.d.comb += self.busy.eq(1)
                with m.If(self.rx_error):
                    m.d.sync += status.eq(Status.BAD_FRAMING)
                    m.next = "DRAIN"
                with m.Elif(self.rx.valid):
                    on_byte()
                with m.Elif(quiet == self.timeout):
                    m.d.sync += status.eq(Status.TIMEOUT)
                    m.next = "REPLY"

            def header_byte():
                m.d.sync += [crc.eq(crc_next), header_index.eq(header_index + 1)]
                with m.Switch(header_index):
                    with m.Case(0):
                        m.d.sync += seq.eq(byte)
                    with m.Case(1):
                        m.d.sync += length[:8].eq(byte)
                    with m.Case(2):
                        with m.If(Cat(length[:8], byte) == n):
                            m.next = "PIXELS"
                        with m.Else():
                            m.d.sync += status.eq(Status.BAD_LENGTH)
                            m.next = "DRAIN"

            def pixel_byte():
                m.d.comb += wr.en.eq(1)
                m.d.sync += [crc.eq(crc_next), addr.eq(addr + 1)]
                with m.If(addr == n - 1):
                    m.next = "CHECK"

            def crc_byte():
                with m.If(byte == crc):
                    m.d.sync += [addr.eq(0), valid.eq(0)]
                    m.next = "FEED"
                with m.Else():
                    m.d.sync += status.eq(Status.BAD_CRC)
                    m.next = "REPLY"

            with m.State("HEADER"):
                receive(header_byte)
            with m.State("PIXELS"):
                receive(pixel_byte)
            with m.State("CHECK"):
                receive(crc_byte)
            with m.State("DRAIN"):
                # discard the rest of a bad frame until the line has been quiet for `gap` cycles
                m.d.comb += self.busy.eq(1)
                with m.If(~self.rx.valid & ~self.rx_error & (quiet >= self.gap)):
                    m.next = "REPLY"
            with m.State("FEED"):
                m.d.comb += self.busy.eq(1)
                advance = ~valid | self.pixels.ready
                m.d.comb += rd.en.eq(advance)
                with m.If(advance):
                    with m.If(addr != n):
                        m.d.sync += [valid.eq(1), addr.eq(addr + 1)]
                    with m.Else():
                        m.d.sync += valid.eq(0)
                        m.next = "WAIT"
            with m.State("WAIT"):
                m.d.comb += self.busy.eq(1)
                with m.If(self.result.valid):
                    m.d.sync += [status.eq(Status.OK), self.last_class.eq(self.result.payload.cls)]
                    m.next = "REPLY"
            with m.State("REPLY"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += [reply_index.eq(0), crc.eq(0)]
                m.next = "SEND"
            with m.State("SEND"):
                m.d.comb += [self.busy.eq(1), self.tx.valid.eq(1), crc_in.eq(self.tx.payload)]
                last = reply_index == protocol.REPLY_BYTES - 1
                with m.If(last):
                    m.d.comb += self.tx.payload.eq(crc)
                with m.Else():
                    m.d.comb += self.tx.payload.eq(reply[reply_index])
                with m.If(self.tx.ready):
                    m.d.sync += reply_index.eq(reply_index + 1)
                    with m.If(reply_index != 0):
                        m.d.sync += crc.eq(crc_next)
                    with m.If(last):
                        m.d.comb += self.result.ready.eq(status == Status.OK)
                        m.next = "HUNT"
        return m
