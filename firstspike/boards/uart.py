# SPDX-License-Identifier: MIT
"""8N1 UART receiver and transmitter for the board top (one clock domain, fractional bit period).

The bit period is ``divisor`` clock cycles, any real number >= 4 held to 1/256 of a cycle: each
bit edge (transmitter) or sample point (receiver) lands on the clock cycle nearest its exact time,
so the average rate is exact and each edge is at most one cycle off. That makes any baud rate up to
``clk / 4`` usable at any clock (3 Mbaud at 40, 20, 15.625 or 12 MHz).

Error budget of the receiver: a sample point is off its ideal place by at most one cycle (half a
cycle for finding the start edge, half for rounding the sample to a cycle), so with ``P`` cycles per
bit a sender whose rate is off by up to ``(0.5 - 1 / P) / 9.5`` (2.6 % at ``P = 4``, 3.6 % at ``P =
13.3``) is still sampled inside every bit up to the stop bit.
"""

import math

from amaranth.hdl import Module, Mux, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UARTRx", "UARTTx", "baud_divisor", "sender_tolerance"]

#: Fraction bits of the bit period (it is held in 1/256 cycles).
FRACTION_BITS = 8
#: Fewest clock cycles per bit (below this the receiver's one-cycle error eats the margin).
MIN_CYCLES_PER_BIT = 4


def baud_divisor(clk_hz: float, baud: int) -> float:
    """Clock cycles per bit for ``baud`` at ``clk_hz``, rounded to 1/256 cycle; refuses a rate that
    leaves fewer than 4 cycles per bit."""
    if not isinstance(baud, int) or baud <= 0:
        raise ValueError(f"baud must be a positive integer, not {baud!r}")
    if not (math.isfinite(clk_hz) and clk_hz > 0):
        raise ValueError(f"the clock must be a frequency > 0 Hz, not {clk_hz!r}")
    cycles = clk_hz / baud
    if cycles < MIN_CYCLES_PER_BIT:
        raise ValueError(
            f"a {clk_hz / 1e6:g} MHz clock is too slow for {baud} baud ({cycles:.2f} cycles per bit, "
            f"needs >= {MIN_CYCLES_PER_BIT}); choose at most {int(clk_hz // MIN_CYCLES_PER_BIT)} baud "
            "or a faster --clock-mhz")
    return round(cycles * (1 << FRACTION_BITS)) / (1 << FRACTION_BITS)


def sender_tolerance(divisor: float) -> float:
    """Largest relative rate error of the sender that the receiver still decodes (see the module
    docstring)."""
    return (0.5 - 1 / divisor) / 9.5


def _period(divisor) -> int:
    """The bit period in 1/256 cycles."""
    if isinstance(divisor, bool) or not isinstance(divisor, (int, float)) or not divisor >= MIN_CYCLES_PER_BIT:
        raise ValueError(f"divisor (cycles per bit) must be a number >= {MIN_CYCLES_PER_BIT}, not {divisor!r}")
    return round(divisor * (1 << FRACTION_BITS))


ONE = 1 << FRACTION_BITS  # one clock cycle in period units


class UARTRx(wiring.Component):
    """Receives 8N1 characters on ``rx``.

    Members
    -------
    rx : In(1)
        The serial line (idle high); synchronised inside.
    data : Out(stream.Signature(8))
        One payload per character whose stop bit was high. A character that arrives while the
        previous one is still unaccepted replaces it (the front end always accepts).
    framing_error : Out(1)
        One-cycle pulse when a stop bit is low; the receiver then waits for the line to go high.
    """

    rx: In(1, init=1)
    data: Out(stream.Signature(unsigned(8)))
    framing_error: Out(1)

    def __init__(self, divisor):
        self.divisor = divisor
        self.period = _period(divisor)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        line = Signal(init=1)
        m.submodules.sync_rx = FFSynchronizer(self.rx, line, init=1)

        P = self.period
        # time from the middle of this cycle to the next sample point plus half a cycle, in 1/256
        # cycles (so it never goes below 0): the line is sampled in the cycle nearest the point
        until = Signal(range(2 * P + ONE))
        shift = Signal(8)
        bits = Signal(range(10))
        sample = until < ONE  # the sample point is within half a cycle of this cycle's middle

        with m.If(self.data.ready):
            m.d.sync += self.data.valid.eq(0)
        m.d.sync += self.framing_error.eq(0)
        m.d.comb += self.data.payload.eq(shift)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):
                    # the edge was on average half a cycle before this cycle; the first data bit's
                    # middle is 1.5 bits after it, i.e. 1.5 bits - 1.5 cycles after the next cycle
                    m.d.sync += [until.eq(3 * P // 2 - ONE), bits.eq(0)]
                    m.next = "BITS"
            with m.State("BITS"):
                with m.If(~sample):
                    m.d.sync += until.eq(until - ONE)
                with m.Else():
                    m.d.sync += [until.eq(until + P - ONE), bits.eq(bits + 1)]
                    with m.If(bits != 8):
                        m.d.sync += shift.eq(shift >> 1 | line << 7)
                    with m.Elif(line):
                        m.d.sync += self.data.valid.eq(1)
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += self.framing_error.eq(1)
                        m.next = "BREAK"
            with m.State("BREAK"):
                with m.If(line):
                    m.next = "IDLE"
        return m


class UARTTx(wiring.Component):
    """Sends each accepted byte of ``data`` as one 8N1 character on ``tx`` (idle high).

    Members
    -------
    data : In(stream.Signature(8))
        Accepted when the transmitter is idle or ends a stop bit; the character follows at once.
    tx : Out(1)
    """

    data: In(stream.Signature(unsigned(8)))
    tx: Out(1, init=1)

    def __init__(self, divisor):
        self.divisor = divisor
        self.period = _period(divisor)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        P = self.period
        frame = Signal(10, init=0x3FF)  # stop bit, 8 data bits LSB first, start bit
        bits = Signal(range(11))
        # time from the start of this cycle to the end of the bit on the line, in 1/256 cycles
        until = Signal(range(2 * P + ONE))
        bit_ends = until <= ONE + ONE // 2  # the bit ends at the end of this cycle (to the nearest)
        # a byte is taken when idle, or in the last cycle of a stop bit, keeping the bit phase, so
        # back-to-back characters run at exactly the baud rate
        m.d.comb += [self.tx.eq(frame[0]),
                     self.data.ready.eq((bits == 0) | ((bits == 1) & bit_ends))]
        with m.If(self.data.valid & self.data.ready):
            m.d.sync += [frame.eq(1 << 9 | self.data.payload << 1), bits.eq(10),
                         until.eq(Mux(bits == 0, P, until + P - ONE))]
        with m.Elif(bits == 0):
            pass
        with m.Elif(~bit_ends):
            m.d.sync += until.eq(until - ONE)
        with m.Else():
            m.d.sync += [frame.eq(frame >> 1 | 1 << 9), bits.eq(bits - 1), until.eq(until + P - ONE)]
        return m
