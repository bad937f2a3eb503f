# SPDX-License-Identifier: MIT
"""The event-driven TTFS core: encoder -> layer engines -> decision, with result and spike streams.

Signature (``wiring.Component``)::

    pixels : In(stream.Signature(unsigned(8)))     one image = sizes[0] pixels, row-major
    events : In(stream.Signature(EVENT_LAYOUT))    or: one image = its input events, then ``end``
    result : Out(stream.Signature(RESULT_LAYOUT))  class, decision step, cycles
    spikes : Out(stream.Signature(SPIKE_LAYOUT))   every spike the core computed (debug)

Processing of one image: the pixels stream into the :class:`InputEncoder`, which sorts them into
time buckets; its events feed layer 0; each layer's spikes feed the next layer through a FIFO that
can never fill (a block-RAM FIFO; a layer emits at most ``n_out`` spikes and one ``done`` per image;
with ``events`` K > 1 the encoder is :class:`WideInputEncoder` and each FIFO a :class:`BundleQueue`,
so every layer takes bundles of up to K events of one step per cycle). A layer works on
a time step as soon as the step's events are in its FIFO, so the layers overlap (pipelined). The
output layer's :class:`DecisionUnit` applies ``spec``'s ``hardware`` rule; at the decision the
core stops (early exit), presents the result, lets the output layer report its crossing spikes,
resets, clears its potential memories, waits until the spike stream has drained, and only then
accepts the next image's pixels. So the spikes of image ``i`` all leave before the first pixel of
image ``i + 1`` is accepted.

``cycles`` (exact, predicted by :func:`firstspike.rtl.cycles.predict_cycles`): number the clock
cycles in which the core is not stalled, starting with 0 at the first such cycle after the cycle
in which the image's last pixel is accepted (an image given as ``E`` input events: starting with 0
at its first event, the events and the ``end`` record counted as if they came back to back, i.e.
``E + 1`` plus the count of the same image given as pixels); ``cycles`` is the number of the cycle in which
``result.valid`` first goes high. The core stalls (freezes completely, so the count ignores it)
only while a spike record cannot be stored because the ``spikes`` consumer holds ``ready`` low;
with ``spikes.ready`` tied high it never stalls. Back-pressure on ``result`` and idle gaps on
``pixels`` or ``events`` do not change ``cycles``.

Spikes reported per image: every spike a hidden layer emitted up to and including the decision
cycle (always a prefix, in (time, neuron) order, of that layer's spikes, and always every spike
with time < decision step), and the output spikes at the decision step (none when no output
fires). Each layer's records come in (time, neuron) order; records of different layers interleave.
"""

from __future__ import annotations

from amaranth.hdl import Elaboratable, EnableInserter, Module, Mux, ResetInserter, Signal, unsigned
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from .conv_geometry import ConvGeometry
from .conv_layer import ConvLayerEngine
from .bundle_queue import BundleQueue
from .encoder import InputEncoder
from .encoder_wide import WideInputEncoder
from .layer import LayerEngine
from .params import CoreParams, conv_taps, uses_conv_engine
from .tokens import EVENT_LAYOUT, RESULT_LAYOUT, SPIKE_LAYOUT, record_layout, token_layout

__all__ = ["EVENT_LAYOUT", "RESULT_LAYOUT", "SPIKE_LAYOUT", "TTFSCore"]

#: Depth of each layer's debug-record FIFO in front of the ``spikes`` stream.
RECORD_FIFO_DEPTH = 4


class _Engine(Elaboratable):
    """Everything that the ``spikes`` back-pressure freezes (encoder, layers, control, counter);
    ``stall`` is applied per part, under the per-image reset."""

    def __init__(self, params: CoreParams):
        self.params = p = params
        nb, tb = p.neuron_bits, p.time_bits
        if p.events > 1:  # bundles of up to K events of one step per cycle
            self.encoder = WideInputEncoder(p.sizes[0], p.T, p.time_lut(), nb, tb, p.events)
        else:
            self.encoder = InputEncoder(p.sizes[0], p.T, p.time_lut(), nb, tb)
        self.layers = [self._layer_engine(i, layer) for i, layer in enumerate(p.plan.layers)]
        self.token_shape = token_layout(nb, tb)
        self.result_valid = Signal()
        self.result_ready = Signal()
        self.result = Signal(RESULT_LAYOUT)
        self.debug_idle = Signal()
        self.stall = Signal()

    def _layer_engine(self, index: int, layer):
        """The engine of one plan layer: conv layers and fc layers over a pooled map on the conv
        engine (``taps`` positions per cycle), the others on the fc engine."""
        p = self.params
        nb, tb = p.neuron_bits, p.time_bits
        if uses_conv_engine(layer):
            return ConvLayerEngine(ConvGeometry.from_plan(layer, conv_taps(layer, p.taps)),
                                   threshold=layer.threshold, T=p.T,
                                   rom=list(layer.rom), fan_in=layer.fan_in, neuron_bits=nb, time_bits=tb,
                                   is_output=index == p.n_layers - 1)
        return LayerEngine(n_in=layer.inputs, n_out=layer.outputs, lanes=layer.lanes,
                           threshold=layer.threshold, T=p.T, rom=list(layer.rom),
                           neuron_bits=nb, time_bits=tb, is_output=index == p.n_layers - 1,
                           external_counters=True, counter_style=p.counter_style, events=p.events)

    def elaborate(self, platform):
        top = Module()
        m = Module()  # control (FSM, counter, result): frozen by the stall like everything else
        top.submodules.control = EnableInserter(~self.stall)(m)
        p = self.params
        image_reset = Signal()
        halt = Signal()
        counter = Signal(32)

        def per_image(unit):
            # the image reset wins over the stall: flip-flops with a synchronous set/reset pin and
            # a clock enable do exactly that, at no logic cost. Resetting during a stall is harmless:
            # it happens only in FLUSH, where nothing is emitted and the reset is repeated anyway.
            return ResetInserter(image_reset)(EnableInserter(~self.stall)(unit))

        top.submodules.encoder = per_image(self.encoder)
        for i, layer in enumerate(self.layers):
            top.submodules[f"layer{i}"] = per_image(layer)
            m.d.comb += layer.halt.eq(halt)
        wiring.connect(m, self.encoder.tokens, self.layers[0].inp)
        for i in range(p.n_layers - 1):
            if p.events > 1:  # K banks written round robin, read as bundles
                q = BundleQueue(p.neuron_bits, p.time_bits, p.events, depth=p.sizes[i + 1] + 1)
                top.submodules[f"queue{i}"] = per_image(q)
                wiring.connect(m, self.layers[i].out, q.inp)
                wiring.connect(m, q.out, self.layers[i + 1].inp)
                continue
            # buffered (synchronous read): block RAM rather than ~n_out LUT-RAM words plus a wide mux
            q = fifo.SyncFIFOBuffered(width=self.token_shape.size, depth=p.sizes[i + 1] + 1)
            top.submodules[f"queue{i}"] = per_image(q)
            src, dst = self.layers[i].out, self.layers[i + 1].inp
            # the queue never fills (a layer emits at most n_out spikes and one done per image)
            m.d.comb += [src.ready.eq(q.w_rdy), q.w_en.eq(src.valid), q.w_data.eq(src.payload),
                         dst.valid.eq(q.r_rdy), dst.payload.eq(q.r_data), q.r_en.eq(dst.ready)]
        out = self.layers[-1]

        with m.FSM(init="PREPARE"):
            with m.State("PREPARE"):
                ready = self.debug_idle
                for layer in self.layers:
                    ready = ready & layer.ready_state
                with m.If(ready):
                    m.d.sync += counter.eq(0)
                    m.next = "LOAD"
            with m.State("LOAD"):
                m.d.comb += self.encoder.load.eq(1)
                with m.If(self.encoder.event):
                    m.d.sync += counter.eq(counter + 1)  # an event: one cycle of the count
                with m.If(self.encoder.loaded):
                    # after the last pixel the count starts at 0; after the `end` of E events, at E + 1
                    m.d.sync += counter.eq(Mux(self.encoder.events.valid, counter + 1, 0))
                    m.next = "RUN"
            with m.State("RUN"):
                m.d.sync += counter.eq(counter + 1)
                with m.If(out.decided):
                    m.d.sync += [self.result.cls.eq(out.cls), self.result.step.eq(out.step),
                                 self.result.cycles.eq(counter + 1), halt.eq(1)]
                    m.next = "RESULT"
            with m.State("RESULT"):
                m.d.comb += self.result_valid.eq(1)
                with m.If(self.result_ready):
                    m.next = "FLUSH"
            with m.State("FLUSH"):
                with m.If(~out.pending_any):
                    m.d.comb += image_reset.eq(1)
                    m.d.sync += halt.eq(0)
                    m.next = "PREPARE"
        return top


class TTFSCore(wiring.Component):
    """Event-driven binary TTFS network core; see the module docstring for timing and streams."""

    def __init__(self, params: CoreParams):
        self.params = params
        super().__init__({
            "pixels": In(stream.Signature(unsigned(8))),
            "events": In(stream.Signature(EVENT_LAYOUT)),
            "result": Out(stream.Signature(RESULT_LAYOUT)),
            "spikes": Out(stream.Signature(SPIKE_LAYOUT)),
        })

    @classmethod
    def from_network(cls, net, lanes, counter_style: str = "auto", taps: int = 1, events: int = 1) -> TTFSCore:
        """Core for a binary network; ``lanes`` is an int (capped at each layer's width) or one lane
        count per layer; ``counter_style`` see :class:`~.counters.CounterBank`; ``taps``: output
        positions a conv layer updates per cycle (capped at its width); ``events``: input events a
        fully parallel layer adds per cycle."""
        return cls(CoreParams.from_network(net, lanes, counter_style, taps, events))

    @classmethod
    def from_manifest(cls, export_dir) -> TTFSCore:
        """Core for an exported ROM folder (``firstspike export``): its verified plan, ROMs as stored."""
        from ..export.manifest import load_export

        return cls(CoreParams(load_export(export_dir).plan))

    def elaborate(self, platform):
        m = Module()
        p = self.params
        engine = _Engine(p)
        stall = Signal()
        m.submodules.engine = engine
        m.d.comb += engine.stall.eq(stall)
        # counter banks of fully parallel layers: outside the stall gating, frozen through a port
        for i, layer in enumerate(engine.layers):
            if getattr(layer, "counters", None) is not None:
                m.submodules[f"counters{i}"] = layer.counters
                m.d.comb += layer.counters.freeze.eq(stall)

        # pixels and result cross into the freezable engine: handshake only when not stalled
        enc = engine.encoder
        m.d.comb += [
            enc.pixels.valid.eq(self.pixels.valid & ~stall),
            enc.pixels.payload.eq(self.pixels.payload),
            self.pixels.ready.eq(enc.pixels.ready & ~stall),
            enc.events.valid.eq(self.events.valid & ~stall),
            enc.events.payload.eq(self.events.payload),
            self.events.ready.eq(enc.events.ready & ~stall),
            self.result.valid.eq(engine.result_valid & ~stall),
            self.result.payload.eq(engine.result),
            engine.result_ready.eq(self.result.ready & ~stall),
        ]

        # one small FIFO of debug records per layer, merged by layer priority
        rec_shape = record_layout(p.neuron_bits, p.time_bits)
        queues = []
        for i, layer in enumerate(engine.layers):
            q = fifo.SyncFIFO(width=rec_shape.size, depth=RECORD_FIFO_DEPTH)
            m.submodules[f"records{i}"] = q
            # a full record queue freezes the engine (the stall), so the engine may take records always
            m.d.comb += [layer.rec.ready.eq(1), q.w_en.eq(layer.rec.valid & ~stall),
                         q.w_data.eq(layer.rec.payload)]
            queues.append(q)
        full = 0
        for q in queues:
            full = full | ~q.w_rdy
        m.d.comb += stall.eq(full)

        out_valid = Signal()
        out_payload = Signal(SPIKE_LAYOUT)
        m.d.comb += [self.spikes.valid.eq(out_valid), self.spikes.payload.eq(out_payload)]
        with m.If(~out_valid | self.spikes.ready):
            m.d.sync += out_valid.eq(0)
            # fixed priority: lowest layer first
            for i, q in enumerate(queues):
                cond = q.r_rdy
                rec = rec_shape(q.r_data)
                block = m.If(cond) if i == 0 else m.Elif(cond)
                with block:
                    m.d.comb += q.r_en.eq(1)
                    m.d.sync += [out_valid.eq(1), out_payload.layer.eq(i),
                                 out_payload.neuron.eq(rec.neuron), out_payload.time.eq(rec.time)]
        idle = ~out_valid
        for q in queues:
            idle = idle & ~q.r_rdy
        m.d.comb += engine.debug_idle.eq(idle)
        return m
