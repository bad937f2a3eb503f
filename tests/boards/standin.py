# SPDX-License-Identifier: MIT
"""A TEST-ONLY stand-in with the TTFS core's stream signature, to exercise the board front end
in the Amaranth simulator. It is not a classifier: it answers with simple functions of the image
(cls = sum % 10, step = xor-fold, cycles = sum * 0x10001, which fills all four bytes) so the tests can predict every reply."""

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from firstspike.boards.frontend import RESULT_FIELDS


def standin_answer(pixels) -> tuple[int, int, int]:
    """(cls, step, cycles) the stand-in reports for an image."""
    total, fold = 0, 0
    for p in pixels:
        total += int(p)
        fold = ((fold << 1) | (fold >> 15)) & 0xFFFF ^ int(p)
    return total % 10, fold, total * 0x10001


class StandInCore(wiring.Component):
    pixels: In(stream.Signature(unsigned(8)))
    result: Out(stream.Signature(RESULT_FIELDS))

    def __init__(self, n_pixels: int, stall_every: int = 3, latency: int = 5):
        self.n_pixels, self.stall_every, self.latency = n_pixels, stall_every, latency
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        count = Signal(range(self.n_pixels + 1))
        total = Signal(24)
        fold = Signal(16)
        phase = Signal(range(self.stall_every))
        wait = Signal(range(self.latency + 1))
        with m.FSM():
            with m.State("TAKE"):
                m.d.sync += phase.eq(0 if self.stall_every == 1 else (phase + 1) % self.stall_every)
                m.d.comb += self.pixels.ready.eq(phase != 0)  # back-pressure one cycle in `stall_every`
                with m.If(self.pixels.valid & self.pixels.ready):
                    m.d.sync += [total.eq(total + self.pixels.payload), count.eq(count + 1),
                                 fold.eq((fold << 1 | fold >> 15)[:16] ^ self.pixels.payload)]
                    with m.If(count == self.n_pixels - 1):
                        m.d.sync += wait.eq(self.latency)
                        m.next = "THINK"
            with m.State("THINK"):
                with m.If(wait == 0):
                    m.next = "ANSWER"
                with m.Else():
                    m.d.sync += wait.eq(wait - 1)
            with m.State("ANSWER"):
                m.d.comb += [self.result.valid.eq(1), self.result.payload.cls.eq(total % 10),
                             self.result.payload.step.eq(fold), self.result.payload.cycles.eq(total * 0x10001)]
                with m.If(self.result.ready):
                    m.d.sync += [count.eq(0), total.eq(0), fold.eq(0)]
                    m.next = "TAKE"
        return m
