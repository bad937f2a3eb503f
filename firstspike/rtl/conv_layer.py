# SPDX-License-Identifier: MIT
"""Conv layer engine: event-driven binary convolution (sum pooling folded), P channel lanes, Q banks.

Memories (``amaranth.lib.memory``; geometry in :mod:`.conv_geometry`):

* kernel ROM: the plan's words (:mod:`firstspike.export.conv`), word ``tap * G + g`` = signs of
  output channels ``g * P .. g * P + P - 1``; one read port per bank;
* potentials: ``Q`` banks, bank ``b`` holds column ``bx * Q + b`` of every block ``(oy, bx)``; word
  ``block * G + g`` = ``P`` signed accumulators, their ``fired`` bits and the block's ``dirty`` bit;
* touched list: the blocks the current step's events visited (a block is appended when its group-0
  word in bank 0 is not yet dirty);
* crossings: one word of ``positions`` bits per output channel (bit-granular writes), and one flag
  per channel saying its word is not empty.

Per event (a token of the FC layer's layout, accepted in state TAKE): the accept cycle decodes the
input neuron (constant divisions, per-row and per-column window tables), then one cycle per
``(row, block, group)`` it reaches reads the kernel word of each bank's tap and the potential word;
a cycle later every enabled lane adds +1 or -1 and writes back (transparent read-modify-write).

Closing a step (after the event flagged ``last``): one cycle to fetch the touched list, then one
compare cycle per ``(touched block, group)``; a cycle later every lane of every bank tests
``V > threshold`` (strict, not fired before); its crossings set ``fired``. A compare result with
``k > 0`` crossings holds the pass for ``1 + k`` cycles: one, then one per crossing to set its bit in
the crossing memory. One more cycle ends the pass. Emission, in (time, neuron) order since neurons
are numbered channel-major: per channel with crossings (lowest first) one cycle finds it, one loads
and clears its word, one cycle per spike (lowest position first) emits ``(c * positions + pos,
step + 1)`` as a record and, if that time can still matter (``spec.is_effective``), as a token for
the next layer (``last`` on the step's final token). One cycle finds no further channel. Exact
costs: :mod:`.conv_cycles`. Back-pressure on ``out`` or ``rec`` only delays the emission.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, wiring

from ..model import spec
from .bits import first_set
from .conv_geometry import ConvGeometry
from .decision import DecisionUnit
from .divide import divide_by_constant
from .tokens import engine_signature

__all__ = ["ConvLayerEngine"]


def _pow2(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


class ConvLayerEngine(wiring.Component):
    """Signature: ``inp`` (tokens in), ``out`` (tokens to the next layer), ``rec`` (debug records),
    ``halt`` (stop taking tokens and emitting), ``ready_state`` (memories cleared, waiting for
    tokens), ``pending_any`` (spikes of a closed step still to emit). As the output layer (an fc
    layer over a pooled map: a 1x1 output map) it adds ``decided``, ``cls``, ``step`` (valid in the
    cycle ``decided`` is high), takes no ``out`` and reports its spikes even while halted."""

    def __init__(self, geometry: ConvGeometry, *, threshold: int, T: int, rom: list[int],
                 fan_in: int, neuron_bits: int, time_bits: int, is_output: bool = False):
        self.geo, self.threshold, self.T, self.is_output = geometry, int(threshold), T, is_output
        self.rom = list(rom)
        g = geometry
        taps = g.c_in * g.kh * g.kw
        if len(self.rom) != taps * g.groups:
            raise ValueError(f"kernel ROM has {len(self.rom)} words, expected {taps * g.groups} "
                             f"({taps} taps x {g.groups} groups)")
        if max(g.n_in, g.n_out) > 1 << neuron_bits:
            raise ValueError(f"neuron_bits {neuron_bits} cannot number {max(g.n_in, g.n_out)} neurons")
        self.acc_bits = spec.accumulator_bits(fan_in)
        if is_output and g.positions != 1:
            raise ValueError(f"an output layer has a 1x1 output map, this one is {g.h_out}x{g.w_out}")
        super().__init__(engine_signature(neuron_bits, time_bits, is_output))

    def elaborate(self, platform):
        m = Module()
        geo, T = self.geo, self.T
        P, Q, G, W = geo.lanes, geo.taps, geo.groups, self.acc_bits
        n_blk, n_pos, wb = geo.blocks, geo.positions, geo.blocks_per_row
        channels = G * P  # crossing words and flags, lanes of the last group included (never set)
        Pp = _pow2(P)     # crossing-mask lanes of one bank, padded so bank = index >> log2(Pp)
        word_t = data.StructLayout({"v": data.ArrayLayout(signed(W), P), "fired": unsigned(P),
                                    "dirty": unsigned(1)})
        entry_t = data.StructLayout({"blk": range(max(n_blk, 2)), "base": range(max(n_pos, 2)),
                                     "bx": range(max(wb, 2))})

        m.submodules.kernel = kernel = memory.Memory(shape=unsigned(P), depth=len(self.rom), init=self.rom)
        k_rd = [kernel.read_port() for _ in range(Q)]
        banks, b_wr, b_rd = [], [], []
        for b in range(Q):
            bank = memory.Memory(shape=word_t, depth=n_blk * G, init=[])
            m.submodules[f"bank{b}"] = bank
            wr = bank.write_port()
            b_wr.append(wr)
            b_rd.append(bank.read_port(transparent_for=(wr,)))
            banks.append(bank)
        m.submodules.touched = touched = memory.Memory(shape=entry_t, depth=max(n_blk, 2), init=[])
        t_wr = touched.write_port()
        t_rd = touched.read_port(transparent_for=(t_wr,))
        m.submodules.crossings = xmem = memory.Memory(shape=unsigned(n_pos), depth=channels, init=[])
        x_wr = xmem.write_port(granularity=1)
        x_rd = xmem.read_port()

        # ---- event registers (set in the accept cycle)
        ci = Signal(range(max(geo.c_in, 2)))
        py = Signal(range(max(geo.h_in, 2)))
        px = Signal(range(max(geo.w_in, 2)))
        oy, oy_hi = Signal(range(max(geo.h_out, 2))), Signal(range(max(geo.h_out, 2)))
        bx, bx_lo, bx_hi = (Signal(range(max(wb, 2))) for _ in range(3))
        ox_lo, ox_hi = Signal(range(max(geo.w_out, 2))), Signal(range(max(geo.w_out, 2)))
        grp = Signal(range(max(G, 2)))
        step = Signal(len(self.inp.payload.time))
        last = Signal()
        n_touched = Signal(range(n_blk + 1))
        d = Signal(range(n_blk + 1))
        clear = Signal(range(max(n_blk * G, channels) + 1))
        flags = Signal(channels)

        # ---- stage 2 (one cycle after an issue the read data is there)
        s_acc, s_cmp = Signal(), Signal()
        s_addr = Signal(range(max(n_blk * G, 2)))
        s_grp = Signal(range(max(G, 2)))
        s_en = Signal(Q)              # accumulate: banks whose column lies in the event's window
        s_entry = Signal(entry_t)     # the block being accumulated or compared
        m.d.sync += [s_acc.eq(0), s_cmp.eq(0)]

        tail = geo.c_out - (G - 1) * P
        lane_mask = Signal(P)
        m.d.comb += lane_mask.eq(Mux(s_grp == G - 1, (1 << tail) - 1, (1 << P) - 1))

        for b in range(Q):
            old = b_rd[b].data
            with m.If(s_acc):
                m.d.comb += [b_wr[b].addr.eq(s_addr), b_wr[b].en.eq(1),
                             b_wr[b].data.fired.eq(old.fired), b_wr[b].data.dirty.eq(1)]
                for j in range(P):
                    step_j = Mux(s_en[b], Mux(k_rd[b].data[j], 1, -1), 0)
                    m.d.comb += b_wr[b].data.v[j].eq(old.v[j] + step_j)
        with m.If(s_acc & (s_grp == 0) & ~b_rd[0].data.dirty):
            m.d.comb += [t_wr.addr.eq(n_touched), t_wr.en.eq(1), t_wr.data.eq(s_entry)]
            m.d.sync += n_touched.eq(n_touched + 1)

        # compare: crossings of every bank, one chunk of Pp bits per bank
        cross = Signal(Q * Pp)
        for b in range(Q):
            old = b_rd[b].data
            real = s_entry.bx * Q + b < geo.w_out   # the last block of a row may be partial
            above = Cat(*[old.v[j] > self.threshold for j in range(P)])
            hit = Signal(P, name=f"hit{b}")
            m.d.comb += [hit.eq(above & ~old.fired & lane_mask & real.replicate(P)),
                         cross[b * Pp:b * Pp + P].eq(hit)]
            with m.If(s_cmp):
                m.d.comb += [b_wr[b].addr.eq(s_addr), b_wr[b].en.eq(1), b_wr[b].data.v.eq(old.v),
                             b_wr[b].data.fired.eq(old.fired | hit), b_wr[b].data.dirty.eq(0)]
        crossed = Signal()
        m.d.comb += crossed.eq(s_cmp & cross.any())
        decided = Signal()
        if self.is_output:  # one position, one bank: the compare results are the output potentials
            m.submodules.decision = dec = DecisionUnit(geo.n_out, P, G, W, from_memory=True)
            above0 = Cat(*[b_rd[0].data.v[j] > self.threshold for j in range(P)])
            m.d.comb += [dec.valid.eq(s_cmp), dec.group.eq(s_grp), dec.potentials.eq(b_rd[0].data.v),
                         dec.lane_mask.eq(lane_mask), dec.cross.eq((above0 & lane_mask).any())]
        wmask = Signal(Q * Pp)
        w_grp = Signal(range(max(G, 2)))
        w_base = Signal(range(max(n_pos, 2)))
        with m.If(crossed):
            m.d.sync += [wmask.eq(cross), w_grp.eq(s_grp), w_base.eq(s_entry.base)]

        # ---- decode of the input neuron (accept cycle)
        i = self.inp.payload.neuron
        plane = geo.h_in * geo.w_in
        dec_ci = Signal(range(max(geo.c_in, 2)))
        dec_y, dec_x = Signal(range(max(geo.h_in, 2))), Signal(range(max(geo.w_in, 2)))
        dec_py, dec_px = Signal.like(py), Signal.like(px)
        rest = Signal(range(max(plane, 2)))
        m.d.comb += [dec_ci.eq(divide_by_constant(i, plane, geo.n_in)), rest.eq(i - dec_ci * plane)]
        m.d.comb += [dec_y.eq(divide_by_constant(rest, geo.w_in, plane)), dec_x.eq(rest - dec_y * geo.w_in),
                     dec_py.eq(divide_by_constant(dec_y, geo.pool, geo.h_in)),
                     dec_px.eq(divide_by_constant(dec_x, geo.pool, geo.w_in))]
        rows = [geo.row_table[p] if p < len(geo.row_table) else (1, 0) for p in range((geo.h_in - 1) // geo.pool + 1)]
        cols = [geo.column_table[p] if p < len(geo.column_table) else (1, 0, 0, 0)
                for p in range((geo.w_in - 1) // geo.pool + 1)]
        row_lo = Array([Const(r[0], range(geo.h_out + 1)) for r in rows])[dec_py]
        row_hi = Array([Const(r[1], range(geo.h_out + 1)) for r in rows])[dec_py]
        col = [Array([Const(c[k], range(geo.w_out + 1)) for c in cols])[dec_px] for k in range(4)]
        empty = Signal()
        m.d.comb += empty.eq((row_lo > row_hi) | (col[0] > col[1]))

        # ---- issue of one (row, block, group) of the current event
        dy = Signal(signed(16))
        m.d.comb += dy.eq(py + geo.pad - oy * geo.stride)
        tap_row = Signal(range(max(geo.c_in * geo.kh * geo.kw, 2) + 1))
        m.d.comb += tap_row.eq((ci * geo.kh + dy) * geo.kw)

        def issue_acc():
            blk = oy * wb + bx
            m.d.sync += [s_acc.eq(1), s_grp.eq(grp), s_addr.eq(blk * G + grp),
                         s_entry.blk.eq(blk), s_entry.base.eq(oy * geo.w_out + bx * Q), s_entry.bx.eq(bx)]
            for b in range(Q):
                ox_b = bx * Q + b
                inside = (ox_b >= ox_lo) & (ox_b <= ox_hi)
                dx = Signal(signed(16), name=f"dx{b}")
                m.d.comb += [dx.eq(px + geo.pad - ox_b * geo.stride), b_rd[b].addr.eq(blk * G + grp),
                             k_rd[b].addr.eq(Mux(inside, (tap_row + dx) * G + grp, 0))]
                m.d.sync += s_en[b].eq(inside)

        def issue_cmp():
            entry = t_rd.data
            m.d.sync += [s_cmp.eq(1), s_grp.eq(grp), s_addr.eq(entry.blk * G + grp), s_entry.eq(entry)]
            for b in range(Q):
                m.d.comb += b_rd[b].addr.eq(entry.blk * G + grp)

        # ---- emission
        m.d.comb += t_rd.addr.eq(d)
        found_c = first_set(m, flags, "channel")
        co = Signal(range(max(channels, 2)))
        word = Signal(n_pos)
        found_p = first_set(m, word, "position")
        rec_sent, out_sent = Signal(), Signal()
        spike_time = step + spec.SPIKE_DELAY
        effective = spike_time <= spec.last_effective_time(T)
        bit = Signal(range(max(Q * Pp, 2)))
        found_w = first_set(m, wmask, "crossing")
        m.d.comb += bit.eq(found_w.index)

        with m.FSM(init="CLEAR"):
            with m.State("CLEAR"):
                for b in range(Q):
                    m.d.comb += [b_wr[b].addr.eq(clear), b_wr[b].en.eq(clear < n_blk * G),
                                 b_wr[b].data.eq(0)]
                m.d.comb += [x_wr.addr.eq(clear), x_wr.en.eq(Mux(clear < channels, (1 << n_pos) - 1, 0)),
                             x_wr.data.eq(0)]
                m.d.sync += clear.eq(clear + 1)
                with m.If(clear == max(n_blk * G, channels) - 1):
                    m.next = "TAKE"
            with m.State("TAKE"):
                m.d.comb += self.ready_state.eq(1)
                done = self.inp.payload.done
                with m.If(self.inp.valid & ~self.halt & ~decided):
                    with m.If(done):
                        if self.is_output:  # no crossing before the input ran out
                            m.d.comb += [self.inp.ready.eq(1), self.decided.eq(1), self.cls.eq(dec.best),
                                         self.step.eq(T)]
                            m.d.sync += decided.eq(1)
                            m.next = "IDLE"
                        else:
                            m.d.comb += [self.out.valid.eq(1), self.out.payload.done.eq(1),
                                         self.inp.ready.eq(self.out.ready)]
                            with m.If(self.out.ready):
                                m.next = "IDLE"
                    with m.Else():
                        m.d.comb += self.inp.ready.eq(1)
                        m.d.sync += [ci.eq(dec_ci), py.eq(dec_py), px.eq(dec_px), oy.eq(row_lo),
                                     oy_hi.eq(row_hi), ox_lo.eq(col[0]), ox_hi.eq(col[1]), bx.eq(col[2]),
                                     bx_lo.eq(col[2]), bx_hi.eq(col[3]), grp.eq(0),
                                     step.eq(self.inp.payload.time), last.eq(self.inp.payload.last)]
                        with m.If(~empty):
                            m.next = "ACC"
                        with m.Elif(self.inp.payload.last):
                            m.next = "CMP_START"
            with m.State("ACC"):
                issue_acc()
                m.d.sync += grp.eq(grp + 1)
                with m.If(grp == G - 1):
                    m.d.sync += [grp.eq(0), bx.eq(bx + 1)]
                    with m.If(bx == bx_hi):
                        m.d.sync += [bx.eq(bx_lo), oy.eq(oy + 1)]
                        with m.If(oy == oy_hi):
                            with m.If(last):
                                m.next = "CMP_START"
                            with m.Else():
                                m.next = "TAKE"
            with m.State("CMP_START"):  # the touched list's first entry is read
                m.d.sync += [d.eq(0), grp.eq(0)]
                m.next = "CMP"
            with m.State("CMP"):
                with m.If(crossed):
                    m.next = "XWRITE"
                with m.Elif(d < n_touched):
                    issue_cmp()
                    m.d.sync += grp.eq(grp + 1)
                    with m.If(grp == G - 1):
                        m.d.sync += [grp.eq(0), d.eq(d + 1)]
                        m.d.comb += t_rd.addr.eq(d + 1)
                with m.Else():
                    m.d.sync += [d.eq(0), n_touched.eq(0)]
                    m.next = "EMIT_FIND"
            with m.State("XWRITE"):  # one crossing of the held compare result per cycle
                bank = bit >> (Pp.bit_length() - 1)
                lane = bit & (Pp - 1)
                channel = w_grp * P + lane
                m.d.comb += [x_wr.addr.eq(channel), x_wr.en.eq(Const(1, n_pos) << (w_base + bank)),
                             x_wr.data.eq((1 << n_pos) - 1)]
                m.d.sync += [flags.eq(flags | (Const(1, channels) << channel)),
                             wmask.eq(wmask & ~found_w.onehot)]
                with m.If(found_w.single):
                    m.next = "CMP"
            with m.State("EMIT_FIND"):
                m.d.comb += self.pending_any.eq(found_c.any)
                if self.is_output:  # the first compare pass with a crossing decides
                    with m.If(dec.crossed & ~decided):
                        m.d.comb += [self.decided.eq(1), self.cls.eq(dec.best), self.step.eq(spike_time)]
                        m.d.sync += decided.eq(1)
                with m.If(found_c.any):
                    m.d.comb += x_rd.addr.eq(found_c.index)
                    m.d.sync += [co.eq(found_c.index), flags.eq(flags & ~found_c.onehot)]
                    m.next = "EMIT_LOAD"
                with m.Else():
                    m.next = "TAKE"
            with m.State("EMIT_LOAD"):
                m.d.comb += [self.pending_any.eq(1), x_wr.addr.eq(co), x_wr.en.eq((1 << n_pos) - 1),
                             x_wr.data.eq(0)]
                m.d.sync += word.eq(x_rd.data)
                m.next = "EMIT"
            with m.State("EMIT"):
                m.d.comb += self.pending_any.eq(1)
                neuron = co * n_pos + found_p.index
                may_emit = Const(1) if self.is_output else ~self.halt
                if self.is_output:
                    effective = Const(0)  # no next layer
                m.d.comb += [self.rec.valid.eq(may_emit & ~rec_sent), self.rec.payload.neuron.eq(neuron),
                             self.rec.payload.time.eq(spike_time),
                             self.out.valid.eq(may_emit & ~out_sent & effective),
                             self.out.payload.neuron.eq(neuron), self.out.payload.time.eq(spike_time),
                             self.out.payload.last.eq(found_p.single & ~flags.any())]
                rec_ok = rec_sent | self.rec.ready
                out_ok = out_sent | self.out.ready | ~effective
                with m.If(may_emit & rec_ok & out_ok):
                    m.d.sync += [word.eq(word & ~found_p.onehot), rec_sent.eq(0), out_sent.eq(0)]
                    with m.If(found_p.single):
                        m.next = "EMIT_FIND"
                with m.Elif(may_emit):
                    m.d.sync += [rec_sent.eq(rec_ok), out_sent.eq(out_sent | (self.out.valid & self.out.ready))]
            with m.State("IDLE"):
                m.d.comb += self.ready_state.eq(1)
        return m
