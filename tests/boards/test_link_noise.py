# SPDX-License-Identifier: MIT
"""The board top (UART -> front end -> stand-in core -> UART) on a seeded noisy line
(:mod:`.link_noise`): every intact frame gets exactly its OK reply, no other frame gets one, and
the host's seq matcher pairs no wrong reply. A short run in the Amaranth simulator, 1,200 frames on
Verilator."""

import hashlib
import json
import os
from pathlib import Path

import pytest
from amaranth.sim import Simulator

from firstspike.boards.top import InferenceTop

from .link_noise import check_replies, noisy_line
from .standin import StandInCore
from .test_frontend import line_capture

DIV, N = 4, 12
TIMEOUT, GAP = 60 * DIV, 25 * DIV
HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def board_top():
    return InferenceTop(StandInCore(N), n_pixels=N, divisor=DIV, timeout=TIMEOUT, gap=GAP)


def runs(bits):
    """Run-length code of the line levels: [[level, bit times], ...]."""
    out = []
    for bit in bits:
        if out and out[-1][0] == bit:
            out[-1][1] += 1
        else:
            out.append([bit, 1])
    return out


def assert_clean(line, chars, seed):
    outcome = check_replies(line, chars)
    detail = (f"seed {seed}, {len(line.intact)} intact frames, segments {dict(line.kinds)}: "
              f"{outcome.summary()}")
    assert -1 not in chars and None not in chars, f"a reply character without a stop bit ({detail})"
    assert outcome.damaged_reply_bytes == 0, detail
    assert (outcome.lost, outcome.wrong_ok, outcome.host_wrong, outcome.host_missing) == (0, 0, 0, 0), detail
    return outcome


def test_noisy_line_in_pysim():
    seed = 2
    line = noisy_line(seed, 25, N, TIMEOUT // DIV)
    top = board_top()
    sim = Simulator(top)
    sim.add_clock(1e-6)
    chars = []
    sim.add_testbench(line_capture(top.tx, DIV, chars), background=True)

    async def drive(ctx):
        for level, count in runs(line.bits):
            ctx.set(top.rx, level)
            await ctx.tick().repeat(count * DIV)
        await ctx.tick().repeat(3000)

    sim.add_testbench(drive)
    sim.run()
    outcome = assert_clean(line, chars, seed)
    # the noise really made the board reject candidates of every kind
    assert {"BAD_LENGTH", "BAD_CRC", "TIMEOUT"} <= set(outcome.statuses), outcome.statuses


def run_on_verilator(line, work: Path) -> list[int]:
    """The board top with the stand-in core on Verilator, driven with ``line``; the tx characters."""
    from amaranth.back import verilog

    from firstspike.sim.verilator import environment_tag, verilator_runner

    runner = verilator_runner()
    h = hashlib.sha256(json.dumps({"n": N, "div": DIV, "timeout": TIMEOUT, "gap": GAP}).encode())
    h.update(environment_tag().encode())
    for path in sorted((ROOT / "firstspike" / "boards").glob("*.py")) + [HERE / "standin.py"]:
        h.update(path.read_bytes())
    cache = Path(os.environ.get("FIRSTSPIKE_CACHE", Path.home() / ".cache" / "firstspike"))
    build = cache / "link_noise" / h.hexdigest()[:16]
    build.mkdir(parents=True, exist_ok=True)
    source = build / "board_top.v"
    if not source.is_file():
        tmp = build / "board_top.v.tmp"
        tmp.write_text(verilog.convert(board_top(), name="board_top"))
        tmp.replace(source)
    stamp = build / "firstspike.built"
    if not stamp.is_file():
        runner.build(sources=[source], hdl_toplevel="board_top", build_dir=build, always=True,
                     timescale=("1ns", "1ps"), build_args=["-Wno-fatal", "-Wno-lint", "-Wno-style"])
        stamp.write_text("built\n")
    stimulus, replies = work / "stimulus.json", work / "replies.json"
    stimulus.write_text(json.dumps({"divisor": DIV, "runs": runs(line.bits), "tail_cycles": 20_000}))
    runner.test(hdl_toplevel="board_top", hdl_toplevel_lang="verilog", test_module="cocotb_link_noise",
                test_dir=work, build_dir=build, results_xml=str(work / "results.xml"),
                extra_env={"LINK_NOISE_STIMULUS": str(stimulus), "LINK_NOISE_REPLIES": str(replies)})
    return json.loads(replies.read_text())["chars"]


@pytest.mark.verilator
def test_noisy_line_on_verilator(tmp_path, monkeypatch):
    seed = 28
    line = noisy_line(seed, 1200, N, TIMEOUT // DIV)
    monkeypatch.syspath_prepend(str(HERE))  # the runner passes sys.path to cocotb
    chars = run_on_verilator(line, tmp_path)
    outcome = assert_clean(line, chars, seed)
    print(f"seed {seed}: segments {dict(line.kinds)}; {outcome.summary()}")
    assert len(line.intact) == outcome.statuses["OK"] == 1200
