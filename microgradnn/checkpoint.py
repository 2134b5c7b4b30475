"""Checkpoints: a model's weights and architecture in one ``.npz``, no pickle anywhere.

Layout of the archive (every entry a plain numeric array, so ``allow_pickle=False``):

- ``format``: int64 ``[FORMAT_VERSION]``;
- ``spec``: the architecture, the JSON dict given to ``microgradnn.models.build_model``,
  as UTF-8 bytes in a uint8 array; ``extra``: free JSON metadata (accuracy, epochs...);
- ``param/<name>``: one array per ``state_dict`` entry;
- ``sha256``: the hex digest (ASCII bytes) of everything above, in a fixed order.

``load`` recomputes the digest and refuses a file that was edited, cut short, or whose
weights do not fit the architecture it claims, with a message saying which.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

import numpy as np

from .fileio import atomic_path

__all__ = ["save", "load", "load_checkpoint", "Checkpoint", "CheckpointError", "FORMAT_VERSION"]

FORMAT_VERSION = 1
PARAM_PREFIX = "param/"
PathLike = Union[str, "os.PathLike[str]"]


class CheckpointError(ValueError):
    """The file is not a usable microgradnn checkpoint; the message says why."""


@dataclass
class Checkpoint:
    """What ``load_checkpoint`` returns: the rebuilt model, its spec and the metadata."""

    model: Any
    spec: Dict[str, Any]
    extra: Dict[str, Any] = field(default_factory=dict)


def _json_bytes(obj: Mapping[str, Any], what: str) -> np.ndarray:
    try:
        text = json.dumps(obj, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"checkpoint {what} must be plain JSON data: {error}") from None
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).copy()


def _digest(arrays: Mapping[str, np.ndarray]) -> str:
    """sha256 over every entry except the digest itself: name, dtype, shape, then bytes."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        if name == "sha256":
            continue
        array = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{array.dtype.str}|{array.shape}|".encode("utf-8"))
        h.update(array.tobytes())
    return h.hexdigest()


def save(model: Any, path: PathLike, spec: Mapping[str, Any],
         extra: Optional[Mapping[str, Any]] = None) -> Path:
    """Write ``model``'s weights and ``spec`` to ``path`` (.npz) atomically; return the path.

    ``spec`` must rebuild the same architecture through ``build_model``: this is checked
    now, so a checkpoint that cannot be loaded is never written.
    """
    from .models import build_model  # models imports the tensor path; keep this module light

    path = Path(path)
    state = model.state_dict()
    for name, array in state.items():
        if not np.all(np.isfinite(array)):
            raise ValueError(f"save: parameter {name!r} holds NaN or inf; not writing {path}")
    # The spec must rebuild a model that takes these weights, or the file could never load.
    _load_into(build_model(dict(spec)), state, f"model given to save({str(path)!r})")
    arrays: Dict[str, np.ndarray] = {
        "format": np.array([FORMAT_VERSION], dtype=np.int64),
        "spec": _json_bytes(spec, "spec"),
        "extra": _json_bytes(dict(extra or {}), "extra"),
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
    except (KeyError, ValueError) as error:
        message = error.args[0] if error.args else error
        raise CheckpointError(f"{where}: weights do not fit the architecture: {message}") from None


def _read_arrays(path: Path) -> Dict[str, np.ndarray]:
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, EOFError, OSError, KeyError, ValueError, zlib.error) as error:
        raise CheckpointError(f"{path} is not a readable .npz checkpoint (truncated or not "
                              f"written by microgradnn.checkpoint.save): {error}") from None


def _decode_json(array: np.ndarray, name: str, path: Path) -> Dict[str, Any]:
    if array.dtype != np.uint8 or array.ndim != 1:
        raise CheckpointError(f"{path}: entry {name!r} should be uint8 JSON bytes, got "
                              f"{array.dtype} of shape {array.shape}")
    try:
        value = json.loads(array.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path}: entry {name!r} is not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise CheckpointError(f"{path}: entry {name!r} should be a JSON object")
    return value


def load_checkpoint(path: PathLike) -> Checkpoint:
    """Read, verify and rebuild a checkpoint written by ``save``.

    Raises ``CheckpointError`` for a truncated or non-npz file, an unknown format
    version, a digest mismatch (tampered), or weights that do not fit the spec.
    """
    from .models import build_model

    path = Path(path)
    arrays = _read_arrays(path)
    for name in ("format", "spec", "extra", "sha256"):
        if name not in arrays:
            raise CheckpointError(f"{path}: no {name!r} entry; not a microgradnn checkpoint")
    version = arrays["format"].ravel()
    if version.size != 1 or int(version[0]) != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format {version.tolist()} is not supported "
                              f"(this microgradnn reads format {FORMAT_VERSION})")
    stored = arrays["sha256"].tobytes().decode("ascii", errors="replace")
    actual = _digest(arrays)
    if stored != actual:
        raise CheckpointError(f"{path}: sha256 check failed (stored {stored[:12]}..., content "
                              f"{actual[:12]}...): the file was modified after it was saved")
    spec = _decode_json(arrays["spec"], "spec", path)
    extra = _decode_json(arrays["extra"], "extra", path)
    state = {name[len(PARAM_PREFIX):]: array for name, array in arrays.items()
             if name.startswith(PARAM_PREFIX)}
    try:
        model = build_model(spec)
    except (ValueError, TypeError, KeyError) as error:
        raise CheckpointError(f"{path}: its architecture cannot be built: {error}") from None
    _load_into(model, state, str(path))
    model.eval()
    return Checkpoint(model=model, spec=spec, extra=extra)


def load(path: PathLike) -> Any:
    """Rebuild the model saved at ``path`` (a ``Sequential`` in eval mode); see ``save``."""
    return load_checkpoint(path).model
