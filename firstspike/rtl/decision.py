# SPDX-License-Identifier: MIT
"""Decision unit: the contract's ``hardware`` rule (``spec.decide_hardware``) on the output layer.

The output layer compares its potentials group by group after every time step that had events.
This unit keeps the running ``argmax`` over those groups (a strictly greater potential replaces
the best, so equal potentials keep the lowest index) and whether any output crossed. After a
compare pass:

* if an output crossed, this was the first crossing index ``c*``: the class is the argmax of the
  potentials at ``c*`` and the decision step is ``c* + 1``;
* otherwise the argmax is kept; when the input runs out it is the argmax of ``V(T - 2)`` (the
  potentials after the last effective event; all zero, hence class 0, if there was none) and the
  decision step is ``T``.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["DecisionUnit"]


class DecisionUnit(wiring.Component):
    def __init__(self, n_out: int, lanes: int, groups: int, acc_bits: int):
        self.n_out, self.lanes, self.groups, self.acc_bits = n_out, lanes, groups, acc_bits
        index_bits = max(1, (n_out - 1).bit_length())
        super().__init__({
            "valid": In(1),              # one compare-stage group result this cycle
            "group": In(range(max(groups, 2))),
            "potentials": In(data.ArrayLayout(signed(acc_bits), lanes)),
            "lane_mask": In(lanes),      # lanes that hold real neurons
            "cross": In(1),              # some real lane of this group crossed
            "best": Out(index_bits),     # argmax after the last complete pass
            "crossed": Out(1),           # some output has crossed (the decision is due)
        })

    def elaborate(self, platform):
        m = Module()
        P, W = self.lanes, self.acc_bits
        # argmax over the lanes of this group: lane 0 always holds a neuron
        best_v, best_j = self.potentials[0], Signal(range(max(P, 2)), name="lane_best_0")
        m.d.comb += best_j.eq(0)
        for j in range(1, P):
            v = self.potentials[j]
            take = self.lane_mask[j] & (v > best_v)
            nv = Signal(signed(W), name=f"lane_v_{j}")
            nj = Signal(range(max(P, 2)), name=f"lane_best_{j}")
            m.d.comb += [nv.eq(Mux(take, v, best_v)), nj.eq(Mux(take, j, best_j))]
            best_v, best_j = nv, nj
        run_v = Signal(signed(W))
        index = Signal(unsigned(len(self.best) + len(best_j) + len(self.group)))
        m.d.comb += index.eq(self.group * P + best_j)
        with m.If(self.valid):
            with m.If((self.group == 0) | (best_v > run_v)):
                m.d.sync += [run_v.eq(best_v), self.best.eq(index)]
            with m.If(self.cross):
                m.d.sync += self.crossed.eq(1)
        return m
