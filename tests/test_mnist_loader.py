"""The MNIST loader on small IDX files written here, the offline path, and the shared data."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import socket
import struct
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from microgradnn.datasets import mnist
from microgradnn.datasets.mnist import MnistFile, MnistFormatError, MnistUnavailableError

N = 5


def idx_images(images: np.ndarray, magic: int = mnist.IMAGE_MAGIC, count=None) -> bytes:
    n, rows, cols = images.shape
    header = struct.pack(">IIII", magic, n if count is None else count, rows, cols)
    return header + images.astype(np.uint8).tobytes()


def idx_labels(labels: np.ndarray, magic: int = mnist.LABEL_MAGIC, count=None) -> bytes:
    header = struct.pack(">II", magic, len(labels) if count is None else count)
    return header + labels.astype(np.uint8).tobytes()


@pytest.fixture
def small(monkeypatch, tmp_path):
    """A 5-image "MNIST" whose md5 table is patched in; returns (dir, images, labels, blobs)."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(N, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    blobs = {}
    table = {}
    for split in ("train", "test"):
        for kind, blob in (("images", idx_images(images)), ("labels", idx_labels(labels))):
            spec = mnist.FILES[(split, kind)]
            table[(split, kind)] = MnistFile(spec.name, kind, N, hashlib.md5(blob).hexdigest())
            blobs[spec.name] = blob
    monkeypatch.setattr(mnist, "FILES", table)
    monkeypatch.delenv(mnist.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    root = tmp_path / "data"
    root.mkdir()
    return root, images, labels, blobs


def write_all(root: Path, blobs, compress=True, skip=()):
    for name, blob in blobs.items():
        if name in skip:
            continue
        if compress:
            (root / (name + ".gz")).write_bytes(gzip.compress(blob))
        else:
            (root / name).write_bytes(blob)


def no_network(monkeypatch, calls=None):
    def opener(url, timeout):
        if calls is not None:
            calls.append((url, timeout))
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))
    monkeypatch.setattr(mnist, "_urlopen", opener)


@pytest.mark.parametrize("compress", [True, False])
def test_good_files_load_gzip_or_raw(small, compress, monkeypatch):
    root, images, labels, blobs = small
    write_all(root, blobs, compress=compress)
    no_network(monkeypatch)
    got_images, got_labels = mnist.load_mnist("test", root=root)
    assert got_images.dtype == np.uint8 and got_images.shape == (N, 28, 28)
    assert got_labels.dtype == np.uint8 and got_labels.shape == (N,)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    got_images[0, 0, 0] = 7  # writable, not a view on read-only bytes


def test_differently_compressed_copies_both_pass(small):
    # The shared copy was re-compressed: its .gz bytes differ from the mirrors', its content not.
    root, images, _, blobs = small
    spec = mnist.FILES[("test", "images")]
    fast, best = gzip.compress(blobs[spec.name], 1), gzip.compress(blobs[spec.name], 9, mtime=7)
    assert fast != best
    for packed in (fast, best):
        (root / "copy.gz").write_bytes(packed)
        np.testing.assert_array_equal(mnist.read_idx(root / "copy.gz", spec), images)


def test_env_var_is_searched_first(small, monkeypatch):
    root, images, _, blobs = small
    write_all(root, blobs)
    no_network(monkeypatch)
    monkeypatch.setenv(mnist.ENV_VAR, str(root))
    got, _ = mnist.load_mnist("train")
    np.testing.assert_array_equal(got, images)


def test_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert mnist.default_cache_dir() == tmp_path / "microgradnn" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert mnist.default_cache_dir() == Path(os.path.expanduser("~")) / ".cache" / "microgradnn" / "mnist"


def test_truncated_file_is_refused(small):
    root, _, _, blobs = small
    name = mnist.FILES[("test", "images")].name
    (root / name).write_bytes(blobs[name][:-100])
    with pytest.raises(MnistFormatError, match="truncated"):
        mnist.read_idx(root / name, mnist.FILES[("test", "images")])


def test_truncated_gzip_is_refused(small):
    root, _, _, blobs = small
    name = mnist.FILES[("test", "images")].name
    packed = gzip.compress(blobs[name])
    (root / (name + ".gz")).write_bytes(packed[: len(packed) // 2])
    with pytest.raises(MnistFormatError, match="gzip"):
        mnist.read_idx(root / (name + ".gz"), mnist.FILES[("test", "images")])


def test_short_header_is_refused(small):
    root, _, _, _ = small
    (root / "x").write_bytes(b"\x00\x00\x08")
    with pytest.raises(MnistFormatError, match="header"):
        mnist.read_idx(root / "x", mnist.FILES[("test", "labels")])


def test_wrong_magic_is_refused(small):
    root, images, labels, _ = small
    path = root / "swapped"
    path.write_bytes(idx_labels(labels))  # a labels file where images are expected
    with pytest.raises(MnistFormatError, match="magic number 0x00000801.*labels file"):
        mnist.read_idx(path, mnist.FILES[("test", "images")])
    path.write_bytes(idx_images(images, magic=0x12345678))
    with pytest.raises(MnistFormatError, match="0x12345678"):
        mnist.read_idx(path, mnist.FILES[("test", "images")])


def test_wrong_count_is_refused(small):
    root, images, labels, _ = small
    path = root / "counts"
    path.write_bytes(idx_labels(labels, count=N + 1))
    with pytest.raises(MnistFormatError, match=f"header says {N + 1} labels, expected {N}"):
        mnist.read_idx(path, mnist.FILES[("test", "labels")])
    path.write_bytes(idx_images(images[:4]))
    with pytest.raises(MnistFormatError, match="expected 5"):
        mnist.read_idx(path, mnist.FILES[("test", "images")])


def test_wrong_image_size_is_refused(small):
    root, _, _, _ = small
    path = root / "small"
    path.write_bytes(idx_images(np.zeros((N, 14, 14), np.uint8)))
    with pytest.raises(MnistFormatError, match="14x14"):
        mnist.read_idx(path, mnist.FILES[("test", "images")])


def test_corrupt_content_fails_the_md5(small):
    root, images, _, _ = small
    flipped = images.copy()
    flipped[2, 10, 10] ^= 0xFF
    path = root / "flipped"
    path.write_bytes(idx_images(flipped))  # same length, header fine, one byte differs
    with pytest.raises(MnistFormatError, match="md5"):
        mnist.read_idx(path, mnist.FILES[("test", "images")])


def test_offline_fails_fast_naming_files_and_variable(small, monkeypatch):
    root, _, _, blobs = small
    calls = []
    no_network(monkeypatch, calls)
    monkeypatch.setattr(mnist.time, "sleep", lambda s: pytest.fail("slept while offline"))
    with pytest.raises(MnistUnavailableError) as info:
        mnist.load_mnist("train")
    message = str(info.value)
    for spec in mnist.FILES.values():
        assert spec.name in message
    assert mnist.ENV_VAR in message
    # one round over the mirrors for the first missing file, then give up
    assert len(calls) == len(mnist.MIRRORS)
    assert all(timeout <= 10 for _, timeout in calls)
    assert not any((Path(os.environ["XDG_CACHE_HOME"])).rglob("*"))


def test_download_disabled_names_the_variable(small):
    with pytest.raises(MnistUnavailableError, match=mnist.ENV_VAR):
        mnist.load_mnist("test", download=False)


class FakeResponse(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


def test_download_verifies_and_writes_into_the_cache(small, monkeypatch):
    _, images, labels, blobs = small
    served = {name + ".gz": gzip.compress(blob) for name, blob in blobs.items()}
    calls = []

    def opener(url, timeout):
        calls.append(url)
        if url.startswith(mnist.MIRRORS[0]):  # the first mirror is down
            raise urllib.error.HTTPError(url, 503, "unavailable", {}, None)
        return FakeResponse(served[url.rsplit("/", 1)[-1]])

    monkeypatch.setattr(mnist, "_urlopen", opener)
    got_images, got_labels = mnist.load_mnist("test", progress=False)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    cache = mnist.default_cache_dir()
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        [mnist.FILES[("test", k)].name + ".gz" for k in ("images", "labels")])
    assert len(calls) == 4
    calls.clear()
    mnist.load_mnist("test", progress=False)  # now cached: no network
    assert calls == []


def test_corrupt_download_is_retried_then_refused(small, monkeypatch):
    _, _, _, blobs = small
    calls = []

    def opener(url, timeout):
        calls.append(url)
        return FakeResponse(gzip.compress(b"not mnist at all"))

    monkeypatch.setattr(mnist, "_urlopen", opener)
    monkeypatch.setattr(mnist.time, "sleep", lambda s: None)
    with pytest.raises(MnistUnavailableError, match="magic number|header"):
        mnist.load_mnist("test", progress=False)
    assert len(calls) == 2 * len(mnist.MIRRORS)  # two rounds: a bad file may be transient
    assert not mnist.default_cache_dir().exists() or not any(mnist.default_cache_dir().iterdir())


@pytest.mark.mnist
def test_shared_files_pass_every_check():
    root = os.environ.get(mnist.ENV_VAR)
    if not root or not Path(root, "t10k-labels-idx1-ubyte.gz").exists():
        pytest.skip("set MICROGRADNN_DATA to the folder with the MNIST files")
    images, labels = mnist.load_mnist("test", root=root, download=False)
    assert images.shape == (10000, 28, 28) and labels.shape == (10000,)
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]
    assert np.bincount(labels, minlength=10).sum() == 10000
