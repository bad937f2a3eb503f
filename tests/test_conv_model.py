# SPDX-License-Identifier: MIT
"""Architecture strings, the conv model file, and eval dispatch on the file header."""

import json

import numpy as np
import pytest

from firstspike.cli import main
from firstspike.model.conv_arch import is_conv_arch, parse_conv_arch
from firstspike.model.conv_network import ConvNetwork, load_model
from firstspike.model.infer import run_times
from firstspike.model.network import ModelFileError, Network


def test_parse_the_issue_example():
    arch = parse_conv_arch("28x28-c32k5-p2-c64k5-p2-fc10")
    assert arch.input_shape == (1, 28, 28)
    l0, l1, l2 = arch.layers
    assert (l0.kind, l0.c_out, l0.h_out, l0.w_out, l0.pool) == ("conv", 32, 24, 24, 1)
    assert (l1.c_in, l1.pool, l1.hp, l1.h_out, l1.c_out) == (32, 2, 12, 8, 64)
    assert (l2.kind, l2.pool, l2.kh, l2.kw, l2.c_out) == ("fc", 2, 4, 4, 10)
    assert arch.sizes == [784, 32 * 24 * 24, 64 * 8 * 8, 10]
    assert l2.fan_in == 64 * 4 * 4 * 4


def test_stride_padding_and_channel_input():
    arch = parse_conv_arch("3x32x32-c8k3s2p1-fc10")
    assert arch.layers[0].h_out == 16 and arch.layers[0].c_in == 3
    assert parse_conv_arch("784-fc600-fc10").is_fully_connected
    assert not parse_conv_arch("28x28-p2-fc10").is_fully_connected


@pytest.mark.parametrize("text, message", [
    ("28x28", "needs an input"),
    ("28x28-c32k5-", "needs an input"),
    ("axb-fc10", "is not HxW"),
    ("28x28-c32k5-q2-fc10", "unknown token"),
    ("28x28-c32k5", "output layer must be fc"),
    ("28x28-c32k5-p2", "ends with pooling"),
    ("28x28-fc100-c8k3-fc10", "only fc layers may follow"),
    ("28x28-c8k30-fc10", "does not fit"),
    ("28x28-c8k3p3-fc10", "padding 3 must be smaller"),
    ("28x28-p2-p2-fc10", "two pooling tokens"),
    ("4x4-p8-fc10", "does not fit"),
    ("28x28-c0k3-fc10", ">= 1"),
])
def test_bad_architecture_strings_name_the_problem(text, message):
    with pytest.raises(ValueError, match=message):
        parse_conv_arch(text)


def test_is_conv_arch():
    assert not is_conv_arch("784-600-10")
    assert is_conv_arch("28x28-fc10") and is_conv_arch("784-fc10")


def _random_net(seed):
    rng = np.random.default_rng(seed)
    arch = parse_conv_arch("2x9x9-c3k3s2p1-p2-fc4")
    kernels = [rng.choice(np.array([-1, 1], np.int8), size=layer.kernel_shape) for layer in arch.layers]
    return ConvNetwork(arch.text, kernels, [3, 2], T=40, meta={"seed": seed})


def test_model_file_round_trip(tmp_path):
    net = _random_net(0)
    path = net.save(tmp_path / "m.npz")
    back = load_model(tmp_path / "m")  # the suffix is optional
    assert isinstance(back, ConvNetwork)
    assert back.arch == net.arch and back.thresholds == net.thresholds and back.T == 40
    for a, b in zip(net.kernels, back.kernels):
        assert a.dtype == b.dtype and (a == b).all()
    x = np.random.default_rng(1).integers(0, 42, size=(5, net.sizes[0]))
    assert all((p == q).all() for p, q in zip(run_times(net, x).times, run_times(back, x).times))
    with pytest.raises(ModelFileError, match="convolutional"):
        Network.load(path)


def test_version_one_files_still_load_through_the_dispatcher(tmp_path):
    w = np.ones((3, 4), np.int8)
    Network([w], [1], binary=True).save(tmp_path / "fc.npz")
    assert isinstance(load_model(tmp_path / "fc.npz"), Network)
    assert isinstance(Network.load(tmp_path / "fc.npz"), Network)


def test_truncated_kernel_file_is_a_clear_error(tmp_path):
    import io
    net = _random_net(2)
    with np.load(io.BytesIO(net.to_bytes())) as archive:
        arrays = {k: archive[k] for k in archive.files}
    arrays["w1"] = arrays["w1"][:2]
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ModelFileError, match="too few sign bits"):
        load_model(tmp_path / "bad.npz")


def test_eval_cli_dispatches_on_the_header(tmp_path, capsys):
    rng = np.random.default_rng(4)
    arch = parse_conv_arch("28x28-c2k5s3-p2-fc10")
    kernels = [rng.choice(np.array([-1, 1], np.int8), size=layer.kernel_shape) for layer in arch.layers]
    net = ConvNetwork(arch.text, kernels, [5, 3])
    net.save(tmp_path / "conv.npz")
    assert main(["eval", "--model", str(tmp_path / "conv"), "--dataset", "mnist-mini", "--json",
                 "--limit", "50"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["arch"] == arch.text and result["images"] == 50
    assert len(result["mean_spikes_per_layer"]) == 2
