# SPDX-License-Identifier: MIT
"""Dataset loading: the shipped mini set, IDX parsing, and clear errors on bad files."""

import gzip
import hashlib

import numpy as np
import pytest

from firstspike.model import data


def _idx(array: np.ndarray) -> bytes:
    return data.idx_bytes(array.astype(np.uint8))


def test_mnist_mini_ships_with_the_package():
    train = data.load("mnist-mini", "train")
    test = data.load("mnist-mini", "test")
    assert train.images.shape == (2000, 28, 28) and train.labels.shape == (2000,)
    assert test.images.shape == (500, 28, 28) and test.images.dtype == np.uint8
    assert set(np.unique(train.labels)) == set(range(10))


def test_parse_idx_round_trip():
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    assert (data.parse_idx(_idx(a)) == a).all()


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"\x01\x02\x08\x01" + (3).to_bytes(4, "big") + b"abc", "magic"),
        (b"\x00\x00\x0d\x01" + (3).to_bytes(4, "big") + b"abc", "data type"),
        (b"\x00\x00\x08\x01" + (5).to_bytes(4, "big") + b"abc", "truncated"),
    ],
)
def test_parse_idx_rejects_bad_files(raw, message):
    with pytest.raises(data.DatasetError, match=message):
        data.parse_idx(raw)


def _write_set(folder, images, labels, compress=True):
    (folder / "mnist").mkdir(parents=True)
    for name, arr in (("t10k-images-idx3-ubyte", images), ("t10k-labels-idx1-ubyte", labels)):
        raw = _idx(arr)
        if compress:
            (folder / "mnist" / (name + ".gz")).write_bytes(gzip.compress(raw))
        else:
            (folder / "mnist" / name).write_bytes(raw)


def test_checksum_mismatch_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("FIRSTSPIKE_CACHE", str(tmp_path / "cache"))
    _write_set(tmp_path, np.zeros((3, 28, 28)), np.zeros(3))
    with pytest.raises(data.DatasetError, match="SHA-256"):
        data.load("mnist", "test", data_dir=tmp_path)


def test_count_mismatch_and_corrupt_gzip_are_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("FIRSTSPIKE_CACHE", str(tmp_path / "cache"))
    images, labels = np.zeros((3, 28, 28)), np.zeros(2)
    # accept these bytes as "official" so the later checks are reached
    fake = dict(data.SHA256)
    for name, arr in (("t10k-images-idx3-ubyte", images), ("t10k-labels-idx1-ubyte", labels)):
        fake[f"mnist/{name}"] = hashlib.sha256(_idx(arr)).hexdigest()
    monkeypatch.setattr(data, "SHA256", fake)
    _write_set(tmp_path, images, labels, compress=False)
    with pytest.raises(data.DatasetError, match="3 images but 2 labels"):
        data.load("mnist", "test", data_dir=tmp_path)
    gz = tmp_path / "mnist" / "t10k-images-idx3-ubyte"
    gz.write_bytes(b"\x1f\x8b" + b"not really gzip")
    with pytest.raises(data.DatasetError, match="corrupt gzip"):
        data.load("mnist", "test", data_dir=tmp_path)


def test_missing_files_error_says_where_to_put_them(tmp_path, monkeypatch):
    monkeypatch.setenv("FIRSTSPIKE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("FIRSTSPIKE_DATA", raising=False)  # the user's data folder would answer instead
    with pytest.raises(data.DatasetError, match="does not hold"):
        data.load("mnist", "train", data_dir=tmp_path)
    with pytest.raises(data.DatasetError, match="not cached"):
        data.load("fashion-mnist", "train", download=False)


def _three_blank_test_images(tmp_path, monkeypatch):
    """An MNIST test set of three blank images in ``tmp_path`` (its checksums made official), the
    cache in ``tmp_path/cache``; returns (images, labels)."""
    monkeypatch.setenv("FIRSTSPIKE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("FIRSTSPIKE_DATA", raising=False)
    images, labels = np.zeros((3, 28, 28), np.uint8), np.zeros(3, np.uint8)
    fake = dict(data.SHA256)
    for name, arr in (("t10k-images-idx3-ubyte", images), ("t10k-labels-idx1-ubyte", labels)):
        fake[f"mnist/{name}"] = hashlib.sha256(_idx(arr)).hexdigest()
    monkeypatch.setattr(data, "SHA256", fake)
    _write_set(tmp_path, images, labels, compress=False)
    return images, labels


def test_a_cache_is_trusted_for_its_content_not_a_stored_checksum(tmp_path, monkeypatch):
    """A cache entry whose arrays are not the official files' (here: pixels inverted, the old
    checksum field kept) is not used; the loader falls back to the files or says it has none."""
    images, labels = _three_blank_test_images(tmp_path, monkeypatch)
    data.load("mnist", "test", data_dir=tmp_path)  # writes the cache
    assert (data.load("mnist", "test", download=False).images == 0).all()  # the cache is used
    cache = tmp_path / "cache" / "mnist-test.npz"
    with np.load(cache) as archive:
        stored = str(archive["sha256"])
    np.savez_compressed(cache, images=255 - images, labels=labels, sha256=np.array(stored))
    with pytest.raises(data.DatasetError, match="not cached"):
        data.load("mnist", "test", download=False)


def test_unknown_dataset_and_split():
    with pytest.raises(data.DatasetError, match="unknown dataset"):
        data.load("cifar10")
    with pytest.raises(data.DatasetError, match="unknown split"):
        data.load("mnist-mini", "val")


@pytest.mark.data
def test_full_mnist_matches_published_label_counts(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("FIRSTSPIKE_CACHE", str(tmp_path / "cache"))
    train = data.load("mnist", "train", data_dir=data_dir)
    test = data.load("mnist", "test", data_dir=data_dir)
    # label counts stated with the dataset (shared/data/README.md)
    assert np.bincount(train.labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(test.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    # the mini set is the first images of the official files
    mini = data.load("mnist-mini", "test")
    assert (mini.images == test.images[:500]).all() and (mini.labels == test.labels[:500]).all()
    # the cache written on the first load gives the same arrays
    monkeypatch.delenv("FIRSTSPIKE_DATA", raising=False)
    again = data.load("mnist", "test", download=False)
    assert (again.images == test.images).all()


def test_a_cache_write_removes_the_temporary_file_of_a_killed_one(tmp_path, monkeypatch):
    """A process killed while writing the cache leaves ``.mnist-test.npz.<random>.tmp``; the next
    write of that entry deletes it (and leaves other files and its own lock file alone)."""
    images, labels = _three_blank_test_images(tmp_path, monkeypatch)
    cache = tmp_path / "cache"
    cache.mkdir()
    orphan, other = cache / ".mnist-test.npz.k2j4x9qa.tmp", cache / "notes.tmp"
    orphan.write_bytes(b"half a cache")
    other.write_text("not ours")
    data.load("mnist", "test", data_dir=tmp_path)  # writes the cache
    assert sorted(p.name for p in cache.iterdir()) == ["mnist-test.npz", "notes.tmp"]
