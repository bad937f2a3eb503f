# SPDX-License-Identifier: MIT
"""Run folders own their state: one writer at a time, no silent replacement, no orphan temporaries.

Concurrency is tested with real processes: a holder process that takes a lock and says so on
stdout before the test goes on (no sleeps that could race), and two ``firstspike`` processes
started together.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from firstspike.cli import main
from firstspike.model.network import load_model
from firstspike.outputs import (FOLDER_LOCK, OutputBusy, OutputExists, atomic_write_text, claim_file,
                                claim_folder, remove_orphans)

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "models" / "mnist-784-32-10.npz"
TRAIN = ["train", "--dataset", "mnist-mini", "--arch", "784-16-10", "--epochs", "2", "--val-size", "300",
         "--quiet"]


def _env(**extra) -> dict:
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


@pytest.fixture
def holder():
    """Start a process that holds ``claim_folder(path)`` (or ``claim_file``) until it is killed;
    returns its Popen once it has printed that it holds the lock."""
    started = []

    def start(path, kind="folder", command="firstspike train"):
        code = ("import sys, time\n"
                f"from firstspike.outputs import claim_{kind}\n"
                f"with claim_{kind}(sys.argv[1], command={command!r}, overwrite=True):\n"
                "    print('held', flush=True)\n"
                "    time.sleep(600)\n")
        proc = subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True,
                                env=_env())
        started.append(proc)
        assert proc.stdout.readline().strip() == "held"
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


def _orphan(folder: Path, name: str) -> Path:
    """A temporary file named as the atomic writer names one (what a killed write leaves)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    os.write(fd, b"half a file")
    os.close(fd)
    return Path(tmp)


# --- the module ------------------------------------------------------------------------------------

def test_a_held_folder_refuses_a_second_writer_naming_the_holder(tmp_path, holder):
    proc = holder(tmp_path / "run")
    with pytest.raises(OutputBusy) as error:
        with claim_folder(tmp_path / "run"):
            pass
    text = str(error.value)
    assert f"in use by pid {proc.pid} (firstspike train, started " in text
    assert "choose another --out" in text


def test_the_lock_of_a_killed_process_does_not_block(tmp_path, holder):
    proc = holder(tmp_path / "run")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (tmp_path / "run" / FOLDER_LOCK).is_file()  # the dead holder's lock file is still there
    with claim_folder(tmp_path / "run", overwrite=True):
        assert json.loads((tmp_path / "run" / FOLDER_LOCK).read_text())["pid"] == os.getpid()
    assert not (tmp_path / "run" / FOLDER_LOCK).exists()  # released: nothing left behind


def test_a_held_file_refuses_a_second_writer(tmp_path, holder):
    proc = holder(tmp_path / "top.v", kind="file", command="firstspike rtl")
    with pytest.raises(OutputBusy, match=f"pid {proc.pid} \\(firstspike rtl"):
        with claim_file(tmp_path / "top.v"):
            pass


def test_a_folder_with_contents_needs_overwrite_or_resume(tmp_path):
    (tmp_path / "model.npz").write_bytes(b"old")
    with pytest.raises(OutputExists, match="already holds model.npz; add --overwrite"):
        with claim_folder(tmp_path):
            pass
    with claim_folder(tmp_path, resume=True):
        pass
    assert (tmp_path / "model.npz").read_bytes() == b"old"
    (tmp_path / "notes.txt").write_text("mine")
    with claim_folder(tmp_path, overwrite=True, remove=["model.npz"]):
        pass
    assert not (tmp_path / "model.npz").exists()
    assert (tmp_path / "notes.txt").read_text() == "mine"  # only the named products go
    with pytest.raises(OutputExists, match="give one of them"):
        with claim_folder(tmp_path, overwrite=True, resume=True):
            pass


def test_an_input_inside_the_folder_is_refused(tmp_path):
    (tmp_path / "checkpoint.npz").write_bytes(b"source")
    with pytest.raises(OutputExists, match="holds the input"):
        with claim_folder(tmp_path, overwrite=True, remove=["checkpoint.npz"],
                          inputs=[tmp_path / "checkpoint.npz"]):
            pass
    assert (tmp_path / "checkpoint.npz").read_bytes() == b"source"


def test_orphans_go_only_under_the_lock_and_only_the_writers_pattern(tmp_path):
    orphan = _orphan(tmp_path, "model.npz")
    keep = [tmp_path / "keep.tmp", tmp_path / ".notes.tmp", tmp_path / ".model.npz.tmp"]
    for path in keep:
        path.write_text("not an orphan")
    with claim_folder(tmp_path, resume=True):
        assert not orphan.exists()
    assert all(path.exists() for path in keep)
    other, mine = _orphan(tmp_path, "a.v"), _orphan(tmp_path, "b.v")
    with claim_file(tmp_path / "b.v"):
        assert not mine.exists() and other.exists()  # a file claim cleans its own name only
    assert remove_orphans(tmp_path) == [other]


def test_locks_and_orphans_do_not_make_a_folder_used(tmp_path):
    (tmp_path / ".calibrated.npz.lock").write_text("")  # another command's file lock
    orphan = _orphan(tmp_path, "model.npz")
    with claim_folder(tmp_path):
        assert not orphan.exists()


def test_atomic_write_leaves_no_temporary(tmp_path):
    atomic_write_text(tmp_path / "a.txt", "x")
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


# --- the commands ----------------------------------------------------------------------------------

def test_two_train_runs_into_one_folder_one_is_refused(tmp_path):
    """Started together: exactly one trains; the folder's files all come from that run."""
    out = tmp_path / "run"
    command = [sys.executable, "-m", "firstspike", *TRAIN, "--out", str(out), "--seed"]
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    procs = [subprocess.Popen([*command, str(seed)], env=_env(), cwd=tmp_path, **pipes)
             for seed in (1, 2)]
    results = [(proc.wait(timeout=600), *proc.communicate()) for proc in procs]
    winners = [seed for seed, (rc, _, _) in zip((1, 2), results) if rc == 0]
    assert len(winners) == 1, results
    (loser,) = [err for rc, _, err in results if rc != 0]
    assert "is in use by" in loser or "add --overwrite" in loser, loser
    assert json.loads((out / "config.json").read_text())["seed"] == winners[0]
    assert load_model(out / "model.npz").meta["config"]["seed"] == winners[0]
    with np.load(out / "checkpoint.npz") as archive:
        state = json.loads(archive["state"].tobytes())
    assert (state["config"]["seed"], state["epoch"]) == (winners[0], 2)
    history = json.loads((out / "metrics.json").read_text())["history"]
    assert [row["epoch"] for row in history] == [1, 2]


def test_train_refuses_a_finished_run_until_told(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*TRAIN, "--out", str(out)]) == 0
    before = {name: (out / name).read_bytes() for name in ("model.npz", "metrics.json", "checkpoint.npz")}
    capsys.readouterr()
    assert main([*TRAIN, "--seed", "7", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "already holds" in err and "add --resume to continue it, --overwrite to replace it" in err
    assert len(err.strip().splitlines()) == 1
    assert {name: (out / name).read_bytes() for name in before} == before
    # --init-from the run into itself would replace its own source
    assert main([*TRAIN, "--init-from", str(out), "--overwrite", "--out", str(out)]) == 1
    assert "holds the input" in capsys.readouterr().err
    assert (out / "checkpoint.npz").read_bytes() == before["checkpoint.npz"]
    orphan = _orphan(out, "model.npz")
    assert main([*TRAIN, "--seed", "7", "--overwrite", "--out", str(out)]) == 0
    assert json.loads((out / "config.json").read_text())["seed"] == 7
    assert not orphan.exists()
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.npz", "config.json", "curve.png",
                                                     "init.json", "metrics.json", "model.npz"]


def test_calibrate_never_writes_over_its_input(tmp_path, capsys):
    model = tmp_path / "model.npz"
    model.write_bytes(MODEL.read_bytes())
    for out in (model, tmp_path / "model"):
        assert main(["calibrate", "--model", str(tmp_path / "model"), "--out", str(out), "--overwrite"]) == 1
        assert "is the input" in capsys.readouterr().err
    assert model.read_bytes() == MODEL.read_bytes()
    existing = tmp_path / "calibrated.npz"
    existing.write_bytes(b"earlier")
    assert main(["calibrate", "--model", str(model), "--out", str(existing)]) == 1
    assert "already exists; add --overwrite" in capsys.readouterr().err
    assert existing.read_bytes() == b"earlier"


def test_export_and_rtl_refuse_to_replace_outputs(tmp_path, capsys):
    export = tmp_path / "export"
    assert main(["export", "--model", str(MODEL), "--lanes", "8", "--out", str(export)]) == 0
    manifest = (export / "manifest.json").read_bytes()
    assert main(["export", "--model", str(MODEL), "--lanes", "4", "--out", str(export)]) == 1
    assert "add --overwrite" in capsys.readouterr().err
    assert (export / "manifest.json").read_bytes() == manifest
    assert main(["export", "--model", str(MODEL), "--lanes", "4", "--out", str(export), "--overwrite"]) == 0
    assert json.loads((export / "manifest.json").read_text()) != json.loads(manifest)

    verilog = tmp_path / "core.v"
    verilog.write_text("// mine\n")
    assert main(["rtl", "--manifest", str(export), "--out", str(verilog)]) == 1
    assert "already exists; add --overwrite" in capsys.readouterr().err
    assert verilog.read_text() == "// mine\n"
    assert main(["rtl", "--manifest", str(export), "--out", str(verilog), "--overwrite"]) == 0
    assert "module firstspike_core" in verilog.read_text()


def test_build_and_sim_refuse_a_used_folder_before_any_work(tmp_path, capsys, monkeypatch):
    import firstspike.boards.build as boards_build
    import firstspike.sim.cli as sim_cli

    def must_not_run(*args, **kwargs):
        raise AssertionError("the long work started before the output check")

    monkeypatch.setattr(boards_build, "build", must_not_run)
    monkeypatch.setattr(sim_cli, "simulate_dataset", must_not_run)
    used = tmp_path / "used"
    used.mkdir()
    (used / "report.json").write_text("{}")
    assert main(["build", "--board", "ulx3s-25f", "--model", str(MODEL), "--out", str(used)]) == 1
    assert "add --overwrite" in capsys.readouterr().err
    assert main(["sim", "--model", str(MODEL), "--lanes", "8", "--dataset", "mnist-mini", "--limit", "2",
                 "--work-dir", str(used)]) == 1
    assert "--work-dir" in capsys.readouterr().err and (used / "report.json").read_text() == "{}"


def test_flow_refuses_a_used_out_and_overwrite_clears_its_products(tmp_path, capsys, monkeypatch):
    from firstspike import flow

    ran = []

    def stage(name):
        def run(ctx):
            ran.append(name)
            (ctx["out"] / name).mkdir()
            ctx["model"] = MODEL
            return name
        return run

    monkeypatch.setattr(flow, "STAGES", [(name, stage(name)) for name in ("train", "export")])
    out = tmp_path / "flow"
    assert main(["flow", "--out", str(out), "--quiet"]) == 0
    assert main(["flow", "--out", str(out), "--quiet"]) == 1
    assert "add --overwrite" in capsys.readouterr().err and ran == ["train", "export"]
    (out / "mine.txt").write_text("kept")
    assert main(["flow", "--out", str(out), "--quiet", "--overwrite"]) == 0  # train/ and export/ were removed
    assert ran == ["train", "export"] * 2 and (out / "mine.txt").read_text() == "kept"


#: a process that simulates a small seeded network on Verilator and checks it against the golden model
SIM_SCRIPT = """
import numpy as np
from firstspike.model.network import Network
from firstspike.rtl.params import CoreParams
from firstspike.sim.check import compare
from firstspike.sim.verilator import run_images

rng = np.random.default_rng(2812)
sizes = [12, 6, 3]
weights = [np.where(rng.random((sizes[i + 1], sizes[i])) < 0.65, 1, -1).astype(np.int8) for i in range(2)]
net = Network(weights, [2, 1], binary=True, encoding="s4nn", T=32)
pixels = rng.integers(0, 256, (8, sizes[0])).astype(np.uint8)
params = CoreParams.from_network(net, [3, 2])
print("ready", flush=True)
input()  # the test says when to start
result = run_images(params, pixels, log=print)
assert compare(params.plan, pixels, result.images, seed=2812).ok
print("ok")
"""


@pytest.mark.verilator
def test_a_simulation_started_during_the_same_build_waits_for_it(tmp_path):
    """The second process asks for the build while the first is compiling it (its Verilog is
    written, its stamp is not): it waits and reuses that build instead of compiling over it."""
    import time

    from firstspike.cache import use_numba_cache

    numba_dir = use_numba_cache() or os.environ.get("NUMBA_CACHE_DIR", "")
    cache = tmp_path / "cache"
    env = _env(FIRSTSPIKE_CACHE=str(cache), NUMBA_CACHE_DIR=str(numba_dir))
    pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    procs = [subprocess.Popen([sys.executable, "-c", SIM_SCRIPT], env=env, cwd=tmp_path, **pipes)
             for _ in range(2)]
    assert [proc.stdout.readline().strip() for proc in procs] == ["ready", "ready"]
    first, second = procs
    first.stdin.write("go\n")
    first.stdin.flush()
    deadline = time.monotonic() + 120
    while not list(cache.glob("verilator/*/firstspike_core.v")):  # the first one is building
        assert time.monotonic() < deadline and first.poll() is None, "the first build did not start"
        time.sleep(0.01)
    assert not list(cache.glob("verilator/*/firstspike.built"))
    second.stdin.write("go\n")
    second.stdin.flush()
    results = [proc.communicate(timeout=900) for proc in procs]
    for proc, (out, err) in zip(procs, results):
        assert proc.returncode == 0 and out.strip().endswith("ok"), err[-2000:]
    built = ["built the Verilator model" in out for out, _ in results]
    assert built == [True, False]  # one compile, reused by the second process
    assert not list(cache.glob("verilator/*.lock"))
