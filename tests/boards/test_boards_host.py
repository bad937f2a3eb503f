# SPDX-License-Identifier: MIT
"""Board registry, PLL search, fit model, nextpnr/yosys log parsing and the program command
(no FPGA tools needed)."""

import json

import pytest

from firstspike.boards import fit
from firstspike.boards.base import ICE40UP5K, LFE5U_25F, LFE5U_85F
from firstspike.boards.pll import ecp5_pll, ice40_pll
from firstspike.boards.program import program
from firstspike.boards.registry import BOARDS, get_board
from firstspike.boards.report import parse_nextpnr_log, parse_yosys_log
from firstspike.export.plan import HardwarePlan

BS4NN = [784, 600, 10]


def _layout(lanes):
    return HardwarePlan.fc_layout(BS4NN, lanes)


def test_registry_names_and_build_only_tools():
    assert set(BOARDS) == {"ulx3s-25f", "ulx3s-85f", "orangecrab-25f", "orangecrab-85f", "icebreaker"}
    for board in BOARDS.values():
        tools = board.make_platform().required_tools
        assert tools and all(t.startswith(("yosys", "nextpnr", "ecppack", "icepack")) for t in tools), tools
    assert get_board("orangecrab-25f").build_env["DFU_SUFFIX"] == "true"
    with pytest.raises(ValueError, match="unknown board 'ulx3s'.*ulx3s-25f"):
        get_board("ulx3s")


@pytest.mark.parametrize("f_in,f_want", [(25e6, 50e6), (25e6, 100e6), (48e6, 96e6), (25e6, 62.5e6)])
def test_ecp5_pll_in_datasheet_ranges(f_in, f_want):
    s = ecp5_pll(f_in, f_want)
    p = s.params
    f_out = f_in / p["CLKI_DIV"] * p["CLKFB_DIV"]
    assert f_out == pytest.approx(s.f_out)
    assert 400e6 <= f_out * p["CLKOP_DIV"] <= 800e6 and f_in / p["CLKI_DIV"] >= 3.125e6
    assert abs(s.f_out - f_want) / f_want < 0.01


@pytest.mark.parametrize("f_want", [24e6, 30e6, 36e6])
def test_ice40_pll_in_datasheet_ranges(f_want):
    s = ice40_pll(12e6, f_want)
    p = s.params
    vco = 12e6 / (p["DIVR"] + 1) * (p["DIVF"] + 1)
    assert 533e6 <= vco <= 1066e6 and vco / 2 ** p["DIVQ"] == pytest.approx(s.f_out)
    assert abs(s.f_out - f_want) / f_want < 0.01


def test_block_ram_counts():
    # 4096 x 1 bit: one DP16KD (16K x 1); 784 rows x 600 bits at P=600 -> 1024 x 18 shape: 34 blocks
    assert fit.blocks_for(4096, 1, "ecp5") == 1
    assert fit.blocks_for(784, 600, "ecp5") == 34
    # small or one-word memories stay out of block RAM; 38 words x 176 bits -> 512 x 36: 5 blocks
    assert fit.blocks_for(784, 1, "ecp5") == 0 and fit.blocks_for(1, 6600, "ecp5") == 0
    assert fit.blocks_for(38, 176, "ecp5") == 5
    # iCE40 4 kbit blocks: 784 x 64 -> 256 x 16 shape: 4 deep x 4 wide = 16
    assert fit.blocks_for(784, 64, "ice40") == 16


def test_fit_rejects_with_what_would_fit():
    # BS4NN 784-600-10 (465 kbit of weights) cannot fit the iCE40UP5K's 120 kbit of block RAM
    with pytest.raises(ValueError) as error:
        fit.check_fit(_layout(16), ICE40UP5K, "icebreaker", other_boards=BOARDS.values())
    text = str(error.value)
    assert "block RAMs" in text and "smaller network" in text and "ulx3s-25f" in text
    # with 300 lanes (two lane groups) the potentials of 600 neurons need 300 11-bit adders and a
    # potential memory: too many LUTs; the error names the lane count that fits (600: the fully
    # parallel layer, one counter per neuron, no potential memory) and the larger parts
    with pytest.raises(ValueError, match=r"LUTs.*--lanes 600 fits.*ulx3s-85f"):
        fit.check_fit(_layout(300), LFE5U_25F, "ulx3s-25f", other_boards=BOARDS.values())
    parallel = fit.check_fit(_layout(600), LFE5U_25F, "ulx3s-25f")
    assert parallel.ebr <= LFE5U_25F.ebr and parallel.luts <= 0.6 * LFE5U_25F.luts
    est = fit.check_fit(_layout(64), LFE5U_25F, "ulx3s-25f")
    assert est.weight_bits == 784 * 600 + 600 * 10 and est.ebr <= LFE5U_25F.ebr
    assert fit.estimate(_layout(64), "ecp5").luts < fit.estimate(_layout(128), "ecp5").luts


NEXTPNR_LOG = """\
Info: Max frequency for clock '$glbnet$clk': 48.10 MHz (PASS at 25.00 MHz)
Info: Device utilisation:
Info: 	          TRELLIS_IO:      10/    197     5%
Info: 	              DP16KD:      12/     56    21%
Info: 	          TRELLIS_FF:     800/  24288     3%
Info: 	        TRELLIS_COMB:    2100/  24288     8%

Info: Placed 11 cells based on constraints.
Info: Max frequency for clock '$glbnet$clk': 51.30 MHz (PASS at 25.00 MHz)
Info: Routing..
Warning: Max frequency for clock '$glbnet$clk': 44.72 MHz (FAIL at 50.00 MHz)
"""


def test_parse_nextpnr_log_takes_the_last_fmax():
    report = parse_nextpnr_log(NEXTPNR_LOG)
    assert report["utilisation"]["TRELLIS_COMB"] == (2100, 24288)
    assert report["utilisation"]["DP16KD"] == (12, 56)
    assert report["clocks"]["$glbnet$clk"] == {"fmax_mhz": 44.72, "target_mhz": 50.0, "pass": False}
    with pytest.raises(ValueError, match="Device utilisation"):
        parse_nextpnr_log("Info: nothing here\n")


def test_parse_yosys_log():
    text = "Yosys 0.70 (git sha1 28ba3cb92)\n2.51. Printing statistics.\n      468   LUT4\n       12   SB_DFFE\n"
    parsed = parse_yosys_log(text)
    assert parsed["version"] == "0.70" and parsed["cells"]["SB_DFFE"] == 12


def test_program_command(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="firstspike build --board ulx3s-25f"):
        program("ulx3s-25f", tmp_path)
    (tmp_path / "top.bit").write_bytes(b"\x00")
    (tmp_path / "report.json").write_text(json.dumps({"board": "ulx3s-25f"}))
    with pytest.raises(ValueError, match="built for ulx3s-25f"):
        program("orangecrab-25f", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(RuntimeError, match="install openFPGALoader"):
        program("ulx3s-25f", tmp_path)
    fake = tmp_path / "bin"
    fake.mkdir()
    tool = fake / "openFPGALoader"
    tool.write_text("#!/bin/sh\nexit 0\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake))
    ran = []

    class Done:
        returncode = 0

    command = program("ulx3s-25f", tmp_path, run=lambda argv: ran.append(argv) or Done())
    assert ran == [command] and command[:3] == ["openFPGALoader", "-b", "ulx3s"]
    assert command[-1].endswith("top.bit")


def test_infer_serial_checks_replies_against_the_golden_model(monkeypatch):
    """``firstspike infer``'s host loop against a fake serial port that answers like a board (from
    the golden model), with one wrong class injected: exactly that image is a mismatch."""
    from firstspike.boards import protocol

    def wrong_class_at_3(k, reply):
        if k != 3:
            return b"\x00" + reply
        fields = protocol.decode_reply(reply)
        return protocol.encode_reply(protocol.Reply(fields.status, fields.seq, (fields.cls + 1) % 10,
                                                    fields.step, fields.cycles))

    summary = _infer(_tiny_net(monkeypatch), wrong_class_at_3)
    assert summary["images"] == 6 and summary["mismatches"] == 1 and summary["errors"] == 0


def _board_like_serial(net, mangle):
    """A fake serial module whose port answers each request like a board (golden model), passing
    the reply bytes through ``mangle(request_number, reply) -> bytes``."""
    import numpy as np

    from firstspike.boards import protocol
    from firstspike.model.infer import run

    writes = []

    class FakeSerial:
        def __init__(self, port, baud, timeout):
            self.out = bytearray()
            self.requests = 0

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def reset_input_buffer(self):
            pass

        def write(self, frame):
            assert frame[0] == protocol.REQUEST_SYNC and protocol.CRC.compute(frame[1:]) == 0
            writes.append(frame)
            payload = np.frombuffer(frame[5:-1], dtype=np.uint8)
            if frame[2] == protocol.Kind.EVENTS:  # bs4nn: pixel = 255 - time; no event: pixel 0
                pixels, now = np.zeros(784, np.uint8), 0
                for word in payload.view("<u2").tolist():
                    now += word >> 10
                    if word >> 10 != 63:
                        pixels[word & 0x3FF] = 255 - now
            else:
                assert frame[2] == protocol.Kind.RAW
                pixels = payload
            cls, step = (int(v[0]) for v in run(net, pixels[None]).hardware_decision())
            reply = protocol.encode_reply(protocol.Reply(protocol.Status.OK, frame[1], cls, step, 7))
            self.out += mangle(self.requests, reply)
            self.requests += 1

        def read(self, n):
            data, self.out = bytes(self.out[:n]), self.out[n:]
            return data

    return type("serial", (), {"Serial": FakeSerial, "SerialException": OSError, "writes": writes})


def _tiny_net(monkeypatch):
    import numpy as np

    from firstspike.model.network import Network

    rng = np.random.default_rng(11)
    net = Network([rng.choice([-1, 1], size=(24, 784)).astype(np.int8),
                   rng.choice([-1, 1], size=(10, 24)).astype(np.int8)], [12, 2], binary=True)
    monkeypatch.setattr(Network, "load", classmethod(lambda cls, path: net))
    return net


def _infer(net, mangle, limit=6, retries=2, window=1, frames="events", module=None):
    from firstspike.boards import host

    return host.infer_serial("/dev/fake", "m.npz", dataset="mnist-mini", limit=limit, timeout=0.05,
                             retries=retries, window=window, frames=frames,
                             serial_module=module or _board_like_serial(net, mangle))


@pytest.mark.parametrize("frames", ["events", "raw"])
def test_infer_serial_pipelines_frames_and_matches_replies_by_seq(monkeypatch, frames):
    # a window of 4: the board-like port answers at once, so each read finds up to 4 replies; the
    # reply to request 2 is lost, so image 2 is resent (after requests 3..5 went out) and still counted
    from firstspike.boards import protocol

    net = _tiny_net(monkeypatch)
    module = _board_like_serial(net, lambda k, r: b"" if k == 2 else r)
    summary = _infer(net, None, limit=12, window=4, frames=frames, module=module)
    assert (summary["mismatches"], summary["lost"], summary["errors"], summary["retries"]) == (0, 0, 0, 1)
    seqs = [w[1] for w in module.writes]
    assert seqs[:4] == [0, 1, 2, 3] and seqs.count(2) == 2 and seqs.index(2, 3) > 3
    kinds = {w[2] for w in module.writes}
    want = protocol.Kind.EVENTS if frames == "events" else protocol.Kind.RAW
    assert kinds == {want} and summary["event_frames"] == (12 if frames == "events" else 0)


def _flip(reply, index, bit):
    damaged = bytearray(reply)
    damaged[index] ^= 1 << bit
    return bytes(damaged)


def test_infer_serial_skips_a_duplicated_reply(monkeypatch):
    summary = _infer(_tiny_net(monkeypatch), lambda k, reply: reply * 2 if k == 2 else reply)
    counts = ("mismatches", "lost", "retries", "skipped_replies")
    assert tuple(summary[k] for k in counts) == (0, 0, 0, 1), summary


def test_infer_serial_takes_a_late_reply_and_skips_the_retry_answer(monkeypatch):
    # request 2 is answered only after the host has given up waiting and resent it (request 3)
    held = []

    def late(k, reply):
        if k == 2:
            held.append(reply)
            return b""
        return b"".join(held[:1]) + reply if k == 3 else reply

    summary = _infer(_tiny_net(monkeypatch), late)
    counts = ("mismatches", "lost", "retries", "skipped_replies")
    assert tuple(summary[k] for k in counts) == (0, 0, 1, 1), summary


def test_infer_serial_retries_a_damaged_reply_and_resyncs(monkeypatch):
    # a flipped bit in reply 1 (its CRC fails), noise with a 0x5A before reply 3, reply 4 cut short
    def noisy(k, reply):
        if k == 1:
            return _flip(reply, 6, 3)
        if k == 3:
            return b"\x00\x5a\x13" + reply
        return reply[:7] if k == 5 else reply

    summary = _infer(_tiny_net(monkeypatch), noisy)
    assert (summary["mismatches"], summary["lost"], summary["errors"]) == (0, 0, 0)
    assert summary["retries"] == 2 and summary["damaged_replies"] >= 2


def test_infer_serial_counts_a_lost_image_and_still_reports(monkeypatch, capsys):
    # image 1 never gets a reply (3 tries); the run goes on and the summary counts it
    summary = _infer(_tiny_net(monkeypatch), lambda k, reply: b"" if k in (1, 2, 3) else reply)
    assert (summary["images"], summary["lost"], summary["errors"], summary["retries"]) == (6, 1, 1, 2)
    assert summary["mismatches"] == 0
    out = capsys.readouterr().out
    assert "image 1: no reply" in out and "1 lost" in out


def test_reply_reader_resyncs_on_the_sync_byte():
    from firstspike.boards import protocol
    from firstspike.boards.host import ReplyReader

    a = protocol.encode_reply(protocol.Reply(protocol.Status.OK, 1, 2, 3, 4))
    b = protocol.encode_reply(protocol.Reply(protocol.Status.BAD_CRC, 9, 0, 0, 0))
    reader = ReplyReader()
    # a reply whose sync byte starts a damaged candidate: 0x5A, then a real reply inside its 11 bytes
    stream = b"\x5a\x00" + a + _flip(a, 3, 0) + b
    got = []
    for i in range(0, len(stream), 5):  # arbitrary chunking
        got += reader.feed(stream[i:i + 5])
    assert got == [protocol.decode_reply(a), protocol.decode_reply(b)]
    assert reader.damaged >= 2 and reader.skipped == 2 + len(a)


def test_infer_serial_refuses_negative_retries():
    from firstspike.boards import host

    with pytest.raises(ValueError, match="retries must be an integer >= 0"):
        host.infer_serial("/dev/fake", "m.npz", retries=-1, serial_module=object())


def test_infer_command_passes_retries_and_exits_1_on_a_lost_image(monkeypatch, capsys):
    # through the CLI: with --retries 0 the one missing reply is not resent, so image 1 is lost
    import sys

    from firstspike.cli import main

    net = _tiny_net(monkeypatch)
    monkeypatch.setitem(sys.modules, "serial", _board_like_serial(net, lambda k, r: b"" if k == 1 else r))
    rc = main(["infer", "--port", "/dev/fake", "--model", "m.npz", "--dataset", "mnist-mini",
               "--limit", "4", "--timeout", "0.05", "--retries", "0", "--json"])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert rc == 1 and (summary["lost"], summary["retries"], summary["mismatches"]) == (1, 0, 0), summary
