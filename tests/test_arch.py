# SPDX-License-Identifier: MIT
"""Architecture strings: one grammar for fully connected and convolutional stacks."""

import pytest

from firstspike.model.arch import fc_arch, parse_arch


def test_parse_the_issue_example():
    arch = parse_arch("28x28-c32k5-p2-c64k5-p2-fc10")
    assert arch.input_shape == (1, 28, 28)
    l0, l1, l2 = arch.layers
    assert (l0.kind, l0.c_out, l0.h_out, l0.w_out, l0.pool) == ("conv", 32, 24, 24, 1)
    assert (l1.c_in, l1.pool, l1.hp, l1.h_out, l1.c_out) == (32, 2, 12, 8, 64)
    assert (l2.kind, l2.pool, l2.kh, l2.kw, l2.c_out) == ("fc", 2, 4, 4, 10)
    assert arch.sizes == [784, 32 * 24 * 24, 64 * 8 * 8, 10]
    assert l2.fan_in == 64 * 4 * 4 * 4


def test_stride_padding_and_channel_input():
    arch = parse_arch("3x32x32-c8k3s2p1-fc10")
    assert arch.layers[0].h_out == 16 and arch.layers[0].c_in == 3
    assert parse_arch("784-fc600-fc10").is_fully_connected
    assert not parse_arch("28x28-p2-fc10").is_fully_connected


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
        parse_arch(text)


def test_bare_sizes_are_fc_layers():
    plain, spelled = parse_arch("784-600-10"), parse_arch("784-fc600-fc10")
    assert plain.layers == spelled.layers and plain.sizes == [784, 600, 10]
    assert plain.is_fully_connected and plain.layers[0].kernel_shape == (600, 784, 1, 1)
    assert fc_arch([784, 600, 10]) == "784-600-10"
    # a flat input and the same pixels as a 28x28 map flatten alike: same weight count per neuron
    assert parse_arch("28x28-600-10").layers[0].fan_in == plain.layers[0].fan_in


@pytest.mark.parametrize("text, message", [
    ("784x600", "784-600-10"),
    ("784-0-10", ">= 1 neuron"),
    ("784-600-c8k3-fc10", "only fc layers may follow"),
])
def test_fc_grammar_errors_name_the_fix(text, message):
    with pytest.raises(ValueError, match=message):
        parse_arch(text)
