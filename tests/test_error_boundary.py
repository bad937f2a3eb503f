# SPDX-License-Identifier: MIT
"""The CLI error boundary: every expected failure is one line naming the path and the fix (exit 1);
anything else is reported as a bug with the version and how to file it (exit 70), traceback only
with --debug. Each case here crashed with a traceback once (issue 28)."""

import errno
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from firstspike import __version__
from firstspike.cli import EXIT_ERROR, EXIT_INTERNAL, main
from firstspike.model.network import Network

ROOT = Path(__file__).resolve().parents[1]


def _tiny_model(folder: Path) -> Path:
    rng = np.random.default_rng(3)
    w = [np.where(rng.random((3, 784)) < 0.5, 1, -1), np.where(rng.random((10, 3)) < 0.5, 1, -1)]
    return Network(w, [10, 0]).save(folder / "tiny.npz")


def _one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err
    assert err.startswith(f"firstspike {command}: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def test_the_exit_codes_are_distinct_and_documented():
    from firstspike.cli import build_parser

    assert EXIT_ERROR == 1 and EXIT_INTERNAL not in (0, 1, 2)  # 2 stays argparse's usage error
    assert f"{EXIT_INTERNAL} an internal error" in build_parser().epilog


def test_an_output_folder_under_a_regular_file(tmp_path, capsys):
    (tmp_path / "afile").write_text("not a folder")
    out = tmp_path / "afile" / "rom"
    assert main(["export", "--model", str(_tiny_model(tmp_path)), "--lanes", "3", "--out", str(out)]) == 1
    err = _one_line_error(capsys, "export")
    assert str(out) in err and "is a file where a folder is expected" in err


def test_an_output_folder_that_is_a_file(tmp_path, capsys):
    (tmp_path / "rom").write_text("not a folder")
    assert main(["export", "--model", str(_tiny_model(tmp_path)), "--lanes", "3",
                 "--out", str(tmp_path / "rom")]) == 1
    err = _one_line_error(capsys, "export")
    assert str(tmp_path / "rom") in err and "is a file, not a folder; give a folder" in err


def test_a_full_disk_names_the_file_being_written(tmp_path, capsys, monkeypatch):
    """A real ENOSPC from write/fsync carries no file name; the atomic writer adds it."""
    from firstspike import outputs as atomic

    def disk_full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    model = _tiny_model(tmp_path)
    monkeypatch.setattr(atomic.os, "fsync", disk_full)
    out = tmp_path / "rom"
    assert main(["export", "--model", str(model), "--lanes", "3", "--out", str(out)]) == 1
    err = _one_line_error(capsys, "export")
    assert str(out / "layer0.hex") in err and "the disk is full; free some space" in err
    assert list(out.iterdir()) == []  # no temporary file left behind


@pytest.mark.parametrize("damage", ["cut", "empty", "stray member"])
@pytest.mark.parametrize("flag", ["--resume", "--init-from"])
def test_a_damaged_checkpoint(tmp_path, capsys, damage, flag):
    """A checkpoint cut short (BadZipFile), empty (EOFError) or with a member that is not an array
    (numpy hands back its raw bytes) is refused naming it."""
    import zipfile

    run = tmp_path / "run"
    run.mkdir()
    arrays = {"w0": np.zeros((8, 784)), "state": np.frombuffer(b'{"config": {}}', dtype=np.uint8)}
    np.savez(run / "checkpoint.npz", **arrays)
    raw = (run / "checkpoint.npz").read_bytes()
    if damage == "stray member":
        with zipfile.ZipFile(run / "checkpoint.npz", "a") as archive:
            archive.writestr("w1.npy", b"not an array")
    else:
        (run / "checkpoint.npz").write_bytes(raw[: len(raw) // 2] if damage == "cut" else b"")
    where = ["--out", str(run), "--resume"] if flag == "--resume" else \
        ["--out", str(tmp_path / "tuned"), "--init-from", str(run)]
    assert main(["train", "--dataset", "mnist-mini", "--arch", "784-8-10", "--epochs", "2", "--quiet"]
                + where) == 1
    err = _one_line_error(capsys, "train")
    assert f"{run / 'checkpoint.npz'} is not a readable checkpoint" in err and "it is damaged" in err


def test_a_gzip_dataset_file_with_corrupt_early_bytes(tmp_path, capsys):
    """Damage right after the gzip header is a zlib.error (not an OSError or EOFError)."""
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        blob = bytearray(gzip.compress(bytes(1000)))
        blob[10:14] = b"\xff" * 4  # the first deflate block header: an invalid block type
        (folder / f"{name}.gz").write_bytes(bytes(blob))
    assert main(["data", "mnist", "--data-dir", str(tmp_path / "data")]) == 1
    err = _one_line_error(capsys, "data")
    assert "train-images-idx3-ubyte.gz: corrupt gzip" in err and "fetch the file again" in err


@pytest.mark.parametrize("alpha", ["0", "-2", "nan"])
def test_train_refuses_a_scale_that_is_not_positive(tmp_path, capsys, alpha):
    out = tmp_path / "run"
    assert main(["train", "--dataset", "mnist-mini", "--epochs", "1", "--quiet", "--alpha-init", "5", alpha,
                 "--out", str(out)]) == 1
    err = _one_line_error(capsys, "train")
    assert "--alpha-init must be finite and > 0" in err
    assert not out.exists()  # refused before anything is written


def _export(tmp_path) -> Path:
    from firstspike.export.manifest import export_network
    from firstspike.model.network import load_model

    return export_network(load_model(_tiny_model(tmp_path)), 3, tmp_path / "rom")


@pytest.mark.parametrize("edit, message", [
    (lambda m: {k: v for k, v in m.items() if k != "layers"}, "field layers is missing (it was sealed)"),
    (lambda m: [m], "manifest.json holds a JSON list, not an object"),
])
def test_a_broken_manifest_names_its_folder(tmp_path, capsys, edit, message):
    path = _export(tmp_path)
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    assert main(["rtl", "--manifest", str(path.parent), "--out", str(tmp_path / "core.v")]) == 1
    err = _one_line_error(capsys, "rtl")
    assert str(path.parent) in err and message in err and "firstspike export" in err


def test_an_unexpected_exception_is_reported_as_a_bug(tmp_path, capsys, monkeypatch):
    """A KeyError (or any exception a command did not translate) is never shown as a user error."""
    from firstspike.model import network

    def broken(path):
        raise KeyError("layers")

    monkeypatch.setattr(network.Network, "load", broken)
    model = str(_tiny_model(tmp_path))
    assert main(["eval", "--model", model, "--dataset", "mnist-mini"]) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert "firstspike eval: internal error: KeyError: 'layers'" in err and "error: 'layers'" not in err
    assert f"this is a bug in firstspike {__version__}" in err and "firstspike --debug eval" in err
    assert "Traceback" not in err and err.count("\n") == 2
    with pytest.raises(KeyError):
        main(["--debug", "eval", "--model", model, "--dataset", "mnist-mini"])


def test_the_installed_entry_point_exits_1_with_one_line(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-m", "firstspike", "eval", "--model", str(tmp_path / "none"),
                          "--dataset", "mnist-mini"], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 1 and run.stderr.count("\n") == 1 and "no model at" in run.stderr


@pytest.mark.parametrize("member, edit, message", [
    ("header.npy", lambda data: data.replace(b"(", b"((", 1), "is not a readable firstspike model"),
    ("w0.npy", lambda data: b"not an array", "member 'w0' is not a numpy array"),
])
def test_a_model_file_with_a_damaged_array_member(tmp_path, capsys, member, edit, message):
    """An unbalanced .npy header makes numpy raise tokenize.TokenError (neither ValueError nor
    OSError); a member without the .npy magic comes back as raw bytes. Both were found by the atheris
    run of benchmarks/fuzz_parsers.py; the zip itself is intact (CRCs match)."""
    import io
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(_tiny_model(tmp_path).read_bytes()))
    with zipfile.ZipFile(tmp_path / "bad.npz", "w") as archive:
        for name in source.namelist():
            data = source.read(name)
            archive.writestr(name, edit(data) if name == member else data)
    assert main(["eval", "--model", str(tmp_path / "bad.npz"), "--dataset", "mnist-mini"]) == 1
    err = _one_line_error(capsys, "eval")
    assert str(tmp_path / "bad.npz") in err and message in err and "firstspike train" in err
