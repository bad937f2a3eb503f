# SPDX-License-Identifier: MIT
"""End-to-end figures of a board: images per second and first-byte-to-reply latency over the UART,
from the frames a host sends and the core's cycle counts (a formula, checked against the bit-level
simulation of the whole board top in ``benchmarks/board_e2e.py``), and the analysis of such a
simulation.

Latency of one request on an idle link (host starts its first start bit -> host has sampled the stop
bit of the reply's last byte), in board clock cycles, with ``Ph``/``Pb`` the host's and the board's
cycles per bit and ``B`` the request's bytes::

    (10 B - 0.5) Ph  +  (10 * 11 - 0.5) Pb  +  feed  +  core  +  FRONT_END_CYCLES

``feed``: the cycles the front end takes to hand the checked image to the core (an event frame: one
per payload byte and one for ``end``; a raw frame: one per pixel); ``core``: the core's cycles after
its input (the reply's ``cycles`` less ``E + 1`` for an event frame). Throughput with several frames
in flight: the host sends back to back, so one image per ``10 B Ph`` cycles unless the board needs
longer per frame (its reply, ``110 Pb``, plus ``feed + core``).
"""

from __future__ import annotations

import numpy as np

from . import protocol

__all__ = ["FRONT_END_CYCLES", "LinkFigures", "link_figures", "measured_figures", "plan_link_figures"]

#: Fixed cycles from the stop-bit sample of a request's last byte to the reply's first start bit
#: and at the host's receiver (synchroniser, ring read, CRC verdict, core start and result handshakes,
#: reply sender), fitted on the bit-level simulation (benchmarks/board_e2e.py) and checked there.
FRONT_END_CYCLES = 5


class LinkFigures(dict):
    """Images per second and latency (mean and max, microseconds) plus the inputs they came from."""


def link_figures(frames: list[bytes], core_cycles, event_fed, f_clk: float, baud: int,
                 host_baud: float | None = None) -> LinkFigures:
    """The formula of the module docstring for ``frames`` (one request per image), ``core_cycles``
    (the replies' ``cycles``) and which frames carry events."""
    host_baud = baud if host_baud is None else host_baud
    ph, pb = f_clk / host_baud, f_clk / baud
    sizes = np.array([len(f) for f in frames], dtype=np.float64)
    payload = sizes - protocol.REQUEST_OVERHEAD
    core_cycles = np.asarray(core_cycles, dtype=np.float64)
    event_fed = np.asarray(event_fed, dtype=bool)
    feed = np.where(event_fed, payload + 1, payload)
    # the core's own count includes E + 1 load cycles for an event frame; the feed replaces them
    events = np.array([_events(f) for f in frames], dtype=np.float64)
    core = core_cycles - np.where(event_fed, events + 1, 0)
    latency = (10 * sizes - 0.5) * ph + (10 * protocol.REPLY_BYTES - 0.5) * pb + feed + core + FRONT_END_CYCLES
    per_frame = np.maximum(10 * sizes * ph, 10 * protocol.REPLY_BYTES * pb + feed + core)
    return LinkFigures(
        images_per_s=f_clk / float(per_frame.mean()), latency_us_mean=float(latency.mean()) / f_clk * 1e6,
        latency_us_max=float(latency.max()) / f_clk * 1e6, request_bytes_mean=float(sizes.mean()),
        event_frames=int(event_fed.sum()), baud=baud, latency_cycles=latency.tolist())


def plan_link_figures(plan, images, f_clk: float, baud: int, taps: int = 1, frames: str = "events") -> dict:
    """:func:`link_figures` for the board of ``plan`` on ``images`` (what a host sends by default:
    event frames, raw where shorter), core cycles from the exact cycle model; per-image lists dropped."""
    from ..rtl.cycles import event_load_cycles, predict_cycles

    flat = np.asarray(images).reshape(len(images), -1)
    requests = [protocol.encode_image(i & 0xFF, image, frames, plan.encoding, plan.T) for i, image in enumerate(flat)]
    event_fed = np.array([f[protocol.KIND_AT] == protocol.Kind.EVENTS for f in requests])
    cycles = predict_cycles(plan, flat, taps) + np.where(event_fed, event_load_cycles(plan, flat), 0)
    figures = link_figures(requests, cycles, event_fed, f_clk, baud)
    del figures["latency_cycles"]
    return dict(figures)


def _events(frame: bytes) -> int:
    if frame[protocol.KIND_AT] != protocol.Kind.EVENTS:
        return 0
    words = np.frombuffer(frame[protocol.PAYLOAD_AT:-1], dtype="<u2")
    return int((words >> protocol.EVENT_ADDRESS_BITS != protocol.EVENT_SKIP).sum())


def measured_figures(frame_starts, chars, n_frames: int, f_clk: float) -> dict:
    """Images per second and per-frame latency from a bit-level run (``window`` = 1 for the latency):
    replies in order, one per frame; returns the replies too."""
    if len(frame_starts) != n_frames or len(chars) != n_frames * protocol.REPLY_BYTES:
        raise RuntimeError(f"the simulation sent {len(frame_starts)} of {n_frames} frames and got "
                           f"{len(chars)} of {n_frames * protocol.REPLY_BYTES} reply bytes")
    replies, ends = [], []
    for k in range(n_frames):
        part = chars[k * protocol.REPLY_BYTES:(k + 1) * protocol.REPLY_BYTES]
        replies.append(protocol.decode_reply(bytes(b for _, b in part)))
        ends.append(part[-1][0])
    latency = np.array(ends, dtype=np.float64) - np.array(frame_starts, dtype=np.float64)
    span = ends[-1] - frame_starts[0]
    return {"images_per_s": n_frames * f_clk / span, "latency_us_mean": float(latency.mean()) / f_clk * 1e6,
            "latency_us_max": float(latency.max()) / f_clk * 1e6, "latency_cycles": latency.tolist(),
            "replies": replies}
