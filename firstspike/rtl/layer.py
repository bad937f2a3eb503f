# SPDX-License-Identifier: MIT
"""Layer engine: P XNOR-accumulate lanes, threshold compare after each time step, spike emission.

Potentials live in a memory of ``G = ceil(n_out / P)`` words, one word = ``P`` signed
accumulators of ``spec.accumulator_bits(n_in)`` bits. The weight ROM (see
:mod:`firstspike.export.rom`) is read through a synchronous port, as is the potential memory,
whose read port is transparent for its write port (read-modify-write on consecutive cycles).

Per input event (token): ``G`` cycles, one per lane group; in cycle ``k`` the ROM word
``neuron * G + k`` and potential word ``k`` are read, one cycle later every lane adds +1 (weight
bit 1) or -1 (bit 0) and writes back. The input is a spike, so XNOR(spike, weight) is the weight
bit. All events of one time step are added before the step is closed (the event flagged ``last``).

With one group (``P = n_out``, the fully parallel layer) there is no potential memory: every
neuron has its own up/down counter register (:class:`~.counters.CounterBank`) and the strict
crossing test is a sign bit (no comparator). Nothing moves the counters while a closed step's
spikes are emitted, so its pending set is just ``crossing & ~fired`` (no pending register), and a
neuron is marked fired (a flag in the counter bank) when it is emitted. Its
schedule is the same (the counters are written in the cycle the memory would be).

Closing a step ``t``: ``G`` compare cycles read the groups again; a cycle later each lane tests
``V > threshold`` (strict, ``spec``), a neuron not fired before that crosses is marked fired and
pending. One drain cycle later the pending neurons are emitted, lowest index first, one per cycle,
with spike time ``t + 1`` (``spec.spike_time``): as a debug record always, and as a token for the
next layer if that time can still matter (``spec.is_effective``). The emitted group's last token is
flagged ``last``. A neuron never fires twice. Time steps without events never reach the layer.

Several events per cycle (``events`` K > 1, fully parallel layers only): ``inp`` carries bundles
(:func:`~.tokens.bundle_layout`) of up to K events of one time step; the K ROM words are read through K
read ports in the same cycle, and the counter bank adds their signed popcount. A bundle costs what an
event costs; everything else is unchanged.

Cycle costs (all exact; see :mod:`firstspike.rtl.cycles`): an event ``G``; closing a step ``G``
compare + 1 drain + 1 per emitted spike; the engine accepts a token in any cycle of state TAKE
with nothing pending.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, wiring

from ..model import spec
from .bits import first_set
from .counters import CounterBank
from .decision import DecisionUnit
from .tokens import engine_signature

__all__ = ["LayerEngine"]


class LayerEngine(wiring.Component):
    """Signature: ``inp`` (tokens in), ``out`` (tokens to the next layer; pushes never wait),
    ``rec`` (debug records; pushes never wait), ``halt`` (stop taking tokens and emitting),
    ``ready_state`` (the potential memory is cleared), ``pending`` (spikes still to emit).
    The output layer adds ``decided``, ``cls``, ``step`` (valid in the cycle ``decided`` is high)."""

    def __init__(self, *, n_in: int, n_out: int, lanes: int, threshold: int, T: int,
                 rom: list[int], neuron_bits: int, time_bits: int, is_output: bool,
                 external_counters: bool = False, counter_style: str = "auto", events: int = 1):
        self.n_in, self.n_out, self.lanes, self.threshold, self.T = n_in, n_out, lanes, threshold, T
        self.groups = -(-n_out // lanes)
        self.acc_bits = spec.accumulator_bits(n_in)
        self.rom, self.is_output = list(rom), is_output
        if len(self.rom) != n_in * self.groups:
            raise ValueError(f"ROM has {len(self.rom)} words, expected {n_in * self.groups}")
        if events > 1 and self.groups != 1:
            raise ValueError(f"{events} events per cycle need a fully parallel layer (lanes = {n_out}), "
                             f"got {lanes} lanes")
        self.events = events
        super().__init__(engine_signature(neuron_bits, time_bits, is_output, events))
        #: P = n_out: the counter bank; with ``external_counters`` the caller adds it as a submodule
        #: (outside its stall gating) and drives its ``freeze``
        self.counters = (CounterBank(lanes, n_in, threshold, counter_style, events)
                         if self.groups == 1 else None)
        self.external_counters = external_counters

    def elaborate(self, platform):
        m = Module()
        P, G, W, T = self.lanes, self.groups, self.acc_bits, self.T
        lanes_t = data.ArrayLayout(signed(W), P)

        K = self.events
        # K > 1: one more row of all-ones weights, read by the slots of a bundle that hold no event
        # (the counter bank discounts them, see .counters)
        rows = self.rom + ([(1 << P) - 1] if K > 1 else [])
        m.submodules.rom = rom = memory.Memory(shape=unsigned(P), depth=len(rows), init=rows)
        rom_rds = [rom.read_port() for _ in range(K)]
        rom_rd = rom_rds[0]
        parallel = G == 1
        if not parallel:
            m.submodules.pot = pot = memory.Memory(shape=lanes_t, depth=G, init=[])
            pot_wr = pot.write_port()
            pot_rd = pot.read_port(transparent_for=(pot_wr,))

        fired = Signal(G * P)
        pending = Signal(G * P)
        group = Signal(range(max(G, 2)))
        neuron = Signal(len(self.out.payload.neuron))
        step = Signal(len(self.out.payload.time))
        last = Signal()
        clear = Signal(range(max(G, 2)))

        # lanes of the last group beyond n_out hold no neuron
        tail = self.n_out - (G - 1) * P
        full_mask = Const((1 << P) - 1, P)
        tail_mask = Const((1 << tail) - 1, P)

        # ---- stage 2: one cycle after an issue, the read data is there
        s_acc = Signal()
        s_cmp = Signal()
        s_group = Signal(range(max(G, 2)))
        m.d.sync += [s_acc.eq(0), s_cmp.eq(0)]

        s_slots = Signal(K)  # K > 1: which slots of the bundle being added hold an event

        def issue(kind, g, addr_neuron, slot_neurons=()):
            m.d.comb += rom_rd.addr.eq(addr_neuron * G + g)
            for port, n in zip(rom_rds[1:], slot_neurons):
                m.d.comb += port.addr.eq(n)
            if not parallel:
                m.d.comb += pot_rd.addr.eq(g)
            m.d.sync += [kind.eq(1), s_group.eq(g)]

        weights = rom_rd.data
        lane_mask = Signal(P)
        m.d.comb += lane_mask.eq(tail_mask if parallel else Mux(s_group == G - 1, tail_mask, full_mask))
        cross = Signal(P)
        clearing = Signal()
        if parallel:
            # one up/down counter per neuron holding V - threshold - 1 (sign bit = no crossing)
            bank = self.counters
            if not self.external_counters:
                m.submodules.counters = bank
            W = bank.width
            v_old = bank.values
            if K > 1:
                m.d.comb += [bank.slots.eq(s_slots)] + [bank.weights[k].eq(port.data)
                                                         for k, port in enumerate(rom_rds)]
            else:
                m.d.comb += bank.weights.eq(weights)
            m.d.comb += [bank.add.eq(s_acc), bank.clear.eq(clearing),
                         cross.eq(bank.cross & lane_mask), fired.eq(bank.fired)]
        else:
            v_old = pot_rd.data
            m.d.comb += cross.eq(Cat(*[v_old[j] > self.threshold for j in range(P)]) & lane_mask)
            with m.If(s_acc):
                m.d.comb += [pot_wr.addr.eq(s_group), pot_wr.en.eq(1)]
                for j in range(P):
                    m.d.comb += pot_wr.data[j].eq(v_old[j] + Mux(weights[j], 1, -1))
        emitting = Signal()  # parallel layer: the crossings of the closed step are being emitted
        if parallel:
            # nothing moves the counters while a closed step's crossings are emitted, so the
            # pending set is simply "crossing and not fired yet" (a neuron is marked fired when
            # it is emitted), live only from the compare until the set is empty
            vector = Signal(P)
            m.d.comb += vector.eq(cross & ~fired)
            with m.If(s_cmp):
                m.d.sync += emitting.eq(1)
        else:
            vector = pending
            with m.If(s_cmp):
                # whole-vector updates (a shifted OR), no dynamic part-select on the left-hand side
                fresh = Signal(P)
                m.d.comb += fresh.eq(cross & ~fired.word_select(s_group, P))
                placed = (fresh << (s_group * P))[:G * P]
                m.d.sync += [fired.eq(fired | placed), pending.eq(pending | placed)]

        if self.is_output:
            # the potentials (offset or not) rank the neurons alike: argmax is unchanged
            m.submodules.decision = dec = DecisionUnit(self.n_out, P, G, W)
            m.d.comb += [dec.valid.eq(s_cmp), dec.group.eq(s_group), dec.potentials.eq(v_old),
                         dec.lane_mask.eq(lane_mask), dec.cross.eq(cross.any())]

        # ---- emission of pending spikes (lowest neuron first)
        found = first_set(m, vector, "pending")
        index, onehot, single = found.index, found.onehot, found.single
        mark = Signal()  # parallel layer: the emitted neuron is marked fired in the counter bank
        if parallel:
            m.d.comb += [bank.mark.eq(mark), bank.mark_chunk.eq(found.chunk_onehot),
                         bank.mark_bit.eq(found.bit_onehot)]
        any_pending = Signal()
        if parallel:
            m.d.comb += any_pending.eq(emitting & found.any)
            with m.If(~found.any):
                m.d.sync += emitting.eq(0)
        else:
            m.d.comb += any_pending.eq(found.any)
        m.d.comb += self.pending_any.eq(any_pending)
        spike_time = step + spec.SPIKE_DELAY
        effective = spike_time <= spec.last_effective_time(T)

        decided = Signal()
        with m.FSM(init="CLEAR"):
            with m.State("CLEAR"):
                m.d.comb += clearing.eq(1)
                if not parallel:
                    m.d.comb += [pot_wr.addr.eq(clear), pot_wr.en.eq(1), pot_wr.data.eq(0)]
                m.d.sync += clear.eq(clear + 1)
                with m.If(clear == G - 1):
                    m.next = "TAKE"
            with m.State("TAKE"):
                m.d.comb += self.ready_state.eq(1)
                may_emit = ~self.halt if not self.is_output else Const(1)
                with m.If(any_pending):
                    with m.If(may_emit):
                        m.d.comb += [self.rec.valid.eq(1), self.rec.payload.neuron.eq(index),
                                     self.rec.payload.time.eq(spike_time)]
                        if not self.is_output:
                            m.d.comb += [self.out.valid.eq(effective),
                                         self.out.payload.neuron.eq(index),
                                         self.out.payload.time.eq(spike_time),
                                         self.out.payload.last.eq(single)]
                        if parallel:  # the counter bank holds the fired flags
                            m.d.comb += mark.eq(1)
                        else:
                            m.d.sync += pending.eq(pending & ~onehot)
                if self.is_output:
                    # a finished compare pass with a crossing decides, before anything else
                    with m.If(dec.crossed & ~decided):
                        m.d.comb += [self.decided.eq(1), self.cls.eq(dec.best),
                                     self.step.eq(spike_time)]
                        m.d.sync += decided.eq(1)
                take = ~any_pending & ~self.halt & self.inp.valid
                if self.is_output:
                    take = take & ~dec.crossed & ~decided
                with m.If(take):
                    m.d.comb += self.inp.ready.eq(1)
                    with m.If(self.inp.payload.done):
                        if self.is_output:
                            m.d.comb += [self.decided.eq(1), self.cls.eq(dec.best), self.step.eq(T)]
                            m.d.sync += decided.eq(1)
                        else:
                            m.d.comb += [self.out.valid.eq(1), self.out.payload.done.eq(1)]
                        m.next = "IDLE"
                    with m.Else():
                        if K > 1:
                            slots, valid = self.inp.payload.neuron, self.inp.payload.valid
                            issue(s_acc, 0, slots[0], [Mux(valid[k], slots[k], self.n_in) for k in range(1, K)])
                            m.d.sync += s_slots.eq(self.inp.payload.valid)
                        else:
                            issue(s_acc, 0, self.inp.payload.neuron)
                        first_neuron = self.inp.payload.neuron[0] if K > 1 else self.inp.payload.neuron
                        m.d.sync += [neuron.eq(first_neuron), step.eq(self.inp.payload.time),
                                     last.eq(self.inp.payload.last)]
                        if G > 1:
                            m.d.sync += group.eq(1)
                            m.next = "ACC"
                        else:
                            with m.If(self.inp.payload.last):
                                m.d.sync += group.eq(0)
                                m.next = "CMP"
            with m.State("ACC"):
                issue(s_acc, group, neuron)
                m.d.sync += group.eq(group + 1)
                with m.If(group == G - 1):
                    m.d.sync += group.eq(0)
                    with m.If(last):
                        m.next = "CMP"
                    with m.Else():
                        m.next = "TAKE"
            with m.State("CMP"):
                issue(s_cmp, group, neuron)
                m.d.sync += group.eq(group + 1)
                with m.If(group == G - 1):
                    m.d.sync += group.eq(0)
                    m.next = "DRAIN"
            with m.State("DRAIN"):
                m.next = "TAKE"
            with m.State("IDLE"):
                m.d.comb += self.ready_state.eq(1)
        return m
