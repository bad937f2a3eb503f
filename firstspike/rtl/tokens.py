# SPDX-License-Identifier: MIT
"""Layouts of the streams inside and at the edge of the core."""

from __future__ import annotations

from amaranth.hdl import unsigned
from amaranth.lib import data

__all__ = ["RESULT_LAYOUT", "SPIKE_LAYOUT", "bundle_layout", "token_layout", "record_layout"]

#: Result of one image: class, decision step (spike time of the winner, or T) and cycle count.
RESULT_LAYOUT = data.StructLayout({"cls": unsigned(8), "step": unsigned(16), "cycles": unsigned(32)})

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
