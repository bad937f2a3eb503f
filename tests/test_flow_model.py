# SPDX-License-Identifier: MIT
"""``firstspike flow --model PATH``: a given model (conv included) through eval -> export -> simulate
-> build, on the board the fit check picks. The bitstream stage is replaced by a recorder (a real
build is ``tests/boards/test_build_synth.py``'s job); the simulation runs on Verilator."""

import json

import numpy as np
import pytest

from firstspike.cli import main
from firstspike.export.plan import build_plan
from firstspike.model.arch import parse_arch
from firstspike.model.network import Network

TINY_CONV = "28x28-p4-c3k3s2-fc10"  # mnist-mini images: pool 4 -> 7x7, 3x3x3 map, fc10 over 27


def _tiny_conv(path, arch=TINY_CONV, seed=3):
    rng = np.random.default_rng(seed)
    layers = parse_arch(arch).layers
    kernels = [np.where(rng.random(layer.kernel_shape) < 0.5, 1, -1).astype(np.int8) for layer in layers]
    return Network(kernels, [2, 3], arch=arch, binary=True, encoding="s4nn", T=48).save(path)


def test_the_smallest_board_that_fits_is_chosen():
    from firstspike.flow import smallest_fitting_board

    rng = np.random.default_rng(1)
    layers = parse_arch(TINY_CONV).layers
    kernels = [np.where(rng.random(layer.kernel_shape) < 0.5, 1, -1).astype(np.int8) for layer in layers]
    tiny = Network(kernels, [2, 3], arch=TINY_CONV, binary=True)
    # a few thousand LUTs and a handful of block RAMs: the iCE40UP5K, the smallest part
    assert smallest_fitting_board(build_plan(tiny, 2)) == "icebreaker"
    # conv-mnist at 32 lanes needs over 100 block RAMs (a 25F has 56): an 85F part, the ULX3S listed first
    conv_mnist = Network.load("models/conv-mnist.npz")
    assert smallest_fitting_board(build_plan(conv_mnist, 32)) == "ulx3s-85f"


def test_options_of_a_given_model_need_one_and_a_wrong_input_size_is_refused_first(tmp_path, capsys):
    out = tmp_path / "flow"
    assert main(["flow", "--out", str(out), "--board", "ulx3s-85f", "--quiet"]) == 1
    assert "--board apply to a given model only; add --model PATH" in capsys.readouterr().err
    small = _tiny_conv(tmp_path / "small.npz", arch="12x12-c3k3-p2-fc4")
    assert main(["flow", "--model", str(small), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "takes 144 inputs but mnist-mini images have 784 pixels" in err and "\n" not in err.strip()
    assert not out.exists()  # refused before any stage wrote anything


@pytest.mark.verilator
def test_flow_runs_a_conv_model_through_export_simulation_and_build(tmp_path, monkeypatch):
    import firstspike.boards.build as board_build

    model = _tiny_conv(tmp_path / "tiny.npz")
    seen = []

    def fake_build(board, plan, out, **kw):
        seen.append((board, plan, kw))
        return {"luts": 1, "ebr": 0, "fmax_mhz": 50.0, "timing_met": True, "clock_mhz": 12.0,
                "latency_us_mean": 1.0}

    monkeypatch.setattr(board_build, "build", fake_build)
    out = tmp_path / "flow"
    assert main(["flow", "--model", str(model), "--out", str(out), "--lanes", "2", "--taps", "2",
                 "--sim-images", "6", "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [s["stage"] for s in summary] == ["eval", "export", "simulate", "build"]
    assert "6 mnist-mini images on Verilator: 0 mismatches" in summary[2]["summary"]
    (board, plan, kw), = seen
    assert board == "icebreaker" and plan.arch == TINY_CONV and plan.lanes == [2, 2] and kw["taps"] == 2
    assert not (out / "comparison.txt").exists() and not (out / "train").exists()
