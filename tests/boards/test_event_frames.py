# SPDX-License-Identifier: MIT
"""Event request frames on the host side: the words decode back to exactly the effective input
events of the image, in the encoder's order (decoded here independently of the encoder)."""

import numpy as np
import pytest

from firstspike.boards import protocol
from firstspike.model import data as datamod

SEED = 30


def decode_events(frame: bytes) -> list[tuple[int, int]]:
    """(time, address) of every event in an event frame, checking its header and CRC."""
    assert frame[0] == 0xA5 and frame[2] == 0x22
    n = frame[3] | frame[4] << 8
    assert len(frame) == 6 + n and protocol.CRC.compute(frame[1:-1]) == frame[-1]
    words = np.frombuffer(frame[5:-1], dtype="<u2").tolist()
    events, now = [], 0
    for word in words:
        if word >> 10 == 63:
            assert word == 0xFFFF
            now += 63
        else:
            now += word >> 10
            events.append((now, word & 0x3FF))
    return events


@pytest.mark.parametrize("encoding,T", [("bs4nn", 256), ("s4nn", 64)])
def test_event_frame_holds_the_effective_events_in_walk_order(encoding, T):
    images = datamod.load("mnist-mini", "test").images[:40].reshape(40, -1)
    for k, image in enumerate(images):
        frame = protocol.encode_events(7, *protocol.image_events(image, encoding, T))
        got = decode_events(frame)
        p = image.astype(int)
        t = 255 - p if encoding == "bs4nn" else (255 - p) * T // 255
        want = sorted(((int(t[i]), i) for i in range(len(p)) if t[i] <= T - 2), key=lambda e: (e[0], -e[1]))
        assert got == want, f"image {k}"


def test_encode_image_falls_back_to_raw_when_events_are_longer():
    rng = np.random.default_rng(SEED)
    busy = rng.integers(1, 256, 784).astype(np.uint8)  # every pixel is an event: 1,568 bytes of words
    assert protocol.encode_image(3, busy) == protocol.encode_request(3, busy)
    sparse = np.zeros(784, np.uint8)
    sparse[[5, 700]] = [255, 3]
    frame = protocol.encode_image(3, sparse)
    assert decode_events(frame) == [(0, 5), (252, 700)]  # 252 = 63 * 4: four skip words first
    assert protocol.encode_image(3, sparse, frames="raw") == protocol.encode_request(3, sparse)
    with pytest.raises(ValueError, match="frames must be"):
        protocol.encode_image(3, sparse, frames="packed")


def test_events_out_of_order_are_refused():
    with pytest.raises(ValueError, match="increasing time"):
        protocol.encode_events(0, [4, 5], [3, 3])
    with pytest.raises(ValueError, match="out of range"):
        protocol.encode_events(0, [1023], [0])


# ------------------------------------------------------------------ the board's frame receiver

N_IN, T_NET = 12, 16  # a 12-pixel s4nn image with T = 16: event times 0..14


def receive_frames(data: bytes, max_event_time=T_NET - 2):
    """Run a FrameReceiver on ``data`` (a byte every 3 cycles); returns its verdicts, each with the
    pixels or events it fed before the verdict."""
    from amaranth.sim import Simulator

    from firstspike.boards.frontend import FrameReceiver

    dut = FrameReceiver(N_IN, timeout=400, gap=4, max_event_time=max_event_time)
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    verdicts, fed = [], []

    async def sink(ctx):
        ctx.set(dut.verdict.ready, 1)
        ctx.set(dut.pixels.ready, 1)
        ctx.set(dut.events.ready, 1)
        async for _, _, pv, pp, ev, ep, vv, status, seq in ctx.tick().sample(
                dut.pixels.valid, dut.pixels.payload, dut.events.valid, dut.events.payload,
                dut.verdict.valid, dut.verdict.payload.status, dut.verdict.payload.seq):
            if pv:
                fed.append(("p", int(pp)))
            if ev:
                fed.append(("end",) if ep.end else ("e", int(ep.address), int(ep.time)))
            if vv:
                verdicts.append((protocol.Status(status), seq, list(fed)))
                fed.clear()

    async def source(ctx):
        for byte in data:
            ctx.set(dut.rx.payload, byte)
            ctx.set(dut.rx.valid, 1)
            await ctx.tick()
            ctx.set(dut.rx.valid, 0)
            await ctx.tick().repeat(3)
        await ctx.tick().repeat(300)

    sim.add_process(sink)
    sim.add_testbench(source)
    sim.run()
    return verdicts


def _words_frame(seq, words):
    return protocol._frame(seq, protocol.Kind.EVENTS, np.asarray(words, dtype="<u2").tobytes())


def test_receiver_feeds_event_and_raw_frames_and_refuses_bad_events():
    rng = np.random.default_rng(SEED)
    images = rng.integers(0, 256, (3, N_IN)).astype(np.uint8)
    images[images < 170] = 0  # at most 6 events: an event frame is never longer than the image
    images[1, :] = 0
    images[1, 3] = 255  # one event at time 0
    frames, want = b"", []
    for k, img in enumerate(images):
        a, t = protocol.image_events(img, "s4nn", T_NET)
        frames += protocol.encode_events(10 + k, a, t)
        want.append((protocol.Status.OK, 10 + k, [("e", int(x), int(y)) for x, y in zip(a, t)] + [("end",)]))
    frames += protocol.encode_request(20, images[0])  # a raw frame in between
    want.append((protocol.Status.OK, 20, [("p", int(p)) for p in images[0]]))
    # with a good CRC, but: an address beyond the image; a time past T - 2; an address not below the
    # previous one in its step; an odd length; a payload longer than the image
    for seq, words in ((30, [5, N_IN]), (31, [(T_NET - 1) << 10 | 2]), (32, [7, 7])):
        frames += _words_frame(seq, words)
        want.append((protocol.Status.BAD_EVENTS, seq, []))
    frames += protocol._frame(33, protocol.Kind.EVENTS, b"\x01\x02\x03")
    want.append((protocol.Status.BAD_LENGTH, 33, []))
    frames += protocol._frame(34, protocol.Kind.EVENTS, bytes(N_IN + 2))
    want.append((protocol.Status.BAD_LENGTH, 34, []))
    frames += protocol.encode_events(35, [9, 4, 11], [1, 1, 14])  # still fine after all that
    want.append((protocol.Status.OK, 35, [("e", 9, 1), ("e", 4, 1), ("e", 11, 14), ("end",)]))
    assert all(len(w[2]) <= N_IN // 2 + 1 for w in want[:3])
    assert receive_frames(frames) == want, f"seed {SEED}"


def test_receiver_takes_an_event_after_a_skip_word_as_a_new_step():
    # times 1 and 64: a skip word (+63), then an event with dt = 0 but in a new step, so its higher
    # address is in order; and a time step past the limit after skips is still refused
    first = protocol.encode_events(5, [2, 5], [1, 64])
    assert first[5 + 2:5 + 4] == b"\xff\xff"
    late = protocol.encode_events(6, [2], [130])
    assert receive_frames(first + late, max_event_time=100) == [
        (protocol.Status.OK, 5, [("e", 2, 1), ("e", 5, 64), ("end",)]),
        (protocol.Status.BAD_EVENTS, 6, [])]


def test_receiver_without_event_input_refuses_event_frames():
    frame = protocol.encode_events(3, [1], [0])
    assert receive_frames(frame + protocol.encode_request(4, np.arange(N_IN, dtype=np.uint8)),
                          max_event_time=None) == [
        (protocol.Status.BAD_KIND, 3, []),
        (protocol.Status.OK, 4, [("p", p) for p in range(N_IN)])]


def test_link_figures_are_link_bound_at_3_mbaud():
    """With frames in flight the board keeps up with the line: one image per request's 10 B bit
    times; at 115200 baud with raw frames, the issue's figure (14.6 images/s)."""
    from firstspike.boards.e2e import plan_link_figures
    from firstspike.export.plan import build_plan
    from firstspike.model.network import Network

    rng = np.random.default_rng(SEED)
    net = Network([rng.choice([-1, 1], size=(24, 784)).astype(np.int8),
                   rng.choice([-1, 1], size=(10, 24)).astype(np.int8)], [12, 2], binary=True)
    plan = build_plan(net, 8)
    images = datamod.load("mnist-mini", "test").images[:50].reshape(50, -1)
    fast = plan_link_figures(plan, images, 37.5e6, 3_000_000)
    sizes = [len(protocol.encode_image(0, im)) for im in images]
    assert fast["images_per_s"] == pytest.approx(3e5 / np.mean(sizes))
    assert fast["event_frames"] == 50 and fast["request_bytes_mean"] == pytest.approx(np.mean(sizes))
    raw = plan_link_figures(plan, images, 37.5e6, 115200, frames="raw")
    assert raw["images_per_s"] == pytest.approx(11520 / (784 + 6))
    # one request then its reply, at least: (790 + 11) characters
    assert raw["latency_us_mean"] > (790 + 11) * 10 / 115200 * 1e6
