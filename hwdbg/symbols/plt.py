"""Where a PLT stub leads: the name of the function it jumps to through the GOT.

A stub is ``[endbr64] [bnd] jmp *GOT(%rip)``; the GOT slot's relocation (JUMP_SLOT in
.rela.plt, GLOB_DAT for .plt.got) names the symbol. ``step`` resolves the name in the other
modules to step into the function itself, as gdb's skip_trampoline_code does.
"""
from __future__ import annotations

import struct
import weakref
from typing import Optional


from hwdbg.symbols.elf import ElfImage

PLT_SECTIONS = (".plt", ".plt.sec", ".plt.got")
_JMP_RIP = b"\xff\x25"  # jmp *disp32(%rip)

_slots: "weakref.WeakKeyDictionary[ElfImage, dict[int, str]]" = weakref.WeakKeyDictionary()


def _got_names(image: ElfImage) -> dict[int, str]:
    """GOT slot (link-time address) -> the name of the symbol its relocation fills it with."""
    names = _slots.get(image)
    if names is None:
        from elftools.elf.relocation import RelocationSection  # here: pyelftools' ELF side only when asked

        names = {}
        for section in image.elf.iter_sections():
            if not isinstance(section, RelocationSection) or section.name not in (".rela.plt", ".rela.dyn"):
                continue
            symtab = image.elf.get_section(section["sh_link"])
            for reloc in section.iter_relocations():
                index = reloc["r_info_sym"]
                if index:
                    name = symtab.get_symbol(index).name
                    if name:
                        names[reloc["r_offset"]] = name.split("@")[0]
        _slots[image] = names
    return names


def in_plt(image: ElfImage, link_addr: int) -> bool:
    for name in PLT_SECTIONS:
        section = image.elf.get_section_by_name(name)
        if section is not None and section["sh_addr"] <= link_addr < section["sh_addr"] + section["sh_size"]:
            return True
    return False


def stub_target(image: ElfImage, link_addr: int) -> Optional[tuple[str, int]]:
    """(name of the function, link-time address of its GOT slot) the PLT stub at ``link_addr``
    jumps through, or None."""
    if not in_plt(image, link_addr):
        return None
    try:
        code = image.read_bytes(link_addr, 16)
    except Exception:  # outside the file's bytes
        return None
    at = code.find(_JMP_RIP)
    if at < 0 or at + 6 > len(code):
        return None
    slot = link_addr + at + 6 + struct.unpack("<i", code[at + 2:at + 6])[0]
    name = _got_names(image).get(slot)
    return None if name is None else (name, slot)
