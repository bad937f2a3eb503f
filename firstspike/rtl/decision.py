# SPDX-License-Identifier: MIT
"""Decision unit: the contract's ``hardware`` rule (``spec.decide_hardware``) on the output layer.

The output layer compares its potentials group by group after every time step that had events.
Inside a group the argmax comes from all pairwise comparisons at once
(up to :data:`ALL_PAIRS_LANES` lanes; one comparator deep, the output layer's critical path
otherwise) or a balanced tree. This unit keeps the running ``argmax`` over the groups (a strictly greater potential replaces
the best, so equal potentials keep the lowest index) and whether any output crossed. After a
compare pass:

* if an output crossed, this was the first crossing index ``c*``: the class is the argmax of the
  potentials at ``c*`` and the decision step is ``c* + 1``;
* otherwise the argmax is kept; when the input runs out it is the argmax of ``V(T - 2)`` (the
  potentials after the last effective event; all zero, hence class 0, if there was none) and the
  decision step is ``T``.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["DecisionUnit"]

#: groups up to this many lanes take their argmax from all pairwise comparisons at once
ALL_PAIRS_LANES = 16


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
        lane_bits = max(1, (P - 1).bit_length())
        if P <= ALL_PAIRS_LANES:
            best_v, best_j = self._all_pairs(m, lane_bits)
        else:
            best_v, best_j = self._tree(m, lane_bits)
        run_v = Signal(signed(W))
        index = Signal(unsigned(len(self.best) + len(best_j) + len(self.group)))
        m.d.comb += index.eq(self.group * P + best_j)
        with m.If(self.valid):
            with m.If((self.group == 0) | (best_v > run_v)):
                m.d.sync += [run_v.eq(best_v), self.best.eq(index)]
            with m.If(self.cross):
                m.d.sync += self.crossed.eq(1)
        return m

    def _all_pairs(self, m, lane_bits):
        """Argmax of this group with every pairwise comparison in parallel (depth: one compare).
        Lane ``j`` wins when it holds a neuron and beats every lower lane strictly and every
        higher real lane at least equally, so equal potentials keep the lowest index."""
        P, pots, mask = self.lanes, self.potentials, self.lane_mask
        real = [Const(1, 1)] + [mask[j] for j in range(1, P)]  # lane 0 always holds a neuron
        greater = {}
        for i in range(P):
            for j in range(i + 1, P):
                g = Signal(name=f"gt_{j}_{i}")
                m.d.comb += g.eq(pots[j] > pots[i])  # lane j strictly above lane i
                greater[j, i] = g
        wins = []
        for j in range(P):
            win = real[j]
            for i in range(j):
                win = win & greater[j, i]
            for i in range(j + 1, P):
                win = win & (~real[i] | ~greater[i, j])
            w = Signal(name=f"win_{j}")
            m.d.comb += w.eq(win)
            wins.append(w)
        best_j = Signal(lane_bits, name="lane_best")
        best_v = Signal(signed(self.acc_bits), name="lane_best_v")
        m.d.comb += [best_j.eq(Cat(*[Cat(*[wins[j] for j in range(P) if (j >> b) & 1]).any()
                                     for b in range(lane_bits)])),
                     best_v.eq(_select(pots, wins, self.acc_bits))]
        return best_v, best_j

    def _tree(self, m, lane_bits):
        # a balanced tree (depth log2 P): the right (higher-index) side wins only when it holds a
        # neuron and is strictly greater, so equal potentials keep the lowest index
        P, W = self.lanes, self.acc_bits
        nodes = [(self.potentials[j], Const(j, lane_bits), self.lane_mask[j] if j else Const(1, 1))
                 for j in range(P)]
        level = 0
        while len(nodes) > 1:
            merged = []
            for k in range(0, len(nodes) - 1, 2):
                (lv, lj, lok), (rv, rj, rok) = nodes[k], nodes[k + 1]
                take = Signal(name=f"take_{level}_{k}")
                nv = Signal(signed(W), name=f"v_{level}_{k}")
                nj = Signal(lane_bits, name=f"j_{level}_{k}")
                m.d.comb += [take.eq(rok & (rv > lv)), nv.eq(Mux(take, rv, lv)), nj.eq(Mux(take, rj, lj))]
                merged.append((nv, nj, lok))
            if len(nodes) % 2:
                merged.append(nodes[-1])
            nodes, level = merged, level + 1
        return nodes[0][0], nodes[0][1]


def _select(values, onehot, width):
    """The value whose one-hot flag is set (an AND-OR; 0 when none is)."""
    out = 0
    for v, sel in zip(values, onehot):
        out = out | (Value.cast(v).as_unsigned() & sel.replicate(width))
    return out.as_signed()
