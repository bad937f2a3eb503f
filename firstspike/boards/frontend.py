# SPDX-License-Identifier: MIT
"""The framed-protocol front end between a UART and the TTFS core (see :mod:`.protocol`).

:class:`ByteRing` keeps the received characters, :class:`FrameReceiver` finds and checks request
frames in them and releases only checked images, :class:`ReplySender` turns one reply record into
reply bytes, and :class:`FrontEnd` joins them with the core.
"""

from amaranth.hdl import Array, Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from . import protocol
from ..rtl.tokens import EVENT_LAYOUT
from .protocol import Status

__all__ = ["ByteRing", "FrameReceiver", "FrontEnd", "REPLY_FIELDS", "RESULT_FIELDS", "ReplySender",
           "STORED_FIELDS", "VERDICT_FIELDS", "ring_depth"]

#: Fields of the core's result stream (``firstspike.rtl.core.RESULT_LAYOUT``).
RESULT_FIELDS = data.StructLayout({"cls": unsigned(8), "step": unsigned(16), "cycles": unsigned(32)})
#: The receiver's verdict on one frame: a :class:`~.protocol.Status` and the frame's ``seq``.
VERDICT_FIELDS = data.StructLayout({"status": unsigned(8), "seq": unsigned(8)})
#: One reply, in wire order (:class:`~.protocol.Reply`).
REPLY_FIELDS = data.StructLayout({"status": unsigned(8), "seq": unsigned(8), "result": RESULT_FIELDS})
#: One received character in the ring; ``broken``: characters were lost just before it.
STORED_FIELDS = data.StructLayout({"byte": unsigned(8), "broken": unsigned(1)})

#: Ring bytes beyond one frame: two replies (an error reply, then the frame's own) and a core that
#: answers within 16 character times, during which the parser waits and the next frame arrives.
RING_HEADROOM = 2 * protocol.REPLY_BYTES + 16


def ring_depth(n_pixels: int) -> int:
    """Receive-ring bytes for ``n_pixels``-pixel frames: a power of two holding a frame plus
    :data:`RING_HEADROOM` (1,024 for 784 pixels)."""
    return 1 << (n_pixels + protocol.REQUEST_OVERHEAD + RING_HEADROOM - 1).bit_length()


class ByteRing(wiring.Component):
    """Stores every received character in a ring of ``depth`` bytes (a power of two) that the frame
    parser reads at any position; the UART side is never held up.

    Positions count characters since reset (one bit wider than the address). A byte is marked
    ``broken`` when the stream has a hole just before it: a UART framing error, or characters lost
    because the ring was full (bytes from ``keep_from`` to ``write_pos`` are kept; while they fill
    the ring, new characters are dropped and ``overflow`` pulses).

    Members
    -------
    rx : In(stream.Signature(8))
        Received characters; always accepted.
    rx_error : In(1)
        A UART framing error (a pulse): the next stored byte is marked ``broken``.
    write_pos : Out(width)
        Position the next character goes to (= characters stored so far).
    keep_from : In(width)
        Oldest position the reader still needs.
    read_pos : In(width)
        Position to read; its byte appears on ``read_data`` in the next cycle (a byte written in
        this cycle included).
    read_data : Out(STORED_FIELDS)
    overflow : Out(1)
        Pulses for each character dropped because the ring was full.
    """

    def __init__(self, depth: int):
        if not isinstance(depth, int) or depth < 2 or depth & (depth - 1):
            raise ValueError(f"the ring depth must be a power of two >= 2, not {depth!r}")
        self.depth = depth
        width = depth.bit_length()  # address bits + 1, so a full ring differs from an empty one
        super().__init__({
            "rx": In(stream.Signature(unsigned(8))), "rx_error": In(1),
            "write_pos": Out(width), "keep_from": In(width),
            "read_pos": In(width), "read_data": Out(STORED_FIELDS), "overflow": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.memory = memory = Memory(shape=STORED_FIELDS, depth=self.depth, init=[])
        write = memory.write_port()
        read = memory.read_port(transparent_for=(write,))
        address = slice(0, self.depth.bit_length() - 1)
        hole = Signal()  # characters were lost since the last stored byte
        full = (self.write_pos - self.keep_from)[:len(self.write_pos)] == self.depth
        m.d.comb += [
            self.rx.ready.eq(1),
            write.addr.eq(self.write_pos[address]),
            write.data.byte.eq(self.rx.payload), write.data.broken.eq(hole),
            read.addr.eq(self.read_pos[address]), self.read_data.eq(read.data),
        ]
        with m.If(self.rx.valid):
            with m.If(full):
                m.d.comb += self.overflow.eq(1)
                m.d.sync += hole.eq(1)
            with m.Else():
                m.d.comb += write.en.eq(1)
                m.d.sync += [self.write_pos.eq(self.write_pos + 1), hole.eq(0)]
        with m.If(self.rx_error):
            m.d.sync += hole.eq(1)
        return m


class FrameReceiver(wiring.Component):
    """Finds request frames in the received bytes; streams a frame's image only after its CRC
    matched, then its verdict; answers some failed candidates (see :mod:`.protocol`).

    Every character goes into a :class:`ByteRing`. A 0xA5 starts a candidate frame; when the
    candidate fails (wrong length, bad CRC, a hole in the stream, or the line quiet for ``timeout``
    cycles before its end) the parser goes back to the byte after that 0xA5 and hunts again through
    the bytes already stored, so a real frame behind a stray 0xA5 or a truncated frame is still
    found. A checked image is read a second time from the ring to feed ``pixels`` (raw frames) or
    ``events`` (event frames, whose order and ranges are checked along with the CRC; given
    ``max_event_time``, the last effective time step, else event frames fail as ``BAD_KIND``).

    Members
    -------
    rx : In(stream.Signature(8))
        Received characters; always accepted, also while an image is fed or a reply is sent.
    rx_error : In(1)
        A UART framing error (a pulse).
    pixels : Out(stream.Signature(8))
        The checked image of a raw frame, ``n_pixels`` bytes row-major.
    events : Out(stream.Signature(EVENT_LAYOUT))
        The checked image of an event frame: its events (address, absolute time), then ``end``.
    verdict : Out(stream.Signature(VERDICT_FIELDS))
        ``OK`` after a frame's image; error verdicts for failed candidates in between (not for a
        wrong length met in a re-scan), each posted only when no other verdict is waiting and
        ``gap`` cycles after the previous one (never holding up the parser, so noise cannot flood
        the reply line).
    busy : Out(1)
        High while a candidate frame is being checked or fed.
    overflow : Out(1)
        Pulses for each character dropped because the ring was full.
    """

    rx: In(stream.Signature(unsigned(8)))
    rx_error: In(1)
    pixels: Out(stream.Signature(unsigned(8)))
    events: Out(stream.Signature(EVENT_LAYOUT))
    verdict: Out(stream.Signature(VERDICT_FIELDS))
    busy: Out(1)
    overflow: Out(1)

    def __init__(self, n_pixels: int, timeout: int, gap: int, depth: int | None = None,
                 max_event_time: int | None = None):
        for name, value in (("n_pixels", n_pixels), ("timeout", timeout), ("gap", gap)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        if n_pixels > 0xFFFF:
            raise ValueError(f"n_pixels must fit the 16-bit length field, not {n_pixels}")
        depth = ring_depth(n_pixels) if depth is None else depth
        if not isinstance(depth, int) or depth < n_pixels + protocol.REQUEST_OVERHEAD:
            raise ValueError(f"the receive ring ({depth!r} bytes) must hold a whole frame "
                             f"({n_pixels + protocol.REQUEST_OVERHEAD} bytes); leave depth=None")
        self.n_pixels, self.timeout, self.gap = n_pixels, timeout, gap
        # event frames: only when the core takes events and the addresses fit an event word
        self.max_event_time = max_event_time if n_pixels <= protocol.MAX_EVENT_INPUTS else None
        self.ring = ByteRing(depth)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        n = self.n_pixels
        m.submodules.ring = ring = self.ring
        m.submodules.crc = crc = protocol.CRC.create()
        wiring.connect(m, line=wiring.flipped(self.rx), ring=ring.rx)
        m.d.comb += [ring.rx_error.eq(self.rx_error), self.overflow.eq(ring.overflow)]

        quiet = Signal(range(self.timeout + 1))  # cycles since the last received character
        with m.If(self.rx.valid | self.rx_error):
            m.d.sync += quiet.eq(0)
        with m.Elif(quiet != self.timeout):
            m.d.sync += quiet.eq(quiet + 1)

        width = len(ring.write_pos)
        start = Signal(width)  # the candidate's 0xA5 (in HUNT: the next byte to look at)
        here = Signal(width)  # the byte on ring.read_data
        going = Signal(width)  # the byte to read next
        frontier = Signal(width)  # one past the furthest byte looked at: later bytes are fresh
        fresh = Signal()  # the candidate's 0xA5 was fresh (not met again in a re-scan)
        offset = (here - start)[:width]  # index of `here` inside the candidate frame
        m.d.comb += [going.eq(here), ring.read_pos.eq(going), ring.keep_from.eq(start)]
        m.d.sync += here.eq(going)
        byte, broken = ring.read_data.byte, ring.read_data.broken
        arrived = here != ring.write_pos

        seq, length_lo = Signal(8), Signal(8)
        length = Signal(16)  # payload bytes
        is_events = Signal()
        m.d.comb += [crc.data.eq(byte), self.pixels.payload.eq(byte)]

        # event words: low byte kept, fields of the word completed by `byte`
        word_lo = Signal(8)
        dt = byte[2:8]
        address = Cat(word_lo, byte[:2])
        skip = dt == protocol.EVENT_SKIP
        payload_index = (offset - protocol.PAYLOAD_AT)[:width]
        # checking pass: time so far, previous address of this step, a violation seen
        now, previous, have_previous, bad_events = Signal(16), Signal(10), Signal(), Signal()

        # error verdicts: one waiting at a time, at most one per `gap` cycles
        error_waiting, error_status, error_seq = Signal(), Signal(8), Signal(8)
        holdoff = Signal(range(self.gap + 1))
        with m.If(holdoff != 0):
            m.d.sync += holdoff.eq(holdoff - 1)

        def reject(status):
            """Drop the candidate, hunt again from the byte after its 0xA5; answer it if possible."""
            m.d.comb += going.eq(start + 1)
            m.d.sync += start.eq(start + 1)
            m.next = "HUNT"
            answer = offset > 1  # its seq byte was read
            if status in (Status.BAD_LENGTH, Status.BAD_KIND):  # not on a 0xA5 met again in a re-scan
                answer = answer & fresh
            with m.If(answer & ~error_waiting & (holdoff == 0)):
                m.d.sync += [error_waiting.eq(1), error_status.eq(status), error_seq.eq(seq),
                             holdoff.eq(self.gap)]

        def take():
            m.d.comb += [crc.valid.eq(1), going.eq(here + 1)]

        ok_waiting = Signal()
        verdict = self.verdict
        m.d.comb += [
            verdict.valid.eq(error_waiting | ok_waiting),
            verdict.payload.status.eq(Mux(error_waiting, error_status, Status.OK)),
            verdict.payload.seq.eq(Mux(error_waiting, error_seq, seq)),
        ]
        with m.If(verdict.ready & error_waiting):
            m.d.sync += error_waiting.eq(0)

        with m.If(arrived & (here == frontier) & (going != here)):
            m.d.sync += frontier.eq(here + 1)

        events_ok = self.max_event_time is not None
        kind = byte
        kind_known = (kind == protocol.Kind.RAW) | ((kind == protocol.Kind.EVENTS) if events_ok else 0)
        new_length = Cat(length_lo, byte)
        length_ok = Mux(is_events, (new_length[0] == 0) & (new_length <= n), new_length == n)
        end = start + length + protocol.REQUEST_OVERHEAD  # one past the frame's crc byte

        def check_word():
            """Check an event word (its high byte on `byte`) for range and order."""
            later = (now + dt)[:16]
            with m.If(skip):  # a later step: the next event starts a new one
                m.d.sync += [now.eq(now + protocol.EVENT_SKIP), have_previous.eq(0)]
            with m.Else():
                out_of_order = (dt == 0) & have_previous & (address >= previous)
                limit = self.max_event_time if events_ok else 0
                with m.If((address >= n) | (later > limit) | out_of_order):
                    m.d.sync += bad_events.eq(1)
                m.d.sync += [now.eq(later), previous.eq(address), have_previous.eq(1)]

        with m.FSM():
            with m.State("HUNT"):  # here == start
                with m.If(arrived):
                    m.d.comb += going.eq(here + 1)
                    with m.If(byte == protocol.REQUEST_SYNC):
                        m.d.comb += crc.start.eq(1)
                        m.d.sync += [fresh.eq(here == frontier), now.eq(0), have_previous.eq(0),
                                     bad_events.eq(0)]
                        m.next = "FRAME"
                    with m.Else():
                        m.d.sync += start.eq(here + 1)
            with m.State("FRAME"):
                m.d.comb += self.busy.eq(1)
                with m.If(arrived):
                    with m.If(broken):
                        reject(Status.BAD_FRAMING)
                    with m.Elif(offset == protocol.SEQ_AT):
                        take()
                        m.d.sync += seq.eq(byte)
                    with m.Elif(offset == protocol.KIND_AT):
                        with m.If(kind_known):
                            take()
                            m.d.sync += is_events.eq(kind == protocol.Kind.EVENTS)
                        with m.Else():
                            reject(Status.BAD_KIND)
                    with m.Elif(offset == protocol.KIND_AT + 1):
                        take()
                        m.d.sync += length_lo.eq(byte)
                    with m.Elif(offset == protocol.KIND_AT + 2):
                        with m.If(length_ok):
                            take()
                            m.d.sync += length.eq(new_length)
                        with m.Else():
                            reject(Status.BAD_LENGTH)
                    with m.Elif(offset == length + protocol.PAYLOAD_AT):
                        with m.If(byte != crc.crc):
                            reject(Status.BAD_CRC)
                        with m.Elif(is_events & bad_events):
                            reject(Status.BAD_EVENTS)
                        with m.Else():
                            # read the image again, for the core
                            m.d.comb += going.eq(start + protocol.PAYLOAD_AT)
                            m.d.sync += now.eq(0)
                            with m.If(is_events):
                                m.next = "FEED_EVENTS"
                            with m.Else():
                                m.next = "FEED"
                    with m.Else():
                        take()
                        with m.If(is_events):
                            with m.If(~payload_index[0]):
                                m.d.sync += word_lo.eq(byte)
                            with m.Else():
                                check_word()
                with m.Elif(quiet == self.timeout):
                    reject(Status.TIMEOUT)
            with m.State("FEED"):
                m.d.comb += [self.busy.eq(1), self.pixels.valid.eq(1)]
                with m.If(self.pixels.ready):
                    m.d.comb += going.eq(here + 1)
                    with m.If(offset == n + protocol.PAYLOAD_AT - 1):
                        m.d.comb += going.eq(end)
                        m.d.sync += start.eq(end)
                        m.next = "ANSWER"
            with m.State("FEED_EVENTS"):  # `now`: the time of the events so far
                m.d.comb += [self.busy.eq(1), self.events.payload.address.eq(address),
                             self.events.payload.time.eq(now + dt)]
                with m.If(offset == length + protocol.PAYLOAD_AT):  # past the payload: the end record
                    m.d.comb += [self.events.valid.eq(1), self.events.payload.end.eq(1)]
                    with m.If(self.events.ready):
                        m.d.comb += going.eq(end)
                        m.d.sync += start.eq(end)
                        m.next = "ANSWER"
                with m.Elif(~payload_index[0]):
                    m.d.comb += going.eq(here + 1)
                    m.d.sync += word_lo.eq(byte)
                with m.Elif(skip):
                    m.d.comb += going.eq(here + 1)
                    m.d.sync += now.eq(now + protocol.EVENT_SKIP)
                with m.Else():
                    m.d.comb += self.events.valid.eq(1)
                    with m.If(self.events.ready):
                        m.d.comb += going.eq(here + 1)
                        m.d.sync += now.eq(now + dt)
            with m.State("ANSWER"):  # here == start: the frame's bytes are free again
                m.d.comb += [self.busy.eq(1), ok_waiting.eq(~error_waiting)]
                with m.If(verdict.ready & ok_waiting):
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
        Received characters; always accepted and kept (see :class:`FrameReceiver`).
    rx_error : In(1)
        A UART framing error (a pulse).
    tx : Out(stream.Signature(8))
        Reply characters.
    pixels : Out(stream.Signature(8))
        The image of a raw frame, ``n_pixels`` bytes row-major; back-pressured by the core.
    events : Out(stream.Signature(EVENT_LAYOUT))
        The image of an event frame: its input events, then ``end``; back-pressured by the core.
    result : In(stream.Signature(RESULT_FIELDS))
        The core's answer for the image it was fed; acknowledged with its reply's last byte.
    last_class : Out(4)
        Class of the last successful inference (for LEDs).
    busy : Out(1)
        High while a candidate frame is checked, fed, or waits for its reply to be sent.
    """

    rx: In(stream.Signature(unsigned(8)))
    rx_error: In(1)
    tx: Out(stream.Signature(unsigned(8)))
    pixels: Out(stream.Signature(unsigned(8)))
    events: Out(stream.Signature(EVENT_LAYOUT))
    result: In(stream.Signature(RESULT_FIELDS))
    last_class: Out(4)
    busy: Out(1)

    def __init__(self, n_pixels: int, timeout: int, gap: int, max_event_time: int | None = None):
        self.receiver = FrameReceiver(n_pixels, timeout=timeout, gap=gap, max_event_time=max_event_time)
        self.sender = ReplySender()
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.receiver = receiver = self.receiver
        m.submodules.sender = sender = self.sender
        wiring.connect(m, line=wiring.flipped(self.rx), receiver=receiver.rx)
        wiring.connect(m, receiver=receiver.pixels, core=wiring.flipped(self.pixels))
        wiring.connect(m, receiver=receiver.events, core=wiring.flipped(self.events))
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
