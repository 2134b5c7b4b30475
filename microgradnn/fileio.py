"""Atomic file writes: a reader sees the old file or the whole new one, never half.

Every file microgradnn and viz write (pictures, pages, checkpoints, histories,
downloads) goes through here: written to a temporary file in the same folder,
then moved over the target with ``os.replace``. The file gets the usual
permissions (0666 less the umask), not the private 0600 of ``mkstemp``.
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Union

__all__ = ["atomic_path", "write_atomic"]

PathLike = Union[str, "os.PathLike[str]"]


@contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    For writers that want a file name (``np.savez``, ``Figure.savefig``, Pillow).
    The temporary keeps ``path``'s suffix, which such writers read as the format.
    On error the temporary is removed and ``path`` is left as it was.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {str(path)!r}: folder {str(path.parent)!r} does not exist")
    tmp = path.parent / f".{path.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp{path.suffix}"
    try:
        # Created with open(..., "x") rather than mkstemp so the mode follows the umask.
        open(tmp, "xb").close()
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_atomic(path: PathLike, data: Union[bytes, str]) -> Path:
    """Write ``data`` (bytes, or text as UTF-8) to ``path`` atomically; return the path."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)
    return Path(path)
