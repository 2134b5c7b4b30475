"""Opening the ``.npz`` files microgradnn reads (checkpoints, snapshots) without trusting them.

An ``.npz`` is a zip archive. Before ``zipfile`` lists it (one Python object per entry),
``check_directory`` reads the archive's end records, the classic one and the zip64 one
(which can claim 2**64 entries), and refuses a directory larger than the caller allows.
``check_members`` then refuses what ``numpy.savez`` never writes and ``zipfile`` cannot
read or would read at great cost: encrypted entries and compression methods other than
stored and deflate (bzip2, LZMA, unknown numbers). ``ARCHIVE_ERRORS`` lists everything
``zipfile`` raises on a damaged archive, so a caller can turn any of them into one line.
"""

from __future__ import annotations

import lzma
import struct
import zipfile
import zlib
from typing import BinaryIO, Iterable, List, Tuple, Type

__all__ = ["check_directory", "check_members", "ARCHIVE_ERRORS", "ALLOWED_METHODS"]

# What zipfile, zlib, bz2 and lzma raise on a damaged or unsupported archive.
ARCHIVE_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, zlib.error,
                  lzma.LZMAError, RuntimeError, NotImplementedError, struct.error)
ALLOWED_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}

_END = b"PK\x05\x06"
_END_LENGTH = 22
_LOCATOR = b"PK\x06\x07"
_LOCATOR_LENGTH = 20
_END64 = b"PK\x06\x06"
_END64_LENGTH = 56


def _read_at(handle: BinaryIO, offset: int, length: int, size: int) -> bytes:
    if offset < 0 or offset + length > size:
        return b""
    handle.seek(offset)
    return handle.read(length)


def _zip64_claims(handle: BinaryIO, end_at: int, size: int) -> List[Tuple[int, int]]:
    """(entries, directory bytes) of the zip64 records a reader may use for the classic
    end record at ``end_at``: the one just before its locator, and the one it points to."""
    locator = _read_at(handle, end_at - _LOCATOR_LENGTH, _LOCATOR_LENGTH, size)
    if len(locator) != _LOCATOR_LENGTH or not locator.startswith(_LOCATOR):
        return []
    _, _, pointed, _ = struct.unpack("<4sIQI", locator)
    claims = []
    for at in {end_at - _LOCATOR_LENGTH - _END64_LENGTH, pointed}:
        record = _read_at(handle, at, _END64_LENGTH, size)
        if len(record) == _END64_LENGTH and record.startswith(_END64):
            fields = struct.unpack("<4sQHHIIQQQQ", record)
            claims.append((max(fields[6], fields[7]), fields[8]))
    return claims


def check_directory(handle: BinaryIO, size: int, max_entries: int, max_bytes: int,
                    where: str, error: Type[Exception]) -> None:
    """Refuse, with ``error("WHERE: ...")``, an archive whose end records (classic or zip64)
    claim more than ``max_entries`` entries or a directory over ``max_bytes``.

    Reads at most 64 KB from the end of ``handle`` (``size`` bytes long) and never builds
    the directory; a file that is not a zip passes, for ``zipfile`` to refuse."""
    tail_length = min(size, _END_LENGTH + 65535)
    tail_start = size - tail_length
    tail = _read_at(handle, tail_start, tail_length, size)
    handle.seek(0)
    starts = {tail.rfind(_END)}
    if tail[-_END_LENGTH:-_END_LENGTH + 4] == _END:  # what zipfile tries first
        starts.add(len(tail) - _END_LENGTH)
    claims: List[Tuple[int, int]] = []
    for at in starts:
        if at < 0 or len(tail) - at < _END_LENGTH:
            continue
        claims.append(struct.unpack("<HI", tail[at + 10:at + 16]))
        claims += _zip64_claims(handle, tail_start + at, size)
    handle.seek(0)
    for entries, directory in claims:
        if entries > max_entries or directory > max_bytes:
            raise error(f"{where}: its zip directory claims {entries} entries in "
                        f"{directory:,} bytes; at most {max_entries:,} entries in "
                        f"{max_bytes:,} bytes are read")


def check_members(infos: Iterable[zipfile.ZipInfo], where: str,
                  error: Type[Exception]) -> None:
    """Refuse encrypted entries and compression methods ``numpy.savez`` does not write."""
    for info in infos:
        name = info.filename[:80]
        if info.flag_bits & 0x1:
            raise error(f"{where}: entry {name!r} is encrypted; microgradnn reads only the "
                        f"plain archives numpy writes")
        if info.compress_type not in ALLOWED_METHODS:
            raise error(f"{where}: entry {name!r} uses zip compression method "
                        f"{info.compress_type}; only {' and '.join(ALLOWED_METHODS.values())} "
                        f"(what numpy writes) are read")
