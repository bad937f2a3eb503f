# SPDX-License-Identifier: MIT
"""One real bitstream: a small network with the real core and the UART top, built for the
iCEBreaker with YoWASP yosys/nextpnr through ``firstspike build`` (the first run JIT-compiles)."""

import json

import numpy as np
import pytest

from firstspike.cli import main
from firstspike.model.network import Network

pytestmark = pytest.mark.synth


def test_build_icebreaker(tmp_path):
    rng = np.random.default_rng(3)
    net = Network([rng.choice([-1, 1], size=(8, 784)).astype(np.int8),
                   rng.choice([-1, 1], size=(10, 8)).astype(np.int8)], [12, 1], binary=True)
    model = net.save(tmp_path / "tiny.npz")
    out = tmp_path / "out"
    assert main(["build", "--board", "icebreaker", "--model", str(model), "--lanes", "4",
                 "--out", str(out), "--limit", "50"]) == 0
    report = json.loads((out / "report.json").read_text())
    for key in ("luts", "ffs", "ebr", "fmax_mhz", "cycles_mean", "latency_us_mean", "images_per_s",
                "build_seconds", "tools", "device"):
        assert key in report, key
    util = report["utilisation"]
    assert report["luts"] == util["ICESTORM_LC"][0] and 0 < report["luts"] <= 5280
    assert report["ebr"] == util["ICESTORM_RAM"][0] >= 3  # frame buffer + weights + encoder tables
    assert report["fmax_mhz"] > 0 and report["timing_met"] == (report["fmax_mhz"] >= 12.0)
    assert report["latency_us_mean"] == pytest.approx(report["cycles_mean"] / 12.0)
    # an uncompressed iCE40UP5K configuration image is always 104,090 bytes
    assert (out / "top.bin").stat().st_size == 104090
    assert "Fmax" in (out / "report.md").read_text()
    # end to end at the default 115200 baud: the link's rate, one request of B bytes per 10 B bits
    link = report["end_to_end"]
    assert link["baud"] == 115200 and link["event_frames"] == 50
    assert link["images_per_s"] == pytest.approx(11520 / link["request_bytes_mean"])
    assert "end to end over the UART" in (out / "report.md").read_text()
    # the analytic fit model agrees with the real build (block RAMs exactly +-1, LUTs within 25 %)
    est = report["estimate"]
    assert abs(est["ebr"] - report["ebr"]) <= 1, (est, report["ebr"])
    assert abs(est["luts"] - report["luts"]) <= 0.25 * report["luts"], (est["luts"], report["luts"])


@pytest.mark.parametrize("taps", [1, 4])
def test_build_ulx3s_conv(tmp_path, taps):
    """A random conv net (a conv layer, then an fc output layer over a pooled map: both on the conv
    engine) for the ULX3S 25F, at 1 and 4 positions per cycle (4: four small potential banks, which
    yosys puts in block RAM); the fit model's conv-engine counts agree with the real build."""
    from firstspike.model.arch import parse_arch

    arch = "28x28-c3k3s2p1-p2-fc10"
    rng = np.random.default_rng(5)
    layers = parse_arch(arch).layers
    kernels = [rng.choice([-1, 1], size=layer.kernel_shape).astype(np.int8) for layer in layers]
    net = Network(kernels, [layer.fan_in // 6 for layer in layers], arch=arch, binary=True)
    model = net.save(tmp_path / "conv.npz")
    out = tmp_path / "out"
    assert main(["build", "--board", "ulx3s-25f", "--model", str(model), "--lanes", "2", "--taps", str(taps),
                 "--out", str(out), "--limit", "20"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["taps"] == taps
    util = report["utilisation"]
    assert report["luts"] == util["TRELLIS_COMB"][0] and report["ebr"] == util["DP16KD"][0] >= 5
    assert report["fmax_mhz"] > 0 and (out / "top.bit").stat().st_size > 0
    est = report["estimate"]
    assert est["memories"]["layer0_potentials"] == taps and est["memories"]["layer0_crossings"] == 0
    assert abs(est["ebr"] - report["ebr"]) <= 1, (est, report["ebr"])
    assert abs(est["luts"] - report["luts"]) <= 0.25 * report["luts"], (est["luts"], report["luts"])
