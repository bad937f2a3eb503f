# SPDX-License-Identifier: MIT
"""The frame receiver alone in the Amaranth simulator, fed bytes as a stream: it resynchronises on
the 0xA5 after a failed candidate, keeps receiving while it feeds an image or waits for a reply,
and handles a full receive ring explicitly."""

import gc
import warnings

import numpy as np
import pytest
from amaranth.hdl import UnusedElaboratable
from amaranth.sim import Simulator

from firstspike.boards import protocol
from firstspike.boards.frontend import ByteRing, FrameReceiver, ring_depth
from firstspike.boards.protocol import Status

N = 8
TIMEOUT, GAP = 200, 4
BYTE_CYCLES = 3  # cycles between received bytes (a UART gives one every 10 bit times)


def receive(events, *, depth=None, stall=0, settle=400):
    """Run a FrameReceiver on ``events`` (a byte, "error" for a framing error, or ("wait", cycles)).

    The image sink holds ``ready`` low for ``stall`` cycles before each image; verdicts are always
    taken. Returns [(status, seq, image bytes or None)] and the number of overflow pulses."""
    dut = FrameReceiver(N, timeout=TIMEOUT, gap=GAP, depth=depth)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    verdicts, pixels, overflows = [], [], [0]

    async def sink(ctx):
        ctx.set(dut.verdict.ready, 1)
        waited = 0
        async for _, _, p_valid, p_ready, p_payload, v_valid, status, seq, overflow in ctx.tick().sample(
                dut.pixels.valid, dut.pixels.ready, dut.pixels.payload, dut.verdict.valid,
                dut.verdict.payload.status, dut.verdict.payload.seq, dut.overflow):
            overflows[0] += overflow
            if p_valid and p_ready:
                pixels.append(p_payload)
                if len(pixels) % N == 0:
                    ctx.set(dut.pixels.ready, 0)
                    waited = 0
            elif p_valid and waited < stall:
                waited += 1
            elif p_valid:
                ctx.set(dut.pixels.ready, 1)
            if v_valid:
                image = bytes(pixels[-N:]) if status == Status.OK else None
                verdicts.append((Status(status), seq, image))

    async def source(ctx):
        for event in events:
            if event == "error":
                ctx.set(dut.rx_error, 1)
                await ctx.tick()
                ctx.set(dut.rx_error, 0)
            elif isinstance(event, tuple):
                await ctx.tick().repeat(event[1])
            else:
                ctx.set(dut.rx.payload, event)
                ctx.set(dut.rx.valid, 1)
                await ctx.tick()
                ctx.set(dut.rx.valid, 0)
            await ctx.tick().repeat(BYTE_CYCLES)
        await ctx.tick().repeat(settle)

    sim.add_process(sink)
    sim.add_testbench(source)
    sim.run()
    return verdicts, overflows[0]


def image(seed):
    return np.random.default_rng(seed).integers(0, 256, N, dtype=np.uint8)


def frame(seq, seed):
    return protocol.encode_request(seq, image(seed))


def ok(seq, seed):
    return (Status.OK, seq, image(seed).tobytes())


def test_ring_depth_holds_a_frame_and_headroom():
    assert ring_depth(784) == 1024 and ring_depth(N) == 64
    with warnings.catch_warnings():  # the refused components are never elaborated
        warnings.simplefilter("ignore", UnusedElaboratable)
        with pytest.raises(ValueError, match="whole frame"):
            FrameReceiver(N, timeout=TIMEOUT, gap=GAP, depth=8)
        with pytest.raises(ValueError, match="power of two"):
            ByteRing(48)
        gc.collect()


def test_stray_sync_bytes_before_a_frame():
    # a lone 0xA5, then 0xA5 0xA5: each candidate fails on its kind or length field, the frame is found
    for garbage in (b"\xa5", b"\x13\xa5\x00", b"\xa5\xa5", b"\xa5\x07"):
        verdicts, _ = receive(list(garbage + frame(3, 1)))
        assert [v for v in verdicts if v[0] == Status.OK] == [ok(3, 1)], garbage.hex()
        assert all(v[0] in (Status.BAD_KIND, Status.BAD_LENGTH) for v in verdicts if v[0] != Status.OK), verdicts


def test_frame_right_after_a_bad_crc_frame():
    bad = bytearray(frame(5, 2))
    bad[6] ^= 0x20
    verdicts, _ = receive(list(bytes(bad) + frame(6, 3)))
    assert verdicts == [(Status.BAD_CRC, 5, None), ok(6, 3)]


def test_truncated_frame_followed_at_once_by_a_frame():
    truncated = frame(7, 4)[:6]
    good = frame(8, 5)
    # the premise: the candidate made of the truncated frame and the next bytes fails its CRC
    spliced = (truncated + good)[:N + protocol.REQUEST_OVERHEAD]
    assert protocol.CRC.compute(spliced[1:]) != 0
    verdicts, _ = receive(list(truncated + good))
    assert verdicts == [(Status.BAD_CRC, 7, None), ok(8, 5)]


def test_truncated_frame_then_quiet_line_times_out():
    verdicts, _ = receive(list(frame(9, 6)[:7]) + [("wait", TIMEOUT + 10)] + list(frame(10, 7)))
    assert verdicts == [(Status.TIMEOUT, 9, None), ok(10, 7)]


def test_framing_error_inside_a_frame():
    good = frame(11, 8)
    verdicts, _ = receive(list(good[:5]) + ["error"] + list(good[6:]) + list(frame(12, 9)))
    assert verdicts[0] == (Status.BAD_FRAMING, 11, None) and verdicts[-1] == ok(12, 9)
    assert [v for v in verdicts if v[0] == Status.OK] == [ok(12, 9)]


def test_back_to_back_frames_while_the_core_stalls():
    # the sink refuses each image for 40 cycles: the next frames arrive meanwhile and are kept
    stream_ = b"".join(frame(20 + k, 10 + k) for k in range(5))
    verdicts, overflows = receive(list(stream_), stall=40)
    assert verdicts == [ok(20 + k, 10 + k) for k in range(5)] and overflows == 0


@pytest.mark.parametrize("pause,failure", [(TIMEOUT + 100, Status.TIMEOUT), (60, Status.BAD_FRAMING)])
def test_full_ring_drops_characters_and_fails_the_frame_they_belong_to(pause, failure):
    # a 16-byte ring and an image sink that waits 150 cycles (~37 characters): while frame 30 is
    # held, only 2 bytes of frame 31 fit (16 - 14); the rest of it and frame 32 are dropped. Frame
    # 31 then fails: on the quiet line (timeout) or on the hole before the next stored byte
    stream_ = b"".join(frame(30 + k, 20 + k) for k in range(3))
    events = list(stream_) + [("wait", pause)] + list(frame(40, 30))
    verdicts, overflows = receive(events, depth=16, stall=150)
    frame_bytes = N + protocol.REQUEST_OVERHEAD
    assert overflows == 2 * frame_bytes - (16 - frame_bytes)
    assert verdicts == [ok(30, 20), (failure, 31, None), ok(40, 30)]


def test_which_failures_are_answered():
    # a stray 0xA5 read for the first time is answered (seq = the byte after it: the frame's sync);
    # the 0xA5 pixels of a bad-CRC frame, met again in the re-scan, are not
    pixels = np.array([1, 0xA5, 7, 0xA5, 0xA5, 2, 3, 4], dtype=np.uint8)
    bad = bytearray(protocol.encode_request(50, pixels))
    bad[-1] ^= 0xFF
    verdicts, _ = receive(list(b"\xa5" + bytes(bad)) + [("wait", 60)] + list(frame(51, 40)))
    # (the stray 0xA5's candidate reads the frame's sync as seq and the frame's seq as its kind)
    assert verdicts == [(Status.BAD_KIND, 0xA5, None), (Status.BAD_CRC, 50, None), ok(51, 40)]
