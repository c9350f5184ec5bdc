"""Where ``break NAME`` goes when NAME is not one simple function: gdb 13's linespec over the
symbol tables of every module (linespec.c search_minsyms_for_name, minsym_found; elfread.c's
GNU indirect functions).

- Every function symbol of that name in every module is a location: static functions of
  several units, the executable's and a library's, ld.so's copies beside libc's. A symbol
  version counts under its base name (``memcpy@GLIBC_2.2.5`` in a .symtab; in a .dynsym only
  the default one), as gdb's minimal symbols.
- A PLT stub of that name (gdb's ``NAME@plt`` trampoline) is a location only while no module
  defines a global function of that name.
- An IFUNC whose choice is known (a ``.rela.plt`` GOT slot of that name, in any module, holds
  the first byte of a function) breaks after that function's prologue; otherwise at the
  resolver's first byte ("gnu-indirect-function resolver").
- Locations at the same address are one; they are ordered by address, as gdb keeps them.
"""
from __future__ import annotations

import struct
import weakref
from typing import Any, Callable, Optional


from hwdbg.recordtype import record
from hwdbg.symbols.dwarf_types import PARSE_ERRORS
from hwdbg.symbols.elfsym import STB_LOCAL, STT_FUNC, STT_GNU_IFUNC, SHN_ABS, SHN_UNDEF
from hwdbg.symbols.plt import stub_target
from hwdbg.symbols.prologue import function_start
from hwdbg.symbols.prologue_facts import DW_LANG_MIPS_ASSEMBLER, function_facts, line_span
from hwdbg.symbols.scopes import function_scope

R_X86_64_JUMP_SLOT = 7
_ENTRY = struct.Struct("<IBBHQQ")  # Elf64_Sym
_STUB_STARTS = (b"\xff\x25", b"\xf2\xff\x25", b"\xf3\x0f\x1e\xfa\xff\x25", b"\xf3\x0f\x1e\xfa\xf2\xff\x25")

ReadWord = Callable[[int], Optional[int]]


@record(frozen=True)
class Site:
    """One location of ``break NAME`` (a runtime address) and how gdb shows it."""

    addr: int
    name: Optional[str] = None  # the function its row names ("in NAME at FILE:LINE")
    label: Optional[str] = None  # a location without line info: its row is "<label>" (PLT stub, resolver)
    resolver: bool = False  # an IFUNC not resolved yet: its resolver's first byte
    inline_at_entry: bool = False  # resolver: an inlined function starts at its first byte


@record(frozen=True)
class _Entry:
    name: str  # as the table spells it (with its version)
    value: int
    size: int
    ifunc: bool
    local: bool


def named_entries(image: Any, name: str) -> list[_Entry]:
    """The function symbols of an ELF image named ``name`` (or ``name@VERSION`` unless a hidden
    .dynsym version), from its symbol table (a separate debug file's .symtab when adopted)."""
    table = image.raw_table()
    if table is None or table.size != _ENTRY.size or table.fmt[0] != "<":
        return []
    strtab = table.strtab
    indices = image.indices_named(name)
    if indices is not None:
        rows: Any = ((i, _ENTRY.unpack_from(table.data, i * _ENTRY.size)) for i in indices)
    else:  # the same search in Python
        wanted = name.encode(errors="replace")
        offsets, at = set(), strtab.find(wanted)
        while at >= 0:
            end = at + len(wanted)
            if end < len(strtab) and strtab[end:end + 1] in (b"\0", b"@"):
                offsets.add(at)
            at = strtab.find(wanted, at + 1)
        rows = ((i, e) for i, e in enumerate(_ENTRY.iter_unpack(table.data)) if e[0] in offsets)
    found = []
    for index, (offset, info, _, shndx, value, size) in rows:
        if shndx in (SHN_UNDEF, SHN_ABS) or info & 0xF not in (STT_FUNC, STT_GNU_IFUNC):
            continue
        if table.hidden and index < len(table.hidden) and table.hidden[index]:
            continue  # an old version in .dynsym: gdb knows it only as name@VERSION
        full = strtab[offset:strtab.find(b"\0", offset)].decode(errors="replace")
        found.append(_Entry(full, value, size, info & 0xF == STT_GNU_IFUNC, info >> 4 == STB_LOCAL))
    return found


_stubs: "weakref.WeakKeyDictionary[Any, dict[str, list[int]]]" = weakref.WeakKeyDictionary()
_slots: "weakref.WeakKeyDictionary[Any, dict[str, int]]" = weakref.WeakKeyDictionary()


def plt_stubs(image: Any) -> dict[str, list[int]]:
    """Function name -> link-time addresses of the PLT stubs that jump to it (bfd's synthetic
    ``NAME@plt`` symbols: the entries of .plt, or of .plt.sec when there is one, and .plt.got)."""
    found = _stubs.get(image)
    if found is None:
        found = {}
        names = (".plt.sec" if image.elf.get_section_by_name(".plt.sec") is not None else ".plt", ".plt.got")
        for section_name in names:
            section = image.elf.get_section_by_name(section_name)
            if section is None:
                continue
            start, end = section["sh_addr"], section["sh_addr"] + section["sh_size"]
            step = 8 if section_name == ".plt.got" and section["sh_entsize"] == 8 else 16
            for addr in range(start, end, step):
                if not image.read_bytes(addr, 8).startswith(_STUB_STARTS):
                    continue
                target = stub_target(image, addr)
                if target is not None:
                    found.setdefault(target[0], []).append(addr)
        _stubs[image] = found
    return found


def jump_slots(image: Any) -> dict[str, int]:
    """Function name -> link-time address of its GOT slot in .rela.plt (gdb's ``NAME@got.plt``)."""
    found = _slots.get(image)
    if found is None:
        found = {}
        from elftools.elf.relocation import RelocationSection  # here: pyelftools' ELF side only when asked

        section = image.elf.get_section_by_name(".rela.plt")
        if isinstance(section, RelocationSection):
            symtab = image.elf.get_section(section["sh_link"])
            for reloc in section.iter_relocations():
                if reloc["r_info_type"] == R_X86_64_JUMP_SLOT and reloc["r_info_sym"]:
                    found.setdefault(symtab.get_symbol(reloc["r_info_sym"]).name.split("@")[0], reloc["r_offset"])
        _slots[image] = found
    return found


def _resolved_ifunc(symbols: Any, name: str, read_word: Optional[ReadWord]) -> Optional[tuple[Any, Any]]:
    """(module, symbol) of the function an IFUNC's GOT slot leads to (gdb's
    elf_gnu_ifunc_resolve_by_got): the first module, in load order, whose slot holds the first
    byte of a function; a slot still leading into a PLT (lazy binding) says nothing yet."""
    if read_word is None:
        return None
    for module in symbols.modules:
        slot = jump_slots(module.image).get(name)
        target = read_word(slot + module.bias) if slot is not None else None
        owner = symbols.module_for(target) if target else None
        if owner is None:
            continue
        hit = owner.image.function_at(target - owner.bias)
        if hit is not None and hit[1] == 0 and not symbols.in_plt(target):
            return owner, hit[0]
    return None


def _start(module: Any, entry: int, size: int) -> int:
    """Where gdb's find_function_start_sal puts a function's breakpoint (link-time)."""
    return function_start(function_facts(module.image, module.dwarf, entry, size), line_span(module.dwarf))


def _display_name(die: Any) -> Optional[str]:
    """A function DIE's name as gdb 13 prints it: its linkage name when it has one (glibc's
    ``__GI___strdup``), through its declaration or abstract origin, else DW_AT_name."""
    for _ in range(3):
        attrs = die.attributes
        for key in ("DW_AT_linkage_name", "DW_AT_MIPS_linkage_name"):
            if key in attrs:
                value = attrs[key].value
                return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
        origin = next((key for key in ("DW_AT_specification", "DW_AT_abstract_origin") if key in attrs), None)
        if origin is None:
            break
        die = die.get_DIE_from_attribute(origin)
    name = die.attributes.get("DW_AT_name")
    if name is None:
        return None
    return name.value.decode(errors="replace") if isinstance(name.value, bytes) else str(name.value)


def _aliases(die: Any, entry: int) -> list[Any]:
    """The DIEs of a function: an assembler's unit names each alias by a DIE of its own."""
    top = die.cu.get_top_DIE()
    language = top.attributes.get("DW_AT_language")
    if language is None or language.value != DW_LANG_MIPS_ASSEMBLER:
        return [die]
    found = [child for child in top.iter_children() if child.tag == "DW_TAG_subprogram"
             and "DW_AT_low_pc" in child.attributes and child.attributes["DW_AT_low_pc"].value == entry]
    return found or [die]


def _row_name(module: Any, name: str, entry: int) -> Optional[str]:
    """The function a row names (gdb's loc->symbol): NAME's own debug symbol when its name is
    NAME, else the innermost function holding the entry, an inlined one included (the symbol
    gdb finds for a minimal symbol's address)."""
    if module.dwarf is None:
        return None
    try:
        die = module.dwarf.function_die_at(entry)
        if die is None:
            return None
        names = [_display_name(alias) for alias in _aliases(die, entry)]
        own = name if name in names else names[-1]  # the one asked, else the last alias (gdb's block)
        if own == name:
            return own  # the function's own symbol: no need to read its body
        scope = function_scope(module.dwarf, entry)
        chain = scope.inline_chain(entry) if scope is not None else []
    except PARSE_ERRORS:
        return None
    return chain[-1].name if chain else own


def _inline_at(module: Any, entry: int) -> bool:
    """Does an inlined function's code start at this function's first byte?"""
    try:
        scope = function_scope(module.dwarf, entry) if module.dwarf is not None else None
        return scope is not None and bool(scope.inline_chain(entry))
    except PARSE_ERRORS:
        return False


def resolved_site(symbols: Any, target: int) -> Optional[Site]:
    """The location of a breakpoint moved to the function an IFUNC's resolver chose (runtime
    ``target``): after its prologue, as gdb's find_function_start_sal."""
    owner = symbols.module_for(target)
    hit = owner.image.function_at(target - owner.bias) if owner is not None else None
    if hit is None:
        return None
    sym = hit[0]
    addr = _start(owner, sym.value, sym.size) + owner.bias
    return Site(addr, _row_name(owner, "", sym.value) or sym.name)


def _resolver_label(module: Any, name: str, value: int) -> str:
    """gdb names a resolver's address by a sized function symbol there other than the IFUNC
    (the resolver's own name: ``strlen_ifunc``; the greatest, as its sorted table), else NAME."""
    table = module.image.raw_table()
    names = []
    if table is not None and table.size == _ENTRY.size:
        for offset, info, _, shndx, at, size in _ENTRY.iter_unpack(table.data):
            if at == value and size and info & 0xF == STT_FUNC and shndx not in (SHN_UNDEF, SHN_ABS):
                names.append(table.strtab[offset:table.strtab.find(b"\0", offset)].decode(errors="replace"))
    return max(names) if names else name


def function_sites(symbols: Any, name: str, lib: Optional[str], read_word: Optional[ReadWord]) -> list[Site]:
    """Every location of ``break NAME`` over the modules ``lib`` names (all of them when None)."""
    modules = symbols.modules_named(lib)
    sites: dict[int, Site] = {}
    has_global = False
    resolved = None
    for module in modules:
        entries = named_entries(module.image, name)
        has_global = has_global or any(not e.local for e in entries)
        for entry in sorted(entries, key=lambda e: (e.ifunc, e.value)):
            if entry.ifunc:
                if resolved is None:
                    resolved = _resolved_ifunc(symbols, name, read_word) or False
                if resolved:
                    owner, sym = resolved
                    site = resolved_site(symbols, sym.value + owner.bias)
                    if site is not None:
                        sites.setdefault(site.addr, site)
                    continue
                addr = entry.value + module.bias
                if addr not in sites or not sites[addr].resolver:
                    sites[addr] = Site(addr, label=_resolver_label(module, name, entry.value), resolver=True,
                                       inline_at_entry=_inline_at(module, entry.value))
                continue
            addr = _start(module, entry.value, entry.size) + module.bias
            if addr not in sites:
                sites[addr] = Site(addr, _row_name(module, name, entry.value))
    if not has_global:  # the PLT is read only then: most names have a definition
        for module in modules:
            for addr in plt_stubs(module.image).get(name, ()):
                sites.setdefault(addr + module.bias, Site(addr + module.bias, label=f"{name}@plt"))
    return [sites[addr] for addr in sorted(sites)]
