# SPDX-License-Identifier: MIT
"""The contract's encodings, thresholds and widths on hand-made cases."""

import numpy as np
import pytest

from firstspike.model import spec


def test_bs4nn_encoding_is_255_minus_pixel():
    p = np.array([0, 1, 128, 254, 255], dtype=np.uint8)
    assert spec.encode(p, "bs4nn").tolist() == [255, 254, 127, 1, 0]


def test_s4nn_encoding_floors_and_black_never_counts():
    p = np.array([0, 1, 254, 255], dtype=np.uint8)
    # floor((255 - p) * 256 / 255): 256 (= T, never), floor(254*256/255)=254, floor(256/255)=1, 0
    assert spec.encode(p, "s4nn").tolist() == [256, 254, 1, 0]


@pytest.mark.parametrize("bad", [np.array([-1, 3]), np.array([0, 256])])
def test_encode_rejects_out_of_range_pixels(bad):
    with pytest.raises(ValueError, match="0..255"):
        spec.encode(bad, "bs4nn")


def test_encode_rejects_float_images_with_a_fix():
    with pytest.raises(TypeError, match="astype"):
        spec.encode(np.array([0.5]), "bs4nn")


def test_encode_rejects_unknown_encoding():
    with pytest.raises(ValueError, match="unknown encoding"):
        spec.encode(np.array([1], dtype=np.uint8), "rate")


def test_integer_threshold_folds_alpha():
    # published BS4NN scales: 100/4.037 = 24.77 -> V > 24 (V >= 25); 100/9.065 = 11.03 -> V > 11
    assert spec.integer_threshold(100, 4.03707844) == 24
    assert spec.integer_threshold(100, 9.06516109) == 11
    # an exact quotient: alpha * V > theta with V = 20 is false at alpha = 5, so threshold is 20
    assert spec.integer_threshold(100, 5.0) == 20
    with pytest.raises(ValueError):
        spec.integer_threshold(100, 0.0)


def test_spike_time_has_one_step_delay_and_clips():
    T = 256
    assert spec.spike_time(0, T) == 1
    assert spec.spike_time(T - 2, T) == T - 1
    assert spec.spike_time(T - 1, T) == T  # a crossing at T-1 is silent
    assert spec.spike_time(T, T) == T


def test_effective_events_end_at_T_minus_2():
    assert spec.is_effective(254, 256) and not spec.is_effective(255, 256)


def test_accumulator_bits_hold_plus_minus_fan_in():
    for fan_in in (1, 2, 3, 10, 600, 784, 1023, 1024):
        bits = spec.accumulator_bits(fan_in)
        assert -(2 ** (bits - 1)) <= -fan_in and fan_in <= 2 ** (bits - 1) - 1
        assert fan_in > 2 ** (bits - 2) - 1  # and one bit fewer would not do
    assert spec.accumulator_bits(784) == 11


def test_sign_bits_maps_zero_to_plus_one():
    assert spec.sign_bits(np.array([-0.5, 0.0, 2.0])).tolist() == [-1, 1, 1]


def test_scale_for_threshold_inverts_integer_threshold():
    for theta in (100.0, 1.0, 37.5):
        for t in range(0, 3000):
            assert spec.integer_threshold(theta, spec.scale_for_threshold(theta, t)) == t
    with pytest.raises(ValueError):
        spec.scale_for_threshold(100.0, -1)
