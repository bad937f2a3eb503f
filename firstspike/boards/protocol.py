# SPDX-License-Identifier: MIT
"""The framed UART protocol between a host and a board running the TTFS core.

Shared by the gateware (:mod:`firstspike.boards.frontend` builds its CRC processor from :data:`CRC`
and takes its constants from here), by ``firstspike infer`` and by the tests.

Request (host -> board), ``5 + n`` bytes::

    0xA5  seq  len_lo  len_hi  pixel[0] ... pixel[n-1]  crc

``seq`` is any byte the board echoes back; ``len`` is the pixel count ``n`` (little-endian), which
must equal the network's input size; pixels are the image's 8-bit grey levels, row-major; ``crc``
is CRC-8/SMBUS (polynomial 0x07, initial value 0, no reflection, no final xor; :data:`CRC`) over
every byte after the sync byte (``seq`` .. ``pixel[n-1]``).

Reply (board -> host), always :data:`REPLY_BYTES` = 11 bytes::

    0x5A  status  seq  class  step_lo  step_hi  cycles[0..3] (little-endian)  crc

``status`` is a :class:`Status`; on an error the class, step and cycles are 0. ``crc`` covers
``status`` .. ``cycles[3]``.

Error handling on the board (``firstspike.boards.frontend``): every received character is kept in
a ring buffer that the UART always writes. A 0xA5 starts a *candidate* frame, which fails on a
length other than the network's input size (``BAD_LENGTH``), a CRC mismatch (``BAD_CRC``), a hole
in the byte stream inside it (``BAD_FRAMING``: a UART framing error or a character lost to a full
ring), or the line going quiet for the timeout before its last byte (``TIMEOUT``). A failed
candidate is never fed to the core; the board goes back to the byte after its 0xA5 and hunts for
the next 0xA5 among the bytes already received, so a frame behind a stray 0xA5, a bad frame or a
truncated frame is still found, and frames sent back to back are all answered.

Which failures are answered: a failed candidate whose ``seq`` byte was received gets an error reply
with that ``seq`` (except a wrong length on a 0xA5 met again while re-scanning the bytes of an
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
    "ProtocolError",
    "Reply",
    "Status",
    "decode_reply",
    "encode_reply",
    "encode_request",
]

REQUEST_SYNC = 0xA5
#: Request bytes besides the pixels: sync, seq, len_lo, len_hi, crc.
REQUEST_OVERHEAD = 5
REPLY_SYNC = 0x5A
REPLY_BYTES = 11
#: The frame check: CRC-8/SMBUS over bytes. ``CRC.compute(data)`` on the host, ``CRC.create()`` in gateware.
CRC = catalog.CRC8_SMBUS(data_width=8)


class Status(enum.IntEnum):
    """Reply status byte."""

    OK = 0
    BAD_CRC = 1  # the frame's CRC did not match its contents
    BAD_LENGTH = 2  # the header's pixel count differs from the network's input size
    TIMEOUT = 3  # the frame stopped arriving before its last byte
    BAD_FRAMING = 4  # a UART character had no stop bit (wrong baud rate or line noise)


class ProtocolError(RuntimeError):
    """A reply that cannot be decoded (wrong sync, wrong length, bad CRC)."""


def encode_request(seq: int, pixels) -> bytes:
    """One request frame for an image (any shape; flattened row-major; values 0..255)."""
    flat = np.asarray(pixels).reshape(-1)
    if flat.dtype.kind not in "iu" or (flat.size and (flat.min() < 0 or flat.max() > 255)):
        raise ValueError("pixels must be integers 0..255; convert images to uint8 first")
    if not 0 <= seq <= 255:
        raise ValueError(f"seq must be a byte 0..255, not {seq!r}")
    if not 1 <= flat.size <= 0xFFFF:
        raise ValueError(f"an image must have 1..65535 pixels, not {flat.size}")
    body = bytes([seq, flat.size & 0xFF, flat.size >> 8]) + flat.astype(np.uint8).tobytes()
    return bytes([REQUEST_SYNC]) + body + bytes([CRC.compute(body)])


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
