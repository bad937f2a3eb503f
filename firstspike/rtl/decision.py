# SPDX-License-Identifier: MIT
"""Decision unit: the contract's ``hardware`` rule (``spec.decide_hardware``) on the output layer.

The output layer compares its potentials group by group after every time step that had events.
Inside a group the argmax comes from a balanced tree of comparators. This unit keeps the running
``argmax`` over the groups (a strictly greater potential replaces
the best, so equal potentials keep the lowest index) and whether any output crossed. After a
compare pass:

* if an output crossed, this was the first crossing index ``c*``: the class is the argmax of the
  potentials at ``c*`` and the decision step is ``c* + 1``;
* otherwise the argmax is kept; when the input runs out it is the argmax of ``V(T - 2)`` (the
  potentials after the last effective event; all zero, hence class 0, if there was none) and the
  decision step is ``T``.

With one group (the fully parallel output layer) the potentials are the layer's counters, which
hold still from a compare pass to the decision after it (and after the last event for good), so
the argmax runs continuously as a pipeline registered half way up the tree: ``best`` is valid from
the cycle after the compare pass on, which is when the layer first reads it.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["DecisionUnit"]


class DecisionUnit(wiring.Component):
    def __init__(self, n_out: int, lanes: int, groups: int, acc_bits: int, *, from_memory: bool = False):
        """``from_memory``: the potentials come group by group from a memory read (valid only with
        ``valid``) even with one group, so the running argmax is used instead of the pipeline."""
        self.n_out, self.lanes, self.groups, self.acc_bits = n_out, lanes, groups, acc_bits
        self.from_memory = from_memory
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
        if self.groups == 1 and not self.from_memory:
            # the counters hold still from the compare pass to the decision: a pipelined argmax
            levels = max(1, (P - 1).bit_length())
            best_v, best_j = self._tree(m, lane_bits, register_after=levels // 2)
            m.d.comb += self.best.eq(best_j)
            with m.If(self.valid & self.cross):
                m.d.sync += self.crossed.eq(1)
            return m
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

    def _tree(self, m, lane_bits, register_after=None):
        """Argmax by a balanced tree (depth log2 P): the right (higher-index) side wins only when
        it holds a neuron and is strictly greater, so equal potentials keep the lowest index.
        With ``register_after = k`` the nodes after level ``k`` are registered (pipeline)."""
        P, W = self.lanes, self.acc_bits
        nodes = [(self.potentials[j], Const(j, lane_bits), self.lane_mask[j] if j else Const(1, 1))
                 for j in range(P)]
        level = 0
        while len(nodes) > 1:
            if register_after is not None and level == register_after:
                staged = []
                for k, (v, j, ok) in enumerate(nodes):
                    rv, rj, rok = (Signal(signed(W), name=f"stage_v_{k}"), Signal(lane_bits, name=f"stage_j_{k}"),
                                   Signal(name=f"stage_ok_{k}"))
                    m.d.sync += [rv.eq(v), rj.eq(j), rok.eq(ok)]
                    staged.append((rv, rj, rok))
                nodes = staged
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
