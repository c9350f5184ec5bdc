"""An uncompressed debug section read from its file piece by piece, as queries reach it.

python3.11d's .debug_info is 10 MB; a watch on one global decodes a few of its units. Read
whole, it cost 7 ms and 10 MB at every start; here the stream reads the 64 KiB pieces that
reads touch (``os.pread``: the file's own position is left alone), and a caller that wants the
whole section (the C scanner building the index, say) gets it read then, as before. A file
cut short since it was opened gives short reads, which pyelftools reports as a damaged unit.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Optional

PIECE = 64 << 10
MIN_SIZE = 1 << 20  # a smaller section is read whole: a few reads cost more than it


class FileWindow:
    """``read``/``seek``/``tell``/``readinto``/``readline`` of BytesIO over ``size`` bytes at
    ``offset`` of the open ``file``; ``whole()`` reads all of them (once)."""

    def __init__(self, file: Any, offset: int, size: int, read_all: Callable[[], Any]) -> None:
        self._file, self._offset, self._size = file, offset, size
        self._read_all = read_all
        self._pieces: dict[int, bytes] = {}
        self._whole: Optional[bytes] = None
        self.pos = 0

    def _piece(self, index: int) -> bytes:
        piece = self._pieces.get(index)
        if piece is None:
            start = index * PIECE
            # fileno() each time: a closed file raises rather than another file being read by its number
            piece = os.pread(self._file.fileno(), min(PIECE, self._size - start), self._offset + start)
            self._pieces[index] = piece
        return piece

    def _bytes(self, start: int, end: int) -> bytes:
        if self._whole is not None:
            return self._whole[start:end]
        first, last = start // PIECE, (end - 1) // PIECE
        base = first * PIECE
        if first == last:
            return self._piece(first)[start - base:end - base]
        return b"".join(self._piece(i) for i in range(first, last + 1))[start - base:end - base]

    def read(self, size: Optional[int] = -1) -> bytes:
        pos = self.pos
        end = self._size if size is None or size < 0 else min(pos + size, self._size)
        if end <= pos:
            return b""
        data = self._bytes(pos, end)
        self.pos = pos + len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(memoryview(buffer).cast("B")))
        memoryview(buffer).cast("B")[:len(data)] = data
        return len(data)

    def readline(self, size: Optional[int] = -1) -> bytes:
        out = []
        limit = self._size if size is None or size < 0 else min(self.pos + size, self._size)
        while self.pos < limit:
            chunk = self.read(min(limit - self.pos, PIECE - self.pos % PIECE))
            if not chunk:
                break
            cut = chunk.find(b"\n")
            if cut >= 0:
                self.pos -= len(chunk) - cut - 1
                out.append(chunk[:cut + 1])
                break
            out.append(chunk)
        return b"".join(out)

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence == 1:
            pos += self.pos
        elif whence == 2:
            pos += self._size
        if pos < 0:
            raise ValueError(f"negative seek value {pos}")
        self.pos = pos
        return pos

    def tell(self) -> int:
        return self.pos

    def span(self, start: int, end: int) -> bytes:
        """The section's bytes [start, end), read in one go and not kept (the C scanner reads
        one unit's names from them)."""
        end = min(end, self._size)
        if self._whole is not None:
            return self._whole[start:end]
        return os.pread(self._file.fileno(), end - start, self._offset + start) if end > start else b""

    def whole(self) -> bytes:
        """All the section's bytes (read now, the first time)."""
        if self._whole is None:
            self._whole = self._read_all()
            self._pieces.clear()
        return self._whole
