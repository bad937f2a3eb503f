# SPDX-License-Identifier: MIT
"""Host side of the UART protocol: send images, check each reply against the golden model."""

import time
from collections import deque

import numpy as np

from ..model import data as datamod
from ..model.infer import run
from ..model.network import Network
from . import protocol
from .protocol import Status

__all__ = ["Expected", "ReplyMatcher", "ReplyReader", "exchange", "expected_replies", "infer_serial",
           "reply_mismatch"]


class Expected:
    """Golden-model answers for a batch: class and decision step (hardware rule), and the exact
    cycle counts when the lane count is known."""

    def __init__(self, net: Network, images: np.ndarray, lanes: int | None = None):
        flat = np.asarray(images).reshape(len(images), -1)
        self.cls, self.step = run(net, flat).hardware_decision()
        self.cycles = None
        if lanes is not None:
            from ..export.plan import build_plan
            from ..rtl.cycles import predict_cycles

            self.cycles = np.asarray(predict_cycles(build_plan(net, lanes), flat), dtype=np.int64)


def expected_replies(net, images, lanes=None) -> Expected:
    return Expected(net, images, lanes)


def reply_mismatch(expected: Expected, index: int, reply: protocol.Reply, seq: int) -> str | None:
    """Why ``reply`` is not the golden answer for image ``index`` (None when it is)."""
    if reply.status != Status.OK:
        return f"image {index}: board replied {reply.status.name}"
    if reply.seq != seq:
        return f"image {index}: reply for seq {reply.seq}, expected {seq}"
    want = (int(expected.cls[index]), int(expected.step[index]))
    if (reply.cls, reply.step) != want:
        return f"image {index}: board says class {reply.cls} at step {reply.step}, golden model {want[0]} at {want[1]}"
    if expected.cycles is not None and reply.cycles != int(expected.cycles[index]):
        return f"image {index}: board took {reply.cycles} cycles, the cycle model predicts {int(expected.cycles[index])}"
    return None


class ReplyReader:
    """Sans-IO reply decoder: :meth:`feed` it received bytes, get the replies they complete.

    It hunts for 0x5A; a candidate whose CRC or status byte is wrong is counted as ``damaged`` and
    the hunt resumes at the byte after its 0x5A, so a reply hidden behind noise is still found.
    ``skipped`` counts bytes that belonged to no reply.
    """

    def __init__(self):
        self.buffer = bytearray()
        self.damaged = 0
        self.skipped = 0

    def feed(self, data: bytes) -> list[protocol.Reply]:
        self.buffer += data
        replies = []
        while True:
            sync = self.buffer.find(protocol.REPLY_SYNC)
            if sync < 0:
                self.skipped += len(self.buffer)
                self.buffer.clear()
                return replies
            self.skipped += sync
            del self.buffer[:sync]
            if len(self.buffer) < protocol.REPLY_BYTES:
                return replies
            try:
                replies.append(protocol.decode_reply(bytes(self.buffer[:protocol.REPLY_BYTES])))
                del self.buffer[:protocol.REPLY_BYTES]
            except protocol.ProtocolError:
                self.damaged += 1
                self.skipped += 1
                del self.buffer[:1]


class ReplyMatcher:
    """Pairs decoded replies with requests by ``seq`` (sans-IO): :meth:`feed` it received bytes,
    :meth:`take` the next reply for a ``seq``; replies queued before it for any other ``seq`` (late
    replies to earlier requests, duplicates, error replies caused by noise) are counted in
    ``skipped`` and dropped."""

    def __init__(self):
        self.reader = ReplyReader()
        self.queue: deque[protocol.Reply] = deque()
        self.skipped = 0

    def feed(self, data: bytes) -> None:
        self.queue.extend(self.reader.feed(data))

    def take(self, seq: int) -> protocol.Reply | None:
        while self.queue:
            reply = self.queue.popleft()
            if reply.seq == seq:
                return reply
            self.skipped += 1
        return None


def exchange(port, matcher: ReplyMatcher, seq: int, frame: bytes, timeout: float,
             retries: int, tally: dict) -> protocol.Reply | None:
    """Send ``frame`` and wait for its OK reply, resending on a missing or error reply up to
    ``retries`` times; returns the OK reply, else the last error reply, else None."""
    last = None
    for attempt in range(retries + 1):
        if attempt:
            tally["retries"] += 1
        port.write(frame)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            matcher.feed(port.read(protocol.REPLY_BYTES))
            reply = matcher.take(seq)
            if reply is not None:
                if reply.status == Status.OK:
                    return reply
                last = reply
                break
    return last


def infer_serial(port_name: str, model_path, *, dataset="mnist", data_dir=None, limit=100, baud=115200,
                 timeout=2.0, lanes=None, retries=2, serial_module=None) -> dict:
    """Classify ``limit`` test images on a board and compare every reply with the golden model.

    One request at a time: a missing or error reply is retried up to ``retries`` times, replies are
    matched by ``seq`` (late and duplicated ones are skipped) and damaged reply bytes are resynced
    on; the summary counts all of it and is returned even when the port fails mid-run."""
    if not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be an integer >= 0, not {retries!r}")
    if serial_module is None:
        try:
            import serial as serial_module
        except ImportError:
            raise RuntimeError("pyserial is missing; pip install pyserial") from None
    net = Network.load(model_path)
    test = datamod.load(dataset, "test", data_dir=data_dir)
    images, labels = test.images[:limit], test.labels[:limit]
    expected = Expected(net, images, lanes)
    try:
        port = serial_module.Serial(port_name, baud, timeout=min(timeout, 0.2))
    except (OSError, serial_module.SerialException) as error:
        raise RuntimeError(f"cannot open {port_name} ({error}); check the cable and the port name "
                           "(ls /dev/ttyUSB* /dev/ttyACM*)") from None
    mismatches, errors, cycles, correct = [], [], [], 0
    tally = {"retries": 0}
    matcher = ReplyMatcher()
    start = time.monotonic()
    try:
        with port:
            port.reset_input_buffer()
            for index, image in enumerate(images):
                seq = index & 0xFF
                reply = exchange(port, matcher, seq, protocol.encode_request(seq, image), timeout,
                                 retries, tally)
                if reply is None:
                    errors.append(f"image {index}: no reply within {timeout} s after {retries + 1} tries")
                    continue
                problem = reply_mismatch(expected, index, reply, seq)
                if problem:
                    (errors if reply.status != Status.OK else mismatches).append(problem)
                    continue
                cycles.append(reply.cycles)
                correct += int(reply.cls == labels[index])
    except (OSError, serial_module.SerialException) as error:
        errors.append(f"the port failed after {len(cycles) + len(mismatches) + len(errors)} images: {error}")
    seconds = time.monotonic() - start
    lost = len(images) - len(cycles) - len(mismatches)  # images without an OK reply
    for line in (mismatches + errors)[:10]:
        print(line)
    link = {"lost": lost, "retries": tally["retries"], "skipped_replies": matcher.skipped,
            "damaged_replies": matcher.reader.damaged, "skipped_bytes": matcher.reader.skipped}
    print("link: " + ", ".join(f"{value} {name.replace('_', ' ')}" for name, value in link.items()))
    return {"images": len(images), "mismatches": len(mismatches), "errors": len(errors), **link,
            "accuracy": correct / max(len(images), 1),
            "cycles_mean": float(np.mean(cycles)) if cycles else 0.0,
            "images_per_s": len(images) / seconds if seconds else 0.0}
