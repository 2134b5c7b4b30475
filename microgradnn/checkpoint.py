"""Checkpoints: a model's weights and architecture in one ``.npz``, no pickle anywhere.

Layout of the archive (every entry a plain numeric array, so ``allow_pickle=False``):

- ``format``: int64 ``[FORMAT_VERSION]``;
- ``spec``: the architecture, the JSON dict given to ``microgradnn.models.build_model``,
  as UTF-8 bytes in a uint8 array; ``extra``: free JSON metadata (accuracy, epochs...);
- ``param/<name>``: one array per ``state_dict`` entry, real floating point;
- ``sha256``: the hex digest (ASCII bytes) of everything above, in a fixed order.

``load`` reads a file in this order, so a hostile file costs little to refuse: the path
must be a regular file of a sane size; the zip directory and every entry's ``.npy``
header are read first (names, dtypes, shapes, and that each header agrees with the bytes
stored); the spec is checked (bounds of ``microgradnn.models``) and its parameter shapes
compared with the stored ones; the digest is computed in chunks without holding the
arrays; only then are the weights read and the model built.

The sha256 detects corruption (a changed byte, a file cut short), not tampering: it is
not keyed, so whoever edits a file can recompute it. Load checkpoints you trust.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import AbstractSet, Any, Dict, Mapping, Optional, Tuple, Union

import numpy as np

from .fileio import atomic_path, check_readable_file
from .ziparchive import ARCHIVE_ERRORS, check_directory, check_members

__all__ = ["save", "load", "load_checkpoint", "Checkpoint", "CheckpointError", "FORMAT_VERSION"]

FORMAT_VERSION = 1
PARAM_PREFIX = "param/"
PathLike = Union[str, "os.PathLike[str]"]

MAX_SPEC_BYTES = 64 * 1024
MAX_EXTRA_BYTES = 16 * 1024 * 1024
MAX_ENTRIES = 1024
_CHUNK = 1 << 20
_REQUIRED = ("format", "spec", "extra", "sha256")
_KINDS = {"U": "text", "S": "bytes", "c": "complex numbers", "b": "booleans",
          "i": "integers", "u": "integers", "M": "dates", "m": "time spans",
          "V": "raw records", "O": "Python objects"}


class CheckpointError(ValueError):
    """The file is not a usable microgradnn checkpoint; the message says why."""


@dataclass
class Checkpoint:
    """What ``load_checkpoint`` returns: the rebuilt model, its spec and the metadata."""

    model: Any
    spec: Dict[str, Any]
    extra: Dict[str, Any] = field(default_factory=dict)


def _json_bytes(obj: Mapping[str, Any], what: str, limit: int) -> np.ndarray:
    try:
        text = json.dumps(obj, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"checkpoint {what} must be plain JSON data: {error}") from None
    data = text.encode("utf-8")
    if len(data) > limit:  # load() would refuse the file: never write it
        raise ValueError(f"checkpoint {what} is {len(data)} bytes of JSON, more than the "
                         f"{limit} a checkpoint may hold; nothing written")
    return np.frombuffer(data, dtype=np.uint8).copy()


def _digest(arrays: Mapping[str, np.ndarray]) -> str:
    """sha256 over every entry except the digest itself: name, dtype, shape, then bytes."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        if name == "sha256":
            continue
        array = np.asarray(arrays[name], order="C")  # not ascontiguousarray: it makes 0-d 1-d
        h.update(f"{name}|{array.dtype.str}|{array.shape}|".encode("utf-8"))
        h.update(array.tobytes())
    return h.hexdigest()


def save(model: Any, path: PathLike, spec: Mapping[str, Any],
         extra: Optional[Mapping[str, Any]] = None) -> Path:
    """Write ``model``'s weights and ``spec`` to ``path`` (.npz) atomically; return the path.

    ``spec`` must rebuild the same architecture through ``build_model``: its parameter
    shapes are compared with the model's now (nothing is built), so a checkpoint that
    cannot be loaded is never written. Weights holding NaN or inf are refused.
    """
    from .models import integer_state_keys, normalize_spec, parameter_shapes

    path = Path(path)
    state = model.state_dict()
    for name, array in state.items():
        if not np.all(np.isfinite(array)):
            raise ValueError(f"save: parameter {name!r} holds NaN or inf; not writing {path}")
    # The spec must rebuild a model that takes these weights, or the file could never load.
    normalized = normalize_spec(dict(spec))
    _check_fits(parameter_shapes(normalized),
                {name: (np.shape(a), np.asarray(a).dtype) for name, a in state.items()},
                f"model given to save({str(path)!r})", integer_state_keys(normalized))
    arrays: Dict[str, np.ndarray] = {
        "format": np.array([FORMAT_VERSION], dtype=np.int64),
        "spec": _json_bytes(spec, "spec", MAX_SPEC_BYTES),
        "extra": _json_bytes(dict(extra or {}), "extra", MAX_EXTRA_BYTES),
    }
    for name, array in state.items():
        arrays[PARAM_PREFIX + name] = np.asarray(array)
    arrays["sha256"] = np.frombuffer(_digest(arrays).encode("ascii"), dtype=np.uint8).copy()

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:  # a handle, so numpy never appends ".npz" to the name
            np.savez(handle, **arrays)
    return path


def _load_into(model: Any, state: Mapping[str, np.ndarray], where: str) -> None:
    """``model.load_state_dict(state)``, its refusals (missing, unexpected or mis-shaped
    weights, NaN) reported as a ``CheckpointError`` naming ``where``."""
    try:
        model.load_state_dict(state)
    except (KeyError, ValueError, TypeError) as error:
        message = error.args[0] if error.args else error
        raise CheckpointError(f"{where}: weights do not fit the architecture: {message}") from None


def _check_fits(expected: Mapping[str, Tuple[int, ...]],
                stored: Mapping[str, Tuple[Tuple[int, ...], np.dtype]], where: str,
                counts: AbstractSet[str] = frozenset()) -> None:
    """Names, shapes and dtypes of ``stored`` weights against the spec's ``expected`` shapes;
    the entries named in ``counts`` (e.g. BatchNorm's ``num_batches_tracked``) hold integers."""
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"{where}: weights do not fit the architecture: missing keys "
                              f"{missing[:5]}, unexpected keys {unexpected[:5]}")
    for name, shape in expected.items():
        found, dtype = stored[name]
        if tuple(found) != tuple(shape):
            raise CheckpointError(f"{where}: weights do not fit the architecture: {name!r} has "
                                  f"shape {tuple(found)}, the architecture expects {tuple(shape)}")
        if name in counts and dtype.kind in "iu":
            continue
        if dtype.kind != "f":
            what = _KINDS.get(dtype.kind, str(dtype))
            raise CheckpointError(f"{where}: weight {name!r} holds {what} ({dtype}); weights must "
                                  f"be real floating-point numbers")


@dataclass
class _Entry:
    """One ``.npy`` member of the archive, known from its header alone."""

    info: zipfile.ZipInfo
    shape: Tuple[int, ...]
    dtype: np.dtype
    fortran: bool
    offset: int  # where the array's bytes start inside the member


def _read_header(archive: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> _Entry:
    name = info.filename[:-4]
    try:
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
            else:
                raise ValueError(f"npy format version {version} is not supported")
            offset = member.tell()
    except (ValueError, SyntaxError, *ARCHIVE_ERRORS) as error:
        raise CheckpointError(f"{path}: entry {name!r} is not a readable array "
                              f"({_first_line(error)})") from None
    if dtype.hasobject:
        raise CheckpointError(f"{path}: entry {name!r} holds Python objects; a checkpoint holds "
                              f"numbers only")
    nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if offset + nbytes != info.file_size:
        raise CheckpointError(f"{path}: entry {name!r} is truncated or inconsistent: its header "
                              f"says {dtype} of shape {shape} ({nbytes} bytes) but it holds "
                              f"{info.file_size - offset} bytes")
    return _Entry(info, tuple(shape), dtype, bool(fortran), offset)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _list_entries(archive: zipfile.ZipFile, path: Path) -> Dict[str, _Entry]:
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise CheckpointError(f"{path}: {len(infos)} entries; a checkpoint has at most "
                              f"{MAX_ENTRIES}")
    check_members(infos, str(path), CheckpointError)
    entries: Dict[str, _Entry] = {}
    for info in infos:
        if not info.filename.endswith(".npy"):
            raise CheckpointError(f"{path}: entry {info.filename[:80]!r} is not an array; not a "
                                  f"microgradnn checkpoint")
        name = info.filename[:-4]
        if name in entries:
            raise CheckpointError(f"{path}: entry {name[:80]!r} appears twice")
        if name not in _REQUIRED and not name.startswith(PARAM_PREFIX):
            raise CheckpointError(f"{path}: unexpected entry {name[:80]!r}; not a microgradnn "
                                  f"checkpoint")
        entries[name] = _read_header(archive, info, path)
    for name in _REQUIRED:
        if name not in entries:
            raise CheckpointError(f"{path}: no {name!r} entry; not a microgradnn checkpoint")
    return entries


def _read(archive: zipfile.ZipFile, entry: _Entry) -> np.ndarray:
    with archive.open(entry.info) as member:  # sizes were checked against the header
        return np.lib.format.read_array(member, allow_pickle=False)


_METADATA = {"format": (np.dtype(np.int64), 8, "one int64"),
             "sha256": (np.dtype(np.uint8), 64, "64 uint8 (hex digits)"),
             "spec": (np.dtype(np.uint8), MAX_SPEC_BYTES, "uint8 JSON bytes"),
             "extra": (np.dtype(np.uint8), MAX_EXTRA_BYTES, "uint8 JSON bytes")}


def _check_metadata(entries: Mapping[str, _Entry], path: Path) -> None:
    """Every metadata entry's dtype and size, from its header: before a byte is inflated."""
    for name, (dtype, limit, what) in _METADATA.items():
        entry = entries[name]
        if (entry.dtype.kind, entry.dtype.itemsize) != (dtype.kind, dtype.itemsize) or \
                len(entry.shape) != 1 or entry.shape[0] * dtype.itemsize > limit:
            raise CheckpointError(f"{path}: entry {name!r} should be {what}, at most {limit} "
                                  f"bytes; got {entry.dtype} of shape {entry.shape}")


def _small(archive: zipfile.ZipFile, entries: Mapping[str, _Entry], name: str) -> np.ndarray:
    """A metadata entry, its dtype and size checked by ``_check_metadata``."""
    return _read(archive, entries[name])


def _streamed_digest(archive: zipfile.ZipFile, entries: Mapping[str, _Entry]) -> str:
    """``_digest`` of the arrays in the archive, read in chunks: none is held whole."""
    h = hashlib.sha256()
    for name in sorted(entries):
        if name == "sha256":
            continue
        entry = entries[name]
        h.update(f"{name}|{entry.dtype.str}|{entry.shape}|".encode("utf-8"))
        if entry.fortran and len(entry.shape) > 1:  # the digest is over C order
            _hash_c_order(h, _read(archive, entry))
            continue
        with archive.open(entry.info) as member:
            member.read(entry.offset)
            while True:
                chunk = member.read(_CHUNK)
                if not chunk:
                    break
                h.update(chunk)
    return h.hexdigest()


def _hash_c_order(h: Any, array: np.ndarray) -> None:
    """Feed ``array``'s bytes in C order to ``h`` a slab of rows at a time, never a whole
    copy (a Fortran-ordered array is stored transposed)."""
    rows = max(1, _CHUNK // max(1, array[:1].nbytes))
    for start in range(0, array.shape[0], rows):
        h.update(np.ascontiguousarray(array[start:start + rows]).tobytes())


def _decode_json(array: np.ndarray, name: str, path: Path) -> Dict[str, Any]:
    if array.dtype != np.uint8 or array.ndim != 1:
        raise CheckpointError(f"{path}: entry {name!r} should be uint8 JSON bytes, got "
                              f"{array.dtype} of shape {array.shape}")
    try:
        value = json.loads(array.tobytes().decode("utf-8"))
    except RecursionError:
        raise CheckpointError(f"{path}: entry {name!r} is JSON nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as error:
        raise CheckpointError(f"{path}: entry {name!r} is not valid JSON "
                              f"({_first_line(error)[:120]})") from None
    if not isinstance(value, dict):
        raise CheckpointError(f"{path}: entry {name!r} should be a JSON object")
    return value


def _max_file_bytes() -> int:
    from .models import MAX_PARAMETERS

    return MAX_PARAMETERS * 8 + MAX_SPEC_BYTES + MAX_EXTRA_BYTES + (1 << 20)


def load_checkpoint(path: PathLike) -> Checkpoint:
    """Read, verify and rebuild a checkpoint written by ``save``.

    Raises ``FileNotFoundError`` / ``IsADirectoryError`` for a path that is not a file,
    and ``CheckpointError`` for a truncated or non-npz file, an unknown format version,
    a digest mismatch (corruption), a spec out of bounds, or stored weights that do not
    fit the spec (names, shapes, real floating point). Every check runs before the model
    is allocated; see the module docstring for the order.
    """
    path = check_readable_file(path, "checkpoint")
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > _max_file_bytes():
            raise CheckpointError(f"{path}: {size:,} bytes is larger than any checkpoint of a "
                                  f"model within the parameter limit")
        check_directory(handle, size, MAX_ENTRIES, MAX_ENTRIES * 1024, str(path),
                        CheckpointError)
        try:
            archive = zipfile.ZipFile(handle)
        except (ValueError, *ARCHIVE_ERRORS) as error:
            raise CheckpointError(f"{path} is not a readable .npz checkpoint (truncated or not "
                                  f"written by microgradnn.checkpoint.save): "
                                  f"{_first_line(error)}") from None
        with archive:
            try:
                return _load_from(archive, path)
            except ARCHIVE_ERRORS as error:
                raise CheckpointError(f"{path} is not a readable .npz checkpoint (truncated or "
                                      f"corrupt): {_first_line(error)}") from None


def _load_from(archive: zipfile.ZipFile, path: Path) -> Checkpoint:
    from .models import build_model, integer_state_keys, normalize_spec, parameter_shapes

    entries = _list_entries(archive, path)
    _check_metadata(entries, path)
    version = _small(archive, entries, "format")
    if version.size != 1 or int(version[0]) != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {version.tolist()} is not supported "
                              f"(this microgradnn reads format {FORMAT_VERSION})")
    # The spec against the stored headers first: a file whose arrays do not match what it
    # claims is refused before a byte of them is read (or decompressed).
    spec = _decode_json(_small(archive, entries, "spec"), "spec", path)
    try:
        normalized = normalize_spec(spec)
        expected = parameter_shapes(normalized)
    except (ValueError, TypeError, KeyError) as error:
        raise CheckpointError(f"{path}: its architecture cannot be built: {error}") from None
    params = {name[len(PARAM_PREFIX):]: entry for name, entry in entries.items()
              if name.startswith(PARAM_PREFIX)}
    _check_fits(expected, {name: (e.shape, e.dtype) for name, e in params.items()}, str(path),
                integer_state_keys(normalized))
    stored = _small(archive, entries, "sha256").tobytes().decode(
        "ascii", errors="replace")
    actual = _streamed_digest(archive, entries)
    if stored != actual:
        raise CheckpointError(f"{path}: sha256 check failed (stored {stored[:12]}..., content "
                              f"{actual[:12]}...): the file was modified or corrupted after it "
                              f"was saved")
    extra = _decode_json(_small(archive, entries, "extra"), "extra", path)
    state = {name: _read(archive, entry) for name, entry in params.items()}
    for name, array in state.items():
        if not np.all(np.isfinite(array)):
            raise CheckpointError(f"{path}: weight {name!r} holds NaN or inf")
    model = build_model(normalized)
    counts = integer_state_keys(normalized)
    weights_dtype = model.parameters()[0].data.dtype
    state = _cast_and_check(state, {name: np.dtype(np.int64) if name in counts else weights_dtype
                                    for name in state}, path)
    _load_into(model, state, str(path))
    model.eval()
    return Checkpoint(model=model, spec=spec, extra=extra)


# Buffers with a domain of their own: BatchNorm's running variance and batch count.
_NON_NEGATIVE = ("running_var", "num_batches_tracked")


def _cast_and_check(state: Mapping[str, np.ndarray], dtypes: Mapping[str, np.dtype],
                    path: Path) -> Dict[str, np.ndarray]:
    """The stored arrays cast to the model's own ``dtypes``, refused if the cast overflows
    (float64 1e300 is inf in float32) or a buffer leaves its domain (a negative variance)."""
    cast: Dict[str, np.ndarray] = {}
    for name, array in state.items():
        dtype = dtypes[name]
        with np.errstate(over="ignore", invalid="ignore"):
            value = array.astype(dtype, copy=False)
        if dtype.kind == "f" and not np.all(np.isfinite(value)):
            worst = float(np.max(np.abs(array[~np.isfinite(value)])))
            raise CheckpointError(f"{path}: weight {name!r} holds {worst:.3g}, which is inf as "
                                  f"{dtype} (the model's precision, largest "
                                  f"{float(np.finfo(dtype).max):.3g})")
        if dtype.kind in "iu" and not np.array_equal(value, array):
            raise CheckpointError(f"{path}: {name!r} must hold whole numbers that fit {dtype}")
        if name.rsplit(".", 1)[-1] in _NON_NEGATIVE and value.size and value.min() < 0:
            raise CheckpointError(f"{path}: {name!r} holds {value.min():.3g}; it must be >= 0 "
                                  f"(a variance or a count)")
        cast[name] = value
    return cast


def load(path: PathLike) -> Any:
    """Rebuild the model saved at ``path`` (a ``Sequential`` in eval mode); see ``save``."""
    return load_checkpoint(path).model
