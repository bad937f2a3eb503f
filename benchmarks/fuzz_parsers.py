# SPDX-License-Identifier: MIT
"""Fuzz the parsers: every input must parse or raise the parser's documented clean error.

    python benchmarks/fuzz_parsers.py [--inputs 100000] [--seed 0] [--targets model-file reply-frame]
    python benchmarks/fuzz_parsers.py --replay model-file --seed 0 --index 1234   # rerun one input
    python benchmarks/fuzz_parsers.py --engine atheris --inputs 100000            # coverage-guided

The default engine is a seeded mutation fuzzer (no extra dependency, deterministic): input ``i`` of
target ``t`` comes from ``random.Random(f"{seed}/{t}/{i}")``, either random bytes or a valid seed
input with a few mutations (bit flips, bytes set to boundary values, inserts, deletes, duplicated
or spliced ranges, truncation, digits changed). ``--engine atheris`` runs each target under
atheris / libFuzzer instead (``pip install atheris``, which has a Python 3.11 wheel; one process per
target, stops at the first crash; instrumenting every loaded module takes about a minute). The
coverage guidance reaches what blind mutation rarely does: it found the model-file damage that keeps
the zip CRCs valid (an unbalanced ``.npy`` header, a member without the ``.npy`` magic).

Any exception outside a target's allowed types is a finding: the input is saved to ``--out`` and the
seed and index that reproduce it are printed. Exit code 1 when there are findings.

Adding a target: write ``def my_target(scratch: Path) -> Target`` (what it parses, the exceptions it
may raise, valid seed inputs) and add it to :data:`TARGETS`.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


@dataclass(frozen=True)
class Target:
    """A parser under test: ``parse(data)`` may return anything or raise one of ``allowed``."""

    parse: Callable[[bytes], object]
    allowed: tuple[type[BaseException], ...]
    seeds: list[bytes]


# ----------------------------------------------------------------------------------------- targets
def _small_networks():
    import numpy as np

    from firstspike.model.network import Network

    rng = np.random.default_rng(0)

    def signs(*shape):
        return np.where(rng.random(shape) < 0.5, 1, -1)

    fc = Network([signs(5, 12), signs(3, 5)], [2, 1], meta={"note": "fuzz seed"})
    conv = Network([signs(2, 1, 3, 3), signs(3, 2 * 2 * 2)], [1, 0], arch="6x6-c2k3-p2-fc3")
    real = Network([rng.normal(size=(4, 6)), rng.normal(size=(2, 4))], [0.5, 1.5], binary=False,
                   encoding="s4nn")
    return fc, conv, real


def model_file(scratch: Path) -> Target:
    """``load_model`` on a file holding the input (the ``.npz`` model file of any version)."""
    import io

    import numpy as np

    from firstspike.model.network import ModelFileError, load_model

    path = scratch / "model.npz"
    seeds = []
    for net in _small_networks():
        blob = net.to_bytes()
        with np.load(io.BytesIO(blob)) as archive:
            stored = io.BytesIO()
            np.savez(stored, **{k: archive[k] for k in archive.files})  # uncompressed: header bytes exposed
        seeds += [blob, stored.getvalue()]

    def parse(data: bytes):
        path.write_bytes(data)
        return load_model(path)

    return Target(parse, (ModelFileError,), seeds)


def manifest(scratch: Path) -> Target:
    """``load_export`` on an export folder whose ``manifest.json`` holds the input (ROMs intact)."""
    from firstspike.export.manifest import ExportError, export_network, load_export

    folder = scratch / "rom"
    path = export_network(_small_networks()[0], 2, folder)
    seeds = [path.read_bytes()]

    def parse(data: bytes):
        path.write_bytes(data)
        return load_export(folder)

    return Target(parse, (ExportError,), seeds)


def reply_frame(scratch: Path) -> Target:
    """``decode_reply``: one reply frame from a board."""
    from firstspike.boards.protocol import ProtocolError, Reply, Status, decode_reply, encode_reply

    fields = [(Status.OK, 7, 3, 41, 12345), (Status.BAD_CRC, 0, 0, 0, 0),
              (Status.OK, 255, 9, 0xFFFF, 0xFFFFFFFF)]
    seeds = [encode_reply(Reply(*reply)) for reply in fields]
    return Target(decode_reply, (ProtocolError,), seeds)


def reply_stream(scratch: Path) -> Target:
    """``ReplyReader``: the host's byte-stream decoder (hunts for 0x5A, resyncs after damage), fed the
    input in two pieces; every reply it returns must re-encode to bytes that occur in the input."""
    from firstspike.boards.host import ReplyReader
    from firstspike.boards.protocol import Reply, Status, encode_reply

    def parse(data: bytes):
        reader = ReplyReader()
        cut = len(data) // 3
        replies = reader.feed(data[:cut]) + reader.feed(data[cut:])
        for reply in replies:
            if encode_reply(reply) not in data:
                raise AssertionError(f"decoded {reply} that the input does not hold")
        return replies

    one = encode_reply(Reply(Status.OK, 7, 3, 41, 12345))
    seeds = [one, one + encode_reply(Reply(Status.TIMEOUT, 8, 0, 0, 0)), b"\x00\x5a" + one + one[:5]]
    return Target(parse, (), seeds)


def arch_string(scratch: Path) -> Target:
    """``parse_arch`` on the input decoded as UTF-8 (bad bytes replaced)."""
    from firstspike.model.arch import parse_arch

    seeds = [b"784-600-10", b"28x28-c32k5-p2-c64k5-p2-fc10", b"3x8x8-c4k3s2p1-p2-fc10", b"784-fc64-10"]
    return Target(lambda data: parse_arch(data.decode("utf-8", "replace")), (ValueError,), seeds)


#: name -> factory(scratch folder) -> Target. Factories import and build lazily (no work at import).
TARGETS: dict[str, Callable[[Path], Target]] = {
    "model-file": model_file,
    "manifest": manifest,
    "reply-frame": reply_frame,
    "reply-stream": reply_stream,
    "arch-string": arch_string,
}


# ----------------------------------------------------------------------------------------- mutation
_BOUNDARY_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0x2D, 0x22, 0x7B, 0x7D, 0x5B, 0x5D, 0x30, 0x39)
_BOUNDARY_WORDS = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)


def make_input(seeds: list[bytes], seed: int, name: str, index: int) -> bytes:
    """Input ``index`` of target ``name``: a function of its arguments alone (so one can be replayed)."""
    rng = random.Random(f"{seed}/{name}/{index}")
    if rng.random() < 0.08:
        return rng.randbytes(rng.choice((rng.randrange(16), rng.randrange(len(max(seeds, key=len)) + 1))))
    data = bytearray(rng.choice(seeds))
    for _ in range(min(1 + int(rng.expovariate(0.7)), 12)):
        _mutate(rng, data, seeds)
    return bytes(data)


def _mutate(rng: random.Random, data: bytearray, seeds: list[bytes]) -> None:
    n = len(data)
    at = rng.randrange(n) if n else 0
    kind = rng.randrange(10)
    if kind == 0 and n:
        data[at] ^= 1 << rng.randrange(8)
    elif kind == 1 and n:
        data[at] = rng.randrange(256)
    elif kind == 2 and n:
        data[at] = rng.choice(_BOUNDARY_BYTES)
    elif kind == 3:
        data[at:at] = rng.randbytes(rng.randint(1, 8))
    elif kind == 4 and n:
        del data[at:at + rng.randint(1, 16)]
    elif kind == 5 and n:
        end = min(n, at + rng.randint(1, 32))
        where = rng.randrange(n + 1)
        data[where:where] = data[at:end]
    elif kind == 6 and n:
        del data[rng.randrange(n):]
    elif kind == 7 and n >= 4:
        width = rng.choice((2, 4))
        at = rng.randrange(n - width + 1)
        data[at:at + width] = (rng.choice(_BOUNDARY_WORDS) & (256 ** width - 1)).to_bytes(width, "little")
    elif kind == 8:
        other = rng.choice(seeds)
        if other:
            start = rng.randrange(len(other))
            data[at:at + rng.randint(0, 16)] = other[start:start + rng.randint(1, 32)]
    else:
        digits = [i for i in range(max(0, at - 64), min(n, at + 64)) if 0x30 <= data[i] <= 0x39]
        if digits:  # a number in text (JSON, architecture strings) becomes another number
            data[rng.choice(digits)] = rng.choice(b"0123456789-.e")


# ----------------------------------------------------------------------------------------- engines
def _progress(total: int, desc: str):
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, unit="in", file=sys.stderr, mininterval=1.0, dynamic_ncols=True)


def fuzz(name: str, target: Target, inputs: int, seed: int, out: Path, keep: int = 20,
         progress: bool = True) -> dict:
    """Run ``inputs`` inputs through one target; returns its figures and saves the findings."""
    outcomes: Counter = Counter()
    signatures: Counter = Counter()
    findings = []
    bar = _progress(inputs, name) if progress else None
    start = time.perf_counter()
    slowest = (0.0, -1)
    for index in range(inputs):
        data = make_input(target.seeds, seed, name, index)
        began = time.perf_counter()
        try:
            target.parse(data)
            outcomes["parsed"] += 1
        except target.allowed:
            outcomes["clean error"] += 1
        except Exception as error:  # noqa: BLE001 - a finding
            outcomes["uncaught"] += 1
            frame = traceback.extract_tb(error.__traceback__)[-1]
            signature = f"{type(error).__name__} at {Path(frame.filename).name}:{frame.lineno}"
            signatures[signature] += 1
            if len(findings) < keep and signatures[signature] <= 3:  # a few inputs of each kind
                out.mkdir(parents=True, exist_ok=True)
                file = out / f"{name}-seed{seed}-input{index}.bin"
                file.write_bytes(data)
                findings.append({"index": index, "file": str(file), "error": f"{signature}: {error}"[:300]})
        elapsed = time.perf_counter() - began
        slowest = max(slowest, (elapsed, index))
        if bar is not None:
            bar.update()
        elif progress and (index + 1) % max(1, inputs // 10) == 0:
            print(f"{name}: {index + 1}/{inputs}", file=sys.stderr)
    if bar is not None:
        bar.close()
    wall = time.perf_counter() - start
    return {"target": name, "engine": "mutate", "seed": seed, "inputs": inputs, **dict(outcomes),
            "uncaught": outcomes["uncaught"], "signatures": dict(signatures), "findings": findings,
            "seconds": round(wall, 1), "inputs_per_s": round(inputs / wall),
            "slowest_ms": round(slowest[0] * 1e3, 1), "slowest_index": slowest[1]}


def atheris_child(name: str, inputs: int, seed: int, out: Path, scratch: Path) -> None:
    """One target under atheris/libFuzzer (this process ends when libFuzzer does, without cleaning up:
    ``scratch`` belongs to the parent)."""
    import atheris

    target = TARGETS[name](scratch)
    corpus = scratch / "corpus"
    corpus.mkdir()
    for i, blob in enumerate(target.seeds):
        (corpus / f"seed{i}").write_bytes(blob)
    atheris.instrument_all()

    def one_input(data: bytes) -> None:
        try:
            target.parse(data)
        except target.allowed:
            pass

    out.mkdir(parents=True, exist_ok=True)
    atheris.Setup([sys.argv[0], f"-runs={inputs}", f"-seed={seed + 1}", f"-artifact_prefix={out}/{name}-",
                   "-print_final_stats=1", str(corpus)], one_input)
    atheris.Fuzz()


def run_atheris(name: str, inputs: int, seed: int, out: Path) -> dict:
    start = time.perf_counter()
    with _scratch() as scratch:
        run = subprocess.run([sys.executable, __file__, "--atheris-child", name, "--inputs", str(inputs),
                              "--seed", str(seed), "--out", str(out), "--scratch", scratch],
                             capture_output=True, text=True)
    wall = time.perf_counter() - start
    crashed = run.returncode != 0
    tail = [line for line in run.stderr.splitlines() if "Error" in line or "stat::" in line][-6:]
    return {"target": name, "engine": "atheris", "seed": seed, "inputs": inputs, "uncaught": int(crashed),
            "exit_code": run.returncode, "log_tail": tail, "seconds": round(wall, 1),
            "inputs_per_s": round(inputs / wall)}


# ----------------------------------------------------------------------------------------- command
def _scratch() -> tempfile.TemporaryDirectory:
    """A scratch folder for the targets that parse files: in memory when /dev/shm exists (rewriting a
    file on an ordinary disk costs milliseconds, the parse itself a fraction of one)."""
    shm = Path("/dev/shm")
    return tempfile.TemporaryDirectory(prefix="firstspike-fuzz-", dir=shm if shm.is_dir() else None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=100_000, help="inputs per target (default 100000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--targets", nargs="+", choices=sorted(TARGETS), default=list(TARGETS))
    parser.add_argument("--engine", choices=("mutate", "atheris"), default="mutate")
    parser.add_argument("--out", type=Path, default=Path("fuzz-findings"),
                        help="folder for inputs that raised an uncaught exception")
    parser.add_argument("--json", type=Path, help="also write the per-target figures here")
    parser.add_argument("--replay", choices=sorted(TARGETS), help="rerun one input of this target, "
                        "given --seed and --index, and show its traceback")
    parser.add_argument("--index", type=int, help="with --replay: the input's index")
    parser.add_argument("--atheris-child", help=argparse.SUPPRESS)
    parser.add_argument("--scratch", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inputs < 1:
        parser.error(f"--inputs {args.inputs}: give at least 1")
    if args.atheris_child:
        atheris_child(args.atheris_child, args.inputs, args.seed, args.out, args.scratch)
        return 0
    if args.replay:
        if args.index is None:
            parser.error("--replay needs --index (and the run's --seed)")
        with _scratch() as scratch:
            target = TARGETS[args.replay](Path(scratch))
            data = make_input(target.seeds, args.seed, args.replay, args.index)
            print(f"input {args.index} of {args.replay}, seed {args.seed}: {len(data)} bytes, "
                  f"{data[:64]!r}...")
            try:
                print("parsed:", target.parse(data))
            except target.allowed as error:
                print(f"clean error {type(error).__name__}: {error}")
        return 0
    if args.engine == "atheris":
        try:
            import atheris  # noqa: F401
        except ImportError:
            parser.error("--engine atheris needs atheris: pip install atheris (or use --engine mutate)")
    results = []
    for name in args.targets:
        if args.engine == "atheris":
            result = run_atheris(name, args.inputs, args.seed, args.out)
        else:
            with _scratch() as scratch:
                result = fuzz(name, TARGETS[name](Path(scratch)), args.inputs, args.seed, args.out)
        results.append(result)
        print(json.dumps(result), flush=True)
        for finding in result.get("findings", []):
            print(f"  {name}: seed {args.seed} input {finding['index']}: {finding['error']} "
                  f"(saved {finding['file']}; rerun with --replay {name} --seed {args.seed} "
                  f"--index {finding['index']})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    total = sum(result["uncaught"] for result in results)
    inputs = sum(result["inputs"] for result in results)
    print(f"{inputs} inputs over {len(results)} targets, {total} uncaught exceptions")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
