"""MNIST: read, verify, find and (if needed) download the four canonical IDX files.

``load_mnist(split)`` returns ``(images, labels)``: uint8 arrays of shape (n, 28, 28)
and (n,). They stay uint8 on purpose: callers scale each batch on the fly, so the
60,000 training images never become a 188 MB float copy.

Each file may be stored gzip-compressed (``name.gz``) or raw (``name``). What
identifies the data is the md5 of the *uncompressed* content, so a re-compressed
copy and a mirror copy both pass. Every read checks the magic number, the counts,
the image size, the byte length and that md5. Reads are bounded: the IDX header is
decompressed and checked first, then at most the known length of that file (plus one
byte, to tell "too long"), so a gzip bomb or a huge file in its place costs a few KB.
A folder, FIFO or device in place of a file is reported as such, never opened.

Where the files are looked for, in order: the ``root`` argument if given; else
``$MICROGRADNN_DATA`` if set, then the per-user cache
(``$XDG_CACHE_HOME/microgradnn/mnist`` or ``~/.cache/microgradnn/mnist``). Missing
files are downloaded into ``root`` or the cache from public mirrors, with a short
timeout per read, a deadline for the whole download, a size cap, a few retries, the
same checks as a file on disk and an atomic write. Offline, the download gives up at
once (no retry storm) with a message naming the files and the variable.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import math
import os
import socket
import struct
import time
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..fileio import check_readable_file, write_atomic
from .gunzip import GunzipReader

__all__ = ["load_mnist", "read_idx", "find_mnist_file", "download_mnist", "default_cache_dir",
           "MnistFile", "FILES", "MIRRORS", "MnistFormatError", "MnistUnavailableError",
           "ENV_VAR"]

ENV_VAR = "MICROGRADNN_DATA"
IMAGE_MAGIC = 0x00000803  # unsigned byte, 3 dimensions (count, rows, cols)
LABEL_MAGIC = 0x00000801  # unsigned byte, 1 dimension (count)
SIDE = 28
DOWNLOAD_DEADLINE = 300.0  # seconds for a whole download_mnist call, every file and retry

# The usual public mirrors, in the order torchvision and others try them.
MIRRORS: Tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class MnistFile:
    """One IDX file: its name (without ``.gz``), kind, item count and md5 of the raw bytes."""

    name: str
    kind: str  # "images" or "labels"
    count: int
    md5: str

    @property
    def nbytes(self) -> int:
        """Length of the uncompressed file: header plus one byte per pixel or label."""
        if self.kind == "images":
            return 16 + self.count * SIDE * SIDE
        return 8 + self.count


# md5 sums of the uncompressed content of the four files.
FILES: Dict[Tuple[str, str], MnistFile] = {
    ("train", "images"): MnistFile("train-images-idx3-ubyte", "images", 60000,
                                   "6bbc9ace898e44ae57da46a324031adb"),
    ("train", "labels"): MnistFile("train-labels-idx1-ubyte", "labels", 60000,
                                   "a25bea736e30d166cdddb491f175f624"),
    ("test", "images"): MnistFile("t10k-images-idx3-ubyte", "images", 10000,
                                  "2646ac647ad5339dbf082846283269ea"),
    ("test", "labels"): MnistFile("t10k-labels-idx1-ubyte", "labels", 10000,
                                  "27ae3e4e09519cfbb04c329615203637"),
}


class MnistFormatError(ValueError):
    """A file exists but is not the expected IDX content (truncated, corrupt, wrong file)."""


class MnistUnavailableError(FileNotFoundError):
    """The files are neither on disk nor downloadable (e.g. offline)."""


def _all_names() -> List[str]:
    return [f.name + ".gz" for f in FILES.values()]


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/microgradnn/mnist``, else ``~/.cache/microgradnn/mnist``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "microgradnn" / "mnist"


def _search_dirs(root: Optional[PathLike]) -> List[Path]:
    if root is not None:
        return [Path(root)]
    dirs = []
    env = os.environ.get(ENV_VAR)
    if env:
        dirs.append(Path(env))
    dirs.append(default_cache_dir())
    return dirs


# ---------------------------------------------------------------- reading and checking

def _header_length(spec: MnistFile) -> int:
    return 16 if spec.kind == "images" else 8


def _check_header(data: bytes, spec: MnistFile, where: str) -> None:
    """Magic number, item count and image size of the first bytes of ``data``."""
    magic = IMAGE_MAGIC if spec.kind == "images" else LABEL_MAGIC
    header = _header_length(spec)
    if len(data) >= 8:  # the magic first: it tells a wrong file from a truncated one
        found_magic = struct.unpack(">I", data[:4])[0]
        if found_magic != magic:
            other = {IMAGE_MAGIC: "an images file", LABEL_MAGIC: "a labels file"}.get(
                found_magic, "not MNIST IDX")
            raise MnistFormatError(f"{where}: magic number 0x{found_magic:08x} ({other}), "
                                   f"expected 0x{magic:08x} for the {spec.kind} file {spec.name}")
    if len(data) < header:
        raise MnistFormatError(f"{where}: truncated, {len(data)} bytes is shorter than the "
                               f"{header}-byte IDX header")
    count = struct.unpack(">I", data[4:8])[0]
    if count != spec.count:
        raise MnistFormatError(f"{where}: header says {count} {spec.kind}, expected {spec.count}")
    if spec.kind == "images":
        rows, cols = struct.unpack(">II", data[8:16])
        if (rows, cols) != (SIDE, SIDE):
            raise MnistFormatError(f"{where}: images are {rows}x{cols}, expected {SIDE}x{SIDE}")


def _read_content(stream: BinaryIO, spec: MnistFile, where: str) -> bytes:
    """The uncompressed content of a seekable ``stream`` (gzip if it starts with the gzip
    magic), read header first and never past ``spec.nbytes + 1`` bytes."""
    start = stream.read(2)
    stream.seek(0)
    source: Any = GunzipReader(stream) if start == b"\x1f\x8b" else stream
    try:
        head = source.read(_header_length(spec))
        _check_header(head, spec, where)
        rest = source.read(spec.nbytes - len(head) + 1)  # one byte more tells "too long"
    except (OSError, EOFError, zlib.error) as error:
        raise MnistFormatError(f"{where}: corrupt or truncated gzip data ({error})") from None
    return head + rest


def _parse(data: bytes, spec: MnistFile, where: str) -> np.ndarray:
    """Check the IDX header and length of ``data`` against ``spec``; return a uint8 array."""
    _check_header(data, spec, where)
    header = _header_length(spec)
    if len(data) < spec.nbytes:
        raise MnistFormatError(f"{where}: truncated, {len(data)} bytes instead of {spec.nbytes}")
    if len(data) > spec.nbytes:  # _read_content stops one byte past the known length
        raise MnistFormatError(f"{where}: too long, more than the {spec.nbytes} bytes expected")
    digest = hashlib.md5(data).hexdigest()
    if digest != spec.md5:
        raise MnistFormatError(f"{where}: md5 of the content is {digest}, expected {spec.md5} "
                               f"(corrupt or a different data set)")
    # bytearray makes the array writable; the memoryview spares a copy of the slice
    array = np.frombuffer(bytearray(memoryview(data)[header:]), dtype=np.uint8)
    if spec.kind == "images":
        return array.reshape(spec.count, SIDE, SIDE)
    if array.size and int(array.max()) > 9:
        raise MnistFormatError(f"{where}: label {int(array.max())} is not a digit 0-9")
    return array


def read_idx(path: PathLike, spec: MnistFile) -> np.ndarray:
    """Read one IDX file (gzip or raw) and check it against ``spec``.

    Returns uint8 images (count, 28, 28) or labels (count,). Raises ``MnistFormatError``
    naming the file and the problem if anything differs from ``spec``.
    """
    path = _checked_path(Path(path))
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > _download_cap(spec):  # no gzip or raw copy of this file is that large
            raise MnistFormatError(f"{path}: too long, {size} bytes, more than any copy of this "
                                   f"file (raw {spec.nbytes} bytes, or a gzip of them)")
        return _parse(_read_content(handle, spec, str(path)), spec, str(path))


def _checked_path(path: Path) -> Path:
    """``path`` if it is a regular file; a folder, FIFO or device is a ``MnistFormatError``."""
    try:
        return check_readable_file(path, "MNIST file")
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as error:
        raise MnistFormatError(str(error)) from None


def find_mnist_file(spec: MnistFile, root: Optional[PathLike] = None) -> Optional[Path]:
    """The first existing ``name.gz`` or ``name`` in the search directories, else None.

    Something that exists under that name but is not a regular file (a folder, a FIFO)
    raises ``MnistFormatError`` saying so, rather than passing for a missing file.
    """
    for directory in _search_dirs(root):
        for candidate in (directory / (spec.name + ".gz"), directory / spec.name):
            try:
                return _checked_path(candidate)
            except FileNotFoundError:
                continue
    return None


# ---------------------------------------------------------------- downloading

def _urlopen(url: str, timeout: float):
    """The network call, kept in one place so tests can replace it (no network in tests)."""
    request = urllib.request.Request(url, headers={"User-Agent": "microgradnn"})
    return urllib.request.urlopen(request, timeout=timeout)


def _is_offline_error(error: BaseException) -> bool:
    """No DNS, refused connection or a timeout: another round of retries will not help."""
    if isinstance(error, urllib.error.HTTPError):
        return False
    if isinstance(error, urllib.error.URLError):
        return isinstance(error.reason, OSError)
    return isinstance(error, (TimeoutError, ConnectionRefusedError, socket.gaierror))


def _download_cap(spec: MnistFile) -> int:
    """The most bytes a download of ``spec`` may take: its raw length, or a gzip of it
    (deflate adds at most a few bytes per 16 KB block) with room for a gzip header."""
    return spec.nbytes + spec.nbytes // 100 + (64 << 10)


def _fetch(url: str, timeout: float, progress: bool, cap: int = 1 << 30,
           deadline: float = math.inf) -> bytes:
    """The body at ``url``: at most ``cap`` bytes, done before ``time.monotonic()`` reaches
    ``deadline`` (checked after every network read, each bounded by ``timeout``)."""
    from tqdm import tqdm  # imported here: reading local files needs no progress bar

    with _urlopen(url, timeout) as response:
        total = response.headers.get("Content-Length") if hasattr(response, "headers") else None
        announced = int(total) if total and str(total).isdigit() else None
        if announced is not None and announced > cap:
            raise MnistFormatError(f"{url}: the server announces {announced} bytes, more than "
                                   f"the {cap} this file can take; refused unread")
        # read1 returns after one network read: a server trickling bytes cannot keep a
        # single call waiting past the deadline.
        read = getattr(response, "read1", None) or response.read
        chunks = []
        size = 0
        with tqdm(total=announced, unit="B", unit_scale=True,
                  desc=url.rsplit("/", 1)[-1], disable=not progress, leave=False) as bar:
            while True:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{url}: the download did not finish in time "
                                       f"({size} bytes received)")
                chunk = read(1 << 16)
                if not chunk:
                    break
                size += len(chunk)
                if size > cap:
                    raise MnistFormatError(f"{url}: more than {cap} bytes, more than this file "
                                           f"can take")
                chunks.append(chunk)
                bar.update(len(chunk))
    data = b"".join(chunks)
    if announced is not None and len(data) != announced:
        raise MnistFormatError(f"{url}: incomplete download, {len(data)} of {announced} bytes")
    return data


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)  # the cache folder may not exist yet
    write_atomic(path, data)


def _unavailable(problem: str, target: Path) -> MnistUnavailableError:
    return MnistUnavailableError(
        f"MNIST not found and {problem}. Put the four files {', '.join(_all_names())} "
        f"(gzip or uncompressed) in a folder and give it to the command with --data DIR "
        f"(or set {ENV_VAR} to it), or place them in {target}")


def download_mnist(specs: Sequence[MnistFile], target: PathLike, mirrors: Sequence[str] = MIRRORS,
                   timeout: float = 5.0, retries: int = 2, progress: bool = True,
                   deadline: float = DOWNLOAD_DEADLINE) -> List[Path]:
    """Download ``specs`` as ``name.gz`` into ``target``, verified, written atomically.

    Each file is tried on every mirror, up to ``retries`` rounds. If a whole round fails
    with connection errors only (no DNS, refused, timed out) we stop at once: offline.
    ``timeout`` bounds each network read, ``deadline`` (seconds) the whole call. A
    download is checked as a file on disk is (``read_idx``), size capped.
    """
    target = Path(target)
    written = []
    ends = time.monotonic() + deadline
    for spec in specs:
        errors: List[str] = []
        data = None
        for attempt in range(max(1, retries)):
            offline = True
            for mirror in mirrors:
                url = mirror + spec.name + ".gz"
                if time.monotonic() > ends:
                    raise _unavailable(f"the download did not finish within {deadline:g} s "
                                       f"({len(errors)} attempts; last: "
                                       f"{errors[-1] if errors else 'none'})", target)
                try:
                    raw = _fetch(url, max(0.1, min(timeout, ends - time.monotonic())), progress,
                                 _download_cap(spec), ends)
                    _parse(_read_content(io.BytesIO(raw), spec, url), spec, url)
                    data = raw
                    break
                except (OSError, EOFError, ValueError, http.client.HTTPException) as error:
                    offline = offline and _is_offline_error(error)
                    errors.append(str(error) if url in str(error) else f"{url}: {error}")
            if data is not None or offline:
                break
            time.sleep(min(2.0, 0.5 * (attempt + 1)))  # a brief pause before the next round
        if data is None:
            detail = errors[-1] if errors else "no mirrors given"
            raise _unavailable(f"the download failed ({len(errors)} attempts; last: {detail})",
                               target)
        path = target / (spec.name + ".gz")
        _write_atomic(path, data)
        written.append(path)
    return written


# ---------------------------------------------------------------- the entry point

def load_mnist(split: str = "train", root: Optional[PathLike] = None, download: bool = True,
               progress: bool = True) -> Tuple[np.ndarray, np.ndarray]:
    """Load MNIST ``split`` ("train": 60,000 images, "test": 10,000).

    Returns ``(images, labels)``: uint8 (n, 28, 28) with 0 = background and uint8 (n,)
    digits. Looks in ``root``, else ``$MICROGRADNN_DATA`` then the user cache; downloads
    missing files (into ``root`` or the cache) unless ``download=False``.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    specs = [FILES[(split, "images")], FILES[(split, "labels")]]
    paths = [find_mnist_file(spec, root) for spec in specs]
    missing = [spec for spec, path in zip(specs, paths) if path is None]
    if missing:
        target = Path(root) if root is not None else default_cache_dir()
        if not download:
            raise _unavailable("downloading is switched off", target)
        download_mnist(missing, target, progress=progress)
        paths = [find_mnist_file(spec, root) for spec in specs]
    # The small labels file first: a broken one is refused before the images are read.
    labels = read_idx(paths[1], specs[1])
    images = read_idx(paths[0], specs[0])
    return images, labels
