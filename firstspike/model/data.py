# SPDX-License-Identifier: MIT
"""MNIST and Fashion-MNIST: IDX reading, checksum verification, caching, and ``mnist-mini``.

Where the full datasets come from, in order:
1. an explicit ``data_dir`` (CLI ``--data-dir``) or the ``FIRSTSPIKE_DATA`` environment variable,
   a folder holding ``mnist/`` and ``fashion-mnist/`` with the standard IDX file names (gzip or raw);
2. the cache (``$FIRSTSPIKE_CACHE`` or ``~/.cache/firstspike``), compact ``.npz`` arrays;
3. a download from the usual public mirrors, checked against the SHA-256 below;
4. otherwise a :class:`DatasetError` that says where to put the files.

``mnist-mini`` ships inside the package: MNIST training images 0..1999 and test images 0..499
(the first images of the official files, unchanged). MNIST: LeCun, Cortes & Burges, CC BY-SA 3.0.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..cache import cache_root
from ..outputs import atomic_write_bytes, remove_orphans, waiting_lock

__all__ = ["DATASETS", "Dataset", "DatasetError", "idx_bytes", "load", "parse_idx"]

DATASETS = ("mnist", "fashion-mnist", "mnist-mini")

FILES = {
    ("train", "images"): "train-images-idx3-ubyte",
    ("train", "labels"): "train-labels-idx1-ubyte",
    ("test", "images"): "t10k-images-idx3-ubyte",
    ("test", "labels"): "t10k-labels-idx1-ubyte",
}

#: SHA-256 of the decompressed IDX files.
SHA256 = {
    "mnist/t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "mnist/t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    "mnist/train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "mnist/train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "fashion-mnist/t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "fashion-mnist/t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    "fashion-mnist/train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "fashion-mnist/train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
}

MIRRORS = {
    "mnist": ["https://ossci-datasets.s3.amazonaws.com/mnist/"],
    "fashion-mnist": ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"],
}

MINI_FILE = Path(__file__).with_name("data_files") / "mnist-mini.npz"


class DatasetError(RuntimeError):
    """Dataset files are missing, corrupt, or do not match their checksums."""


@dataclass
class Dataset:
    images: np.ndarray  # (n, 28, 28) uint8
    labels: np.ndarray  # (n,) uint8
    name: str
    split: str
    sha256: str  # of the image file's decompressed bytes (mnist-mini: of the npz arrays)

    def __len__(self) -> int:
        return len(self.labels)


def parse_idx(raw: bytes, what: str = "IDX file") -> np.ndarray:
    """Parse IDX bytes (unsigned-byte data only). Raises DatasetError on a bad header or size."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DatasetError(f"{what}: bad magic number; this is not an IDX file")
    if raw[2] != 0x08:
        raise DatasetError(f"{what}: data type 0x{raw[2]:02x} is not unsigned byte (0x08)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"{what}: truncated header")
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    expected = int(np.prod(dims)) if dims else 0
    body = len(raw) - header
    if body != expected:
        raise DatasetError(f"{what}: holds {body} data bytes but its header promises {expected} "
                           "(truncated or corrupt download); delete it and fetch it again")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def _read_maybe_gzip(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise DatasetError(f"{path}: corrupt gzip ({error}); fetch the file again") from None
    return raw


def _verify(key: str, raw: bytes, where: str) -> str:
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SHA256[key]:
        raise DatasetError(f"{where}: SHA-256 of the decompressed content is {digest[:16]}..., expected "
                           f"{SHA256[key][:16]}... for {key}; the file is corrupt or not the official one")
    return digest


def _find_in_dir(root: Path, name: str, split: str):
    """``{kind: path}`` of the split's IDX files in ``root / name`` (gzip first); None if one is missing."""
    out = {}
    for kind in ("images", "labels"):
        base = FILES[(split, kind)]
        found = [p for p in (root / name / (base + ".gz"), root / name / base) if p.is_file()]
        if not found:
            return None
        out[kind] = found[0]
    return out


def _from_raws(name: str, split: str, raws: dict, where: dict) -> Dataset:
    """The dataset of the decompressed IDX bytes ``raws[kind]``, each checked against its SHA-256."""
    digests = {kind: _verify(f"{name}/{FILES[(split, kind)]}", raw, where[kind])
               for kind, raw in raws.items()}
    images = parse_idx(raws["images"], where["images"])
    labels = parse_idx(raws["labels"], where["labels"])
    if images.ndim != 3 or labels.ndim != 1:
        raise DatasetError(f"{name} {split}: expected (n, rows, cols) images and (n,) labels")
    if len(images) != len(labels):
        raise DatasetError(f"{name} {split}: {len(images)} images but {len(labels)} labels; "
                           "the image and label files do not belong together")
    return Dataset(images, labels, name, split, digests["images"])


def _cache_path(name: str, split: str) -> Path:
    return cache_root() / f"{name}-{split}.npz"


def _save_cache(ds: Dataset) -> None:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, images=ds.images, labels=ds.labels, sha256=np.array(ds.sha256))
    path = _cache_path(ds.name, ds.split)
    try:
        with waiting_lock(path.with_name(f".{path.name}.lock"), f"the {ds.name} cache"):
            remove_orphans(path.parent, path.name)  # left by a process killed while writing it
            atomic_write_bytes(path, buffer.getvalue())
    except OSError:
        pass  # a read-only home is no reason to fail


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX file of an unsigned-byte array (the inverse of :func:`parse_idx`)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def _load_cache(name: str, split: str) -> Dataset | None:
    """The cached arrays, if their content is the official files' (checked by re-hashing the IDX
    bytes they stand for, not by a stored field); anything else is rebuilt."""
    path = _cache_path(name, split)
    if not path.is_file():
        return None
    try:
        with np.load(path) as archive:
            images, labels = archive["images"], archive["labels"]
    except Exception:  # noqa: BLE001 - a damaged cache (any error reading it) is rebuilt
        return None
    digests = {kind: hashlib.sha256(idx_bytes(array)).hexdigest()
               for kind, array in (("images", images), ("labels", labels))
               if array.dtype == np.uint8}
    if any(digests.get(kind) != SHA256[f"{name}/{FILES[(split, kind)]}"] for kind in ("images", "labels")):
        return None
    return Dataset(images, labels, name, split, digests["images"])


def _download(name: str, split: str) -> Dataset:
    errors = []
    for mirror in MIRRORS[name]:
        urls = {kind: mirror + FILES[(split, kind)] + ".gz" for kind in ("images", "labels")}
        try:
            raws = {}
            for kind, url in urls.items():
                with urllib.request.urlopen(url, timeout=30) as response:
                    raws[kind] = gzip.decompress(response.read())
            return _from_raws(name, split, raws, urls)
        except (OSError, DatasetError, EOFError, zlib.error) as error:
            errors.append(f"{mirror}: {error}")
    raise DatasetError(
        f"{name} ({split}) is not available: no --data-dir / FIRSTSPIKE_DATA folder, no cache, "
        f"and the download failed ({'; '.join(errors)}). Put the four IDX files (gzip or raw) in "
        f"<folder>/{name}/ with their standard names and pass --data-dir <folder> "
        "or set FIRSTSPIKE_DATA=<folder>"
    )


def _load_mini(split: str) -> Dataset:
    with np.load(MINI_FILE) as archive:
        images, labels = archive[f"{split}_images"], archive[f"{split}_labels"]
    digest = hashlib.sha256(images.tobytes() + labels.tobytes()).hexdigest()
    return Dataset(images, labels, "mnist-mini", split, digest)


def load(name: str, split: str = "train", data_dir: str | os.PathLike | None = None,
         download: bool = True) -> Dataset:
    """Load ``split`` ('train' or 'test') of dataset ``name`` (see :data:`DATASETS`)."""
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; choose one of {DATASETS}")
    if split not in ("train", "test"):
        raise DatasetError(f"unknown split {split!r}; choose 'train' or 'test'")
    if name == "mnist-mini":
        return _load_mini(split)
    root = data_dir or os.environ.get("FIRSTSPIKE_DATA")
    if root:
        paths = _find_in_dir(Path(root), name, split)
        if paths is None:
            raise DatasetError(f"{Path(root) / name} does not hold the {split} IDX files "
                               f"({FILES[(split, 'images')]}[.gz], {FILES[(split, 'labels')]}[.gz])")
        ds = _from_raws(name, split, {k: _read_maybe_gzip(p) for k, p in paths.items()},
                        {k: str(p) for k, p in paths.items()})
        _save_cache(ds)
        return ds
    cached = _load_cache(name, split)
    if cached is not None:
        return cached
    if not download:
        raise DatasetError(f"{name} ({split}) is not cached; pass --data-dir <folder> holding {name}/ "
                           "or set FIRSTSPIKE_DATA")
    ds = _download(name, split)
    _save_cache(ds)
    return ds
