# SPDX-License-Identifier: MIT
"""UART, framed protocol and board top in the Amaranth simulator (with a test-only stand-in core;
the real core is exercised end to end on Verilator in test_board_top_verilator.py)."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from firstspike.boards import protocol
from firstspike.boards.protocol import Reply, Status
from firstspike.boards.top import InferenceTop
from firstspike.boards.uart import UARTRx, UARTTx, baud_divisor

from .standin import StandInCore, standin_answer
from .uartbits import char_bits, line_bits

DIV = 4


def line_capture(pin, divisor, out: list):
    """A background testbench decoding 8N1 characters from ``pin`` into ``out`` (None: bad stop bit)."""
    async def capture(ctx):
        await _capture(ctx, pin, divisor, out)
    return capture


async def _capture(ctx, pin, divisor, out):
    while True:
        await ctx.tick()
        if ctx.get(pin) == 0:
            await ctx.tick().repeat(divisor // 2)  # middle of the start bit
            bits = []
            for _ in range(9):
                await ctx.tick().repeat(divisor)
                bits.append(ctx.get(pin))
            out.append(sum(b << i for i, b in enumerate(bits[:8])) if bits[8] else None)


async def drive_line(ctx, pin, bits, divisor):
    for bit in bits:
        ctx.set(pin, bit)
        await ctx.tick().repeat(divisor)
    ctx.set(pin, 1)


def test_baud_divisor():
    # cycles per bit to 1/256 cycle: 25 MHz / 115200 = 217.01 -> 217 + 4/256
    assert baud_divisor(25e6, 115200) == 217 + 4 / 256
    assert baud_divisor(12e6, 3_000_000) == 4
    with pytest.raises(ValueError, match="too slow"):
        baud_divisor(12e6, 6_000_000)
    # a rate no integer divisor of 12 MHz makes (4.8 cycles per bit) is fine with the fractional period
    assert baud_divisor(12e6, 2_500_000) == round(4.8 * 256) / 256


def test_uart_tx_rx_roundtrip():
    rng = np.random.default_rng(1)
    payload = [int(b) for b in rng.integers(0, 256, 24)] + [0x00, 0xFF, 0x55, 0xAA]
    tx = UARTTx(DIV)
    sim = Simulator(tx)
    sim.add_clock(1e-6)
    seen = []
    sim.add_testbench(line_capture(tx.tx, DIV, seen), background=True)

    async def send(ctx):
        for byte in payload:
            ctx.set(tx.data.payload, byte)
            ctx.set(tx.data.valid, 1)
            await ctx.tick().until(tx.data.ready)
            ctx.set(tx.data.valid, 0)
            # sometimes leave a gap, sometimes offer the next byte immediately
            gap = int(rng.integers(0, 3)) * DIV
            if gap:
                await ctx.tick().repeat(gap)
        await ctx.tick().repeat(12 * DIV)

    sim.add_testbench(send)
    sim.run()
    assert seen == payload, "seed 1"


def test_uart_rx_bytes_and_framing_error():
    rx = UARTRx(DIV)
    sim = Simulator(rx)
    sim.add_clock(1e-6)
    got, errors = [], []

    async def monitor(ctx):
        ctx.set(rx.data.ready, 1)
        while True:
            await ctx.tick()
            if ctx.get(rx.data.valid):
                got.append(ctx.get(rx.data.payload))
            if ctx.get(rx.framing_error):
                errors.append(len(got))

    sim.add_testbench(monitor, background=True)

    async def drive(ctx):
        await drive_line(ctx, rx.rx, line_bits(b"\x12\xa5") + char_bits(0x77, stop=0) + [1] * 3
                         + line_bits(b"\x00\xff"), DIV)
        await ctx.tick().repeat(4 * DIV)

    sim.add_testbench(drive)
    sim.run()
    assert got == [0x12, 0xA5, 0x00, 0xFF]
    assert errors == [2]


def test_protocol_encoding():
    image = np.arange(20, dtype=np.uint8).reshape(4, 5)
    frame = protocol.encode_request(7, image)
    assert frame[0] == protocol.REQUEST_SYNC and frame[1] == 7 and frame[2] == protocol.Kind.RAW == 0x21
    assert frame[3] | frame[4] << 8 == 20 and frame[5:-1] == bytes(range(20))
    assert protocol.CRC.compute(frame[1:]) == 0  # CRC of data followed by its CRC is 0 for this CRC
    reply = Reply(Status.OK, 9, 3, 113, 0x01020304)
    assert protocol.decode_reply(protocol.encode_reply(reply)) == reply
    bad = bytearray(protocol.encode_reply(reply))
    bad[5] ^= 0x10
    with pytest.raises(protocol.ProtocolError, match="CRC"):
        protocol.decode_reply(bytes(bad))
    with pytest.raises(ValueError, match="0..255"):
        protocol.encode_request(1, np.array([1.5]))


N = 12
TIMEOUT, GAP = 60 * DIV, 25 * DIV


def run_top(script, n=N):
    """Run ``script`` (list of ("bits", [...]) / ("wait", cycles)) through an InferenceTop with
    the stand-in core; return the decoded replies and the LED value after each reply."""
    top = InferenceTop(StandInCore(n), n_pixels=n, divisor=DIV, timeout=TIMEOUT, gap=GAP)
    sim = Simulator(top)
    sim.add_clock(1e-6)
    chars = []
    sim.add_testbench(line_capture(top.tx, DIV, chars), background=True)
    leds = []

    async def drive(ctx):
        for kind, value in script:
            if kind == "bits":
                await drive_line(ctx, top.rx, value, DIV)
            else:
                await ctx.tick().repeat(value)
            if kind == "reply":  # wait for the next reply to be complete
                while len(chars) < value * protocol.REPLY_BYTES:
                    await ctx.tick()
                await ctx.tick().repeat(DIV)
                leds.append(ctx.get(top.leds))

    sim.add_testbench(drive)
    sim.run()
    assert None not in chars, "the board sent a character without a stop bit"
    replies = [protocol.decode_reply(bytes(chars[i:i + protocol.REPLY_BYTES]))
               for i in range(0, len(chars), protocol.REPLY_BYTES)]
    return replies, leds


def ok_reply(seq, image):
    cls, step, cycles = standin_answer(image)
    return Reply(Status.OK, seq, cls, step, cycles)


def test_top_good_and_bad_frames():
    rng = np.random.default_rng(7)
    images = [rng.integers(0, 256, N, dtype=np.uint8) for _ in range(6)]
    bad_crc = bytearray(protocol.encode_request(2, images[1]))
    bad_crc[7] ^= 0x01  # corrupt one pixel bit
    wrong_len = protocol.encode_request(4, rng.integers(0, 256, N + 3, dtype=np.uint8))
    framing = protocol.encode_request(6, images[3])
    truncated = protocol.encode_request(8, images[4])[:9]
    script, expected = [], []

    def frame(bits, reply):
        expected.append(reply)
        script.append(("bits", bits))
        script.append(("reply", len(expected)))

    frame(line_bits(protocol.encode_request(1, images[0])), ok_reply(1, images[0]))
    frame(line_bits(bytes(bad_crc)), Reply(Status.BAD_CRC, 2, 0, 0, 0))
    frame(line_bits(protocol.encode_request(3, images[1])), ok_reply(3, images[1]))
    frame(line_bits(wrong_len), Reply(Status.BAD_LENGTH, 4, 0, 0, 0))
    frame(line_bits(protocol.encode_request(5, images[2])), ok_reply(5, images[2]))
    frame(line_bits(framing[:6]) + char_bits(framing[6], stop=0) + line_bits(framing[7:]),
          Reply(Status.BAD_FRAMING, 6, 0, 0, 0))
    frame(line_bits(protocol.encode_request(7, images[3])), ok_reply(7, images[3]))
    frame(line_bits(truncated), Reply(Status.TIMEOUT, 8, 0, 0, 0))
    # noise before a frame (no sync byte) is ignored
    frame(line_bits(b"\x00\x13") + line_bits(protocol.encode_request(9, images[5])), ok_reply(9, images[5]))

    replies, leds = run_top(script)
    assert replies == expected, "seed 7"
    last = None
    for reply, led in zip(expected, leds):
        if reply.status == Status.OK:
            last = reply.cls
        assert led & 0xF == last and not led & 0x80
