# SPDX-License-Identifier: MIT
"""The whole board top on Verilator at the bit level, at 3 Mbaud on a 15.625 MHz clock (5.2 cycles
per bit) with the host's UART 2 % fast: event and raw frames, one and several in flight. Every reply
is checked against the golden model and the cycle model; the end-to-end latency formula
(firstspike.boards.e2e) against the measured latencies."""

import numpy as np
import pytest

from firstspike.boards import protocol
from firstspike.boards.e2e import link_figures, measured_figures
from firstspike.boards.host import Expected, reply_mismatch, request_frames
from firstspike.boards.top import InferenceTop, protocol_timing
from firstspike.boards.uart import baud_divisor
from firstspike.model import data as datamod

from .test_board_top_verilator import LANES, SEED, random_net

pytestmark = pytest.mark.verilator

F_CLK, BAUD, HOST_FAST = 15.625e6, 3_000_000, 1.02


def test_board_top_end_to_end_at_3_mbaud():
    from amaranth.back import verilog

    from firstspike.rtl.core import TTFSCore
    from firstspike.sim.link_harness import run_link

    net = random_net(SEED)
    images = datamod.load("mnist-mini", "test").images[:12].reshape(12, -1)
    frames, event_fed = request_frames(net, images, "events")
    frames[3] = protocol.encode_request(3, images[3])  # one raw frame among the event frames
    event_fed[3] = False
    assert event_fed.sum() == 11
    expected = Expected(net, images, LANES, event_fed)
    timeout, gap = protocol_timing(F_CLK)
    top = InferenceTop(TTFSCore.from_network(net, lanes=LANES), n_pixels=784,
                       divisor=baud_divisor(F_CLK, BAUD), timeout=timeout, gap=gap)
    board_v = verilog.convert(top, name="board_top")
    host_bit = F_CLK / (BAUD * HOST_FAST)
    for window in (1, 3):
        run = run_link(board_v, frames, host_bit, window=window, limit=2_000_000)
        got = measured_figures(run.frame_starts, run.chars, len(frames), F_CLK)
        for k, reply in enumerate(got["replies"]):
            problem = reply_mismatch(expected, k, reply, k)
            assert problem is None, f"window {window}: {problem}"
        formula = link_figures(frames, [r.cycles for r in got["replies"]], event_fed, F_CLK, BAUD,
                               host_baud=BAUD * HOST_FAST)
        if window == 1:  # on an idle link, each latency within 2 cycles of the formula
            error = np.abs(np.array(got["latency_cycles"]) - np.array(formula["latency_cycles"]))
            assert error.max() <= 2, (error.tolist(), got["latency_cycles"])
        else:  # back to back at the link's rate (12 images: the last reply's tail costs ~0.5 %)
            assert got["images_per_s"] == pytest.approx(formula["images_per_s"], rel=0.02)
            # without a window, each image also waits for its reply (11 characters) and the core
            assert got["images_per_s"] > one_at_a_time * 1.03
        one_at_a_time = got["images_per_s"]
