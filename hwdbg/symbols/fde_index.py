"""Which FDE (call-frame description) covers a pc, in one ELF file, decoding only that FDE.

``.eh_frame_hdr`` holds a table of (function start, FDE address) sorted by start, made by the
linker for exactly this (libgcc's unwinder and gdb use it): a bisection in it and one FDE parse
answer a lookup, where parsing every FDE of libc costs seconds. Code the table does not cover
(``.debug_frame`` only, or a file without the header) falls back to parsing the section whole,
once, and then only when a pc is not found through the table.
"""
from __future__ import annotations

import bisect
import io
import struct
from typing import Any, Optional

from elftools.dwarf.callframe import FDE, CallFrameInfo
from elftools.dwarf.dwarf_expr import DWARFExprParser
from elftools.dwarf.structs import DWARFStructs

# DW_EH_PE_* pointer encodings (LSB "Linux Standard Base Core", Exception Frames):
# the table needs a fixed size per entry, relative to the start of .eh_frame_hdr.
_DATAREL = 0x30
_TABLE_FORMATS = {0x02: "<H", 0x03: "<I", 0x04: "<Q", 0x0A: "<h", 0x0B: "<i", 0x0C: "<q"}
_OMIT = 0xFF


def _header_table(hdr_data: bytes, hdr_addr: int) -> Optional[tuple[int, tuple[int, ...], tuple[int, ...]]]:
    """(the table's base, function starts, FDE addresses) of a .eh_frame_hdr, the starts and
    addresses relative to the base, or None when it has no searchable table (a version or
    encoding we do not read: the caller parses instead)."""
    if len(hdr_data) < 4 or hdr_data[0] != 1:
        return None
    ptr_enc, count_enc, table_enc = hdr_data[1], hdr_data[2], hdr_data[3]
    pos = 4
    if ptr_enc != _OMIT:  # eh_frame_ptr: its size is that of its format
        fmt = _TABLE_FORMATS.get(ptr_enc & 0x0F)
        if fmt is None:
            return None
        pos += struct.calcsize(fmt)
    count_fmt = _TABLE_FORMATS.get(count_enc & 0x0F)
    table_fmt = _TABLE_FORMATS.get(table_enc & 0x0F)
    if count_enc == _OMIT or count_fmt is None or table_fmt is None or table_enc & 0x70 != _DATAREL:
        return None
    (count,) = struct.unpack_from(count_fmt, hdr_data, pos)
    pos += struct.calcsize(count_fmt)
    size = struct.calcsize(table_fmt)
    if count <= 0 or pos + count * 2 * size > len(hdr_data):
        return None
    values = struct.unpack_from("<" + table_fmt[1] * (2 * count), hdr_data, pos)
    starts, fdes = values[0::2], values[1::2]  # relative to hdr_addr: a tuple slice, not a loop per entry
    if starts != tuple(sorted(starts)):
        return None  # not sorted: not a table to bisect
    return hdr_addr, starts, fdes


class FdeIndex:
    """The FDEs of one ELF file by pc (link-time), each parsed when a lookup first needs it."""

    def __init__(self, image: Any) -> None:
        """image: an ElfImage (its sections read by the headers hwdbg reads, no ELFFile made)."""
        # The CFI sections alone: get_dwarf_info() would also copy all of .debug_info.
        self._structs = DWARFStructs(little_endian=image.little_endian, dwarf_format=32,
                                     address_size=image.elfclass // 8)
        self.expr_parser = DWARFExprParser(self._structs)
        # Their bytes are read now and the file is not kept: an index outlives its image only
        # as long as the weak-keyed cache entry, and must not keep the file open after it.
        self._sections: dict[str, tuple[bytes, int]] = {}
        for name in (".eh_frame_hdr", ".eh_frame", ".debug_frame"):
            try:
                found = image.section_data(name)
                if found is not None:
                    self._sections[name] = found
            except Exception:  # pyelftools raises many types on odd sections: that one is not used
                continue
        self._eh_frame: Optional[CallFrameInfo] = None
        self._eh_frame_addr = 0
        self._table: Optional[tuple[int, tuple[int, ...], tuple[int, ...]]] = None
        self._parsed: Optional[tuple[list[int], list[FDE]]] = None  # the whole-section fallback
        self._open_eh_frame()

    def _cfi(self, name: str, for_eh_frame: bool) -> Optional[CallFrameInfo]:
        if name not in self._sections:
            return None
        data, addr = self._sections[name]
        return CallFrameInfo(io.BytesIO(data), len(data), addr, self._structs, for_eh_frame)

    def _open_eh_frame(self) -> None:
        if ".eh_frame_hdr" not in self._sections or ".eh_frame" not in self._sections:
            return
        try:
            self._table = _header_table(*self._sections[".eh_frame_hdr"])
            if self._table is not None:
                self._eh_frame = self._cfi(".eh_frame", True)
                self._eh_frame_addr = self._sections[".eh_frame"][1]
        except Exception:  # pyelftools raises many types on odd sections: parse them whole instead
            self._table = None

    def _from_table(self, link_pc: int) -> Optional[FDE]:
        if self._table is None or self._eh_frame is None:
            return None
        base, starts, addresses = self._table
        i = bisect.bisect_right(starts, link_pc - base) - 1
        if i < 0:
            return None
        try:
            # pyelftools parses one entry (and its CIE) at an offset, and caches it.
            fde = self._eh_frame._parse_entry_at(base + addresses[i] - self._eh_frame_addr)
        except Exception:
            return None
        if isinstance(fde, FDE) and fde["initial_location"] <= link_pc < fde["initial_location"] + fde["address_range"]:
            return fde
        return None

    def _whole(self) -> tuple[list[int], list[FDE]]:
        """Every FDE of the CFI sections the table does not cover, sorted by start."""
        if self._parsed is None:
            fdes: list[FDE] = []
            sections = [(".debug_frame", False)] + ([] if self._table is not None else [(".eh_frame", True)])
            for name, for_eh_frame in sections:
                try:
                    cfi = self._cfi(name, for_eh_frame)
                    if cfi is not None:
                        fdes += [e for e in cfi.get_entries() if isinstance(e, FDE) and e["address_range"] > 0]
                except Exception:  # pyelftools raises many types on odd CFI: that section is not used
                    continue
            fdes.sort(key=lambda e: e["initial_location"])
            self._parsed = ([e["initial_location"] for e in fdes], fdes)
        return self._parsed

    def covering(self, link_pc: int) -> Optional[FDE]:
        fde = self._from_table(link_pc)
        if fde is not None:
            return fde
        starts, fdes = self._whole()
        i = bisect.bisect_right(starts, link_pc) - 1
        if i >= 0 and link_pc < starts[i] + fdes[i]["address_range"]:
            return fdes[i]
        return None

    def all_fdes(self) -> list[FDE]:
        """Every FDE of the file (a full parse: for tests and tools, never on a lookup)."""
        fdes = list(self._whole()[1])
        if self._table is not None:
            base, starts, _ = self._table
            for start in starts:
                fde = self._from_table(base + start)
                if fde is not None:
                    fdes.append(fde)
        return fdes
