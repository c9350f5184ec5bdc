"""The section and program headers of an ELF file, read with ``struct``.

pyelftools makes an object per section to find one by name, and some of those objects
parse their contents as they are made (the dynamic section, the hash tables): about 3 ms
per file, for each of the dozen files a process maps, at every attach. The layout queries
of ``ElfImage`` (load segments, TLS, build-id, which debug sections exist) need only the
headers, read here in one go; pyelftools still serves everything else.
"""
from __future__ import annotations

import struct
from typing import NamedTuple, Optional

SHT_NOBITS, SHT_NOTE = 8, 7
SHF_COMPRESSED = 0x800
PT_LOAD, PT_DYNAMIC, PT_TLS = 1, 2, 7
NT_GNU_BUILD_ID = 3


class SectionHeader(NamedTuple):
    index: int
    name: str
    type: int
    flags: int
    addr: int
    offset: int
    size: int
    link: int


class Segment(NamedTuple):
    type: int
    offset: int
    vaddr: int
    filesz: int
    memsz: int
    align: int


class FileHeader(NamedTuple):
    """The ELF header's fields hwdbg reads (e_ident's class and byte order among them)."""

    little_endian: bool
    elfclass: int  # 32 or 64
    e_type: int
    e_machine: int
    e_entry: int
    e_phoff: int
    e_shoff: int
    e_phentsize: int
    e_phnum: int
    e_shentsize: int
    e_shnum: int
    e_shstrndx: int


ET_REL, ET_DYN = 1, 3
_EHDR = {64: "HHIQQQIHHHHHH", 32: "HHIIIIIHHHHHH"}  # e_type .. e_shstrndx, after the 16 bytes of e_ident


def file_header(stream) -> Optional[FileHeader]:
    """The ELF header of the file open as ``stream``, or None if it is not an ELF file."""
    stream.seek(0)
    data = stream.read(64)
    if len(data) < 16 or data[:4] != b"\x7fELF" or data[4] not in (1, 2) or data[5] not in (1, 2):
        return None
    elfclass, order = (32, 64)[data[4] - 1], "<" if data[5] == 1 else ">"
    layout = struct.Struct(order + _EHDR[elfclass])
    if len(data) < 16 + layout.size:
        return None
    e_type, machine, _, entry, phoff, shoff, _, _, phentsize, phnum, shentsize, shnum, shstrndx = \
        layout.unpack_from(data, 16)
    return FileHeader(order == "<", elfclass, e_type, machine, entry, phoff, shoff, phentsize, phnum, shentsize, shnum,
                      shstrndx)


class Headers:
    """Every section header (by name) and every program header."""

    def __init__(self, header: FileHeader, stream) -> None:
        order = "<" if header.little_endian else ">"
        wide = header.elfclass == 64
        self.segments: list[Segment] = []
        phdr = struct.Struct(order + ("IIQQQQQQ" if wide else "IIIIIIII"))
        for i in range(header.e_phnum):
            stream.seek(header.e_phoff + i * header.e_phentsize)
            fields = phdr.unpack(stream.read(phdr.size))
            if wide:  # type, flags, offset, vaddr, paddr, filesz, memsz, align
                p_type, _, offset, vaddr, _, filesz, memsz, align = fields
            else:  # type, offset, vaddr, paddr, filesz, memsz, flags, align
                p_type, offset, vaddr, _, filesz, memsz, _, align = fields
            self.segments.append(Segment(p_type, offset, vaddr, filesz, memsz, align))
        self.sections: dict[str, SectionHeader] = {}
        self.by_index: list[SectionHeader] = []
        self.complete = False
        count, table = header.e_shnum, header.e_shoff
        if not count or not table:
            return  # none, or more than 0xff00 (extended numbering): pyelftools' answers are used
        shdr = struct.Struct(order + ("IIQQQQIIQQ" if wide else "IIIIIIIIII"))
        stream.seek(table)
        data = stream.read(count * header.e_shentsize)
        rows = [shdr.unpack_from(data, i * header.e_shentsize) for i in range(count)
                if (i + 1) * header.e_shentsize <= len(data)]
        strndx = header.e_shstrndx
        if strndx >= len(rows):
            return
        _, _, _, _, str_offset, str_size, *_ = rows[strndx]
        stream.seek(str_offset)
        names = stream.read(str_size)
        for index, (name_off, sh_type, flags, addr, offset, size, link, *_) in enumerate(rows):
            end = names.find(b"\0", name_off)
            name = names[name_off:end if end >= 0 else len(names)].decode(errors="replace")
            self.by_index.append(SectionHeader(index, name, sh_type, flags, addr, offset, size, link))
            self.sections[name] = self.by_index[-1]  # of two of one name, the last, as pyelftools
        self.complete = len(rows) == count  # every header read: the name map below is pyelftools' own

    def section(self, name: str) -> Optional[SectionHeader]:
        return self.sections.get(name)


def read_section(stream, section: SectionHeader) -> bytes:
    """The file bytes of a section (not decompressed; b"" for SHT_NOBITS)."""
    if section.type == SHT_NOBITS:
        return b""
    stream.seek(section.offset)
    return stream.read(section.size)


def build_id(stream, headers: Headers, little_endian: bool) -> Optional[str]:
    """The GNU build-id note (hex), from the note sections."""
    order = "<" if little_endian else ">"
    for section in headers.sections.values():
        if section.type != SHT_NOTE:
            continue
        data = read_section(stream, section)
        pos = 0
        while pos + 12 <= len(data):
            namesz, descsz, n_type = struct.unpack_from(order + "III", data, pos)
            pos += 12
            name = data[pos:pos + namesz]
            pos += (namesz + 3) & ~3
            desc = data[pos:pos + descsz]
            pos += (descsz + 3) & ~3
            if n_type == NT_GNU_BUILD_ID and name.rstrip(b"\0") == b"GNU":
                return desc.hex()
    return None
