# SPDX-License-Identifier: MIT
"""Bad input to the golden-model commands is refused with one line naming the problem and the fix."""

import json

import numpy as np
import pytest

from firstspike.cli import main
from firstspike.model.network import ModelFileError, load_model


def test_import_bs4nn_refuses_weights_without_a_sign(tmp_path, capsys):
    rng = np.random.default_rng(0)
    w0, w1 = rng.normal(size=(6, 784)), rng.normal(size=(10, 6))
    w0[2, 5] = np.nan
    np.save(tmp_path / "w0.npy", w0)
    np.save(tmp_path / "w1.npy", w1)
    code = main(["import-bs4nn", "--w0", str(tmp_path / "w0.npy"), "--w1", str(tmp_path / "w1.npy"),
                 "--alpha", "4", "9", "--out", str(tmp_path / "m.npz")])
    err = capsys.readouterr().err
    assert code == 1 and "1 weights are NaN or inf" in err and err.count("\n") == 1
    assert not (tmp_path / "m.npz").exists()


def test_eval_refuses_a_limit_below_one(tmp_path, capsys):
    net = load_model(_tiny_model(tmp_path))
    assert net.sizes[0] == 784
    assert main(["eval", "--model", str(tmp_path / "tiny.npz"), "--dataset", "mnist-mini", "--limit", "-5"]) == 1
    assert "--limit -5" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_real_model_files_with_nan_or_inf_weights_do_not_load(tmp_path, bad):
    """A real-valued model file whose weights hold NaN/inf is refused at load time (it used to
    load and score about 10 %)."""
    path = _tiny_model(tmp_path)
    with np.load(path) as archive:
        arrays = {k: archive[k] for k in archive.files}
    header = json.loads(bytes(arrays["header"]).decode())
    header["binary"] = False
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    arrays["w0"] = np.full((3, 784), 0.5)
    arrays["w0"][1, 7] = bad
    arrays["w1"] = np.ones((10, 3))
    np.savez(tmp_path / "real.npz", **arrays)
    with pytest.raises(ModelFileError, match="finite"):
        load_model(tmp_path / "real.npz")


def _tiny_model(folder):
    from firstspike.model.network import Network

    rng = np.random.default_rng(1)
    w = [np.where(rng.random((3, 784)) < 0.5, 1, -1), np.where(rng.random((10, 3)) < 0.5, 1, -1)]
    return Network(w, [10, 0]).save(folder / "tiny.npz")


def test_a_truncated_model_file_is_one_line_naming_it(tmp_path, capsys):
    """A model file cut short (an interrupted copy) is a damaged archive, reported with its path."""
    raw = _tiny_model(tmp_path).read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])
    assert main(["eval", "--model", str(tmp_path / "cut.npz"), "--dataset", "mnist-mini"]) == 1
    err = capsys.readouterr().err
    assert "cut.npz is not a readable firstspike model" in err and "Traceback" not in err


@pytest.mark.parametrize("flags, message", [
    (["--arch", "784-64-9"], "ends with 9 outputs but mnist-mini has 10 classes"),
    (["--val-size", "0"], "--val-size 0: the best epoch is picked on validation images"),
    (["--eta", "-1"], "--eta must be finite and >= 0"),
    (["--gamma", "nan"], "--gamma must be finite and >= 0"),
    (["--eta-alpha", "-0.1"], "--eta-alpha must be finite and >= 0"),
    (["--train-limit", "0"], "--train-limit 0 leaves no images to train on"),
])
def test_train_refuses_options_that_would_crash_or_train_to_chance(tmp_path, capsys, flags, message):
    """Each of these once trained to chance or crashed after a whole epoch (issue 28)."""
    out = tmp_path / "run"
    assert main(["train", "--dataset", "mnist-mini", "--epochs", "1", "--quiet", "--out", str(out)] + flags) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (out / "checkpoint.npz").exists()


@pytest.mark.parametrize("board, mhz, message", [
    ("icebreaker", 0, "--clock-mhz 0: give a core clock in MHz > 0"),
    ("icebreaker", -5, "--clock-mhz -5: give a core clock in MHz > 0"),
    ("ulx3s-25f", 10000, "more than 5% off"),
])
def test_a_clock_the_pll_cannot_make_is_refused_not_clamped(board, mhz, message):
    from firstspike.boards.registry import get_board

    with pytest.raises(ValueError, match=message):
        get_board(board).pll(mhz)


def test_reachable_clocks_and_the_board_defaults_are_accepted():
    from firstspike.boards.base import CLOCK_TOLERANCE
    from firstspike.boards.registry import BOARDS

    for board in BOARDS.values():
        setting = board.pll(None)
        f_out = setting.f_out if setting else board.osc_hz
        assert abs(f_out - board.clock_mhz * 1e6) <= CLOCK_TOLERANCE * board.clock_mhz * 1e6
    # 25 MHz * 8 / 5 is exactly 40 MHz on the ECP5 PLL
    assert BOARDS["ulx3s-25f"].pll(40).f_out == 40e6


def test_build_reads_its_dataset_before_synthesis(tmp_path, monkeypatch):
    """A dataset that cannot be read stops the build at once, not after minutes of yosys/nextpnr."""
    from amaranth.build.plat import Platform

    from firstspike.boards.build import build
    from firstspike.export.plan import build_plan
    from firstspike.model.data import DatasetError
    from firstspike.model.network import load_model

    def never(*args, **kwargs):
        raise AssertionError("synthesis was reached")

    monkeypatch.setattr(Platform, "prepare", never)
    plan = build_plan(load_model(_tiny_model(tmp_path)), 3)
    with pytest.raises(DatasetError, match="does not hold"):
        build("icebreaker", plan, tmp_path / "out", dataset="fashion-mnist", data_dir=tmp_path,
              log=lambda message: None)


def test_a_val_size_larger_than_a_fifth_of_the_pool_is_stated(tmp_path, capsys):
    """mnist-mini has 2,000 training images: at most 400 (a fifth) validate, and the run says so."""
    out = tmp_path / "run"
    assert main(["train", "--dataset", "mnist-mini", "--epochs", "1", "--quiet", "--val-size", "5000",
                 "--train-limit", "1000", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "validation: 200 of 1000 images (--val-size 5000 capped at a fifth of the pool)" in err
