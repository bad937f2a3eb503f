# SPDX-License-Identifier: MIT
"""The flow's closing table: the trained model beside the product model on the same test images."""

import numpy as np

from firstspike.flow_summary import PRODUCT_MODEL, comparison, comparison_rows
from firstspike.model import data as datamod
from firstspike.model.network import Network

CLASS = 3


def constant_net(path):
    """A net that answers CLASS for every image with ink: with threshold 0 (a neuron fires once its
    potential exceeds it) one hidden neuron fires on the first input spike, and only output CLASS
    has a positive weight from it."""
    hidden = np.ones((1, 784), dtype=np.int8)
    out = -np.ones((10, 1), dtype=np.int8)
    out[CLASS] = 1
    return Network([hidden, out], [0, 0], binary=True).save(path)


def test_rows_of_a_known_network_and_the_product(tmp_path):
    labels = datamod.load("mnist-mini", "test").labels
    rows = comparison_rows({"constant": constant_net(tmp_path / "constant.npz"), "product": PRODUCT_MODEL,
                            "missing": tmp_path / "missing.npz"})
    share = float(np.mean(labels == CLASS))  # a constant answer is right exactly on its own class
    constant = rows[0]
    assert (constant["model"], constant["arch"], constant["images"]) == ("constant", "784-1-10", len(labels))
    assert constant["accuracy_hardware"] == constant["accuracy_reference"] == share
    assert constant["share_no_output_spike"] == 0 and 0 < constant["mean_decision_step"] < constant["T"]
    present = ["constant", "product"] if PRODUCT_MODEL.is_file() else ["constant"]
    assert [row["model"] for row in rows] == present
    if PRODUCT_MODEL.is_file():
        assert rows[1]["arch"] == "784-600-10" and rows[1]["accuracy_hardware"] > 0.9


def test_summary_without_the_product_model(tmp_path):
    absent = tmp_path / "absent" / "bs4nn-mnist.npz"
    text = comparison(constant_net(tmp_path / "constant.npz"), product=absent)
    lines = text.splitlines()
    assert lines[1].split("  ")[0] == "model" and lines[3].startswith("trained by this flow")
    assert f"{float(np.mean(datamod.load('mnist-mini', 'test').labels == CLASS)) * 100:.1f} %" in lines[3]
    assert not lines[4].startswith("product") and "not found" in lines[4]
    for command in ("firstspike data mnist --data-dir", "firstspike train --config recipes/bs4nn-mnist.toml",
                    "firstspike eval --model models/bs4nn-mnist --dataset mnist"):
        assert command in text
