# SPDX-License-Identifier: MIT
"""The board top (UART -> front end -> stand-in core -> UART) on a seeded noisy line
(:mod:`.link_noise`): every intact frame gets exactly its OK reply, no other frame gets one, and
the host's seq matcher pairs no wrong reply. A short run in the Amaranth simulator, 1,200 frames on
Verilator."""

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
from amaranth.sim import Simulator

from firstspike.boards import protocol
from firstspike.boards.protocol import Reply, Status
from firstspike.boards.top import InferenceTop

from .link_noise import check_replies, noisy_line
from .standin import StandInCore, standin_answer
from .test_frontend import line_capture
from .uartbits import line_bits

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


def run_in_pysim(bits, tail=3000) -> list:
    """The board top in the Amaranth simulator, driven with ``bits``; the tx characters."""
    top = board_top()
    sim = Simulator(top)
    sim.add_clock(1e-6)
    chars = []
    sim.add_testbench(line_capture(top.tx, DIV, chars), background=True)

    async def drive(ctx):
        for level, count in runs(bits):
            ctx.set(top.rx, level)
            await ctx.tick().repeat(count * DIV)
        await ctx.tick().repeat(tail)

    sim.add_testbench(drive)
    sim.run()
    return chars


def test_top_answers_every_frame_sent_without_pauses():
    # back to back; a bad-CRC frame with the next frame right behind it (sent while the board
    # transmits the error reply); a stray 0xA5 right before a frame
    rng = np.random.default_rng(4)
    images = [rng.integers(0, 256, N, dtype=np.uint8) for _ in range(5)]
    bad = bytearray(protocol.encode_request(3, images[2]))
    bad[5] ^= 0x08
    data = (protocol.encode_request(1, images[0]) + protocol.encode_request(2, images[1]) + bytes(bad)
            + protocol.encode_request(4, images[3]) + b"\xa5" + protocol.encode_request(5, images[4]))
    chars = run_in_pysim(line_bits(data))
    replies = [protocol.decode_reply(bytes(chars[i:i + protocol.REPLY_BYTES]))
               for i in range(0, len(chars), protocol.REPLY_BYTES)]
    ok = [Reply(Status.OK, seq, *standin_answer(images[seq - 1])) for seq in (1, 2, 4, 5)]
    assert [r for r in replies if r.status == Status.OK] == ok, "seed 4"
    assert Reply(Status.BAD_CRC, 3, 0, 0, 0) in replies and len(replies) <= 6, replies


def test_noisy_line_in_pysim():
    seed = 2
    line = noisy_line(seed, 25, N, TIMEOUT // DIV)
    outcome = assert_clean(line, run_in_pysim(line.bits), seed)
    # the noise really made the board reject candidates of every kind (a stray 0xA5 now fails on
    # the kind byte right after its seq, before the length)
    assert {"BAD_KIND", "BAD_CRC", "TIMEOUT"} <= set(outcome.statuses), outcome.statuses


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
