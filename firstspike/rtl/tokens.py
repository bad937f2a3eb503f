# SPDX-License-Identifier: MIT
"""Layouts of the streams inside and at the edge of the core."""

from __future__ import annotations

from amaranth.hdl import unsigned
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out

__all__ = ["EVENT_LAYOUT", "RESULT_LAYOUT", "SPIKE_LAYOUT", "bundle_layout", "token_layout",
           "record_layout", "engine_signature"]

#: Result of one image: class, decision step (spike time of the winner, or T) and cycle count.
RESULT_LAYOUT = data.StructLayout({"cls": unsigned(8), "step": unsigned(16), "cycles": unsigned(32)})

#: One input event fed to the core instead of pixels: input ``address``, spike ``time``; ``end``
#: (no event) closes the image.
EVENT_LAYOUT = data.StructLayout({"address": unsigned(16), "time": unsigned(16), "end": unsigned(1)})

#: Debug record of one spike: layer (0 = first hidden layer), neuron, spike time.
SPIKE_LAYOUT = data.StructLayout({"layer": unsigned(4), "neuron": unsigned(16), "time": unsigned(16)})


def token_layout(neuron_bits: int, time_bits: int) -> data.StructLayout:
    """An event between two stages. ``last`` closes the group of events sharing one time step;
    ``done`` (no event) says the image has no further events."""
    return data.StructLayout({
        "neuron": unsigned(neuron_bits), "time": unsigned(time_bits),
        "last": unsigned(1), "done": unsigned(1),
    })


def bundle_layout(neuron_bits: int, time_bits: int, events: int) -> data.StructLayout:
    """Up to ``events`` events of one time step, taken in one cycle: slot ``j`` holds ``neuron[j]``
    when bit ``j`` of ``valid`` is set (the valid slots are a prefix); ``last`` closes the step;
    ``done`` (no event) says the image has no further events."""
    return data.StructLayout({
        "neuron": data.ArrayLayout(unsigned(neuron_bits), events), "valid": unsigned(events),
        "time": unsigned(time_bits), "last": unsigned(1), "done": unsigned(1),
    })


def record_layout(neuron_bits: int, time_bits: int) -> data.StructLayout:
    return data.StructLayout({"neuron": unsigned(neuron_bits), "time": unsigned(time_bits)})


def engine_signature(neuron_bits: int, time_bits: int, is_output: bool, events: int = 1) -> dict:
    """Members shared by every layer engine (fc and conv): ``inp``/``out`` token streams (``inp``
    carries bundles of up to ``events`` events when ``events > 1``), ``rec`` debug records, ``halt``,
    ``ready_state``, ``pending_any``; the output layer adds its decision (``decided``, ``cls``, ``step``)."""
    tokens = token_layout(neuron_bits, time_bits)
    inp = tokens if events == 1 else bundle_layout(neuron_bits, time_bits, events)
    members = {
        "inp": In(stream.Signature(inp)),
        "out": Out(stream.Signature(tokens)),
        "rec": Out(stream.Signature(record_layout(neuron_bits, time_bits))),
        "halt": In(1),
        "ready_state": Out(1),
        "pending_any": Out(1),
    }
    if is_output:
        members.update({"decided": Out(1), "cls": Out(8), "step": Out(16)})
    return members
