"""The name index of one file's DWARF: top-level variables, functions and named types,
each pointing at its DIE by offset, so a lookup decodes one unit, never the whole tree.

Built by one pass over the top-level DIEs in C (``hwdbg_dwarf_scan``), and kept on
disk keyed by build-id under ``$XDG_CACHE_HOME/hwdbg`` (like gdb's index-cache): written
to a temporary file and renamed, so two hwdbg at once never see half a file; a cache
file that is corrupt, truncated or stale is rebuilt with one notice. The symbols layer
never prints: notices and progress go to the callbacks set with ``configure``.
"""
from __future__ import annotations

import os
import struct
import time
import zlib
from dataclasses import field
from typing import Any, Callable, Optional

from elftools.common.exceptions import ELFError

from hwdbg.errors import HwdbgError
from hwdbg.recordtype import record
from hwdbg.symbols.packed_index import ENTRY, PackedIndex

FORMAT_VERSION = 4  # 2: one marshal blob per table; 3: thread-locals; 4: the packed entries and names, read in place
# Each kind of cached index (a file suffix) with its format: "inlines" are symbols/inlines.py's
# copies of functions (1: inlined and out-of-line copies, named by linkage name).
KINDS = {"index": FORMAT_VERSION, "inlines": 1}
MAGIC = b"HWDBGIX\0"
HEADER = struct.Struct("<8sIIQ")  # magic, format version, crc32 of the payload, payload length
CACHE_MIN_INFO = 256 << 10  # smaller .debug_info indexes in milliseconds: not worth a file
PROGRESS_AFTER = 1.0  # seconds of indexing before progress is shown
CHUNK = 8192  # records per call into C

META = struct.Struct("<HQQQ")  # build-id length, .debug_info size, entries length, names length

Ref = Any  # (cu_offset, die_offset) from the scanner, or a pyelftools DIE from the slow path


@record
class NameIndex:
    """Top-level names of one unit or of all units, merged."""

    variables: dict[str, list[tuple[int, Ref]]] = field(default_factory=dict)  # name -> (addr, DIE)
    functions: dict[str, list[tuple[int, int, Ref]]] = field(default_factory=dict)  # name -> (low, high, DIE)
    types: dict[str, Ref] = field(default_factory=dict)  # 'struct x' / 'enum y' / typedef -> DIE
    tls: dict[str, list[tuple[int, Ref]]] = field(default_factory=dict)  # name -> (offset in the TLS block, DIE)
    # name -> (entry, end, DIE) of each copy of an inlined function (end 0: an inlined copy; else
    # an out-of-line one made from the abstract instance): symbols/inlines.py
    inlines: dict[str, list[tuple[int, int, Ref]]] = field(default_factory=dict)

    def merge(self, other: "NameIndex") -> None:
        for name, entries in other.variables.items():
            self.variables.setdefault(name, []).extend(entries)
        for name, entries in other.functions.items():
            self.functions.setdefault(name, []).extend(entries)
        for name, die in other.types.items():
            self.types.setdefault(name, die)
        for name, entries in other.tls.items():
            self.tls.setdefault(name, []).extend(entries)
        for name, entries in other.inlines.items():
            self.inlines.setdefault(name, []).extend(entries)

    def unpacked(self) -> "NameIndex":
        return self


@record
class Options:
    """How indexes are cached and reported; set once by the front end with ``configure``."""

    cache: bool = True
    cache_dir: Optional[str] = None
    notice: Optional[Callable[[str], None]] = None  # one line for the user
    progress: Optional[Callable[[str, float], None]] = None  # (file, fraction done 0..1)
    warned: set = field(default_factory=set)


OPTIONS = Options()


def configure(*, cache: Optional[bool] = None, cache_dir: Optional[str] = None,
              notice: Optional[Callable[[str], None]] = None,
              progress: Optional[Callable[[str, float], None]] = None) -> None:
    """Set the index cache and the reporting callbacks (None leaves a setting as it is)."""
    if cache is not None:
        OPTIONS.cache = cache
    if cache_dir is not None:
        OPTIONS.cache_dir = cache_dir
    if notice is not None:
        OPTIONS.notice = notice
    if progress is not None:
        OPTIONS.progress = progress


def notice(message: str) -> None:
    if message not in OPTIONS.warned:
        OPTIONS.warned.add(message)
        if OPTIONS.notice is not None:
            OPTIONS.notice(message)


def cache_enabled() -> bool:
    return OPTIONS.cache and os.environ.get("HWDBG_NO_INDEX_CACHE", "") in ("", "0")


def cache_dir() -> str:
    if OPTIONS.cache_dir:
        return OPTIONS.cache_dir
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "hwdbg")


# -- building -------------------------------------------------------------


def section_bytes(descriptor) -> bytes:
    if descriptor is None:
        return b""
    stream = descriptor.stream
    if hasattr(stream, "whole"):  # a LazySection (symbols/sections.py): not copied
        return stream.whole()[: descriptor.size]
    if hasattr(stream, "getbuffer"):
        return stream.getbuffer()[: descriptor.size]
    stream.seek(0)
    return stream.read(descriptor.size)


def _section_span(descriptor, start: int, end: int) -> bytes:
    """Bytes [start, end) of a section."""
    if descriptor is None:
        return b""
    end = min(end, descriptor.size)
    if hasattr(descriptor.stream, "span"):  # a LazySection (symbols/sections.py)
        return descriptor.stream.span(start, end)
    descriptor.stream.seek(start)
    return descriptor.stream.read(end - start)


class ScanError(Exception):
    """The scanner met a unit it cannot read (the caller falls back to the slow path)."""


def scan(dwarf, path: str, start: int = 0, end: Optional[int] = None, strings: Optional[dict] = None,
         inlines: bool = False) -> PackedIndex:
    """Index every unit of ``dwarf`` (a pyelftools DWARFInfo), or those in .debug_info
    [start, end), with the C scanner. ``strings`` keeps the string sections between calls.
    With ``inlines``, every DIE is read and the index has the inlined copies of functions
    only (its ``inlines`` table: symbols/inlines.py)."""
    try:
        # Imported here on purpose: the symbols layer imports without the C build, and a
        # missing build costs only speed (the slow path indexes instead).
        from hwdbg.linux.native import ffi, lib
    except HwdbgError as e:
        raise ScanError(f"{path}: {e}") from None
    try:
        # One unit's scan reads that unit's bytes alone (of a compressed section, the cached
        # blocks they lie in, or inflated no further than its end).
        base = 0 if end is None else start
        info = section_bytes(dwarf.debug_info_sec) if end is None else _section_span(dwarf.debug_info_sec, start, end)
        abbrev = section_bytes(dwarf.debug_abbrev_sec)
        str_offsets = section_bytes(dwarf.debug_str_offsets_sec)
        addr = section_bytes(dwarf.debug_addr_sec)
        ranges = section_bytes(dwarf.debug_ranges_sec) if inlines else b""
        rnglists = section_bytes(dwarf.debug_rnglists_sec) if inlines else b""
        if strings is not None and not strings:
            strings[1] = bytes(section_bytes(dwarf.debug_str_sec))
            strings[2] = bytes(section_bytes(dwarf.debug_line_str_sec))
    except ELFError as e:  # a compressed section that does not inflate
        raise ScanError(f"{path}: {e}") from None
    keep = [ffi.from_buffer(b) if len(b) else ffi.NULL for b in (info, abbrev, str_offsets, addr, ranges, rnglists)]
    sections = ffi.new("struct hwdbg_dwarf_sections *")
    sections.info, sections.info_len = keep[0], len(info)
    sections.abbrev, sections.abbrev_len = keep[1], len(abbrev)
    sections.str_offsets, sections.str_offsets_len = keep[2], len(str_offsets)
    sections.addr, sections.addr_len = keep[3], len(addr)
    sections.ranges, sections.ranges_len = keep[4], len(ranges)
    sections.rnglists, sections.rnglists_len = keep[5], len(rnglists)
    sections.info_base = base
    scanner = lib.hwdbg_inline_scan if inlines else lib.hwdbg_dwarf_scan
    if strings is None:
        strings = {1: bytes(section_bytes(dwarf.debug_str_sec)), 2: bytes(section_bytes(dwarf.debug_line_str_sec))}
    offset = ffi.new("unsigned long long *", start)
    size = CHUNK
    out = ffi.new("struct hwdbg_die_rec[]", size)
    rec_size = ffi.sizeof("struct hwdbg_die_rec")
    chunks: list[bytes] = []
    started = time.monotonic()
    shown = False
    limit = base + len(info)
    while offset[0] < limit:
        count = scanner(sections, offset, out, size)
        if count < 0:
            raise ScanError(f"{path}: unreadable DWARF unit at .debug_info+{offset[0]:#x}")
        if count == 0 and offset[0] < limit:
            if offset[0] + 11 > limit:
                break
            size *= 4  # one unit has more top-level DIEs than the buffer holds
            out = ffi.new("struct hwdbg_die_rec[]", size)
            continue
        chunks.append(ffi.buffer(out, count * rec_size)[:])
        if OPTIONS.progress is not None and (shown or time.monotonic() - started > PROGRESS_AFTER):
            shown = True
            OPTIONS.progress(path, (offset[0] - start) / max(limit - start, 1))
    if shown:
        OPTIONS.progress(path, 1.0)
    index = _pack(ffi, lib, b"".join(chunks), rec_size, info, strings[1], strings[2])
    del keep
    return index


def _pack(ffi, lib, records: bytes, rec_size: int, info, debug_str: bytes, line_str: bytes) -> PackedIndex:
    """The packed index of the scanner's records (cext/dwarfindex.c): names resolved through
    DW_AT_specification/abstract_origin, sorted, copied into one blob."""
    count = len(records) // rec_size
    recs = ffi.from_buffer("struct hwdbg_die_rec[]", records)
    sections = [ffi.from_buffer(b) if len(b) else ffi.NULL for b in (info, debug_str, line_str)]
    out = ffi.new("struct hwdbg_index_entry[]", max(count, 1))
    used = ffi.new("size_t *")
    capacity = 32 * count + 64
    while True:
        keys = ffi.new("unsigned char[]", capacity)
        kept = lib.hwdbg_index_pack(recs, count, sections[0], len(info), sections[1], len(debug_str),
                                    sections[2], len(line_str), out, keys, capacity, used)
        if kept != -2:
            break
        capacity = used[0]
    if kept < 0:
        raise ScanError("out of memory packing the name index")
    return PackedIndex(ffi.buffer(out, kept * ENTRY.size)[:], ffi.buffer(keys, used[0])[:])


# -- the cache ------------------------------------------------------------


def _cache_path(build_id: str, kind: str) -> str:
    return os.path.join(cache_dir(), f"{build_id}.{kind}")


def _encode(index: PackedIndex, build_id: str, info_size: int, version: int = FORMAT_VERSION) -> bytes:
    ident = build_id.encode()
    payload = b"".join((META.pack(len(ident), info_size, len(index.entries), len(index.keys)), ident,
                        index.entries, index.keys))
    return HEADER.pack(MAGIC, version, zlib.crc32(payload), len(payload)) + payload


def _decode(data: bytes, build_id: str, info_size: int, expected: int = FORMAT_VERSION) -> PackedIndex:
    """The index in ``data``; ValueError (the reason) when it cannot be trusted."""
    if len(data) < HEADER.size:
        raise ValueError("truncated")
    magic, version, crc, length = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise ValueError("not an hwdbg index")
    if version != expected:
        raise ValueError(f"format {version}, expected {expected}")
    payload = memoryview(data)[HEADER.size:]
    if len(payload) != length or len(payload) < META.size:
        raise ValueError("truncated")
    if zlib.crc32(payload) != crc:
        raise ValueError("checksum mismatch")
    id_len, stored_size, entries_len, keys_len = META.unpack_from(payload)
    start = META.size + id_len
    if start + entries_len + keys_len != len(payload) or entries_len % ENTRY.size:
        raise ValueError("not an hwdbg index")
    if bytes(payload[META.size:start]) != build_id.encode() or stored_size != info_size:
        raise ValueError("stale (made for other debug info)")
    return PackedIndex(payload[start:start + entries_len], payload[start + entries_len:])


def load_cached(build_id: Optional[str], info_size: int, kind: str = "index") -> Optional[PackedIndex]:
    """The index of ``kind`` ('index': names; 'inlines': inlined copies) cached for the file."""
    if not build_id or not cache_enabled():
        return None
    path = _cache_path(build_id, kind)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except (FileNotFoundError, NotADirectoryError):
        return None  # not cached yet (an unusable directory is reported when writing)
    except OSError as e:
        notice(f"cannot read symbol index cache {path}: {e.strerror}; indexing without it")
        return None
    try:
        return _decode(data, build_id, info_size, KINDS[kind])
    except (ValueError, struct.error) as e:
        notice(f"symbol index cache {path} is unusable ({e}); rebuilding it")
        return None


def store(index: Any, build_id: Optional[str], info_size: int, kind: str = "index") -> None:
    """Write the index atomically (temp file + rename); a failure is one notice, never an error."""
    if not build_id or not cache_enabled() or info_size < CACHE_MIN_INFO or not isinstance(index, PackedIndex):
        return
    import tempfile  # here: a warm start only reads the cache

    directory = cache_dir()
    tmp = None
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{build_id}.", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "wb") as f:
            f.write(_encode(index, build_id, info_size, KINDS[kind]))
        os.replace(tmp, _cache_path(build_id, kind))
        tmp = None
    except OSError as e:
        notice(f"cannot write symbol index cache in {directory}: {e.strerror or e}; continuing without it")
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
