"""File paths in and out: atomic writes, and the checks made before reading or writing.

Every file microgradnn and viz write (pictures, pages, checkpoints, histories,
downloads) goes through ``atomic_path``: written to a temporary file in the same folder,
``.NAME.<pid>.<16 hex>.tmp.SUFFIX``, then moved over the target with ``os.replace``. The
file gets the usual permissions (0666 less the umask), not the private 0600 of
``mkstemp``. A target that exists and is not a regular file (a folder, a FIFO, a device
such as ``/dev/null``, a socket) is refused before anything is written: ``os.replace``
would put a regular file in its place.

A process killed in the middle of a write leaves its temporary behind; the next write to
that folder removes such leftovers whose process is no longer alive, and only those this
program made: the last 8 of the 16 hex digits are a check-sum of the rest of the name, the
file belongs to the current user, so a user's file that merely looks alike is never touched.

``check_readable_file`` and ``check_writable_file`` tell, in one line, why a path cannot
be used: it does not exist, it is a folder, a FIFO or a device, or the folder is not
writable. They are called before any work, so a long run never fails at its end.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional, Union

__all__ = ["atomic_path", "write_atomic", "check_readable_file", "check_writable_file",
           "check_output_target", "remove_stale_temporaries"]

PathLike = Union[str, "os.PathLike[str]"]

# .NAME.<pid>.<8 hex nonce><8 hex check>.tmp[.SUFFIX]: the names of atomic_path's temporaries.
_TEMPORARY = re.compile(r"^\.(?P<stem>.+)\.(?P<pid>[0-9]+)\.(?P<nonce>[0-9a-f]{8})"
                        r"(?P<check>[0-9a-f]{8})\.tmp(?P<suffix>\.[^.]*)?$")
# Errors of the storage itself (disk full, quota, file size limit, read-only, I/O): a write
# failing with one of these is reported naming the target.
_STORAGE_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO})


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _mode(path: Path, failed: str) -> Optional[int]:
    """``path``'s mode (symlinks followed), None if it does not exist; any other failure
    is one ``OSError`` starting with ``failed``. Never opens the path."""
    try:
        return os.stat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as error:
        raise OSError(f"{failed}: {error.strerror or error}") from None


def _not_a_file(mode: int, message: str) -> Exception:
    """``message`` (with ``{kind}``: "a folder", "a FIFO (named pipe)", ...) as the error for
    a path that is not a regular file: ``IsADirectoryError`` for a folder, else ``ValueError``."""
    text = message.format(kind=_kind(mode))
    return IsADirectoryError(text) if stat.S_ISDIR(mode) else ValueError(text)


def check_readable_file(path: PathLike, what: str = "file") -> Path:
    """``path`` as a ``Path`` if it is an existing regular file (symlinks followed).

    Raises ``FileNotFoundError`` ("WHAT PATH does not exist") or ``IsADirectoryError`` /
    ``ValueError`` ("WHAT PATH is a folder / a FIFO ..., not a file"). Never opens the
    path, so a FIFO cannot block.
    """
    path = Path(path)
    mode = _mode(path, f"{what} {path} cannot be read")
    if mode is None:
        raise FileNotFoundError(f"{what} {path} does not exist")
    if not stat.S_ISREG(mode):
        raise _not_a_file(mode, f"{what} {path} is {{kind}}, not a " +
                          ("file" if stat.S_ISDIR(mode) else "regular file"))
    return path


def check_output_target(path: PathLike, what: str = "cannot write") -> Path:
    """``path`` as a ``Path`` if it does not exist or is a regular file (symlinks followed).

    Anything else is refused in one line starting with ``what`` and naming the path and
    what it is: ``IsADirectoryError`` for a folder, ``ValueError`` for a FIFO, a device or
    a socket (never opened, so a FIFO cannot block and ``/dev/null`` is never replaced).
    """
    path = Path(path)
    mode = _mode(path, f"{what} {str(path)!r}")
    if mode is not None and not stat.S_ISREG(mode):
        raise _not_a_file(mode, f"{what} {str(path)!r}: it is {{kind}}" + (
            "; give a file name" if stat.S_ISDIR(mode) else
            ", not a regular file; nothing was written"))
    return path


def check_writable_file(path: PathLike, what: str = "output") -> Path:
    """Check now that ``write_atomic(path, ...)`` will be able to write ``path``.

    The folder must exist and accept a new file (tried for real: a temporary is created
    and removed, so permissions, read-only mounts and root all answer truthfully);
    ``path`` itself, if present, must be a regular file. Raises ``OSError``/``ValueError``
    with one line naming ``what``, the path and the reason.
    """
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        reason = "does not exist" if not folder.exists() else "is not a folder"
        raise FileNotFoundError(f"{what} {path}: folder {folder} {reason}")
    mode = _mode(path, f"{what} {path} cannot be written")
    if mode is not None and not stat.S_ISREG(mode):
        raise _not_a_file(mode, f"{what} {path} is {{kind}}" + (
            "; give a file name" if stat.S_ISDIR(mode) else ", not a file"))
    probe = _temporary_name(path)
    try:
        open(probe, "xb").close()
    except OSError as error:
        raise PermissionError(f"{what} {path} cannot be written: folder {folder}: "
                              f"{error.strerror or error}") from None
    probe.unlink()
    return path


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # another user's process, or cannot tell: leave its file alone
    return True


def _check(stem: str, pid: str, nonce: str, suffix: str) -> str:
    """The 8 hex digits that mark a temporary name as made by ``_temporary_name``."""
    text = f"microgradnn-temporary|{stem}|{pid}|{nonce}|{suffix}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def _ours(name: str) -> bool:
    """Whether ``name`` is a temporary of ``_temporary_name`` whose process is gone."""
    match = _TEMPORARY.match(name)
    if match is None:
        return False
    stem, pid, nonce, suffix = match.group("stem", "pid", "nonce", "suffix")
    if match.group("check") != _check(stem, pid, nonce, suffix or ""):
        return False
    return not _pid_alive(int(pid))


def remove_stale_temporaries(folder: PathLike) -> int:
    """Delete the leftovers ``.NAME.<pid>.<hex>.tmp.SUFFIX`` in ``folder`` that this program
    made (their check digits hold, the current user owns them) and whose process is gone
    (killed during a write); return how many. Files of live processes, other names,
    look-alike names, other users' files, folders and symlinks are never touched."""
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        name = entry.name
        if not name.startswith(".") or ".tmp" not in name or not _ours(name):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and info.st_uid == os.getuid():
                os.unlink(entry.path)
                removed += 1
        except OSError:
            pass  # removed by someone else meanwhile, or not ours to remove
    return removed


def _temporary_name(path: Path, pid: int = 0) -> Path:
    """``.NAME.<pid>.<nonce><check>.tmp.SUFFIX`` beside ``path`` (``pid`` 0: this process)."""
    stem, suffix, pid_text = path.stem, path.suffix, str(pid or os.getpid())
    nonce = uuid.uuid4().hex[:8]
    return path.parent / f".{stem}.{pid_text}.{nonce}{_check(stem, pid_text, nonce, suffix)}" \
                         f".tmp{suffix}"


@contextmanager
def atomic_path(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``.

    For writers that want a file name (``np.savez``, ``Figure.savefig``, Pillow).
    The temporary keeps ``path``'s suffix, which such writers read as the format.
    A ``path`` that exists and is not a regular file is refused before anything is
    written (``check_output_target``), and again just before the replace. On error the
    temporary is removed and ``path`` is left as it was. Errors name ``path``, never the
    temporary; a full disk or a file size limit met while writing is one such error.
    """
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {str(path)!r}: folder {str(path.parent)!r} does not exist")
    check_output_target(path)
    remove_stale_temporaries(path.parent)
    tmp = _temporary_name(path)
    try:
        # Created with open(..., "x") rather than mkstemp so the mode follows the umask.
        try:
            open(tmp, "xb").close()
        except OSError as error:
            raise PermissionError(f"cannot write {str(path)!r}: {error.strerror or error} "
                                  f"in folder {str(path.parent)!r}") from None
        try:
            yield tmp
        except OSError as error:
            if error.errno not in _STORAGE_ERRORS:
                raise
            failure = OSError(f"cannot write {str(path)!r}: {error.strerror or error}")
            failure.errno = error.errno
            raise failure from None
        check_output_target(path)  # it may have appeared while the file was being written
        try:
            os.replace(tmp, path)
        except OSError as error:
            raise OSError(f"cannot write {str(path)!r}: {error.strerror or error}") from None
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
