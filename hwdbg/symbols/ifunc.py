"""GNU indirect functions (STT_GNU_IFUNC): the symbol's address is a resolver's, which returns
the address of the implementation chosen for this CPU (libc's strlen, memcpy...)."""
from __future__ import annotations

import struct
from typing import Any

STT_GNU_IFUNC = 10
_SYMBOL = struct.Struct("<IBBHQQ")  # Elf64_Sym


def ifunc_addresses(elf: Any) -> frozenset[int]:
    """Link-time addresses of the IFUNC symbols of an ELF file (a pyelftools ELFFile), from its
    dynamic and static symbol tables, decoded by hand (libc has thousands of symbols)."""
    found = set()
    for name in (".dynsym", ".symtab"):
        section = elf.get_section_by_name(name)
        if section is None:
            continue
        data = section.data()
        for offset in range(0, len(data) - _SYMBOL.size + 1, _SYMBOL.size):
            _, info, _, _, value, _ = _SYMBOL.unpack_from(data, offset)
            if info & 0xF == STT_GNU_IFUNC:
                found.add(value)
    return frozenset(found)
