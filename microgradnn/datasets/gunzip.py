"""Reading gzip data a bounded number of bytes at a time, in zlib's C code throughout.

``gzip.GzipFile`` parses each member's header in Python, one byte per call for the
file-name and comment fields: a header with a 60 MB "file name" takes seconds before
the first byte of content. ``GunzipReader`` hands the whole stream, headers included,
to ``zlib`` (``wbits=31``: gzip framing, checked CRC and length), so such a header costs
what reading its bytes costs. Members follow one another as in ``gzip``; zero bytes
after the last member are padding, as ``gzip`` allows.
"""

from __future__ import annotations

import zlib
from typing import BinaryIO, List

__all__ = ["GunzipReader"]

_CHUNK = 1 << 16


class GunzipReader:
    """``read(n)``: up to ``n`` bytes of the content of the gzip data in ``stream``.

    Raises ``EOFError`` if the data ends inside a member, ``zlib.error`` if it is corrupt.
    """

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.inflate = zlib.decompressobj(31)
        self.pending = b""  # compressed bytes read but not yet given to zlib
        self.finished = False

    def _next_input(self) -> bytes:
        if self.inflate.unconsumed_tail:
            return self.inflate.unconsumed_tail
        data, self.pending = self.pending or self.stream.read(_CHUNK), b""
        return data

    def _next_member(self) -> None:
        """After a member's end: start the next one, or finish at the data's end."""
        rest = self.inflate.unused_data + self.stream.read(_CHUNK)
        while rest and not rest.strip(b"\0"):
            rest = self.stream.read(_CHUNK)  # padding: only zero bytes so far
        if not rest:
            self.finished = True
            return
        self.inflate = zlib.decompressobj(31)
        self.pending = rest

    def read(self, n: int) -> bytes:
        out: List[bytes] = []
        size = 0
        while size < n and not self.finished:
            if self.inflate.eof:
                self._next_member()
                continue
            data = self._next_input()
            if not data:
                raise EOFError("compressed data ended before the end of a gzip member")
            chunk = self.inflate.decompress(data, n - size)
            out.append(chunk)
            size += len(chunk)
        return b"".join(out)
