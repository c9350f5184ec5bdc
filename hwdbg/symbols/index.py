"""The name index of one file's DWARF: top-level variables, functions and named types,
each pointing at its DIE by offset, so a lookup decodes one unit, never the whole tree.

Built by one pass over the top-level DIEs in C (``hwdbg_dwarf_scan``), and kept on
disk keyed by build-id under ``$XDG_CACHE_HOME/hwdbg`` (like gdb's index-cache): written
to a temporary file and renamed, so two hwdbg at once never see half a file; a cache
file that is corrupt, truncated or stale is rebuilt with one notice. The symbols layer
never prints: notices and progress go to the callbacks set with ``configure``.
"""
from __future__ import annotations

import marshal
import os
import struct
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from elftools.common.exceptions import ELFError

from hwdbg.errors import HwdbgError

FORMAT_VERSION = 3  # 2: one marshal blob per table, decoded when first used; 3: thread-locals
MAGIC = b"HWDBGIX\0"
HEADER = struct.Struct("<8sIIQ")  # magic, format version, crc32 of the payload, payload length
CACHE_MIN_INFO = 256 << 10  # smaller .debug_info indexes in milliseconds: not worth a file
PROGRESS_AFTER = 1.0  # seconds of indexing before progress is shown
CHUNK = 8192  # records per call into C

TAG_VARIABLE, TAG_SUBPROGRAM = 0x34, 0x2E
# struct hwdbg_die_rec: offset, cu_offset, value, high, origin, name_off, name_sec, tag, flags
RECORD = "=QQQQQqiii"
TYPE_KEYWORDS = {0x13: "struct", 0x02: "class", 0x17: "union", 0x04: "enum", 0x16: "", 0x24: ""}
DECLARATION, STATIC_ADDRESS, PC_RANGE, THREAD_LOCAL = 1, 2, 4, 64

Ref = Any  # (cu_offset, die_offset) from the scanner, or a pyelftools DIE from the slow path


@dataclass
class NameIndex:
    """Top-level names of one unit or of all units, merged."""

    variables: dict[str, list[tuple[int, Ref]]] = field(default_factory=dict)  # name -> (addr, DIE)
    functions: dict[str, list[tuple[int, int, Ref]]] = field(default_factory=dict)  # name -> (low, high, DIE)
    types: dict[str, Ref] = field(default_factory=dict)  # 'struct x' / 'enum y' / typedef -> DIE
    tls: dict[str, list[tuple[int, Ref]]] = field(default_factory=dict)  # name -> (offset in the TLS block, DIE)

    def merge(self, other: "NameIndex") -> None:
        for name, entries in other.variables.items():
            self.variables.setdefault(name, []).extend(entries)
        for name, entries in other.functions.items():
            self.functions.setdefault(name, []).extend(entries)
        for name, die in other.types.items():
            self.types.setdefault(name, die)
        for name, entries in other.tls.items():
            self.tls.setdefault(name, []).extend(entries)


@dataclass
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
    if hasattr(stream, "getbuffer"):
        return stream.getbuffer()[: descriptor.size]
    stream.seek(0)
    return stream.read(descriptor.size)


class ScanError(Exception):
    """The scanner met a unit it cannot read (the caller falls back to the slow path)."""


def scan(dwarf, path: str, start: int = 0, end: Optional[int] = None, strings: Optional[dict] = None) -> NameIndex:
    """Index every unit of ``dwarf`` (a pyelftools DWARFInfo), or those in .debug_info
    [start, end), with the C scanner. ``strings`` keeps the string sections between calls."""
    try:
        # Imported here on purpose: the symbols layer imports without the C build, and a
        # missing build costs only speed (the slow path indexes instead).
        from hwdbg.linux.native import ffi, lib
    except HwdbgError as e:
        raise ScanError(f"{path}: {e}") from None
    try:
        info = section_bytes(dwarf.debug_info_sec)
        abbrev = section_bytes(dwarf.debug_abbrev_sec)
        str_offsets = section_bytes(dwarf.debug_str_offsets_sec)
        addr = section_bytes(dwarf.debug_addr_sec)
        if strings is not None and not strings:
            strings[1] = bytes(section_bytes(dwarf.debug_str_sec))
            strings[2] = bytes(section_bytes(dwarf.debug_line_str_sec))
    except ELFError as e:  # a compressed section that does not inflate
        raise ScanError(f"{path}: {e}") from None
    if end is not None:
        info = info[:end]
    keep = [ffi.from_buffer(b) if len(b) else ffi.NULL for b in (info, abbrev, str_offsets, addr)]
    sections = ffi.new("struct hwdbg_dwarf_sections *")
    sections.info, sections.info_len = keep[0], len(info)
    sections.abbrev, sections.abbrev_len = keep[1], len(abbrev)
    sections.str_offsets, sections.str_offsets_len = keep[2], len(str_offsets)
    sections.addr, sections.addr_len = keep[3], len(addr)
    if strings is None:
        strings = {1: bytes(section_bytes(dwarf.debug_str_sec)), 2: bytes(section_bytes(dwarf.debug_line_str_sec))}
    offset = ffi.new("unsigned long long *", start)
    size = CHUNK
    out = ffi.new("struct hwdbg_die_rec[]", size)
    rec_size = ffi.sizeof("struct hwdbg_die_rec")
    layout = struct.Struct(RECORD + "x" * (rec_size - struct.calcsize(RECORD)))
    records: list[tuple] = []
    started = time.monotonic()
    shown = False
    while offset[0] < len(info):
        count = lib.hwdbg_dwarf_scan(sections, offset, out, size)
        if count < 0:
            raise ScanError(f"{path}: unreadable DWARF unit at .debug_info+{offset[0]:#x}")
        if count == 0 and offset[0] < len(info):
            if offset[0] + 11 > len(info):
                break
            size *= 4  # one unit has more top-level DIEs than the buffer holds
            out = ffi.new("struct hwdbg_die_rec[]", size)
            continue
        # Unpacked in bulk: reading cdata fields one by one costs more than the scan in C.
        records += layout.iter_unpack(ffi.buffer(out, count * rec_size))
        if OPTIONS.progress is not None and (shown or time.monotonic() - started > PROGRESS_AFTER):
            shown = True
            OPTIONS.progress(path, (offset[0] - start) / max(len(info) - start, 1))
    if shown:
        OPTIONS.progress(path, 1.0)
    del keep
    return _from_records(records, [info, strings[1], strings[2]])


def _from_records(records: list[tuple], sections: list[bytes]) -> NameIndex:
    """The index from the scanner's records (offset, cu_offset, value, high, origin, name_off,
    name_sec, tag, flags); names are read from ``sections`` (.debug_info, .debug_str, .debug_line_str;
    the first may be a memoryview: only DW_FORM_string names are read from it)."""
    # Each distinct name is decoded once (a type's name recurs in every unit that uses it),
    # keyed by offset * 4 + section.
    decoded: dict[int, str] = {}
    for key in {rec[5] * 4 + rec[6] for rec in records if rec[5] >= 0}:
        off, sec = divmod(key, 4)
        data = sections[sec]
        if sec == 0:  # an inline string, read in place
            data, off = bytes(data[off:off + 4096]), 0
        if off < len(data):
            end = data.find(b"\0", off)
            decoded[key] = data[off:end if end >= 0 else len(data)].decode("utf-8", errors="replace")
    by_offset: Optional[dict[int, tuple[int, int]]] = None

    def inherited_name(origin: int) -> Optional[str]:
        nonlocal by_offset
        if by_offset is None:
            by_offset = {rec[0]: (rec[5] * 4 + rec[6] if rec[5] >= 0 else -1, rec[4]) for rec in records}
        name, seen = None, 0
        while name is None and origin and seen < 8:
            key, origin = by_offset.get(origin, (-1, 0))
            name = decoded.get(key)
            seen += 1
        return name

    index = NameIndex()
    variables, tls, functions, types = index.variables, index.tls, index.functions, index.types
    get = decoded.get
    for offset, cu_offset, value, high, origin, name_off, name_sec, tag, flags in records:
        name = get(name_off * 4 + name_sec) if name_off >= 0 else None
        if tag == TAG_VARIABLE:
            if flags & (STATIC_ADDRESS | THREAD_LOCAL):
                if name is None:
                    name = inherited_name(origin)
                if name is not None:
                    table = variables if flags & STATIC_ADDRESS else tls
                    table.setdefault(name, []).append((value, (cu_offset, offset)))
        elif tag == TAG_SUBPROGRAM:
            if flags & PC_RANGE:
                if name is None:
                    name = inherited_name(origin)
                if name is not None:
                    functions.setdefault(name, []).append((value, high, (cu_offset, offset)))
        elif name is not None and not flags & DECLARATION:
            keyword = TYPE_KEYWORDS[tag]
            types.setdefault(f"{keyword} {name}" if keyword else name, (cu_offset, offset))
    return index


# -- the cache ------------------------------------------------------------


def _cache_path(build_id: str) -> str:
    return os.path.join(cache_dir(), f"{build_id}.index")


TABLES = ("variables", "functions", "types", "tls")


class _CachedIndex(NameIndex):
    """An index read from the cache: each table is unmarshalled when first used (a variable's
    lookup never decodes the functions and types of 100,000 units)."""

    def __init__(self, blobs: dict[str, bytes]) -> None:  # noqa: super().__init__ would fill the tables
        self._blobs = blobs

    def __getattr__(self, name: str):  # only for attributes not set yet: the tables
        blob = self.__dict__.get("_blobs", {}).pop(name, None)
        if blob is None:
            raise AttributeError(name)
        table = marshal.loads(blob)
        setattr(self, name, table)
        return table


def _encode(index: NameIndex, build_id: str, info_size: int) -> bytes:
    payload = marshal.dumps((build_id, info_size, *(marshal.dumps(getattr(index, t)) for t in TABLES)))
    return HEADER.pack(MAGIC, FORMAT_VERSION, zlib.crc32(payload), len(payload)) + payload


def _decode(data: bytes, build_id: str, info_size: int) -> Optional[NameIndex]:
    """The index in ``data``, or None (with the reason as a notice) when it cannot be trusted."""
    if len(data) < HEADER.size:
        raise ValueError("truncated")
    magic, version, crc, length = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise ValueError("not an hwdbg index")
    if version != FORMAT_VERSION:
        raise ValueError(f"format {version}, expected {FORMAT_VERSION}")
    payload = data[HEADER.size:]
    if len(payload) != length:
        raise ValueError("truncated")
    if zlib.crc32(payload) != crc:
        raise ValueError("checksum mismatch")
    stored_id, stored_size, *blobs = marshal.loads(payload)
    if stored_id != build_id or stored_size != info_size:
        raise ValueError("stale (made for other debug info)")
    if len(blobs) != len(TABLES) or not all(isinstance(b, bytes) for b in blobs):
        raise ValueError("not an hwdbg index")
    return _CachedIndex(dict(zip(TABLES, blobs)))


def load_cached(build_id: Optional[str], info_size: int) -> Optional[NameIndex]:
    if not build_id or not cache_enabled():
        return None
    path = _cache_path(build_id)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except (FileNotFoundError, NotADirectoryError):
        return None  # not cached yet (an unusable directory is reported when writing)
    except OSError as e:
        notice(f"cannot read symbol index cache {path}: {e.strerror}; indexing without it")
        return None
    try:
        return _decode(data, build_id, info_size)
    except (ValueError, EOFError, TypeError, struct.error) as e:
        notice(f"symbol index cache {path} is unusable ({e}); rebuilding it")
        return None


def store(index: NameIndex, build_id: Optional[str], info_size: int) -> None:
    """Write the index atomically (temp file + rename); a failure is one notice, never an error."""
    if not build_id or not cache_enabled() or info_size < CACHE_MIN_INFO:
        return
    directory = cache_dir()
    tmp = None
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{build_id}.", suffix=".tmp", dir=directory)
        with os.fdopen(fd, "wb") as f:
            f.write(_encode(index, build_id, info_size))
        os.replace(tmp, _cache_path(build_id))
        tmp = None
    except OSError as e:
        notice(f"cannot write symbol index cache in {directory}: {e.strerror or e}; continuing without it")
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
