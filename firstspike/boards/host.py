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

__all__ = ["Expected", "ReplyMatcher", "ReplyReader", "expected_replies", "infer_serial",
           "pipeline", "reply_mismatch", "request_frames"]


class Expected:
    """Golden-model answers for a batch: class and decision step (hardware rule), and the exact
    cycle counts when the lane count is known (``event_fed[i]``: image ``i`` went as an event frame,
    whose count starts at the first event)."""

    def __init__(self, net: Network, images: np.ndarray, lanes: int | None = None, event_fed=None):
        flat = np.asarray(images).reshape(len(images), -1)
        self.cls, self.step = run(net, flat).hardware_decision()
        self.cycles = None
        if lanes is not None:
            from ..export.plan import build_plan
            from ..rtl.cycles import event_load_cycles, predict_cycles

            plan = build_plan(net, lanes)
            self.cycles = np.asarray(predict_cycles(plan, flat), dtype=np.int64)
            if event_fed is not None:
                self.cycles += np.where(event_fed, event_load_cycles(plan, flat), 0)


def expected_replies(net, images, lanes=None, event_fed=None) -> Expected:
    return Expected(net, images, lanes, event_fed)


def request_frames(net: Network, images, frames: str = "events") -> tuple[list[bytes], np.ndarray]:
    """The request of every image (seq = index mod 256) and which of them are event frames."""
    out = [protocol.encode_image(i & 0xFF, image, frames, net.encoding, net.T) for i, image in enumerate(images)]
    return out, np.array([f[protocol.KIND_AT] == protocol.Kind.EVENTS for f in out], dtype=bool)


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

    def drain(self) -> list[protocol.Reply]:
        """Every reply decoded so far, in arrival order."""
        replies = list(self.queue)
        self.queue.clear()
        return replies

    def take(self, seq: int) -> protocol.Reply | None:
        while self.queue:
            reply = self.queue.popleft()
            if reply.seq == seq:
                return reply
            self.skipped += 1
        return None


def pipeline(port, frames: list[bytes], window: int, timeout: float, retries: int,
             matcher: ReplyMatcher, tally: dict) -> list[protocol.Reply | None]:
    """Send ``frames`` (frame ``i`` has seq ``i mod 256``) keeping up to ``window`` unanswered;
    replies are matched by seq; a frame without an OK reply within ``timeout`` of its sending, or
    with an error reply, is resent up to ``retries`` times. Returns, per frame, its OK reply, else
    its last error reply, else None. Replies for no frame in flight are counted in ``skipped``."""
    if not isinstance(window, int) or not 1 <= window <= 128:
        raise ValueError(f"window must be an integer 1..128 (frames in flight), not {window!r}")
    results: list[protocol.Reply | None] = [None] * len(frames)
    flight: dict[int, list] = {}  # seq -> [index, tries, deadline]
    nxt = 0

    def send(index, tries):
        port.write(frames[index])
        flight[index & 0xFF] = [index, tries, time.monotonic() + timeout]

    def again(seq):
        index, tries, _ = flight.pop(seq)
        if tries <= retries:
            tally["retries"] += 1
            send(index, tries + 1)

    while nxt < len(frames) or flight:
        while nxt < len(frames) and len(flight) < window and (nxt & 0xFF) not in flight:
            send(nxt, 1)
            nxt += 1
        matcher.feed(port.read(protocol.REPLY_BYTES * max(1, len(flight))))
        for reply in matcher.drain():
            if reply.seq not in flight:
                matcher.skipped += 1
                continue
            results[flight[reply.seq][0]] = reply
            if reply.status == Status.OK:
                del flight[reply.seq]
            else:
                again(reply.seq)
        now = time.monotonic()
        for seq in [s for s, (_, _, deadline) in flight.items() if deadline < now]:
            again(seq)
    return results


def infer_serial(port_name: str, model_path, *, dataset="mnist", data_dir=None, limit=100, baud=115200,
                 timeout=2.0, lanes=None, retries=2, window=4, frames="events", serial_module=None) -> dict:
    """Classify ``limit`` test images on a board and compare every reply with the golden model.

    Images go as event frames (``frames="events"``, raw where that is shorter) or raw frames, with up
    to ``window`` frames in flight; a missing or error reply is retried up to ``retries`` times,
    replies are matched by ``seq`` (late and duplicated ones are skipped) and damaged reply bytes are
    resynced on; the summary counts all of it and is returned even when the port fails mid-run."""
    if not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be an integer >= 0, not {retries!r}")
    if not isinstance(window, int) or not 1 <= window <= 128:
        raise ValueError(f"window must be an integer 1..128 (frames in flight), not {window!r}")
    if frames not in ("events", "raw"):
        raise ValueError(f"frames must be 'events' or 'raw', not {frames!r}")
    if serial_module is None:
        try:
            import serial as serial_module
        except ImportError:
            raise RuntimeError("pyserial is missing; pip install pyserial") from None
    net = Network.load(model_path)
    test = datamod.load(dataset, "test", data_dir=data_dir)
    images, labels = test.images[:limit], test.labels[:limit]
    requests, event_fed = request_frames(net, images, frames)
    expected = Expected(net, images, lanes, event_fed)
    try:
        port = serial_module.Serial(port_name, baud, timeout=min(timeout, 0.2))
    except (OSError, serial_module.SerialException) as error:
        raise RuntimeError(f"cannot open {port_name} ({error}); check the cable and the port name "
                           "(ls /dev/ttyUSB* /dev/ttyACM*)") from None
    mismatches, errors, cycles, correct = [], [], [], 0
    tally = {"retries": 0}
    matcher = ReplyMatcher()
    start = time.monotonic()
    replies: list = []
    try:
        with port:
            port.reset_input_buffer()
            replies = pipeline(port, requests, window, timeout, retries, matcher, tally)
    except (OSError, serial_module.SerialException) as error:
        errors.append(f"the port failed: {error}")
    seconds = time.monotonic() - start
    for index, reply in enumerate(replies):
        if reply is None:
            errors.append(f"image {index}: no reply within {timeout} s after {retries + 1} tries")
            continue
        problem = reply_mismatch(expected, index, reply, index & 0xFF)
        if problem:
            (errors if reply.status != Status.OK else mismatches).append(problem)
            continue
        cycles.append(reply.cycles)
        correct += int(reply.cls == labels[index])
    lost = len(images) - len(cycles) - len(mismatches)  # images without an OK reply
    for line in (mismatches + errors)[:10]:
        print(line)
    link = {"lost": lost, "retries": tally["retries"], "skipped_replies": matcher.skipped,
            "damaged_replies": matcher.reader.damaged, "skipped_bytes": matcher.reader.skipped}
    print("link: " + ", ".join(f"{value} {name.replace('_', ' ')}" for name, value in link.items()))
    return {"images": len(images), "mismatches": len(mismatches), "errors": len(errors), **link,
            "event_frames": int(event_fed.sum()), "window": window,
            "accuracy": correct / max(len(images), 1),
            "cycles_mean": float(np.mean(cycles)) if cycles else 0.0,
            "images_per_s": len(images) / seconds if seconds else 0.0}
