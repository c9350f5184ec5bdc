"""pyelftools' DWARFInfo with every debug section read (and decompressed) on first use.

``ELFFile.get_dwarf_info()`` copies all of them into memory up front: for a pc in libc
with its debug package, describing one address would decompress all of libc's DWARF.
Here a section costs nothing until a query reads it (.debug_aranges and one unit's line
table, say). Relocatable objects and the legacy .zdebug_* sections keep pyelftools' path.
"""
from __future__ import annotations

import functools
import io

from elftools.dwarf.dwarfinfo import DebugSectionDescriptor

# The BytesIO methods pyelftools and hwdbg use on a section's stream.
STREAM_METHODS = ("read", "readinto", "readline", "seek", "tell", "getbuffer", "getvalue")


class LazySection(io.BytesIO):
    """A debug section's bytes, read from the ELF file at the first call on the stream."""

    def __init__(self, section) -> None:
        super().__init__()
        self._section = section
        for name in STREAM_METHODS:
            setattr(self, name, functools.partial(self._first_use, name))

    def _first_use(self, name: str, *args):
        section, self._section = self._section, None
        for method in STREAM_METHODS:  # from now on BytesIO's own methods, at full speed
            delattr(self, method)
        if section is not None:
            self.write(section.data())
            self.seek(0)
        return getattr(self, name)(*args)


def dwarf_info(elf):
    """``elf.get_dwarf_info()``, reading each section only when it is first used."""
    if elf["e_type"] == "ET_REL" or elf.has_phantom_bytes() or elf.has_section(".zdebug_info"):
        return elf.get_dwarf_info()
    def lazy(section, relocate):
        return DebugSectionDescriptor(
            stream=LazySection(section), name=section.name, global_offset=section["sh_offset"],
            size=section.data_size, address=section["sh_addr"],
        )

    elf._read_dwarf_section = lazy
    try:
        return elf.get_dwarf_info(relocate_dwarf_sections=False)
    finally:
        del elf._read_dwarf_section  # the class's method again
