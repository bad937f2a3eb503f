# SPDX-License-Identifier: MIT
"""8N1 UART receiver and transmitter for the board top (one clock domain, fixed divisor)."""


from amaranth.hdl import Elaboratable, Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UARTRx", "UARTTx", "baud_divisor"]

#: Tolerated mismatch between the wanted baud rate and ``clk / divisor``.
BAUD_TOLERANCE = 0.02


def baud_divisor(clk_hz: float, baud: int) -> int:
    """Clock cycles per bit; refuses a clock that cannot make ``baud`` within 2 %."""
    if baud <= 0:
        raise ValueError(f"baud must be > 0, not {baud!r}")
    divisor = round(clk_hz / baud)
    if divisor < 4:
        raise ValueError(
            f"a {clk_hz / 1e6:g} MHz clock is too slow for {baud} baud (needs >= 4 cycles per bit); "
            "choose a lower baud rate"
        )
    error = abs(clk_hz / divisor - baud) / baud
    if error > BAUD_TOLERANCE:
        raise ValueError(
            f"{baud} baud from {clk_hz / 1e6:g} MHz is off by {error * 100:.1f} % "
            f"(divisor {divisor}); choose a baud rate closer to a divisor of the clock"
        )
    return divisor


def _checked_divisor(divisor) -> int:
    if not isinstance(divisor, int) or divisor < 4:
        raise ValueError(f"divisor must be an integer >= 4, not {divisor!r}")
    return divisor


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

    def __init__(self, divisor: int):
        self.divisor = _checked_divisor(divisor)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        line = Signal(init=1)
        m.submodules.sync_rx = FFSynchronizer(self.rx, line, init=1)

        timer = Signal(range(self.divisor + self.divisor // 2 + 1))
        shift = Signal(8)
        bits = Signal(range(9))

        with m.If(self.data.ready):
            m.d.sync += self.data.valid.eq(0)
        m.d.sync += self.framing_error.eq(0)
        m.d.comb += self.data.payload.eq(shift)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):
                    # sample the first data bit in its middle: 1.5 bit times after the falling edge
                    m.d.sync += [timer.eq(self.divisor + self.divisor // 2 - 1), bits.eq(0)]
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    m.d.sync += [shift.eq(shift >> 1 | line << 7), bits.eq(bits + 1),
                                 timer.eq(self.divisor - 1)]
                    with m.If(bits == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
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
        Accepted when the transmitter is idle; the character follows immediately.
    tx : Out(1)
    """

    data: In(stream.Signature(unsigned(8)))
    tx: Out(1, init=1)

    def __init__(self, divisor: int):
        self.divisor = _checked_divisor(divisor)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        frame = Signal(10, init=0x3FF)  # stop bit, 8 data bits LSB first, start bit
        bits = Signal(range(11))
        timer = Signal(range(self.divisor))
        m.d.comb += [self.tx.eq(frame[0]), self.data.ready.eq(bits == 0)]
        with m.If(bits == 0):
            with m.If(self.data.valid):
                m.d.sync += [frame.eq(1 << 9 | self.data.payload << 1), bits.eq(10),
                             timer.eq(self.divisor - 1)]
        with m.Elif(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.Else():
            m.d.sync += [frame.eq(frame >> 1 | 1 << 9), bits.eq(bits - 1), timer.eq(self.divisor - 1)]
        return m
