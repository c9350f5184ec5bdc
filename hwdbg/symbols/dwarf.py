"""DWARF debug info of one ELF file: line table, global variables, functions, C types.

Everything is at link-time addresses and parsed lazily, one compilation unit at a
time: .debug_aranges leads from an address to its unit, so describing a pc in a big
library (libc with its debug package) decodes one unit, not thousands. Queries by
name alone (a global variable, a named type) index every unit once; ``small`` says
whether that is cheap. Works with DWARF 2 to 5.
"""
from __future__ import annotations

import bisect
import dataclasses
import struct
from typing import TYPE_CHECKING, Any, Optional

from hwdbg.symbols import index as name_index
from hwdbg.symbols import sections
from hwdbg.symbols.aranges import AddressRanges
from hwdbg.symbols.dwarf_lines import LineTables
from hwdbg.symbols.line_table import UnitLines
from hwdbg.symbols.dwarf_types import (
    AGGREGATE_KEYWORDS, NAMED_TYPE_TAGS, PARSE_ERRORS, SMALL_DEBUG_INFO, VOID, DW_OP_GNU_addr_index,
    DW_OP_addr, DW_OP_addrx, DW_OP_const4u, DW_OP_const8u, DW_OP_constu, DW_OP_form_tls_address,
    DW_OP_GNU_push_tls_address, TypeDecoder, _attr_value, _inherited, _is_constant, _text, _uleb, _unit_key,
    file_matches,
)
from hwdbg.symbols.index import NameIndex
from hwdbg.symbols.types import CType

if TYPE_CHECKING:
    from elftools.elf.elffile import ELFFile

    from hwdbg.symbols.elf import ElfImage

__all__ = ["DwarfInfo", "VOID", "file_matches"]


DW_LANG_MIPS_ASSEMBLER = 0x8001  # what GNU as writes in a unit it assembled with -g


class DwarfInfo(LineTables, TypeDecoder):
    """Queries over the DWARF of one ELF file; addresses are link-time."""

    def __init__(self, elf: ELFFile | ElfImage, build_id: Optional[str] = None) -> None:
        self._elf = elf  # either gives .stream and .little_endian; an ElfImage needs no ELFFile for the DWARF
        self._build_id = build_id  # the cache key of the name index
        self._dwarf_info = None
        self._unit_list: Optional[list[Any]] = None
        self._aranges_loaded = False
        self._aranges = None
        self._unit_files: dict[tuple[str, int], list[str]] = {}
        self._unit_lines: dict[tuple[str, int], UnitLines] = {}
        self._unit_statements: dict[tuple[str, int], dict] = {}  # gdb's statement entries, by path
        self._unit_headers: dict[tuple[str, int], Any] = {}  # line headers (symbols/unit_header.py) or None
        self._unit_names: dict[tuple[str, int], NameIndex] = {}
        self._all_names: Optional[NameIndex] = None
        self._types: dict[tuple[str, int], CType] = {}  # by DIE
        self._strings: dict[int, bytes] = {}  # the string sections, for the scanner
        self._display: dict[str, str] = {}  # source path -> the name gdb shows
        # Function scopes by DIE offset (symbols/scopes.py): kept here, they die with this file's DWARF.
        self.scopes: dict[int, Any] = {}
        self.unit_flags: dict[int, tuple[bool, bool]] = {}  # symbols/prologue_facts.py, by unit offset
        self._by_address: dict[int, Any] = {}  # id of a name index -> its functions by address (kept alive)

    @property
    def _dwarf(self):
        if self._dwarf_info is None:
            self._dwarf_info = sections.dwarf_info(self._elf, self._build_id)
        return self._dwarf_info

    @property
    def small(self) -> bool:
        """Is indexing every unit cheap (well under a second)?"""
        section = self._dwarf.debug_info_sec
        return section is None or section.size <= SMALL_DEBUG_INFO

    @property
    def indexed(self) -> bool:
        """Have all units' names been indexed already?"""
        return self._all_names is not None

    # -- units --------------------------------------------------------------

    def _units(self) -> list[Any]:
        if self._unit_list is None:
            units: list[Any] = []
            try:
                units.extend(self._dwarf.iter_CUs())
            except PARSE_ERRORS:
                pass  # a unit that cannot be read ends the list; those before it still serve
            self._unit_list = units
        return self._unit_list

    def _unit_at(self, link_addr: int):
        """The unit whose code covers ``link_addr`` per .debug_aranges, or None."""
        if not self._aranges_loaded:
            self._aranges_loaded = True
            section = self._dwarf.debug_aranges_sec
            try:
                data = name_index.section_bytes(section)
                aranges = AddressRanges(bytes(data), self._elf.little_endian) if section is not None else None
            except (struct.error, *PARSE_ERRORS):
                aranges = None
            self._aranges = aranges if aranges else None
        if self._aranges is None:
            return None
        offset = self._aranges.unit_at(link_addr)
        try:
            return None if offset is None else self._dwarf.get_CU_at(offset)
        except PARSE_ERRORS:
            return None

    def unit_at(self, link_addr: int):
        """The unit whose code covers ``link_addr``: by .debug_aranges, else (in a small file)
        the one whose line table does; or None."""
        cu = self._unit_at(link_addr)
        if cu is None and self.small:
            cu = next((u for u in self._units() if self._lines_of(u).at(link_addr) is not None), None)
        return cu

    # -- top-level names ----------------------------------------------------

    def _names_of(self, cu) -> NameIndex:
        names = self._unit_names.get(_unit_key(cu))
        if names is None:
            try:
                if _unit_key(cu)[0] != "CompileUnit":
                    raise name_index.ScanError("type units are in .debug_types")
                names = name_index.scan(self._dwarf, self._elf.stream.name, cu.cu_offset,
                                        cu.cu_offset + cu.size, self._strings)
            except name_index.ScanError:
                names = self._unit_names_slowly(cu)
            self._unit_names[_unit_key(cu)] = names
        return names

    def _names(self) -> NameIndex:
        """Names of every unit: from the index cache, else one pass over the top-level DIEs."""
        if self._all_names is None:
            size = self._dwarf.debug_info_sec.size if self._dwarf.debug_info_sec is not None else 0
            merged = name_index.load_cached(self._build_id, size)
            if merged is None:
                try:
                    merged = name_index.scan(self._dwarf, self._elf.stream.name, strings=self._strings)
                except name_index.ScanError as e:
                    name_index.notice(f"{e}; reading it the slow way")
                    try:
                        merged = self._names_slowly()
                    except PARSE_ERRORS:
                        merged = NameIndex()  # the reason was given above
                else:
                    name_index.store(merged, self._build_id, size)
            if self._dwarf.has_debug_types():  # a method: as an attribute it was always true
                merged = merged.unpacked()  # type units are merged into dicts
                for tu in self._dwarf.iter_TUs():
                    merged.merge(self._names_of(tu))
            self._all_names = merged
        return self._all_names

    def _names_slowly(self) -> NameIndex:
        """pyelftools over every unit; a malformed unit is skipped."""
        merged = NameIndex()
        for cu in self._units():
            merged.merge(self._unit_names_slowly(cu))
        return merged

    def _unit_names_slowly(self, cu) -> NameIndex:
        names = NameIndex()
        try:
            for die in cu.get_top_DIE().iter_children():
                self._index_die(die, names)
        except PARSE_ERRORS:
            pass
        return names

    def _die(self, ref):
        """The DIE an index entry points at: a (unit, DIE) offset pair from the scanner, or a DIE."""
        if isinstance(ref, tuple):
            cu_offset, offset = ref
            return self._dwarf.get_CU_at(cu_offset).get_DIE_from_refaddr(offset)
        return ref

    def _index_die(self, die, names: NameIndex) -> None:
        tag = die.tag
        if tag == "DW_TAG_variable":
            addr = self._static_address(die)
            name_die = _inherited(die, "DW_AT_name")
            if addr is not None and name_die is not None:
                names.variables.setdefault(_text(_attr_value(name_die, "DW_AT_name")), []).append((addr, die))
            offset = self._tls_offset(die)
            if offset is not None and name_die is not None:
                names.tls.setdefault(_text(_attr_value(name_die, "DW_AT_name")), []).append((offset, die))
        elif tag == "DW_TAG_subprogram":
            pc_range = self._pc_range(die)
            name_die = _inherited(die, "DW_AT_name")
            if pc_range is not None and name_die is not None:
                name = _text(_attr_value(name_die, "DW_AT_name"))
                names.functions.setdefault(name, []).append((*pc_range, die))
        elif tag in NAMED_TYPE_TAGS and "DW_AT_name" in die.attributes and "DW_AT_declaration" not in die.attributes:
            name = _text(die.attributes["DW_AT_name"].value)
            keyword = AGGREGATE_KEYWORDS.get(tag) or ("enum" if tag == "DW_TAG_enumeration_type" else None)
            names.types.setdefault(f"{keyword} {name}" if keyword else name, die)

    def _static_address(self, die) -> Optional[int]:
        """The address of a variable whose location is a single DW_OP_addr (not TLS, not a register)."""
        attr = die.attributes.get("DW_AT_location")
        if attr is None or not isinstance(attr.value, list) or not attr.value:
            return None
        expr = attr.value
        size = die.cu["address_size"]
        if expr[0] == DW_OP_addr and len(expr) == 1 + size:
            order = "little" if self._elf.little_endian else "big"
            return int.from_bytes(bytes(expr[1:]), order)
        if expr[0] in (DW_OP_addrx, DW_OP_GNU_addr_index):
            index, end = _uleb(expr, 1)
            if end == len(expr):
                return self._dwarf.get_addr(die.cu, index)
        return None

    @staticmethod
    def _tls_offset(die) -> Optional[int]:
        """The offset in its module's TLS block of a thread-local (DW_OP_const4u/const8u/constu X,
        then DW_OP_GNU_push_tls_address or DW_OP_form_tls_address), or None."""
        attr = die.attributes.get("DW_AT_location")
        if attr is None or not isinstance(attr.value, list) or len(attr.value) < 2:
            return None
        expr = attr.value
        if expr[-1] not in (DW_OP_GNU_push_tls_address, DW_OP_form_tls_address):
            return None
        width = {DW_OP_const8u: 8, DW_OP_const4u: 4}.get(expr[0])
        if width is not None and len(expr) == 2 + width:
            return int.from_bytes(bytes(expr[1:1 + width]), "little")
        if expr[0] == DW_OP_constu:
            value, end = _uleb(expr, 1)
            return value if end == len(expr) - 1 else None
        return None

    @staticmethod
    def _pc_range(die) -> Optional[tuple[int, int]]:
        low = die.attributes.get("DW_AT_low_pc")
        high = die.attributes.get("DW_AT_high_pc")
        if low is None or high is None:
            return None
        end = low.value + high.value if _is_constant(high) else high.value
        return low.value, end

    def variable(self, name: str, at: Optional[int] = None) -> Optional[tuple[int, CType]]:
        """(link address, type) of a global or file-static variable; ``at`` picks among same-named statics.

        Data has no address index in DWARF, so the first call scans every unit (see ``small``).
        """
        variables = self._names().variables
        candidates = variables.get(name, [])
        if at is not None:
            candidates = [c for c in candidates if c[0] == at]
            if not candidates:  # an alias: environ is __environ in DWARF
                candidates = [c for entries in variables.values() for c in entries if c[0] == at][:1]
        if not candidates:
            return None
        addr, ref = candidates[0]
        die = self._die(ref)
        type_die = _inherited(die, "DW_AT_type")
        return addr, (self.type_of(type_die) if type_die is not None else VOID)

    def variable_names(self) -> list[str]:
        return sorted(self._names().variables)

    def tls_variable(self, name: str) -> Optional[tuple[int, CType]]:
        """(offset in the module's TLS block, type) of a thread-local variable, or None."""
        candidates = self._names().tls.get(name, [])
        if not candidates:
            return None
        offset, ref = candidates[0]
        type_die = _inherited(self._die(ref), "DW_AT_type")
        return offset, (self.type_of(type_die) if type_die is not None else VOID)

    def tls_names(self) -> list[str]:
        return sorted(self._names().tls)

    def _function_entry(self, name: str, at: Optional[int]):
        """(low, high, DIE) of the function ``name``; with ``at``, of the one containing it,
        under whatever name DWARF knows it (printf is an alias of __printf)."""
        if at is None:
            entries = self._names().functions.get(name)
            return entries[0] if entries else None
        cu = self._unit_at(at)
        units = [self._names_of(cu)] if cu is not None else []
        if cu is None or self.small:
            units.append(self._names())
        for names in units:
            named = [e for e in names.functions.get(name, []) if e[0] <= at < e[1]]
            if named:
                return named[0]
            containing = self._containing(names, at)
            if containing is not None:
                return containing
        return None

    def _containing(self, names: Any, at: int):
        """The first function of ``names`` (in its order) whose range holds ``at``: a bisection
        over its functions sorted by address, sorted once per index."""
        found = self._by_address.get(id(names))
        if found is None:
            table = names.functions
            entries = table.flat_values() if hasattr(table, "flat_values") else [
                e for group in table.values() for e in group]
            order = sorted(range(len(entries)), key=lambda k: entries[k][0])
            span = max((e[1] - e[0] for e in entries), default=0)  # the longest: how far back to look
            found = self._by_address[id(names)] = (names, entries, order, [entries[k][0] for k in order], span)
        _, entries, order, lows, span = found
        best = None
        i = bisect.bisect_right(lows, at)
        while i > 0 and lows[i - 1] + span > at:
            i -= 1
            if at < entries[order[i]][1] and (best is None or order[i] < best):
                best = order[i]
        return None if best is None else entries[best]

    def function_die_at(self, link_addr: int):
        """The DW_TAG_subprogram DIE whose code contains ``link_addr`` (only its unit is read), or None."""
        entry = self._function_entry("", link_addr)
        return None if entry is None else self._die(entry[2])

    @property
    def location_lists(self):
        """pyelftools' reader of .debug_loc / .debug_loclists (None without them), made once."""
        if not hasattr(self, "_location_lists"):
            self._location_lists = self._dwarf.location_lists()
        return self._location_lists

    @property
    def range_lists(self):
        if not hasattr(self, "_range_lists"):
            self._range_lists = self._dwarf.range_lists()
        return self._range_lists

    def function_range(self, name: str, at: Optional[int] = None) -> Optional[tuple[int, int]]:
        """Link-time [low, high) of a function's code, or None; ``at`` (an address in it) makes it cheap."""
        entry = self._function_entry(name, at)
        return None if entry is None else (entry[0], entry[1])

    def function_type(self, name: str, at: Optional[int] = None) -> Optional[CType]:
        """The function's C type ('int (int)'); ``at`` (an address in it) makes it cheap."""
        entry = self._function_entry(name, at)
        if entry is None:
            return None
        die = self._die(entry[2])
        ctype = self._function_ctype(_inherited(die, "DW_AT_type"), die, _inherited(die, "DW_AT_prototyped"))
        language = die.cu.get_top_DIE().attributes.get("DW_AT_language")
        if language is not None and language.value == DW_LANG_MIPS_ASSEMBLER:
            # An assembler's DIE says nothing of the return type: a call needs a cast (gdb's
            # "unknown return type"), finish shows no value.
            return dataclasses.replace(ctype, target=None, params=None)
        return ctype

    def type_named(self, name: str) -> Optional[CType]:
        """A type by its C spelling: 'struct config', 'enum color', a typedef or base type name."""
        ref = self._names().types.get(" ".join(name.split()))
        return None if ref is None else self._convert(self._die(ref))

    # -- opaque declarations ------------------------------------------------

    def _complete_definition(self, die):
        """The full definition of an opaque 'struct foo;' declaration, from another unit."""
        if "DW_AT_signature" in die.attributes:  # the definition is in a type unit
            try:
                return die.get_DIE_from_attribute("DW_AT_signature")
            except PARSE_ERRORS:
                pass
        if "DW_AT_declaration" not in die.attributes or "DW_AT_name" not in die.attributes:
            return die
        keyword = AGGREGATE_KEYWORDS.get(die.tag, "enum")
        key = f"{keyword} {_text(die.attributes['DW_AT_name'].value)}"
        found = self._names_of(die.cu).types.get(key)
        if found is None and (self.small or self.indexed):
            found = self._names().types.get(key)
        return self._die(found) if found is not None else die
