# SPDX-License-Identifier: MIT
"""Interop: the published BS4NN weights reproduce the reference figures measured independently.

Expected values are the ones stated in shared/reference/bs4nn/README.md and ttfs-algorithms.md 3.6
(measured there with the authors' dense semantics), not taken from this code.
"""

import json

import numpy as np
import pytest

from firstspike.cli import main
from firstspike.model import data
from firstspike.model.infer import run
from firstspike.model.network import Network
from firstspike.model.reference import dense_forward

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def published(bs4nn_weights, tmp_path_factory):
    out = tmp_path_factory.mktemp("bs4nn") / "bs4nn-published.npz"
    w0, w1 = bs4nn_weights
    assert main(["import-bs4nn", "--w0", str(w0), "--w1", str(w1), "--alpha", "4.03707844",
                 "9.06516109", "--out", str(out)]) == 0
    return out


def test_import_folds_alpha_into_integer_thresholds(published):
    net = Network.load(published)
    assert net.sizes == [784, 600, 10] and net.binary
    assert net.thresholds == [24, 11]  # V >= 25 and V >= 12, as stated with the weights


def test_full_test_set_reproduces_reference_figures(published, data_dir, capsys):
    assert main(["eval", "--model", str(published), "--dataset", "mnist", "--data-dir", str(data_dir),
                 "--rule", "reference", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["images"] == 10000
    assert result["accuracy"] == result["accuracy_reference"] == 0.9692
    assert result["share_no_output_spike"] == 0.0483
    assert round(result["mean_spikes_per_layer"][0], 1) == 247.7
    assert round(result["mean_input_events"], 1) == 151.1


def test_lowest_index_first_spike_figure(published, data_dir):
    net = Network.load(published)
    test = data.load("mnist", "test", data_dir=data_dir)
    r = run(net, test.images)
    out = r.out_times
    fired = out.min(axis=1) < net.T
    pred = np.where(fired, out.argmin(axis=1), r.snaps[:, 1].argmax(axis=1))
    assert (pred == test.labels).sum() == 9566  # 95.66 % with the lowest index winning ties


def test_kernel_equals_dense_reference_on_real_images(published, data_dir):
    net = Network.load(published)
    test = data.load("mnist", "test", data_dir=data_dir)
    images = test.images[:3]
    r = run(net, images)
    from firstspike.model import spec

    for n in range(len(images)):
        x = spec.encode(images[n].reshape(-1), "bs4nn")
        times, _ = dense_forward(x, net.weights, net.thresholds, net.T)
        for layer in range(2):
            assert r.times[layer][n].tolist() == times[layer].tolist(), f"image {n} layer {layer}"
