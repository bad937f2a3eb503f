# SPDX-License-Identifier: MIT
"""The inference top: UART pins <-> framed protocol <-> TTFS core, with the last class on LEDs."""


from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from ..model import spec
from .frontend import FrontEnd
from .uart import UARTRx, UARTTx

__all__ = ["InferenceTop", "protocol_timing"]


def protocol_timing(clk_hz: float, timeout_s: float = 0.05, gap_s: float = 0.005) -> tuple[int, int]:
    """(timeout, gap) in cycles: a frame that stalls for ``timeout_s`` fails as ``TIMEOUT``; error
    replies are at least ``gap_s`` apart (see :mod:`.protocol`)."""
    return max(2, round(clk_hz * timeout_s)), max(1, round(clk_hz * gap_s))


class InferenceTop(wiring.Component):
    """Pin-level board logic around any core with ``pixels``/``result`` streams (and optionally
    ``spikes``, which is drained).

    Members
    -------
    rx : In(1)
        UART line from the host (idle high).
    tx : Out(1)
        UART line to the host (idle high).
    leds : Out(8)
        Bits 0-3: the last class; bit 7: busy with a frame (checking, feeding or answering it).
    """

    rx: In(1, init=1)
    tx: Out(1, init=1)
    leds: Out(8)

    def __init__(self, core: wiring.Component, n_pixels: int, divisor: float, timeout: int, gap: int):
        self.core = core
        # event frames when the core takes input events: up to its last effective time step
        params = getattr(core, "params", None)
        takes_events = "events" in core.signature.members and params is not None
        max_event_time = spec.last_effective_time(params.T) if takes_events else None
        self.frontend = FrontEnd(n_pixels, timeout=timeout, gap=gap, max_event_time=max_event_time)
        self.uart_rx = UARTRx(divisor)
        self.uart_tx = UARTTx(divisor)
        super().__init__()

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = self.core
        m.submodules.frontend = fe = self.frontend
        m.submodules.uart_rx = rx = self.uart_rx
        m.submodules.uart_tx = tx = self.uart_tx
        m.d.comb += [rx.rx.eq(self.rx), self.tx.eq(tx.tx), fe.rx_error.eq(rx.framing_error)]
        wiring.connect(m, rx.data, fe.rx)
        wiring.connect(m, fe.tx, tx.data)
        wiring.connect(m, fe.pixels, core.pixels)
        if self.frontend.receiver.max_event_time is not None:
            wiring.connect(m, fe.events, core.events)
        wiring.connect(m, core.result, fe.result)
        if "spikes" in core.signature.members:
            m.d.comb += core.spikes.ready.eq(1)
        m.d.comb += [self.leds[:4].eq(fe.last_class), self.leds[7].eq(fe.busy)]
        return m
