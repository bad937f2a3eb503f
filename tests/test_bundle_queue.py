# SPDX-License-Identifier: MIT
"""The queue between layers of a K-events-per-cycle core, alone: tokens in one per cycle, bundles
out (every waiting token of one step, up to K, cut after the step's last; 'done' alone)."""

import pytest
from amaranth.sim import Simulator

from firstspike.rtl.bundle_queue import BundleQueue


def _run(events, tokens, hold):
    """Push ``tokens`` (neuron, time, last, done) one per cycle; the consumer takes a bundle in every
    cycle from ``hold`` on. Returns the bundles taken: (neurons, time, last, done)."""
    dut = BundleQueue(8, 8, events, depth=len(tokens) + 1)
    taken = []
    sim = Simulator(dut)
    sim.add_clock(1e-6)

    async def bench(ctx):
        pos = 0
        for cycle in range(4 * len(tokens) + hold + 10):
            if pos < len(tokens):
                n, t, last, done = tokens[pos]
                ctx.set(dut.inp.valid, 1)
                ctx.set(dut.inp.payload, {"neuron": n, "time": t, "last": last, "done": done})
            else:
                ctx.set(dut.inp.valid, 0)
            ctx.set(dut.out.ready, cycle >= hold)
            *_, valid, ready, payload, in_ready = await ctx.tick().sample(
                dut.out.valid, dut.out.ready, dut.out.payload, dut.inp.ready)
            if pos < len(tokens) and in_ready:
                pos += 1
            if valid and ready:
                p = payload
                size = bin(int(p.valid)).count("1")
                taken.append(([int(p.neuron[j]) for j in range(size)] if not p.done else [],
                              int(p.time), int(p.last), int(p.done)))

    sim.add_testbench(bench)
    sim.run()
    return taken


STREAM = ([(n, 1, n == 14, 0) for n in range(10, 15)] + [(n, 2, n == 21, 0) for n in (20, 21)]
          + [(3, 4, 1, 0), (0, 0, 0, 1)])


@pytest.mark.parametrize("events", [1, 2, 3, 4])
def test_waiting_tokens_leave_in_bundles_of_one_step(events):
    taken = _run(events, STREAM, hold=len(STREAM) + 4)  # everything waits in the queue first
    expected = []
    for t, group in ((1, list(range(10, 15))), (2, [20, 21]), (4, [3])):
        for start in range(0, len(group), events):
            chunk = group[start:start + events]
            expected.append((chunk, t, int(start + events >= len(group)), 0))
    expected.append(([], 0, 0, 1))
    assert taken == expected


@pytest.mark.parametrize("events", [2, 3])
def test_a_free_consumer_takes_each_token_as_it_arrives(events):
    """Tokens written one per cycle reach a consumer that is always ready one at a time (two cycles
    after their write, like the one-token FIFO), so bundles of one."""
    taken = _run(events, STREAM, hold=0)
    assert [b[0] for b in taken] == [[tok[0]] for tok in STREAM[:-1]] + [[]]
