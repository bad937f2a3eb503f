# SPDX-License-Identifier: MIT
"""The framed UART protocol between a host and a board running the TTFS core.

Shared by the gateware (:mod:`firstspike.boards.frontend` builds its CRC processor from :data:`CRC`
and takes its constants from here), by ``firstspike infer`` and by the tests.

Request (host -> board), ``6 + n`` bytes::

    0xA5  seq  kind  len_lo  len_hi  payload[0] ... payload[n-1]  crc

``seq`` is any byte the board echoes back; ``kind`` (a :class:`Kind`, also the protocol version)
says what the payload is; ``len`` is the payload's byte count ``n`` (little-endian); ``crc`` is
CRC-8/SMBUS (polynomial 0x07, initial value 0, no reflection, no final xor; :data:`CRC`) over every
byte after the sync byte (``seq`` .. ``payload[n-1]``).

* ``Kind.RAW``: the image's 8-bit grey levels, row-major; ``n`` must equal the network's input size.
* ``Kind.EVENTS``: the image's input events (:func:`image_events`: the pixels whose spike time is
  effective, by increasing time and, within a time step, by decreasing pixel index: the order the
  core's encoder walks them), as 16-bit little-endian words ``dt << 10 | address``: ``dt`` (0..62)
  is the event's time minus the previous event's (the first counts from time 0), ``address`` the
  pixel index; a word with ``dt = 63`` (written 0xFFFF) carries no event and moves the time on by
  63. ``n`` must be even and at most the network's input size (so an event frame is never longer
  than the raw one: :func:`encode_image` sends raw frames for images with more events). Only
  networks of at most 1,023 inputs take event frames. The board answers ``BAD_EVENTS`` for a frame
  (with a good CRC) holding an address beyond the input size, a time beyond the last effective
  step, or, within one step, an address not below the previous one; a frame naming one pixel at
  two different steps is outside the protocol (answered, but not the golden model's answer).

Reply (board -> host), always :data:`REPLY_BYTES` = 11 bytes::

    0x5A  status  seq  class  step_lo  step_hi  cycles[0..3] (little-endian)  crc

``status`` is a :class:`Status`; on an error the class, step and cycles are 0. ``crc`` covers
``status`` .. ``cycles[3]``.

Error handling on the board (``firstspike.boards.frontend``): every received character is kept in
a ring buffer that the UART always writes. A 0xA5 starts a *candidate* frame, which fails on an
unknown kind (``BAD_KIND``), a length the kind does not allow (``BAD_LENGTH``), a CRC mismatch (``BAD_CRC``), a hole
in the byte stream inside it (``BAD_FRAMING``: a UART framing error or a character lost to a full
ring), or the line going quiet for the timeout before its last byte (``TIMEOUT``). A failed
candidate is never fed to the core; the board goes back to the byte after its 0xA5 and hunts for
the next 0xA5 among the bytes already received, so a frame behind a stray 0xA5, a bad frame or a
truncated frame is still found, and frames sent back to back are all answered.

Which failures are answered: a failed candidate whose ``seq`` byte was received gets an error reply
with that ``seq`` (except a wrong kind or length on a 0xA5 met again while re-scanning the bytes of an
earlier candidate: such a 0xA5 is almost always a pixel value), *best effort*: only when no other
reply is waiting to be sent and the previous error reply was posted at least the board's gap (5 ms)
earlier; otherwise it is not answered. Line noise therefore cannot keep the transmitter busy or
delay the parser, and a stray 0xA5 may cause an error reply for a ``seq`` the host never sent (the
host skips replies it is not waiting for, and takes an error reply only as a reason to resend).
Every frame that passes its CRC gets an ``OK`` reply, in arrival order.

Limits: the ring holds one frame plus two replies' and 16 characters' worth of bytes (rounded up to
a power of two). Frames sent back to back are all answered while the core answers within that
slack (and, over a long burst, while a frame takes at least as long to send as its reply, i.e. 6 or
more pixels); otherwise characters are dropped and the frame they belong to fails as
``BAD_FRAMING``. CRC-8 catches every odd number of flipped bits and every burst up to 8 bits, but
lets through 1 in 256 of other damage, e.g. a truncated frame whose missing bytes are replaced by
the next frame's (so a host that stops mid-frame should pause for the timeout before sending again).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
from amaranth.lib.crc import catalog

__all__ = [
    "REPLY_BYTES",
    "REPLY_SYNC",
    "REQUEST_OVERHEAD",
    "REQUEST_SYNC",
    "CRC",
    "EVENT_SKIP",
    "Kind",
    "MAX_EVENT_INPUTS",
    "ProtocolError",
    "Reply",
    "Status",
    "decode_reply",
    "encode_reply",
    "encode_events",
    "encode_image",
    "encode_request",
    "image_events",
]

REQUEST_SYNC = 0xA5
#: Request bytes besides the payload: sync, seq, kind, len_lo, len_hi, crc.
REQUEST_OVERHEAD = 6
#: Bits of an event word's address field; an event frame's network has at most this many inputs.
EVENT_ADDRESS_BITS = 10
MAX_EVENT_INPUTS = (1 << EVENT_ADDRESS_BITS) - 1
#: The time step of an event word (6 bits); this value marks a word without an event.
EVENT_SKIP = 63
#: Offsets inside a request frame.
SEQ_AT, KIND_AT, PAYLOAD_AT = 1, 2, 5
REPLY_SYNC = 0x5A
REPLY_BYTES = 11
#: The frame check: CRC-8/SMBUS over bytes. ``CRC.compute(data)`` on the host, ``CRC.create()`` in gateware.
CRC = catalog.CRC8_SMBUS(data_width=8)


class Kind(enum.IntEnum):
    """Request kind byte (what the payload holds)."""

    RAW = 0x21  # 8-bit pixels
    EVENTS = 0x22  # input events (address, time step)


class Status(enum.IntEnum):
    """Reply status byte."""

    OK = 0
    BAD_CRC = 1  # the frame's CRC did not match its contents
    BAD_LENGTH = 2  # the header's pixel count differs from the network's input size
    TIMEOUT = 3  # the frame stopped arriving before its last byte
    BAD_FRAMING = 4  # a UART character had no stop bit (wrong baud rate or line noise)
    BAD_KIND = 5  # the kind byte is unknown, or event frames on a board that does not take them
    BAD_EVENTS = 6  # an event frame out of order, or with an address or time out of range


class ProtocolError(RuntimeError):
    """A reply that cannot be decoded (wrong sync, wrong length, bad CRC)."""


def _pixels(pixels) -> np.ndarray:
    flat = np.asarray(pixels).reshape(-1)
    if flat.dtype.kind not in "iu" or (flat.size and (flat.min() < 0 or flat.max() > 255)):
        raise ValueError("pixels must be integers 0..255; convert images to uint8 first")
    if not 1 <= flat.size <= 0xFFFF:
        raise ValueError(f"an image must have 1..65535 pixels, not {flat.size}")
    return flat


def _frame(seq: int, kind: Kind, payload: bytes) -> bytes:
    if not 0 <= seq <= 255:
        raise ValueError(f"seq must be a byte 0..255, not {seq!r}")
    body = bytes([seq, int(kind), len(payload) & 0xFF, len(payload) >> 8]) + payload
    return bytes([REQUEST_SYNC]) + body + bytes([CRC.compute(body)])


def encode_request(seq: int, pixels) -> bytes:
    """One raw request frame for an image (any shape; flattened row-major; values 0..255)."""
    return _frame(seq, Kind.RAW, _pixels(pixels).astype(np.uint8).tobytes())


def image_events(pixels, encoding: str, T: int) -> tuple[np.ndarray, np.ndarray]:
    """``(addresses, times)`` of an image's input events in the core encoder's order: effective
    spike times (``spec.encode``, at most ``T - 2``) increasing, pixel index decreasing within a step."""
    from ..rtl.events import input_events

    return input_events(_pixels(pixels), encoding, T)


def encode_events(seq: int, addresses, times) -> bytes:
    """One event request frame for events already in order (:func:`image_events`)."""
    words, now, previous = [], 0, None
    for address, time in zip(np.asarray(addresses).tolist(), np.asarray(times).tolist()):
        if not 0 <= address < MAX_EVENT_INPUTS:
            raise ValueError(f"event address {address} is out of range 0..{MAX_EVENT_INPUTS - 1}")
        if time < now or (time == now and previous is not None and address >= previous):
            raise ValueError("events must come by increasing time, decreasing address within a step "
                             "(use image_events)")
        while time - now >= EVENT_SKIP:
            words.append(0xFFFF)
            now += EVENT_SKIP
        words.append((time - now) << EVENT_ADDRESS_BITS | address)
        now, previous = time, address
    return _frame(seq, Kind.EVENTS, np.asarray(words, dtype="<u2").tobytes())


def encode_image(seq: int, pixels, frames: str = "events", encoding: str = "bs4nn", T: int = 256) -> bytes:
    """The request for an image: ``frames="events"`` sends an event frame unless it would be longer
    than the raw frame (or the image has more than 1,023 pixels), then a raw one; ``"raw"`` always raw."""
    if frames not in ("events", "raw"):
        raise ValueError(f"frames must be 'events' or 'raw', not {frames!r}")
    flat = _pixels(pixels)
    if frames == "events" and flat.size <= MAX_EVENT_INPUTS:
        frame = encode_events(seq, *image_events(flat, encoding, T))
        if len(frame) <= flat.size + REQUEST_OVERHEAD:
            return frame
    return encode_request(seq, flat)


@dataclass(frozen=True)
class Reply:
    status: Status
    seq: int
    cls: int
    step: int
    cycles: int


def encode_reply(reply: Reply) -> bytes:
    """The bytes a board sends for ``reply`` (used by tests and the gateware's reference)."""
    body = bytes([int(reply.status), reply.seq, reply.cls]) + reply.step.to_bytes(2, "little") \
        + reply.cycles.to_bytes(4, "little")
    return bytes([REPLY_SYNC]) + body + bytes([CRC.compute(body)])


def decode_reply(data: bytes) -> Reply:
    """Decode exactly one reply; raises :class:`ProtocolError` when it is malformed."""
    if len(data) != REPLY_BYTES:
        raise ProtocolError(f"a reply has {REPLY_BYTES} bytes, got {len(data)}: {data.hex()}")
    if data[0] != REPLY_SYNC:
        raise ProtocolError(f"reply starts with 0x{data[0]:02x}, expected 0x{REPLY_SYNC:02x}")
    check = CRC.compute(data[1:-1])
    if check != data[-1]:
        raise ProtocolError(f"reply CRC mismatch (0x{check:02x} != 0x{data[-1]:02x}): {data.hex()}")
    try:
        status = Status(data[1])
    except ValueError:
        raise ProtocolError(f"unknown status byte {data[1]}") from None
    return Reply(status=status, seq=data[2], cls=data[3],
                 step=int.from_bytes(data[4:6], "little"),
                 cycles=int.from_bytes(data[6:10], "little"))
