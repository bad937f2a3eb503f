# SPDX-License-Identifier: MIT
"""Host side of the UART protocol: send images, check each reply against the golden model."""

import time

import numpy as np

from ..model import data as datamod
from ..model.infer import run
from ..model.network import Network
from . import protocol
from .protocol import Status

__all__ = ["Expected", "expected_replies", "reply_mismatch", "infer_serial", "read_reply"]


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


def read_reply(port, timeout: float) -> protocol.Reply | None:
    """Read one reply from a pyserial-like port (skipping bytes before the sync); None on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        first = port.read(1)
        if first and first[0] == protocol.REPLY_SYNC:
            rest = port.read(protocol.REPLY_BYTES - 1)
            if len(rest) == protocol.REPLY_BYTES - 1:
                return protocol.decode_reply(first + rest)
    return None


def infer_serial(port_name: str, model_path, *, dataset="mnist", data_dir=None, limit=100, baud=115200,
                 timeout=2.0, lanes=None, serial_module=None) -> dict:
    """Classify ``limit`` test images on a board and compare every reply with the golden model."""
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
    start = time.monotonic()
    with port:
        port.reset_input_buffer()
        for index, image in enumerate(images):
            seq = index & 0xFF
            port.write(protocol.encode_request(seq, image))
            reply = read_reply(port, timeout)
            if reply is None:
                errors.append(f"image {index}: no reply within {timeout} s")
                continue
            problem = reply_mismatch(expected, index, reply, seq)
            if problem:
                (errors if reply.status != Status.OK else mismatches).append(problem)
                continue
            cycles.append(reply.cycles)
            correct += int(reply.cls == labels[index])
    seconds = time.monotonic() - start
    for line in (mismatches + errors)[:10]:
        print(line)
    return {"images": len(images), "mismatches": len(mismatches), "errors": len(errors),
            "accuracy": correct / max(len(images), 1),
            "cycles_mean": float(np.mean(cycles)) if cycles else 0.0,
            "images_per_s": len(images) / seconds if seconds else 0.0}
