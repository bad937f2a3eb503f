# SPDX-License-Identifier: MIT
"""Counter bank of a fully parallel layer: one up/down potential counter and a fired flag per neuron.

Each counter holds ``u = threshold - V`` (reset to ``threshold``), so ``V > threshold`` (``spec``'s
strict crossing) is "sign bit set", no comparator. ``add`` moves every counter in one clock unless
``freeze`` is high: a weight bit 1 adds 1 to ``V`` (``u - 1``), a bit 0 subtracts 1 (``u + 1``). All
counters share bit 0 (every add moves every counter by one, so all bit 0s are equal), so a neuron
costs a ``W - 1``-bit carry chain and ``W - 1`` flip-flops: the rest ``hi = u >> 1`` steps by
``hi + low - w`` (carry-in ``low``, addend all-ones when ``w``). ``values`` is ``~u = V -
threshold - 1`` (an offset of ``V``, so it ranks the neurons like ``V``).

``fired`` flags: the emitter names the neuron it emits as one-hots over chunks of
:data:`~.bits.CHUNK` neurons (``mark_chunk``) and over the bit in the chunk (``mark_bit``), with
``mark`` high; that neuron's flag sets. ``clear`` reloads every counter and clears every flag and
wins over everything: that priority (clear over enable) is what ECP5/iCE40 flip-flops implement with
their synchronous set/reset pin, which is why the core places the bank outside its stall-gated
engine and feeds the stall in as ``freeze``.

Two implementations with the same behaviour (``style``): ``"adder"``, plain arithmetic for any
target; ``"cells"``, hand-placed ECP5 carry cells (:class:`~.carry.CarryCell`): per neuron one chain
of ``ceil((W + 1) / 2)`` cells whose first half injects ``low`` as the carry (so no carry-in pin),
whose sum halves add ``w`` to each bit of ``hi``, and whose last half is a free LUT4 computing the
neuron's next fired flag (no carry-out pin). ``"auto"`` picks cells on ECP5 and the adder elsewhere.

Several events per cycle (``events`` K > 1): ``weights`` is K weight vectors and ``slots`` says which
of them hold an event; ``V`` moves by ``2 * popcount - n`` over the ``n`` valid slots. A slot without
an event must bring all-ones weights (the layer reads a ROM row of ones for it), so every neuron
counts ``pc`` ones over all K slots, ``K - n`` too many. In ``u``: ``u + n - 2 * (pc - (K - n)) = u +
(2K - n) - 2 * pc``. Bit 0 is still shared (its parity is ``n``'s): ``low`` becomes ``(low + n) & 1``
and ``hi`` steps by ``c - pc`` with the shared ``c = (low + 2K - n) >> 1``. With K = 2, ``c`` is 1 or
2, so ``hi + (c - 1) + (1 - pc)``: the shared ``c - 1`` is the chain's carry-in and ``1 - pc`` (-1,
0, 1) is a function of the two weight bits alone, one LUT4 per bit as before: the carry-cell chain
costs what it costs at K = 1. The cells exist for K <= 2; ``"auto"`` takes the adder for K > 2.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from ..model import spec
from .bits import CHUNK
from .carry import CarryCell, is_ecp5

__all__ = ["CounterBank", "STYLES"]

STYLES = ("auto", "adder", "cells")

#: carry-cell INIT words: the carry-in half (P = 0, G = A), a sum half (P = A ^ B, G = A & B), the
#: fired-flag half (A | B & C & D with A = fired, B = mark, C = chunk one-hot, D = bit one-hot)
INIT_CARRY_IN = 0x000A
INIT_SUM = 0x6008
INIT_FIRED = 0xEAAA


def _pair_init(bit: int) -> int:
    """K = 2 sum half for bit ``bit`` of ``hi + (1 - w0 - w1)``: ``A = hi``, ``B = w0``, ``C = w1``,
    ``D = 1``; ``P = A ^ x`` with ``x`` that bit of ``1 - B - C`` (two's complement), ``G = A`` (when
    ``P = 0``, ``A`` equals ``x``: both or neither carry)."""
    init = 0b1010  # G = A, over INIT[3:0]
    for c in (0, 1):
        for b in (0, 1):
            x = ((1 - b - c) >> bit) & 1
            for a in (0, 1):
                init |= (a ^ x) << (8 | c << 2 | b << 1 | a)
    return init


INIT_PAIR_BIT0 = _pair_init(0)
INIT_PAIR_HIGH = _pair_init(1)


class CounterBank(wiring.Component):
    """Signature: ``add``, ``weights`` (one bit per counter), ``clear``, ``freeze``, ``mark``,
    ``mark_chunk``, ``mark_bit`` in; ``values`` (``V - threshold - 1`` per neuron), ``cross``
    (``V > threshold``) and ``fired`` out."""

    def __init__(self, n_counters: int, fan_in: int, threshold: int, style: str = "auto", events: int = 1):
        if style not in STYLES:
            raise ValueError(f"counter style must be one of {', '.join(STYLES)}, got {style!r}")
        if style == "cells" and events > 2:
            raise ValueError(f"the carry-cell counters add up to 2 events per cycle, not {events}; use "
                             "counter style 'adder' or 'auto' with more events per cycle")
        self.n, self.threshold, self.style, self.events = n_counters, threshold, style, events
        self.width = spec.parallel_counter_bits(fan_in, threshold)
        self.n_chunks = -(-n_counters // CHUNK)
        weights = In(n_counters) if events == 1 else In(data.ArrayLayout(unsigned(n_counters), events))
        slots = {} if events == 1 else {"slots": In(events)}
        super().__init__({
            "add": In(1), "weights": weights, **slots, "clear": In(1), "freeze": In(1),
            "mark": In(1), "mark_chunk": In(self.n_chunks), "mark_bit": In(min(CHUNK, n_counters)),
            "values": Out(data.ArrayLayout(signed(self.width), n_counters)),
            "cross": Out(n_counters), "fired": Out(n_counters),
        })

    def _marked(self, j: int):
        return self.mark & self.mark_chunk[j // CHUNK] & self.mark_bit[j % CHUNK]

    def elaborate(self, platform):
        m = Module()
        W = self.width
        cells = self.events <= 2 and (self.style == "cells" or (self.style == "auto" and is_ecp5(platform)))
        low = Signal(init=self.threshold & 1)
        high = [Signal(signed(W - 1), init=self.threshold >> 1, name=f"u{j}") for j in range(self.n)]
        fired = Signal(self.n)
        nxt_high = [Signal(W - 1, name=f"next_u{j}") for j in range(self.n)]
        nxt_fired = Signal(self.n)
        K = self.events
        carry_in, shared, n_valid = low, None, 1
        if K > 1:
            n_valid = sum(self.slots)
            shared = Signal(range(2 * K + 2))  # c: what every hi moves by before its popcount
            m.d.comb += shared.eq((low + 2 * K - n_valid) >> 1)
            if cells:  # K = 2: c - 1 (0 or 1) is the chains' carry-in
                carry_in = Signal()
                m.d.comb += carry_in.eq(shared - 1)
        for j in range(self.n):
            if cells:
                self._chain(m, j, carry_in, high[j], nxt_high[j], fired[j], nxt_fired[j])
            elif K > 1:
                count = sum(self.weights[k][j] for k in range(K))
                m.d.comb += [nxt_high[j].eq(high[j] + shared - count),
                             nxt_fired[j].eq(fired[j] | self._marked(j))]
            else:
                m.d.comb += [nxt_high[j].eq(high[j] + self.weights[j].replicate(W - 1).as_signed() + low),
                             nxt_fired[j].eq(fired[j] | self._marked(j))]
        with m.If(self.clear):
            m.d.sync += [low.eq(self.threshold & 1), fired.eq(0)] + [h.eq(self.threshold >> 1) for h in high]
        with m.Elif(~self.freeze):
            m.d.sync += fired.eq(nxt_fired)
            with m.If(self.add):
                nxt_low = (low + n_valid)[0] if K > 1 else ~low
                m.d.sync += [low.eq(nxt_low)] + [h.eq(n) for h, n in zip(high, nxt_high)]
        m.d.comb += [self.values.eq(Cat(*[~Cat(low, h) for h in high])),
                     self.cross.eq(Cat(*[h[-1] for h in high])),
                     self.fired.eq(fired)]
        return m

    def _chain(self, m, j, low, high, nxt_high, fired, nxt_fired):
        """Neuron ``j``'s carry chain: halves ``[carry-in, sum bit 0 .. W-2, (pad,) fired flag]``;
        ``low`` is the carry-in (K = 1: ``low``; K = 2: ``c - 1``)."""
        pair_sum = self.events == 2
        halves = ["carry-in"] + list(range(len(high))) + ["pad"] * (len(high) % 2) + ["fired"]
        carry = None
        n_cells = len(halves) // 2
        for k in range(n_cells):
            pair = halves[2 * k:2 * k + 2]
            plain = INIT_SUM if not pair_sum else None
            init = tuple({"carry-in": INIT_CARRY_IN, "fired": INIT_FIRED, "pad": 0}.get(
                h, plain or (INIT_PAIR_BIT0 if h == 0 else INIT_PAIR_HIGH)) for h in pair)
            cell = CarryCell(init, tuple(h == "fired" for h in pair),
                             chain_start=k == 0, chain_end=k == n_cells - 1)
            m.submodules[f"chain{j}_{k}"] = cell
            for half, role in enumerate(pair):
                a, b, c, d = (getattr(cell, f"{p}{half}") for p in "abcd")
                s = getattr(cell, f"s{half}")
                if role == "carry-in":
                    m.d.comb += [a.eq(low), b.eq(1), c.eq(1), d.eq(1)]
                elif role == "pad":  # P = 0, G = 0: an unused half
                    m.d.comb += [a.eq(1), b.eq(1), c.eq(1), d.eq(1)]
                elif role == "fired":
                    m.d.comb += [a.eq(fired), b.eq(self.mark), c.eq(self.mark_chunk[j // CHUNK]),
                                 d.eq(self.mark_bit[j % CHUNK]), nxt_fired.eq(s)]
                elif pair_sum:  # hi bit + bit `role` of (1 - w0 - w1); D = 1 keeps G in INIT[3:0]
                    m.d.comb += [a.eq(high[role]), b.eq(self.weights[0][j]), c.eq(self.weights[1][j]),
                                 d.eq(1), nxt_high[role].eq(s)]
                else:
                    m.d.comb += [a.eq(high[role]), b.eq(self.weights[j]), c.eq(1), d.eq(1),
                                 nxt_high[role].eq(s)]
            # the first cell's carry-in never propagates (its first half has P = 0): drive its
            # model with something that changes, so simulation shows it does not matter
            m.d.comb += cell.cin.eq(~low if carry is None else carry)
            carry = cell.cout
