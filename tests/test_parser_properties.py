# SPDX-License-Identifier: MIT
"""Property tests of the parsers: architecture strings, model files, export manifests and the UART
frames. Each round-trips what it writes and, fed damaged input, raises only its documented clean
error (the long fuzz runs are ``benchmarks/fuzz_parsers.py``). Hypothesis prints the falsifying
example on a failure; the example budget keeps this file well under a minute."""

import io
import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firstspike.boards.protocol import (REPLY_BYTES, REPLY_SYNC, REQUEST_SYNC, ProtocolError, Reply, Status,
                                        decode_reply, encode_reply, encode_request)
from firstspike.export.manifest import ExportError, load_export, write_export
from firstspike.export.plan import HardwarePlan, build_plan
from firstspike.model.arch import format_arch, parse_arch
from firstspike.model.network import ModelFileError, Network, load_model

# derandomized: CI draws the same examples every run (a failure prints the example to reproduce it);
# the fuzz benchmark is where new inputs are explored
FAST = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(FAST, max_examples=50)


# ------------------------------------------------------------------ architecture strings
@st.composite
def arch_texts(draw, max_side: int = 12) -> str:
    """A valid architecture string: an input, some conv / pool layers that fit, fc layers last."""
    flat = draw(st.booleans())
    if flat:
        c, h, w = draw(st.integers(1, 200)), 1, 1
        tokens = [str(c)]
    else:
        c, h, w = draw(st.integers(1, 3)), draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
        tokens = [draw(st.sampled_from([f"{c}x{h}x{w}"] + ([f"{h}x{w}"] if c == 1 else [])))]
        for _ in range(draw(st.integers(0, 3))):
            k = draw(st.integers(2, 3))
            if draw(st.booleans()) and h // k >= 1 and w // k >= 1:
                tokens.append(f"p{k}")
                h, w = h // k, w // k
            k = draw(st.integers(1, 3))
            pad = draw(st.integers(0, k - 1))
            stride = draw(st.integers(1, 2))
            if h + 2 * pad < k or w + 2 * pad < k:
                break
            out = draw(st.integers(1, 4))
            stride_text = f"s{stride}" if stride > 1 or draw(st.booleans()) else ""
            pad_text = f"p{pad}" if pad or draw(st.booleans()) else ""
            tokens.append(f"c{out}k{k}{stride_text}{pad_text}")
            c, h, w = out, (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
            if tokens[-2].startswith("p") and len(tokens) > 2 and tokens[-3].startswith("p"):
                break
    for _ in range(draw(st.integers(1, 3))):
        n = draw(st.integers(1, 64))
        tokens.append(draw(st.sampled_from([str(n), f"fc{n}", f"FC{n}"])))
    return "-".join(tokens)


@FAST
@given(arch_texts())
def test_format_of_a_parsed_architecture_parses_to_the_same_network(text):
    arch = parse_arch(text)
    canonical = format_arch(arch)
    again = parse_arch(canonical)
    assert again.input_shape == arch.input_shape and again.layers == arch.layers
    assert format_arch(again) == canonical  # the canonical form is a fixed point


@FAST
@given(st.lists(st.integers(1, 2000), min_size=2, max_size=5), st.data())
def test_bare_numbers_are_fc_layers(sizes, data):
    bare = "-".join(str(n) for n in sizes)
    marked = "-".join([str(sizes[0])] + [data.draw(st.sampled_from([f"fc{n}", f"Fc{n}", str(n)]))
                                         for n in sizes[1:]])
    assert parse_arch(bare).layers == parse_arch(marked).layers
    assert parse_arch(bare).sizes == sizes and format_arch(parse_arch(marked)) == bare


def test_the_documented_example_pair_is_one_network():
    assert parse_arch("784-600-10").layers == parse_arch("784-fc600-fc10").layers


_ARCH_ALPHABET = "0123456789xXcCkKsSpPfF-- _.+e"


@FAST
@given(st.one_of(st.text(alphabet=_ARCH_ALPHABET, max_size=40), st.text(max_size=20),
                 arch_texts().map(lambda t: t[: len(t) // 2])))
def test_any_string_parses_or_raises_a_value_error_with_a_message(text):
    try:
        arch = parse_arch(text)
    except ValueError as error:
        assert "architecture" in str(error)
    else:
        assert arch.layers and arch.layers[-1].kind == "fc"
        assert parse_arch(format_arch(arch)).layers == arch.layers


# ------------------------------------------------------------------ model files
@st.composite
def networks(draw) -> Network:
    """A small random network (binary or real) over a random small architecture."""
    arch = parse_arch(draw(arch_texts(max_side=6)))
    if arch.layers[0].n_in > 300:
        arch = parse_arch("12-5-3")
    binary = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    shapes = [layer.kernel_shape for layer in arch.layers]
    if binary:
        kernels = [np.where(rng.random(shape) < 0.5, 1, -1).astype(np.int8) for shape in shapes]
        thresholds = [int(t) for t in rng.integers(0, 50, len(shapes))]
    else:
        kernels = [rng.normal(size=shape) for shape in shapes]
        thresholds = [float(t) for t in rng.random(len(shapes)) * 10]
    return Network(kernels, thresholds, arch=arch.text, binary=binary,
                   encoding="bs4nn" if binary else "s4nn", meta={"seed": seed})


def _same_network(a: Network, b: Network) -> None:
    assert b.arch == a.arch and b.binary == a.binary and b.thresholds == a.thresholds
    assert (b.encoding, b.T, b.rule, b.meta) == (a.encoding, a.T, a.rule, a.meta)
    assert len(b.kernels) == len(a.kernels)
    for x, y in zip(a.kernels, b.kernels):
        assert y.shape == x.shape and np.array_equal(x, y)


@SLOW
@given(networks())
def test_a_saved_model_loads_back_identical(net):
    with tempfile.TemporaryDirectory() as folder:
        _same_network(net, load_model(net.save(Path(folder) / "m.npz")))


@st.composite
def damaged(draw, blob: bytes) -> bytes:
    """``blob`` cut short, or with a few bytes overwritten, inserted or deleted."""
    data = bytearray(blob)
    if draw(st.booleans()):
        return bytes(data[: draw(st.integers(0, len(data) - 1))])
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["set", "insert", "delete"]))
        if action == "set":
            data[at] = draw(st.integers(0, 255))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        else:
            del data[at: at + draw(st.integers(1, 4))]
    return bytes(data)


def _saved_files() -> tuple[bytes, bytes]:
    """A small model file as written (compressed) and the same arrays stored uncompressed, so that
    byte damage also reaches the JSON header and the sign bits."""
    blob = Network([np.where(np.arange(24).reshape(4, 6) % 3, 1, -1), np.array([[1, -1, 1, 1]] * 3)],
                   [2, 0]).to_bytes()
    with np.load(io.BytesIO(blob)) as archive:
        arrays = {k: archive[k] for k in archive.files}
    stored = io.BytesIO()
    np.savez(stored, **arrays)
    return blob, stored.getvalue()


_SAVED, _SAVED_STORED = _saved_files()


@SLOW
@given(st.one_of(damaged(_SAVED), damaged(_SAVED_STORED)))
def test_a_damaged_model_file_is_refused_with_a_model_file_error(blob):
    """Whatever the damage, loading raises ModelFileError (a ValueError naming the file) or, when
    the damage missed everything that matters, returns a valid network."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.npz"
        path.write_bytes(blob)
        try:
            net = load_model(path)
        except ModelFileError as error:
            assert str(path) in str(error)
        else:
            assert len(net.kernels) == len(net.layers)


# ------------------------------------------------------------------ export manifests
@st.composite
def plans(draw) -> HardwarePlan:
    net = draw(networks().filter(lambda n: n.binary))
    lanes = [draw(st.integers(1, layer.c_out)) for layer in net.layers]
    return build_plan(net, lanes)


@SLOW
@given(plans())
def test_a_plan_survives_its_manifest_and_an_export_folder(plan):
    roms = [list(layer.rom) for layer in plan.layers]
    assert HardwarePlan.from_manifest(json.loads(json.dumps(plan.to_manifest())), roms) == plan
    with tempfile.TemporaryDirectory() as folder:
        write_export(plan, folder)
        assert load_export(folder).plan == plan


_JSON_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 300), st.floats(allow_nan=True),
                         st.text(max_size=5), st.just([]), st.just({}), st.just([1, 2]))


@st.composite
def edited_json(draw, value):
    """``value`` with one node somewhere inside it deleted or replaced by another JSON value."""
    if isinstance(value, (dict, list)) and value and draw(st.integers(0, 3)):
        keys = sorted(value) if isinstance(value, dict) else list(range(len(value)))
        key = draw(st.sampled_from(keys))
        copy = dict(value) if isinstance(value, dict) else list(value)
        if draw(st.integers(0, 4)) == 0:
            del copy[key]
        else:
            copy[key] = draw(edited_json(value[key]))
        return copy
    return draw(_JSON_VALUES)


_PLAN = build_plan(Network([np.where(np.arange(48).reshape(6, 8) % 5, 1, -1), np.ones((3, 6))], [3, 1]), 4)


@SLOW
@given(st.data())
def test_an_edited_manifest_is_refused_with_an_export_error(data):
    """Any one field deleted or replaced (by another type, a number, NaN, ...) either leaves an export
    that still checks out, or is refused with an ExportError naming the folder; never a bare
    KeyError / TypeError / AttributeError."""
    with tempfile.TemporaryDirectory() as folder:
        path = write_export(_PLAN, folder)
        manifest = json.loads(path.read_text())
        edited = data.draw(edited_json(manifest))
        path.write_text(json.dumps(edited))
        try:
            exported = load_export(folder)
        except ExportError as error:
            assert folder in str(error)
        else:
            # T is the one free field: any integer >= 2 is a valid plan (sealing the manifest pins it)
            assert exported.network.T >= 2 and replace(exported.plan, T=_PLAN.T) == _PLAN


# ------------------------------------------------------------------ UART frames
replies = st.builds(Reply, status=st.sampled_from(Status), seq=st.integers(0, 255), cls=st.integers(0, 255),
                    step=st.integers(0, 0xFFFF), cycles=st.integers(0, 0xFFFFFFFF))


def _crc8_smbus(data: bytes) -> int:
    """CRC-8/SMBUS bit by bit (polynomial 0x07, init 0), independent of amaranth's table."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def test_the_reference_crc_has_the_catalogue_check_value():
    assert _crc8_smbus(b"123456789") == 0xF4  # CRC-8/SMBUS in the CRC catalogue


@FAST
@given(replies)
def test_a_reply_round_trips(reply):
    frame = encode_reply(reply)
    assert len(frame) == REPLY_BYTES and frame[0] == REPLY_SYNC and frame[-1] == _crc8_smbus(frame[1:-1])
    assert decode_reply(frame) == reply


@FAST
@given(replies, st.integers(0, REPLY_BYTES - 1), st.integers(1, 255))
def test_any_one_damaged_reply_byte_is_detected(reply, at, flip):
    """CRC-8 catches every error burst of up to 8 bits, so one changed byte never decodes."""
    frame = bytearray(encode_reply(reply))
    frame[at] ^= flip
    with pytest.raises(ProtocolError):
        decode_reply(bytes(frame))


@FAST
@given(st.binary(max_size=2 * REPLY_BYTES))
def test_random_bytes_decode_or_raise_only_protocol_errors(data):
    try:
        reply = decode_reply(data)
    except ProtocolError:
        return
    assert encode_reply(reply) == data  # only a well-formed frame decodes


@FAST
@given(st.integers(0, 255), st.lists(st.integers(0, 255), min_size=1, max_size=300))
def test_a_request_frame_holds_its_fields(seq, pixels):
    frame = encode_request(seq, np.array(pixels, dtype=np.uint8))
    n = len(pixels)
    assert frame[0] == REQUEST_SYNC and frame[1] == seq and frame[2] == 0x21 and frame[3] | frame[4] << 8 == n
    assert list(frame[5:-1]) == pixels and len(frame) == 6 + n
    assert frame[-1] == _crc8_smbus(frame[1:-1])


@FAST
@given(st.integers(-300, 600), st.lists(st.integers(-5, 300), min_size=0, max_size=8))
def test_a_request_of_bad_values_is_a_value_error(seq, pixels):
    values = np.array(pixels, dtype=np.int64)
    valid = 0 <= seq <= 255 and 1 <= len(pixels) and all(0 <= p <= 255 for p in pixels)
    if valid:
        assert len(encode_request(seq, values)) == 6 + len(pixels)
    else:
        with pytest.raises(ValueError):
            encode_request(seq, values)



# ------------------------------------------------------------------ the fuzz benchmark's targets
def _fuzz_module():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "fuzz_parsers.py"
    spec = importlib.util.spec_from_file_location("fuzz_parsers", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_a_short_fuzz_run_of_every_registered_parser(tmp_path):
    """400 mutated inputs per target (the benchmark runs 100,000): no uncaught exception, and the
    mutations reach both outcomes (some inputs still parse, most are refused by a parser that refuses)."""
    fuzz = _fuzz_module()
    for name, make in fuzz.TARGETS.items():
        scratch = tmp_path / name
        scratch.mkdir()
        target = make(scratch)
        result = fuzz.fuzz(name, target, 400, seed=1, out=tmp_path / "findings", progress=False)
        assert result["uncaught"] == 0, (name, result["findings"])
        refused = result.get("clean error", 0) > 0 or not target.allowed  # a stream decoder refuses nothing
        assert result.get("parsed", 0) > 0 and refused, (name, result)
        again = fuzz.make_input(make(scratch).seeds, 1, name, 123)
        assert again == fuzz.make_input(make(scratch).seeds, 1, name, 123)  # an input is its seed and index


@given(st.lists(st.builds(Reply, st.sampled_from(list(Status)), st.integers(0, 255), st.integers(0, 255),
                          st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF)), max_size=6),
       st.lists(st.binary(max_size=12).map(lambda b: b.replace(b"\x5a", b"")), min_size=7, max_size=7),
       st.integers(1, 40))
@settings(max_examples=150, derandomize=True, deadline=None)
def test_the_host_finds_every_reply_between_noise_without_a_sync_byte(replies, noise, chunk):
    """Replies separated by noise that holds no 0x5A, fed in chunks of any size: each is decoded,
    in order, and every noise byte is counted as skipped."""
    from firstspike.boards.host import ReplyReader

    stream = noise[0] + b"".join(encode_reply(r) + gap for r, gap in zip(replies, noise[1:]))
    reader = ReplyReader()
    got = [reply for i in range(0, len(stream), chunk) for reply in reader.feed(stream[i:i + chunk])]
    assert got == replies and reader.damaged == 0
    assert reader.skipped == sum(len(gap) for gap in noise[:len(replies) + 1])
