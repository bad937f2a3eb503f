# SPDX-License-Identifier: MIT
"""The frame check: amaranth's CRC-8/SMBUS against long division by its polynomial, and the
gateware reply builder against the host's encoder."""

import numpy as np
from amaranth.sim import Simulator

from firstspike.boards import protocol
from firstspike.boards.frontend import ReplySender
from firstspike.boards.protocol import Reply, Status

#: x^8 + x^2 + x + 1, highest power first
POLYNOMIAL = [1, 0, 0, 0, 0, 0, 1, 1, 1]


def crc_by_division(data: bytes) -> int:
    """Remainder of message(x) * x^8 divided by the polynomial over GF(2), bits most significant
    first (the definition of a CRC with initial value 0, no reflection and no final xor)."""
    bits = [byte >> (7 - i) & 1 for byte in data for i in range(8)] + [0] * 8
    for i in range(len(bits) - 8):
        if bits[i]:
            for k, p in enumerate(POLYNOMIAL):
                bits[i + k] ^= p
    return int("".join(map(str, bits[-8:])), 2)


def test_host_crc_is_the_polynomial_remainder():
    assert protocol.CRC.compute(b"123456789") == 0xF4  # the catalogue's check value
    rng = np.random.default_rng(11)
    for size in [0, 1, 2, 3, 17, 100, 785]:
        for _ in range(5):
            data = rng.integers(0, 256, size, dtype=np.uint8).tobytes()
            assert protocol.CRC.compute(data) == crc_by_division(data), f"seed 11, {data.hex()}"


def test_gateware_reply_equals_host_encoding():
    rng = np.random.default_rng(12)
    replies = [Reply(Status(int(rng.integers(0, len(Status)))), int(rng.integers(0, 256)),
                     int(rng.integers(0, 256)), int(rng.integers(0, 1 << 16)), int(rng.integers(0, 1 << 32)))
               for _ in range(8)]
    dut = ReplySender()
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sent, acknowledged = [], []

    async def sink(ctx):  # accept one byte in three cycles
        phase = 0
        while True:
            phase = (phase + 1) % 3
            ctx.set(dut.tx.ready, phase == 0)
            _, _, valid, byte, taken = await ctx.tick().sample(
                dut.tx.valid, dut.tx.payload, dut.reply.valid & dut.reply.ready)
            if valid and phase == 0:
                sent.append(byte)
            if taken:
                acknowledged.append(len(sent))

    async def source(ctx):
        for reply in replies:
            ctx.set(dut.reply.payload, {"status": int(reply.status), "seq": reply.seq, "result": {
                "cls": reply.cls, "step": reply.step, "cycles": reply.cycles}})
            ctx.set(dut.reply.valid, 1)
            await ctx.tick().until(dut.reply.ready)
            ctx.set(dut.reply.valid, 0)
        await ctx.tick().repeat(5)

    sim.add_testbench(sink, background=True)
    sim.add_testbench(source)
    sim.run()
    assert bytes(sent) == b"".join(protocol.encode_reply(r) for r in replies), "seed 12"
    # each record is acknowledged together with its last byte
    assert acknowledged == [protocol.REPLY_BYTES * (k + 1) for k in range(len(replies))]
