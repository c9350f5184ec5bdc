"""The inflated start of a compressed debug section, kept in the index cache.

A pc in libc's compressed debug file costs inflating its sections up to that pc's unit
(5.8 MB: about 30 ms) at every start; reading the same bytes back from the cache costs a
tenth of that. Kept only for sections of a file with a build-id, keyed by the file's
identity too (inode, size, mtime: a rewritten or corrupted copy is a miss), checksummed,
written at exit atomically (temp file + rename) as the index is; a file that cannot be
trusted is ignored and rewritten, a directory that cannot be written is one notice.
"""
from __future__ import annotations

import atexit
import os
import struct
import weakref
import zlib
from typing import Any, Optional

from hwdbg.symbols import index as name_index

FORMAT_VERSION = 1
MAGIC = b"HWDBGZ\0\0"
HEADER = struct.Struct("<8sIIQ")  # magic, format version, crc32 of the bytes, their length
META = struct.Struct("<QQqQQQ")  # file inode, size, mtime (ns), section offset, compressed and inflated size
MIN_BYTES = 256 << 10  # a shorter start inflates in about a millisecond: not worth a file

_live: "weakref.WeakSet[Any]" = weakref.WeakSet()  # inflaters whose start may be worth keeping
_registered = False


class Key:
    """What identifies one section's inflated bytes: the file and the section."""

    def __init__(self, build_id: str, stat: os.stat_result, section: Any, size: int) -> None:
        self.directory = name_index.cache_dir()
        self.name = f"{build_id}{section.name}.inflated"  # e.g. 93ac....debug_info.inflated
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


def load(key: Key) -> bytes:
    """The cached start of the section, or b"" (absent, stale or damaged: rewritten at exit).

    The bytes are read into an object of their own, which a BytesIO then shares: libc's
    3 MB are not copied after the read."""
    try:
        with open(os.path.join(key.directory, key.name), "rb") as f:
            head = f.read(HEADER.size + META.size)
            data = f.read()
    except OSError:
        return b""
    if len(head) < HEADER.size + META.size:
        return b""
    magic, version, crc, length = HEADER.unpack_from(head)
    meta = head[HEADER.size:]
    if (magic, version) != (MAGIC, FORMAT_VERSION) or META.size + len(data) != length:
        return b""
    if meta != key.meta or zlib.crc32(data, zlib.crc32(meta)) != crc:
        return b""
    return data


def keep(inflater: Any) -> None:
    """Remember an inflater whose bytes are stored at exit if it went beyond its cached start."""
    global _registered
    _live.add(inflater)
    if not _registered:
        _registered = True
        atexit.register(store_all)


def store_all() -> None:
    """Each section's start that grew past its cached one, written (at exit); of several
    readers of one section (a file opened twice), the one that got furthest."""
    longest: dict[tuple[str, str], Any] = {}
    for inflater in list(_live):
        where = (inflater.cache_key.directory, inflater.cache_key.name)
        if where not in longest or inflater.known > longest[where].known:
            longest[where] = inflater
    for inflater in longest.values():
        if inflater.known > max(inflater.stored, MIN_BYTES - 1) and name_index.cache_enabled():
            with inflater.start() as start:
                store(inflater.cache_key, start)


def store(key: Key, data: Any) -> None:
    """Writes ``data`` (bytes or a buffer: written from where it is, not copied) as key's file."""
    crc = zlib.crc32(data, zlib.crc32(key.meta))
    directory = key.directory
    tmp = os.path.join(directory, f".{key.name}.{os.getpid()}.tmp")
    try:
        os.makedirs(directory, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(HEADER.pack(MAGIC, FORMAT_VERSION, crc, META.size + len(data)) + key.meta)
            f.write(data)
        os.replace(tmp, os.path.join(directory, key.name))
    except OSError as e:
        name_index.notice(f"cannot write symbol index cache in {directory}: {e.strerror or e}; "
                          "continuing without it")
        try:
            os.unlink(tmp)
        except OSError:
            pass
