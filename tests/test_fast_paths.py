# SPDX-License-Identifier: MIT
"""The dense (plain fully connected) fast paths of the kernels equal their general conv code to the bit."""

import numpy as np
import pytest

from firstspike.model.arch import parse_arch
from firstspike.model.kernels import is_dense
from firstspike.model.sgd_kernels import apply_update, conv_backward, dense_update


@pytest.mark.parametrize("arch", ["12-7", "1x3x4-7", "12-fc7"])
def test_plain_fc_layers_take_the_dense_path_and_conv_layers_do_not(arch):
    assert is_dense(np.array(parse_arch(arch).layers[0].geometry(), dtype=np.int64))
    for conv in ("1x3x4-c7k2-fc2", "1x4x4-p2-fc7", "1x3x3-c7k3p1-fc2"):
        assert not is_dense(np.array(parse_arch(conv).layers[0].geometry(), dtype=np.int64))


@pytest.mark.parametrize("seed", range(8))
def test_dense_sgd_update_is_the_general_update_to_the_bit(seed):
    rng = np.random.default_rng(seed)
    n_in, n_out, T = int(rng.integers(1, 30)), int(rng.integers(1, 12)), 40
    g = np.array(parse_arch(f"{n_in}-{n_out}").layers[0].geometry(), dtype=np.int64)
    t_in = rng.integers(0, T + 1, size=n_in).astype(np.int16)
    t_out = rng.integers(1, T + 1, size=n_out).astype(np.int16)
    delta = rng.normal(size=n_out) * (rng.random(n_out) < 0.7)  # some outputs carry no error
    w = rng.normal(size=(n_in, 1, 1, n_out))
    s = np.where(w >= 0, 1, -1).astype(np.int8)
    eta = float(rng.uniform(0.01, 0.5))

    w_gen, s_gen, grad = w.copy(), s.copy(), np.zeros_like(w)
    conv_backward(g, t_in, t_out, delta, w_gen, grad, grad.reshape(-1), True)
    alpha_gen = apply_update(w_gen, s_gen, grad, eta, 0.0)

    w_fast, s_fast = w.copy(), s.copy()
    alpha_fast = dense_update(t_in, t_out, delta, w_fast.reshape(n_in, n_out), s_fast.reshape(n_in, n_out), eta)
    assert np.array_equal(w_fast, w_gen) and np.array_equal(s_fast, s_gen), f"seed {seed}"
    assert alpha_fast == alpha_gen, f"seed {seed}"
