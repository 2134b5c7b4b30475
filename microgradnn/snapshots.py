"""Copies of a model's weights taken during training: the path gradient descent walked.

``WeightSnapshots(model, count, total_steps)`` keeps ``count`` copies of
``model.state_dict()``, spread evenly over training: the initial weights (step 0), the
final ones (step ``total_steps``) and ``count - 2`` in between. Pass it to
``microgradnn.training.fit(..., on_step=snapshots)``; it is called after every
optimizer step with the number of steps done so far.

``save(path)`` writes one ``.npz`` (no pickle): ``format`` ([1]), ``steps`` (int64,
(k,)), ``steps_per_epoch`` ([s]) and ``param/<name>`` with shape (k, *shape), one row a
snapshot. ``load_snapshots(path)`` reads it back as a ``Snapshots``.
``viz.landscape`` projects the path onto its two main directions (PCA).
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Union

import numpy as np

from .fileio import atomic_path, check_readable_file
from .ziparchive import ARCHIVE_ERRORS, check_directory, check_members

__all__ = ["WeightSnapshots", "Snapshots", "load_snapshots", "snapshot_path", "MAX_SNAPSHOTS",
           "FORMAT_VERSION"]

FORMAT_VERSION = 1
MAX_SNAPSHOTS = 1000
MAX_NUMBERS = 50_000_000  # count x weights kept in memory (200 MB of float32)
MAX_ENTRIES = 1000  # arrays in a snapshots file: a few per layer
PARAM_PREFIX = "param/"
PathLike = Union[str, "os.PathLike[str]"]


def snapshot_path(checkpoint: PathLike) -> Path:
    """Where the snapshots of checkpoint ``mlp.npz`` live: ``mlp.snapshots.npz`` beside it."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.stem + ".snapshots.npz")


@dataclass
class Snapshots:
    """``steps`` (k,) at which the copies were taken and ``weights``: name -> (k, *shape)."""

    steps: np.ndarray
    weights: Dict[str, np.ndarray]
    steps_per_epoch: int

    def __len__(self) -> int:
        return int(self.steps.size)

    def state(self, i: int) -> Dict[str, np.ndarray]:
        """Snapshot ``i`` as a state dict (what ``load_state_dict`` takes)."""
        return {name: array[i] for name, array in self.weights.items()}


class WeightSnapshots:
    """Records ``count`` weight copies over ``total_steps`` optimizer steps (see the module)."""

    def __init__(self, model: Any, count: int, total_steps: int, steps_per_epoch: int = 0) -> None:
        for name, value, low in (("count", count, 2), ("total_steps", total_steps, 1)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"snapshots: {name} must be an integer >= {low}, got {value!r}")
        if count > MAX_SNAPSHOTS:
            raise ValueError(f"snapshots: count must be at most {MAX_SNAPSHOTS}, got {count}")
        weights = sum(int(np.size(a)) for a in model.state_dict().values())
        if count * weights > MAX_NUMBERS:
            raise ValueError(f"snapshots: {count} copies of {weights} weights are more than "
                             f"{MAX_NUMBERS} numbers; keep at most {MAX_NUMBERS // weights}")
        self.model = model
        self.total_steps = int(total_steps)
        self.steps_per_epoch = int(steps_per_epoch)
        # count steps spread evenly from 0 to total (fewer if training has fewer steps)
        self.planned = sorted({int(round(s)) for s in np.linspace(0, total_steps, count)})
        self._pending = set(self.planned)
        self.steps: List[int] = []
        self.states: List[Dict[str, np.ndarray]] = []
        self(0)

    def __call__(self, step: int) -> None:
        if step in self._pending:
            self._pending.discard(step)
            self.steps.append(int(step))
            self.states.append(self.model.state_dict())

    def result(self) -> Snapshots:
        if not self.states:
            raise ValueError("snapshots: nothing was recorded")
        names = list(self.states[0])
        weights = {name: np.stack([s[name] for s in self.states]) for name in names}
        return Snapshots(np.array(self.steps, dtype=np.int64), weights, self.steps_per_epoch)

    def save(self, path: PathLike) -> Path:
        """Write the snapshots taken so far to ``path`` (.npz) atomically."""
        snaps = self.result()
        arrays: Dict[str, np.ndarray] = {
            "format": np.array([FORMAT_VERSION], dtype=np.int64),
            "steps": snaps.steps,
            "steps_per_epoch": np.array([snaps.steps_per_epoch], dtype=np.int64)}
        for name, array in snaps.weights.items():
            arrays[PARAM_PREFIX + name] = array
        path = Path(path)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, **arrays)
        return path


def load_snapshots(path: PathLike) -> Snapshots:
    """Read a file written by ``WeightSnapshots.save``; a clear error if it is not one.

    The archive's directory is checked before anything is read: at most
    ``MAX_ENTRIES`` arrays holding at most ``MAX_NUMBERS`` float64s in all (the zip64
    end record included, see ``microgradnn.ziparchive``). Weights are floats; integer
    entries (BatchNorm's ``num_batches_tracked``) are counts, kept as they are.
    """
    path = check_readable_file(path, "snapshots file")
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            check_directory(handle, size, MAX_ENTRIES, MAX_ENTRIES * 1024, str(path), ValueError)
            with zipfile.ZipFile(handle) as archive:
                infos = archive.infolist()
                check_members(infos, str(path), ValueError)
                total = sum(info.file_size for info in infos)
                if len(infos) > MAX_ENTRIES or total > MAX_NUMBERS * 8 + (1 << 20):
                    raise ValueError(f"{path}: {len(infos)} entries of {total} bytes in all; "
                                     f"snapshots hold at most {MAX_ENTRIES} entries of "
                                     f"{MAX_NUMBERS * 8} bytes")
            handle.seek(0)
            with np.load(handle, allow_pickle=False) as archive:
                arrays = {name: archive[name] for name in archive.files}
    except (KeyError, *ARCHIVE_ERRORS) as error:
        raise ValueError(f"{path} is not a readable snapshots .npz: {_first_line(error)}") \
            from None
    except ValueError as error:
        message = _first_line(error)
        if message.startswith(str(path)):
            raise ValueError(message) from None
        raise ValueError(f"{path} is not a readable snapshots .npz: {message}") from None
    return _snapshots_from(arrays, path)


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0][:300] if lines else type(error).__name__


def _snapshots_from(arrays: Dict[str, np.ndarray], path: Path) -> Snapshots:
    """Check the arrays of a snapshots file against what ``WeightSnapshots.save`` writes."""
    version = arrays.get("format", np.zeros(0)).ravel()
    if version.size != 1 or version.dtype.kind not in "iu" or int(version[0]) != FORMAT_VERSION \
            or "steps" not in arrays:
        raise ValueError(f"{path} is not a microgradnn snapshots file (format {FORMAT_VERSION})")
    steps = np.asarray(arrays["steps"])
    if steps.dtype.kind not in "iu" or steps.ndim != 1:
        raise ValueError(f"{path}: 'steps' must be one row of integers, got {steps.dtype} of "
                         f"shape {steps.shape}")
    steps = steps.astype(np.int64)
    weights = {name[len(PARAM_PREFIX):]: array for name, array in arrays.items()
               if name.startswith(PARAM_PREFIX)}
    if not weights or steps.size < 2:
        raise ValueError(f"{path}: needs at least 2 snapshots of at least one parameter")
    for name, array in weights.items():
        if array.shape[:1] != (steps.size,) or array.dtype.kind not in "fiu":
            raise ValueError(f"{path}: parameter {name!r} has shape {array.shape} and dtype "
                             f"{array.dtype}; expected floats (or integer counts) with "
                             f"{steps.size} rows")
        if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
            raise ValueError(f"{path}: parameter {name!r} holds NaN or inf")
    per_epoch = np.asarray(arrays.get("steps_per_epoch", np.zeros(1, np.int64)))
    if per_epoch.size != 1 or per_epoch.dtype.kind not in "iu" or int(per_epoch.ravel()[0]) < 0:
        raise ValueError(f"{path}: 'steps_per_epoch' must be one integer >= 0, got "
                         f"{per_epoch.dtype} of shape {per_epoch.shape}")
    return Snapshots(steps, weights, int(per_epoch.ravel()[0]))
