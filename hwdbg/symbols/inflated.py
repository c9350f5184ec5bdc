"""The inflated bytes of a compressed debug section, kept in the index cache in blocks.

A pc in libc's compressed debug file costs inflating its sections up to that pc's unit
(5.8 MB: about 30 ms) at every start. The cache keeps what a session came to know, in blocks
of 64 KiB, each read (and checked) only when a read reaches it: a warm start reads the few
blocks its units lie in, not the megabytes before them. Kept only for sections of a file with
a build-id, keyed by the file's identity too (inode, size, mtime: a rewritten or corrupted
copy is a miss), each block checksummed, written at exit atomically (temp file + rename) as
the index is; a file or block that cannot be trusted is not used and the file is rewritten,
a directory that cannot be written is one notice.
"""
from __future__ import annotations

import atexit
import os
import struct
import weakref
import zlib
from typing import Any, Iterable, Optional

from hwdbg.symbols import index as name_index

FORMAT_VERSION = 2
MAGIC = b"HWDBGZ\0\0"
BLOCK = 64 << 10  # bytes of the section per block (the last one may be shorter)
HEADER = struct.Struct("<8sIII")  # magic, format version, block count, crc32 of the META and the table
META = struct.Struct("<QQqQQQ")  # file inode, size, mtime (ns), section offset, compressed and inflated size
ENTRY = struct.Struct("<II")  # block number, crc32 of its bytes; the blocks follow in this order
MIN_BYTES = 256 << 10  # less inflates in about a millisecond: not worth a file

_live: "weakref.WeakSet[Any]" = weakref.WeakSet()  # inflaters whose knowledge may be worth keeping
_registered = False


class Key:
    """What identifies one section's inflated bytes: the file and the section."""

    def __init__(self, build_id: str, stat: os.stat_result, section: Any, size: int) -> None:
        self.directory = name_index.cache_dir()
        self.name = f"{build_id}{section.name}.inflated"  # e.g. 93ac....debug_info.inflated
        self.size = size
        self.meta = META.pack(stat.st_ino, stat.st_size, stat.st_mtime_ns, section["sh_offset"],
                              section["sh_size"], size)


def key(build_id: Optional[str], stream: Any, section: Any, size: int) -> Optional[Key]:
    """The cache key of a section of the file open as ``stream``, or None (no cache)."""
    if not build_id or not name_index.cache_enabled():
        return None
    try:
        return Key(build_id, os.fstat(stream.fileno()), section, size)
    except (OSError, AttributeError, ValueError):
        return None  # not a real file (a test's BytesIO, say)


def block_length(number: int, size: int) -> int:
    """How many bytes of a section of ``size`` bytes block ``number`` holds."""
    return max(0, min(BLOCK, size - number * BLOCK))


class Blocks:
    """The blocks of one cache file: which it holds, each read and checked when asked for.

    The file stays open (one descriptor per cached section): a newer copy renamed over it by
    another hwdbg leaves this one readable and unchanged."""

    def __init__(self, fd: int, size: int, table: dict[int, tuple[int, int]]) -> None:
        self._fd, self._size = fd, size
        self.table = table  # block number -> (its offset in the file, its crc32)
        self.damaged = False  # a block did not match its checksum: the file is rewritten at exit

    def __del__(self) -> None:
        self.close()

    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    @property
    def stored(self) -> int:
        """How many of the section's bytes the file holds (none if it is damaged)."""
        if self.damaged:
            return 0
        return sum(block_length(number, self._size) for number in self.table)

    def holds_all(self) -> bool:
        return all(number in self.table for number in range(-(-self._size // BLOCK)))

    def read(self, number: int) -> Optional[bytes]:
        """Block ``number``'s bytes, or None (not in the file, or damaged)."""
        where = self.table.get(number)
        if where is None or self.damaged or self._fd < 0:
            return None
        length = block_length(number, self._size)
        try:
            data = os.pread(self._fd, length, where[0])
        except OSError:
            data = b""
        if len(data) != length or zlib.crc32(data) != where[1]:
            self.damaged = True
            return None
        return data

    def read_all(self) -> Optional[bytes]:
        """The whole section in one read (the file holds every block, in order), or None."""
        if self.damaged or self._fd < 0 or not self.holds_all():
            return None
        start = self.table[0][0]
        try:
            data = os.pread(self._fd, self._size, start)
        except OSError:
            data = b""
        view = memoryview(data)
        if len(data) != self._size or any(
                zlib.crc32(view[number * BLOCK:number * BLOCK + BLOCK]) != crc
                for number, (_, crc) in self.table.items()):
            self.damaged = True
            return None
        return data


def load(key: Key) -> Optional[Blocks]:
    """The blocks the cache holds for key's section, or None (absent, stale or damaged:
    rewritten at exit). Only the table is read here."""
    try:
        fd = os.open(os.path.join(key.directory, key.name), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        table = _table(fd, key)
    except OSError:
        table = None
    if table is None:
        os.close(fd)
        return None
    return Blocks(fd, key.size, table)


def _table(fd: int, key: Key) -> Optional[dict[int, tuple[int, int]]]:
    """Block number -> (offset in the file, crc32), if the file is key's and its table intact."""
    head = os.pread(fd, HEADER.size + META.size, 0)
    if len(head) != HEADER.size + META.size:
        return None
    magic, version, count, crc = HEADER.unpack_from(head)
    if (magic, version) != (MAGIC, FORMAT_VERSION) or head[HEADER.size:] != key.meta:
        return None
    table = os.pread(fd, count * ENTRY.size, len(head))
    if len(table) != count * ENTRY.size or zlib.crc32(table, zlib.crc32(key.meta)) != crc:
        return None
    blocks, offset = {}, len(head) + len(table)
    for number, block_crc in ENTRY.iter_unpack(table):
        blocks[number] = (offset, block_crc)
        offset += block_length(number, key.size)
    return blocks


def keep(inflater: Any) -> None:
    """Remember an inflater whose knowledge is stored at exit if it knows blocks the file lacks."""
    global _registered
    _live.add(inflater)
    if not _registered:
        _registered = True
        atexit.register(store_all)


def store_all() -> None:
    """Each section whose known blocks grew past its cache file's, written (at exit); of several
    readers of one section (a file opened twice), the one that knows most."""
    best: dict[tuple[str, str], Any] = {}
    for inflater in list(_live):
        where = (inflater.cache_key.directory, inflater.cache_key.name)
        if where not in best or inflater.known > best[where].known:
            best[where] = inflater
    for inflater in best.values():
        if inflater.worth_storing() and name_index.cache_enabled():
            with inflater.view() as view:
                store(inflater.cache_key, inflater.blocks_to_store(view))


def store(key: Key, blocks: Iterable[tuple[int, Any]]) -> None:
    """Writes (block number, its bytes or a buffer) in increasing order as key's file."""
    blocks = sorted(blocks, key=lambda block: block[0])
    table = b"".join(ENTRY.pack(number, zlib.crc32(data)) for number, data in blocks)
    directory = key.directory
    tmp = os.path.join(directory, f".{key.name}.{os.getpid()}.tmp")
    try:
        os.makedirs(directory, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(HEADER.pack(MAGIC, FORMAT_VERSION, len(blocks), zlib.crc32(table, zlib.crc32(key.meta))))
            f.write(key.meta)
            f.write(table)
            for _, data in blocks:
                f.write(data)  # from where it is, not copied
        os.replace(tmp, os.path.join(directory, key.name))
    except OSError as e:
        name_index.notice(f"cannot write symbol index cache in {directory}: {e.strerror or e}; "
                          "continuing without it")
        try:
            os.unlink(tmp)
        except OSError:
            pass
