"""A unit's line-number program header and compilation directory, read straight from the
section bytes (DWARF 2-5, sections 6.2.4 and 7.5): what a unit's file names and line table
need, without pyelftools' construct parser nor the unit's abbreviation table (~2 ms a unit in
python3.11d, whose 180 units ``break FILE:LINE`` looks through). The unit DIE's attributes are
read by the first abbreviation only. Anything unusual (a form not listed, a truncated header)
returns None, and the caller asks pyelftools.
"""
from __future__ import annotations

import struct
from typing import Any, Optional

from elftools.common.exceptions import DWARFError, ELFError

from hwdbg.recordtype import record

DW_AT_stmt_list, DW_AT_comp_dir, DW_AT_str_offsets_base = 0x10, 0x1B, 0x72
DW_LNCT_path, DW_LNCT_directory_index = 1, 2
_FIXED = {0x0B: 1, 0x05: 2, 0x06: 4, 0x07: 8, 0x11: 1, 0x12: 2, 0x13: 4, 0x14: 8, 0x0C: 1, 0x1E: 16, 0x20: 8,
          0x24: 8, 0x25: 1, 0x26: 2, 0x27: 3, 0x28: 4, 0x29: 1, 0x2A: 2, 0x2B: 3, 0x2C: 4, 0x19: 0, 0x21: 0}
_OFFSET_FORMS = {0x0E, 0x17, 0x1F, 0x1D}  # strp, sec_offset, line_strp, strp_sup: one offset's size
_ULEB_FORMS = {0x0F, 0x15, 0x1A, 0x1B, 0x22, 0x23}  # udata, ref_udata, strx, addrx, loclistx, rnglistx
_BLOCK = {0x0A: 1, 0x03: 2, 0x04: 4}  # block1, block2, block4: the size of the length


class _Unusual(Exception):
    """A form or layout this reader leaves to pyelftools."""


@record(frozen=True)
class LineHeader:
    """The header fields line_program.py and the file table use (pyelftools' names in comments)."""

    version: int
    min_inst_len: int  # minimum_instruction_length
    max_ops: int  # maximum_operations_per_instruction
    default_is_stmt: int
    line_base: int
    line_range: int
    opcode_base: int
    directories: list[bytes]  # include_directory
    files: list[tuple[bytes, int]]  # file_entry: (name, dir_index)
    program_start: int  # section offsets of the program's opcodes
    program_end: int
    comp_dir: Optional[bytes]  # the unit DIE's DW_AT_comp_dir


class _Reader:
    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data, self.pos = data, pos

    def fixed(self, size: int, signed: bool = False) -> int:
        if self.pos + size > len(self.data):
            raise _Unusual("truncated")
        value = int.from_bytes(self.data[self.pos:self.pos + size], "little", signed=signed)
        self.pos += size
        return value

    def uleb(self) -> int:
        result = shift = 0
        while True:
            byte = self.data[self.pos]  # IndexError when truncated: the caller's fallback
            self.pos += 1
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result
            shift += 7

    def sleb(self) -> int:
        result = shift = 0
        while True:
            byte = self.data[self.pos]
            self.pos += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return result - (1 << shift) if byte & 0x40 else result

    def cstring(self) -> bytes:
        end = self.data.index(b"\0", self.pos)
        value = self.data[self.pos:end]
        self.pos = end + 1
        return value

    def form(self, form: int, offset_size: int, address_size: int, version: int) -> tuple[str, Any]:
        """(kind, value) of one attribute value: kind "int", "str" (inline), "strp",
        "line_strp", "strx", or "skip"."""
        if form == 0x08:
            return "str", self.cstring()
        if form in _FIXED:
            value = self.fixed(_FIXED[form])
            return ("strx" if 0x25 <= form <= 0x28 else "int"), value
        if form in _OFFSET_FORMS:
            value = self.fixed(offset_size)
            return {0x0E: "strp", 0x1F: "line_strp"}.get(form, "int"), value
        if form in _ULEB_FORMS:
            value = self.uleb()
            return ("strx" if form == 0x1A else "int"), value
        if form == 0x0D:
            return "int", self.sleb()
        if form == 0x01:
            return "int", self.fixed(address_size)
        if form == 0x10:
            return "int", self.fixed(address_size if version <= 2 else offset_size)
        if form in _BLOCK or form in (0x09, 0x18):
            size = self.fixed(_BLOCK[form]) if form in _BLOCK else self.uleb()
            self.pos += size
            return "skip", None
        raise _Unusual(f"form {form:#x}")


def _read(section: Any, offset: int, size: int) -> bytes:
    stream = section.stream
    stream.seek(offset)
    return stream.read(max(0, min(size, section.size - offset)))


def _string(section: Any, offset: int) -> bytes:
    if section is None or offset >= section.size:
        raise _Unusual("string outside its section")
    size = 256
    while True:
        data = _read(section, offset, size)
        end = data.find(b"\0")
        if end >= 0:
            return data[:end]
        if offset + size >= section.size:
            raise _Unusual("unterminated string")
        size *= 4


class _Strings:
    """Resolves a string attribute of a unit (strx needs its DW_AT_str_offsets_base)."""

    def __init__(self, dwarf: Any, offset_size: int) -> None:
        self.dwarf, self.offset_size, self.base = dwarf, offset_size, None

    def __call__(self, kind: str, value: Any) -> bytes:
        if kind == "str":
            return value
        if kind == "strp":
            return _string(self.dwarf.debug_str_sec, value)
        if kind == "line_strp":
            return _string(self.dwarf.debug_line_str_sec, value)
        if kind == "strx" and self.base is not None and self.dwarf.debug_str_offsets_sec is not None:
            at = self.base + value * self.offset_size
            return _string(self.dwarf.debug_str_sec,
                           int.from_bytes(_read(self.dwarf.debug_str_offsets_sec, at, self.offset_size), "little"))
        raise _Unusual(f"string of kind {kind}")


def read(dwarf: Any, cu_offset: int) -> Optional[LineHeader]:
    """The line header of the compile unit at ``cu_offset`` in .debug_info (pyelftools'
    DWARFInfo gives the sections), or None: no line program, or one this reader leaves alone."""
    try:
        return _header(dwarf, cu_offset)
    except (_Unusual, IndexError, ValueError, struct.error, ELFError, DWARFError):
        return None  # pyelftools reads it, or says what is wrong


def _unit_die(dwarf: Any, cu_offset: int) -> tuple[Optional[int], Optional[bytes], int]:
    """(DW_AT_stmt_list, DW_AT_comp_dir, offset size) of the unit's DIE."""
    info = _Reader(_read(dwarf.debug_info_sec, cu_offset, 1024))
    length, offset_size = info.fixed(4), 4
    if length == 0xFFFFFFFF:
        length, offset_size = info.fixed(8), 8
    version = info.fixed(2)
    if version >= 5:
        if info.fixed(1) != 1:  # DW_UT_compile only
            raise _Unusual("not a compile unit")
        address_size, abbrev_offset = info.fixed(1), info.fixed(offset_size)
    elif version >= 2:
        abbrev_offset, address_size = info.fixed(offset_size), info.fixed(1)
    else:
        raise _Unusual("DWARF version")
    code = info.uleb()
    # The unit DIE's declaration is usually the table's first; one further on is left to pyelftools.
    return _unit_attributes(dwarf, info, code, _read(dwarf.debug_abbrev_sec, abbrev_offset, 4096), offset_size,
                            address_size, version)


def _unit_attributes(dwarf: Any, info: _Reader, code: int, table: bytes, offset_size: int, address_size: int,
                     version: int) -> tuple[Optional[int], Optional[bytes], int]:
    abbrev = _Reader(table)
    while True:
        found = abbrev.uleb()
        if found == 0:
            raise _Unusual("no declaration for the unit DIE")
        abbrev.uleb()  # tag
        abbrev.pos += 1  # children
        specs = []
        while True:
            name, form = abbrev.uleb(), abbrev.uleb()
            if name == 0 and form == 0:
                break
            if form == 0x21:
                abbrev.sleb()
            specs.append((name, form))
        if found == code:
            break
    strings = _Strings(dwarf, offset_size)
    stmt_list = comp_dir = None
    for name, form in specs:
        if form == 0x16:  # DW_FORM_indirect
            form = info.uleb()
        kind, value = info.form(form, offset_size, address_size, version)
        if name == DW_AT_stmt_list and kind == "int":
            stmt_list = value
        elif name == DW_AT_comp_dir and kind != "skip":
            comp_dir = (kind, value)
        elif name == DW_AT_str_offsets_base and kind == "int":
            strings.base = value
    return stmt_list, strings(*comp_dir) if comp_dir is not None else None, offset_size


def _header(dwarf: Any, cu_offset: int) -> Optional[LineHeader]:
    if dwarf.debug_line_sec is None:
        return None
    stmt_list, comp_dir, unit_offset_size = _unit_die(dwarf, cu_offset)
    if stmt_list is None:
        return None
    line = _Reader(_read(dwarf.debug_line_sec, stmt_list, 16))
    length, offset_size = line.fixed(4), 4
    if length == 0xFFFFFFFF:
        length, offset_size = line.fixed(8), 8
    end = stmt_list + line.pos + length
    version = line.fixed(2)
    address_size = 8
    if version >= 5:
        address_size = line.fixed(1)
        line.fixed(1)  # segment selector size
    elif version < 2:
        raise _Unusual("line table version")
    header_length = line.fixed(offset_size)
    start = stmt_list + line.pos + header_length
    if not stmt_list < start <= end:
        raise _Unusual("header length")
    line = _Reader(_read(dwarf.debug_line_sec, stmt_list, start - stmt_list), line.pos)
    min_inst_len = line.fixed(1)
    max_ops = line.fixed(1) if version >= 4 else 1
    default_is_stmt, line_base, line_range, opcode_base = line.fixed(1), line.fixed(1, True), line.fixed(1), line.fixed(1)
    line.pos += max(0, opcode_base - 1)  # standard_opcode_lengths
    directories: list[bytes] = []
    files: list[tuple[bytes, int]] = []
    if version < 5:
        while line.data[line.pos]:
            directories.append(line.cstring())
        line.pos += 1
        while line.data[line.pos]:
            name = line.cstring()
            dir_index = line.uleb()
            line.uleb(), line.uleb()  # modification time, length
            files.append((name, dir_index))
    else:
        strings = _Strings(dwarf, unit_offset_size)
        for entries in (directories, files):
            formats = [(line.uleb(), line.uleb()) for _ in range(line.fixed(1))]
            for _ in range(line.uleb()):
                name, dir_index = b"", 0
                for content, form in formats:
                    kind, value = line.form(form, offset_size, address_size, version)
                    if content == DW_LNCT_path:
                        name = strings(kind, value)
                    elif content == DW_LNCT_directory_index and kind == "int":
                        dir_index = value
                entries.append(name if entries is directories else (name, dir_index))  # type: ignore[arg-type]
    return LineHeader(version, min_inst_len, max_ops, default_is_stmt, line_base, line_range, opcode_base,
                      directories, files, start, end, comp_dir)
