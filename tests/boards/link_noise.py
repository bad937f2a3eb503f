# SPDX-License-Identifier: MIT
"""A seeded noisy UART line for the board top: request frames with garbage between them, and the
check that every intact frame got exactly its reply (used by test_link_noise.py and
benchmarks/link_noise.py).

Segments, drawn at random: intact frames (often back to back), garbage bursts with and without
0xA5, frames with 1 or 3 flipped bits (CRC-8 with its x + 1 factor catches every odd count),
truncated frames followed by a quiet line longer than the board's timeout (a sender that stopped;
a truncated frame spliced onto the next one is caught by CRC-8 only 255 times in 256, see
``firstspike.boards.protocol``) and characters with a framing error. Intact frames are the only ones
the board may answer OK.
"""

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from firstspike.boards import protocol
from firstspike.boards.host import ReplyMatcher
from firstspike.boards.protocol import Reply, Status

from .standin import standin_answer
from .uartbits import char_bits, line_bits

KINDS = ("intact", "garbage", "garbage_sync", "flipped", "truncated", "glitch")
WEIGHTS = (0.45, 0.12, 0.15, 0.1, 0.08, 0.1)


@dataclass
class NoisyLine:
    bits: list[int] = field(default_factory=list)  # line level per bit time
    intact: list[tuple[int, bytes]] = field(default_factory=list)  # (seq, pixels) in send order
    kinds: Counter = field(default_factory=Counter)


def noisy_line(seed: int, frames: int, n_pixels: int, timeout_bits: int) -> NoisyLine:
    """``frames`` intact frames with seeded noise segments between them."""
    rng = np.random.default_rng(seed)
    line = NoisyLine()
    seq = 0

    def idle(bits):
        line.bits.extend([1] * bits)

    def garbage(size, with_sync):
        data = [int(b) for b in rng.integers(0, 256, size)]
        data = [b for b in data if b != protocol.REQUEST_SYNC] or [0]
        if with_sync:  # one to three 0xA5, one of them often last (right before what follows)
            for _ in range(int(rng.integers(1, 4))):
                data.insert(int(rng.integers(0, len(data) + 1)), protocol.REQUEST_SYNC)
            if rng.random() < 0.5:
                data.append(protocol.REQUEST_SYNC)
        return bytes(data)

    while len(line.intact) < frames:
        kind = KINDS[rng.choice(len(KINDS), p=WEIGHTS)]
        line.kinds[kind] += 1
        pixels = rng.integers(0, 256, n_pixels, dtype=np.uint8)
        frame = protocol.encode_request(seq, pixels)
        seq = (seq + 1) & 0xFF
        if kind == "intact":
            line.bits += line_bits(frame)
            line.intact.append((frame[1], pixels.tobytes()))
        elif kind in ("garbage", "garbage_sync"):
            line.bits += line_bits(garbage(int(rng.integers(1, 24)), kind == "garbage_sync"))
        elif kind == "flipped":
            damaged = bytearray(frame)
            for bit in rng.choice(len(frame) * 8, size=int(rng.choice([1, 3])), replace=False):
                damaged[bit // 8] ^= 1 << (bit % 8)
            line.bits += line_bits(bytes(damaged))
        elif kind == "truncated":
            line.bits += line_bits(frame[:int(rng.integers(1, len(frame)))])
            idle(timeout_bits + 20)
        else:  # a character without its stop bit, then the line idles for a bit
            line.bits += char_bits(int(rng.integers(0, 256)), stop=0) + [1]
        if rng.random() < 0.3:  # otherwise back to back
            idle(int(rng.integers(1, 40)))
    idle(20)
    return line


@dataclass
class Outcome:
    lost: int  # intact frames without their OK reply
    wrong_ok: int  # OK replies that answer no intact frame (or answer it wrongly)
    host_wrong: int  # replies the host matcher paired with an intact frame whose answer they are not
    host_missing: int  # intact frames the host matcher found no OK reply for
    statuses: Counter
    damaged_reply_bytes: int

    def summary(self) -> str:
        return (f"lost {self.lost}, wrong OK replies {self.wrong_ok}, host matched wrong "
                f"{self.host_wrong}, host missing {self.host_missing}, replies {dict(self.statuses)}")


def check_replies(line: NoisyLine, chars: list) -> Outcome:
    """Compare the board's reply characters with the intact frames of ``line``."""
    expected = [Reply(Status.OK, seq, *standin_answer(pixels)) for seq, pixels in line.intact]
    matcher = ReplyMatcher()
    data = bytes(c for c in chars if c is not None and c >= 0)
    matcher.feed(data)
    replies = list(matcher.queue)
    got_ok = [r for r in replies if r.status == Status.OK]
    # the OK replies must be exactly the intact frames' answers, in order
    lost = wrong = 0
    k = 0
    for reply in got_ok:
        while k < len(expected) and expected[k] != reply:
            lost += 1
            k += 1
        if k == len(expected):
            wrong += 1
        else:
            k += 1
    lost += len(expected) - k
    # the host's view: for each intact frame, its seq's next OK reply (other replies skipped)
    host_wrong = host_missing = 0
    for want in expected:
        reply = matcher.take(want.seq)
        while reply is not None and reply.status != Status.OK:
            reply = matcher.take(want.seq)
        if reply is None:  # the matcher skipped every later reply: the rest count as missing
            host_missing += 1
        elif reply != want:
            host_wrong += 1
    return Outcome(lost, wrong, host_wrong, host_missing, Counter(Status(r.status).name for r in replies),
                   matcher.reader.damaged)

