"""The facts gdb's prologue rule (symbols/prologue.py) needs, read from one module's ELF file
and DWARF: the function's range, its unit's trust (location lists, assembler), prologue_end
marks, the code at its entry. Addresses here are link-time."""
from __future__ import annotations

import re
from typing import Any, Optional

from hwdbg.symbols.dwarf_types import PARSE_ERRORS
from hwdbg.arch.x86_64 import CODE_NEEDED, frame_setup_length
from hwdbg.symbols.prologue import FunctionFacts, LineSpan

DW_LANG_MIPS_ASSEMBLER = 0x8001
_LOCATION_LIST_FORMS = {"DW_FORM_sec_offset", "DW_FORM_loclistx"}
_OLD_LOCATION_LIST_FORMS = {"DW_FORM_data4", "DW_FORM_data8"}  # before DWARF 4, a constant was a list's offset
_VARIABLE_TAGS = {"DW_TAG_variable", "DW_TAG_formal_parameter"}
_GCC = re.compile(rb"^GNU \S+ (\d+)\.(\d+)")


def _producer_trusted(cu: Any) -> bool:
    """gdb trusts the locations of gcc 4.5 and later (its producer_is_gcc_ge_4 test)."""
    producer = cu.get_top_DIE().attributes.get("DW_AT_producer")
    value = producer.value if producer is not None else b""
    found = _GCC.match(value if isinstance(value, bytes) else str(value).encode())
    return found is not None and (int(found[1]), int(found[2])) >= (4, 5)


def _has_location_lists(cu: Any) -> bool:
    """Does a variable or parameter of the unit have a location list (gdb's has_loclist)? gcc
    writes an abbreviation only for DIEs that use it, and a table per unit, so its table says."""
    forms = _LOCATION_LIST_FORMS | (_OLD_LOCATION_LIST_FORMS if cu["version"] < 4 else set())
    table = cu.get_abbrev_table()
    decls = getattr(table, "_abbrev_map", None)
    if decls is None:
        decls = table._parse_abbrev_table()
    for decl in decls.values():
        if decl["tag"] in _VARIABLE_TAGS:
            if any(spec.name == "DW_AT_location" and spec.form in forms for spec in decl["attr_spec"]):
                return True
    return False


def unit_flags(dwarf: Any, cu: Any) -> tuple[bool, bool]:
    """(trusted, assembler) of a unit: gdb's locations_valid, and language_asm."""
    key = cu.cu_offset
    flags = dwarf.unit_flags.get(key)
    if flags is None:
        try:
            language = cu.get_top_DIE().attributes.get("DW_AT_language")
            asm = language is not None and language.value == DW_LANG_MIPS_ASSEMBLER
            flags = (_producer_trusted(cu) and _has_location_lists(cu), asm)
        except PARSE_ERRORS:
            flags = (False, False)
        dwarf.unit_flags[key] = flags
    return flags


def line_span(dwarf: Any) -> LineSpan:
    """gdb's find_pc_line over this file's line tables: (start, end) or None."""
    def span(link_addr: int) -> Optional[tuple[int, int]]:
        entry = dwarf.line_entry(link_addr) if dwarf is not None else None
        return None if entry is None else (entry[0], entry[1])
    return span


def function_facts(image: Any, dwarf: Any, entry: int, size: int) -> FunctionFacts:
    """The facts of the function whose first byte is ``entry`` (its ELF symbol's value and size)."""
    frame_setup = frame_setup_length(image.read_bytes(entry, CODE_NEEDED)) if image is not None else 0
    if dwarf is None:
        return FunctionFacts(entry, entry + size, frame_setup=frame_setup, has_debug_function=False)
    die = None
    try:
        die = dwarf.function_die_at(entry)
    except PARSE_ERRORS:
        pass
    pc_range = dwarf._pc_range(die) if die is not None else None
    if pc_range is not None and pc_range[0] == entry:
        cu, end, has_function = die.cu, pc_range[1], True
    else:
        cu, end, has_function = dwarf.unit_at(entry), entry + size, False
    trusted, asm = unit_flags(dwarf, cu) if cu is not None else (False, False)
    marked = dwarf.prologue_end_in(entry, end, cu) if has_function else None
    return FunctionFacts(entry, end, trusted=trusted, asm=asm, prologue_end=marked, frame_setup=frame_setup,
                         has_debug_function=has_function)
