# SPDX-License-Identifier: MIT
"""``firstspike sim --netlist BUILD_DIR`` input checks, and the pad cells of a board top becoming wires."""

import json

import pytest

from firstspike.sim.board_netlist import _pads_as_wires


def _top():
    """A board top in yosys JSON: clock pad -> flop, rx pad -> flop, flop -> tx pad."""
    return {"ports": {"clk_0__io": {"direction": "inout", "bits": [2]},
                      "uart_0__rx__io": {"direction": "inout", "bits": [3]},
                      "uart_0__tx__io": {"direction": "inout", "bits": [4]}},
            "cells": {
                "clk_pad": {"type": "SB_GB_IO", "parameters": {"PIN_TYPE": "000001"},
                            "port_directions": {"PACKAGE_PIN": "inout", "GLOBAL_BUFFER_OUTPUT": "output"},
                            "connections": {"PACKAGE_PIN": [2], "GLOBAL_BUFFER_OUTPUT": [10]}},
                "rx_pad": {"type": "SB_IO", "parameters": {"PIN_TYPE": "000001"},
                           "port_directions": {"PACKAGE_PIN": "inout", "D_IN_0": "output"},
                           "connections": {"PACKAGE_PIN": [3], "D_IN_0": [11]}},
                "tx_pad": {"type": "SB_IO", "parameters": {"PIN_TYPE": "101001"},
                           "port_directions": {"PACKAGE_PIN": "inout", "D_OUT_0": "input"},
                           "connections": {"PACKAGE_PIN": [4], "D_OUT_0": [12], "OUTPUT_ENABLE": ["1"]}},
                "ff": {"type": "SB_DFF", "parameters": {},
                       "port_directions": {"C": "input", "D": "input", "Q": "output"},
                       "connections": {"C": [10], "D": [11], "Q": [12]}}},
            "netnames": {"rx_sync": {"bits": [11]}}}


def test_pads_become_wires_and_ports_get_a_direction():
    top = _top()
    _pads_as_wires(top)
    assert set(top["cells"]) == {"ff"}
    assert top["cells"]["ff"]["connections"] == {"C": [2], "D": [3], "Q": [12]}
    assert top["netnames"]["rx_sync"]["bits"] == [3]
    assert {n: (p["direction"], p["bits"]) for n, p in top["ports"].items()} == {
        "clk_0__io": ("input", [2]), "uart_0__rx__io": ("input", [3]), "uart_0__tx__io": ("output", [12])}


def test_a_registered_pad_is_refused():
    top = _top()
    top["cells"]["rx_pad"]["parameters"]["PIN_TYPE"] = "000000"  # input registered
    with pytest.raises(ValueError, match="PIN_TYPE 000000"):
        _pads_as_wires(top)


def test_a_build_folder_of_another_network_is_refused_before_any_build(tmp_path):
    from firstspike.gate_board import simulate_build_folder
    from firstspike.export.plan import build_plan
    from firstspike.model.network import Network
    import numpy as np

    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "top.json").write_text("{}")
    (tmp_path / "report.json").write_text(json.dumps({"arch": "784-8-10", "lanes": [4, 4], "taps": 1,
                                                      "board": "icebreaker", "clock_mhz": 12.0, "baud": 115200}))
    rng = np.random.default_rng(3)
    net = Network([np.where(rng.random((5, 6)) < 0.5, 1, -1).astype(np.int8)], [1], binary=True,
                  encoding="s4nn", T=8)
    with pytest.raises(ValueError, match="was built for 784-8-10 lanes \\[4, 4\\]"):
        simulate_build_folder(tmp_path, build_plan(net, [5]), np.zeros((1, 6), np.uint8))


def test_a_folder_that_is_no_build_is_refused(tmp_path):
    from firstspike.gate_board import build_folder

    with pytest.raises(ValueError, match="not a firstspike build folder"):
        build_folder(tmp_path)


def test_sim_netlist_build_dir_reaches_the_board_path(tmp_path, data_dir, capsys):
    """Through the command line (the board path is injected by ``firstspike.cli``): a build folder
    of another network is refused with one line, before anything is built."""
    import numpy as np

    from firstspike.cli import main
    from firstspike.model.network import Network

    rng = np.random.default_rng(5)
    net = Network([np.where(rng.random((6, 784)) < 0.5, 1, -1).astype(np.int8),
                   np.where(rng.random((3, 6)) < 0.5, 1, -1).astype(np.int8)], [3, 1], binary=True,
                  encoding="s4nn", T=16)
    model = tmp_path / "m.npz"
    net.save(model)
    build = tmp_path / "b"
    (build / "build").mkdir(parents=True)
    (build / "build" / "top.json").write_text("{}")
    (build / "report.json").write_text(json.dumps({"arch": "784-8-10", "lanes": [4, 4], "taps": 1,
                                                   "board": "icebreaker", "clock_mhz": 12.0, "baud": 115200}))
    code = main(["sim", "--model", str(model), "--lanes", "2", "3", "--netlist", str(build), "--limit", "2",
                 "--data-dir", str(data_dir)])
    assert code == 1
    assert "was built for 784-8-10 lanes [4, 4]" in capsys.readouterr().err
