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
import os
from dataclasses import dataclass, field
from typing import Any, Optional

from elftools.common.exceptions import DWARFError, ELFError
from elftools.dwarf import constants as dw
from elftools.dwarf.dwarf_expr import DW_OP_name2opcode
from elftools.elf.elffile import ELFFile

from hwdbg.symbols.types import CType, Field, pointer_name

VOID = CType("void", "void", 0)
SMALL_DEBUG_INFO = 256 << 10  # bytes of .debug_info that index in about a tenth of a second

# Location expressions are matched as raw bytes, so the opcodes are needed as numbers.
DW_OP_addr, DW_OP_plus_uconst = DW_OP_name2opcode["DW_OP_addr"], DW_OP_name2opcode["DW_OP_plus_uconst"]
DW_OP_addrx, DW_OP_GNU_addr_index = DW_OP_name2opcode["DW_OP_addrx"], DW_OP_name2opcode["DW_OP_GNU_addr_index"]

QUALIFIER_TAGS = frozenset(
    ("DW_TAG_const_type", "DW_TAG_volatile_type", "DW_TAG_restrict_type", "DW_TAG_atomic_type", "DW_TAG_immutable_type")
)
AGGREGATE_KEYWORDS = {"DW_TAG_structure_type": "struct", "DW_TAG_class_type": "class", "DW_TAG_union_type": "union"}
NAMED_TYPE_TAGS = frozenset(
    ("DW_TAG_structure_type", "DW_TAG_class_type", "DW_TAG_union_type", "DW_TAG_enumeration_type",
     "DW_TAG_typedef", "DW_TAG_base_type")
)
# A malformed or unsupported unit is skipped rather than taking the whole file down.
PARSE_ERRORS = (DWARFError, ELFError, NotImplementedError, KeyError, IndexError, ValueError, AssertionError)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return "" if value is None else str(value)


def _uleb(data: list[int], pos: int) -> tuple[int, int]:
    result = shift = 0
    while pos < len(data):
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    return result, pos


def _unit_key(cu) -> tuple[str, int]:
    # Type units live in their own section, so offsets alone could collide.
    return type(cu).__name__, cu.cu_offset


def file_matches(path: str, wanted: str) -> bool:
    """Does the line-table ``path`` name the file the user typed (basename, suffix or full path)?"""
    wanted = os.path.normpath(wanted)
    return path == wanted or path.endswith("/" + wanted)


def _attr_value(die, name: str) -> Any:
    attr = die.attributes.get(name)
    return None if attr is None else attr.value


def _is_constant(attr) -> bool:
    return attr is not None and attr.form in (
        "DW_FORM_data1", "DW_FORM_data2", "DW_FORM_data4", "DW_FORM_data8",
        "DW_FORM_sdata", "DW_FORM_udata", "DW_FORM_implicit_const", "DW_FORM_data16",
    )


def _origin(die) -> Optional[Any]:
    """The DIE this one completes (definition of a declaration, instance of an abstract)."""
    for name in ("DW_AT_specification", "DW_AT_abstract_origin"):
        if name in die.attributes:
            return die.get_DIE_from_attribute(name)
    return None


def _inherited(die, name: str):
    """An attribute of ``die`` or, failing that, of the DIE it completes."""
    seen = 0
    while die is not None and seen < 8:
        if name in die.attributes:
            return die
        die = _origin(die)
        seen += 1
    return None


@dataclass
class _UnitLines:
    """The decoded line table of one unit, sorted by address."""

    starts: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    rows: list[tuple[str, int]] = field(default_factory=list)  # (path, line)
    statements: list[tuple[str, int, int]] = field(default_factory=list)  # (path, line, addr), is_stmt rows
    prologue_ends: list[int] = field(default_factory=list)  # addresses the compiler marked prologue_end

    def at(self, link_addr: int) -> Optional[tuple[str, int]]:
        i = bisect.bisect_right(self.starts, link_addr) - 1
        if i < 0 or link_addr >= self.ends[i]:
            return None
        path, line = self.rows[i]
        return (path, line) if line > 0 else None


@dataclass
class _UnitNames:
    """Top-level names of one unit (or of all units, merged)."""

    variables: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)  # name -> (addr, DIE)
    functions: dict[str, list[tuple[int, int, Any]]] = field(default_factory=dict)  # name -> (low, high, DIE)
    types: dict[str, Any] = field(default_factory=dict)  # 'struct x' / 'enum y' / typedef -> DIE

    def merge(self, other: "_UnitNames") -> None:
        for name, entries in other.variables.items():
            self.variables.setdefault(name, []).extend(entries)
        for name, entries in other.functions.items():
            self.functions.setdefault(name, []).extend(entries)
        for name, die in other.types.items():
            self.types.setdefault(name, die)


class DwarfInfo:
    """Queries over the DWARF of one ELF file; addresses are link-time."""

    def __init__(self, elf: ELFFile) -> None:
        self._elf = elf
        self._dwarf_info = None
        self._unit_list: Optional[list[Any]] = None
        self._aranges_loaded = False
        self._aranges = None
        self._unit_files: dict[tuple[str, int], list[str]] = {}
        self._unit_lines: dict[tuple[str, int], _UnitLines] = {}
        self._unit_names: dict[tuple[str, int], _UnitNames] = {}
        self._all_names: Optional[_UnitNames] = None
        # Types by DIE; structs under construction (and their typedef aliases) by id().
        self._types: dict[tuple[str, int], CType] = {}
        self._building: dict[int, list[CType]] = {}

    @property
    def _dwarf(self):
        if self._dwarf_info is None:
            self._dwarf_info = self._elf.get_dwarf_info()
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
            self._unit_list = list(self._dwarf.iter_CUs())
        return self._unit_list

    def _unit_at(self, link_addr: int):
        """The unit whose code covers ``link_addr`` per .debug_aranges, or None."""
        if not self._aranges_loaded:
            self._aranges_loaded = True
            try:
                aranges = self._dwarf.get_aranges()
            except PARSE_ERRORS:
                aranges = None
            self._aranges = aranges if aranges is not None and aranges.entries else None
        if self._aranges is None:
            return None
        offset = self._aranges.cu_offset_at_addr(link_addr)
        return None if offset is None else self._dwarf.get_CU_at(offset)

    # -- line table -------------------------------------------------------

    def _files_of(self, cu) -> list[str]:
        if _unit_key(cu) not in self._unit_files:
            try:
                program = self._dwarf.line_program_for_CU(cu)
                files = self._file_table(cu, program) if program is not None else []
            except PARSE_ERRORS:
                files = []
            self._unit_files[_unit_key(cu)] = files
        return self._unit_files[_unit_key(cu)]

    def _file_table(self, cu, program) -> list[str]:
        header = program.header
        version = header["version"]
        comp_dir = _text(_attr_value(cu.get_top_DIE(), "DW_AT_comp_dir"))
        dirs = [_text(d) for d in header["include_directory"]]
        if version < 5:
            dirs = [comp_dir] + dirs  # directory 0 is implicitly the compilation directory
        files = []
        for entry in header["file_entry"]:
            name = _text(entry.name)
            index = entry.dir_index or 0
            directory = dirs[index] if index < len(dirs) else ""
            if index and directory and not os.path.isabs(directory) and comp_dir:
                directory = os.path.join(comp_dir, directory)
            path = name if os.path.isabs(name) or not directory else os.path.join(directory, name)
            files.append(os.path.normpath(path))
        return files if version >= 5 else [""] + files  # file numbers are 1-based before DWARF 5

    def _lines_of(self, cu) -> _UnitLines:
        table = self._unit_lines.get(_unit_key(cu))
        if table is not None:
            return table
        table = _UnitLines()
        try:
            program = self._dwarf.line_program_for_CU(cu)
            states = [e.state for e in program.get_entries() if e.state is not None] if program else []
            files = self._file_table(cu, program) if program else []
        except PARSE_ERRORS:
            states, files = [], []
        ranges: list[tuple[int, int, str, int]] = []
        sequence: list[Any] = []
        for state in states:
            sequence.append(state)
            if state.end_sequence:
                self._add_sequence(sequence, files, ranges, table.statements)
                table.prologue_ends += [s.address for s in sequence if getattr(s, "prologue_end", False)]
                sequence = []
        ranges.sort()
        table.starts = [r[0] for r in ranges]
        table.ends = [r[1] for r in ranges]
        table.rows = [(r[2], r[3]) for r in ranges]
        self._unit_lines[_unit_key(cu)] = table
        return table

    @staticmethod
    def _add_sequence(sequence, files, ranges, statements) -> None:
        # Sequences at address 0 belong to code the linker discarded.
        if not sequence or sequence[0].address == 0:
            return
        stmt_line, stmt_addr = 0, -1  # the last is_stmt row at this address: its line wins (gdb)
        for row, following in zip(sequence, sequence[1:]):
            if row.file >= len(files):
                continue
            path = files[row.file]
            if row.is_stmt and row.line > 0:
                stmt_line, stmt_addr = row.line, row.address
            if following.address > row.address:
                line = stmt_line if stmt_addr == row.address else row.line
                ranges.append((row.address, following.address, path, line))
            if row.is_stmt and row.line > 0:
                statements.append((path, row.line, row.address))

    def line_at(self, link_addr: int) -> Optional[tuple[str, int]]:
        """(source path, line) of the code at ``link_addr``, or None."""
        cu = self._unit_at(link_addr)
        if cu is not None:
            found = self._lines_of(cu).at(link_addr)
            if found is not None or not self.small:
                return found
        elif self._aranges is not None and not self.small:
            return None  # trust the index of a big file rather than decode all of it
        for cu in self._units():
            found = self._lines_of(cu).at(link_addr)
            if found is not None:
                return found
        return None

    def _statements_in(self, file: str) -> list[tuple[str, int, int]]:
        rows = []
        for cu in self._units():
            # The file table is cheap; decode only the units that mention the file.
            if any(file_matches(path, file) for path in self._files_of(cu)):
                rows += [row for row in self._lines_of(cu).statements if file_matches(row[0], file)]
        return rows

    def address_of_line(self, file: str, line: int) -> Optional[int]:
        """Lowest statement address for file:line (file by basename, suffix or path), or None."""
        addresses = [addr for _, row_line, addr in self._statements_in(file) if row_line == line]
        return min(addresses) if addresses else None

    def body_start(self, low: int, high: int) -> Optional[int]:
        """Where the function at [low, high) starts after its prologue, by gdb's rule: the
        address marked prologue_end, else the second line's first address (the first byte
        when a second line already starts there, as optimised code often has)."""
        cu = self._unit_at(low)
        for unit in [cu] if cu is not None else self._units():
            table = self._lines_of(unit)
            marked = [a for a in table.prologue_ends if low <= a < high]
            if marked:
                return min(marked)
            rows = [(line, addr) for _, line, addr in table.statements if low <= addr < high]
            if not rows:
                continue
            if len({line for line, addr in rows if addr == low}) > 1:
                return low
            later = [addr for _, addr in rows if addr > low]
            return min(later) if later else low
        return None

    def lines_in(self, file: str) -> list[int]:
        """Sorted lines of ``file`` that have code."""
        return sorted({row_line for _, row_line, _ in self._statements_in(file)})

    # -- top-level names ----------------------------------------------------

    def _names_of(self, cu) -> _UnitNames:
        names = self._unit_names.get(_unit_key(cu))
        if names is None:
            names = _UnitNames()
            try:
                for die in cu.get_top_DIE().iter_children():
                    self._index_die(die, names)
            except PARSE_ERRORS:
                pass
            self._unit_names[_unit_key(cu)] = names
        return names

    def _names(self) -> _UnitNames:
        """Names of every unit: a one-time scan (seconds for a big library)."""
        if self._all_names is None:
            merged = _UnitNames()
            type_units = list(self._dwarf.iter_TUs()) if self._dwarf.has_debug_types else []
            for cu in self._units() + type_units:
                merged.merge(self._names_of(cu))
            self._all_names = merged
        return self._all_names

    def _index_die(self, die, names: _UnitNames) -> None:
        tag = die.tag
        if tag == "DW_TAG_variable":
            addr = self._static_address(die)
            name_die = _inherited(die, "DW_AT_name")
            if addr is not None and name_die is not None:
                names.variables.setdefault(_text(_attr_value(name_die, "DW_AT_name")), []).append((addr, die))
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
        addr, die = candidates[0]
        type_die = _inherited(die, "DW_AT_type")
        return addr, (self.type_of(type_die) if type_die is not None else VOID)

    def variable_names(self) -> list[str]:
        return sorted(self._names().variables)

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
            containing = [e for entries in names.functions.values() for e in entries if e[0] <= at < e[1]]
            if containing:
                return containing[0]
        return None

    def function_range(self, name: str, at: Optional[int] = None) -> Optional[tuple[int, int]]:
        """Link-time [low, high) of a function's code, or None; ``at`` (an address in it) makes it cheap."""
        entry = self._function_entry(name, at)
        return None if entry is None else (entry[0], entry[1])

    def function_type(self, name: str, at: Optional[int] = None) -> Optional[CType]:
        """The function's C type ('int (int)'); ``at`` (an address in it) makes it cheap."""
        entry = self._function_entry(name, at)
        if entry is None:
            return None
        die = entry[2]
        return self._function_ctype(_inherited(die, "DW_AT_type"), die, _inherited(die, "DW_AT_prototyped"))

    def type_named(self, name: str) -> Optional[CType]:
        """A type by its C spelling: 'struct config', 'enum color', a typedef or base type name."""
        die = self._names().types.get(" ".join(name.split()))
        return None if die is None else self._convert(die)

    # -- types ------------------------------------------------------------

    def type_of(self, die) -> CType:
        """The type a DIE's DW_AT_type names (void when it has none)."""
        if "DW_AT_type" not in die.attributes:
            return VOID
        return self._convert(die.get_DIE_from_attribute("DW_AT_type"))

    def _convert(self, die) -> CType:
        key = (_unit_key(die.cu)[0], die.offset)
        cached = self._types.get(key)
        if cached is not None:
            return cached
        try:
            ctype = self._convert_uncached(die, key)
        except PARSE_ERRORS:  # one unreadable type should not hide the variable
            ctype = CType("void", "<unreadable type>", 0)
        self._types[key] = ctype
        return ctype

    def _convert_uncached(self, die, key) -> CType:
        tag = die.tag
        name = _text(_attr_value(die, "DW_AT_name"))
        if tag == "DW_TAG_base_type":
            return self._base_type(die, name)
        if tag in QUALIFIER_TAGS:
            return self.type_of(die)
        if tag == "DW_TAG_typedef":
            return self._typedef(die, name)
        if tag in ("DW_TAG_pointer_type", "DW_TAG_reference_type", "DW_TAG_rvalue_reference_type"):
            target = self.type_of(die)
            size = _attr_value(die, "DW_AT_byte_size") or die.cu["address_size"]
            return CType("pointer", pointer_name(target), size, target=target)
        if tag in AGGREGATE_KEYWORDS:
            return self._aggregate(die, name, key)
        if tag == "DW_TAG_enumeration_type":
            return self._enum(die, name)
        if tag == "DW_TAG_array_type":
            return self._array(die)
        if tag in ("DW_TAG_subroutine_type", "DW_TAG_subprogram"):
            return self._function_ctype(die, die, die)
        if tag == "DW_TAG_unspecified_type":
            return CType("void", name or "void", 0)
        return CType("void", name or tag.replace("DW_TAG_", ""), _attr_value(die, "DW_AT_byte_size") or 0)

    @staticmethod
    def _base_type(die, name: str) -> CType:
        size = _attr_value(die, "DW_AT_byte_size") or 0
        encoding = _attr_value(die, "DW_AT_encoding")
        if encoding == dw.DW_ATE_boolean:
            return CType("bool", name, size)
        if encoding == dw.DW_ATE_float:
            return CType("float", name, size, signed=True)
        if encoding == dw.DW_ATE_complex_float:
            part = CType("float", name.replace("complex", "").strip() or "double", size // 2, signed=True)
            return CType("array", name, size, target=part, count=2)
        if encoding in (dw.DW_ATE_signed_char, dw.DW_ATE_unsigned_char, dw.DW_ATE_UTF):
            return CType("char", name, size, signed=encoding == dw.DW_ATE_signed_char)
        return CType("int", name, size, signed=encoding in (dw.DW_ATE_signed, dw.DW_ATE_signed_fixed))

    def _typedef(self, die, name: str) -> CType:
        target = self.type_of(die)
        alias = dataclasses.replace(target, name=name)
        # A typedef of a struct still being built must receive its fields later too.
        pending = self._building.get(id(target))
        if pending is not None:
            pending.append(alias)
            self._building[id(alias)] = pending
        return alias

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
        return found if found is not None else die

    def _aggregate(self, die, name: str, key) -> CType:
        definition = self._complete_definition(die)
        if definition is not die:
            return self._convert(definition)
        keyword = AGGREGATE_KEYWORDS[die.tag]
        kind = "union" if keyword == "union" else "struct"
        ctype = CType(kind, f"{keyword} {name}" if name else f"{keyword} {{...}}", _attr_value(die, "DW_AT_byte_size") or 0)
        # Cached before the members are converted so self-referential types terminate;
        # the fields are filled in afterwards (on the struct and any typedef of it).
        self._types[key] = ctype
        pending = [ctype]
        self._building[id(ctype)] = pending
        try:
            fields = tuple(self._member(child) for child in die.iter_children() if child.tag == "DW_TAG_member")
        finally:
            for alias in pending:
                self._building.pop(id(alias), None)
        for alias in pending:
            object.__setattr__(alias, "fields", fields)
        return ctype

    def _member(self, die) -> Field:
        ctype = self.type_of(die)
        name = _text(_attr_value(die, "DW_AT_name"))
        offset = self._member_offset(die)
        bit_size = _attr_value(die, "DW_AT_bit_size")
        if bit_size is None:
            return Field(name, offset, ctype)
        if "DW_AT_data_bit_offset" in die.attributes:  # DWARF 4+: bits from the start of the struct
            total_bits = die.attributes["DW_AT_data_bit_offset"].value
        else:  # DWARF 2/3: bits from the most significant end of a storage unit
            unit = _attr_value(die, "DW_AT_byte_size") or ctype.size
            big_end_offset = _attr_value(die, "DW_AT_bit_offset") or 0
            if self._elf.little_endian:
                total_bits = offset * 8 + unit * 8 - big_end_offset - bit_size
            else:
                total_bits = offset * 8 + big_end_offset
        return self._bitfield(name, ctype, total_bits, bit_size)

    @staticmethod
    def _bitfield(name: str, ctype: CType, total_bits: int, bit_size: int) -> Field:
        """Place a bitfield in a storage unit of its type's size: read ctype.size bytes at
        ``offset``, shift right by ``bit_offset`` (little-endian), keep ``bit_size`` bits."""
        unit = max(ctype.size, 1)
        offset = total_bits // (8 * unit) * unit
        bit_offset = total_bits - offset * 8
        if bit_offset + bit_size > unit * 8:  # straddles a unit boundary (packed structs)
            offset, bit_offset = total_bits // 8, total_bits % 8
        return Field(name, offset, ctype, bit_size=bit_size, bit_offset=bit_offset)

    @staticmethod
    def _member_offset(die) -> int:
        attr = die.attributes.get("DW_AT_data_member_location")
        if attr is None:
            return 0  # union members and DWARF 4 bitfields
        if isinstance(attr.value, int):
            return attr.value
        expr = attr.value
        if expr and expr[0] == DW_OP_plus_uconst:
            return _uleb(expr, 1)[0]
        return 0

    def _enum(self, die, name: str) -> CType:
        definition = self._complete_definition(die)
        if definition is not die:
            return self._convert(definition)
        size = _attr_value(die, "DW_AT_byte_size") or 0
        enumerators = []
        for child in die.iter_children():
            if child.tag == "DW_TAG_enumerator":
                enumerators.append((_text(_attr_value(child, "DW_AT_name")), _attr_value(child, "DW_AT_const_value")))
        if "DW_AT_type" in die.attributes:
            signed = self.type_of(die).signed
        else:
            signed = any(value < 0 for _, value in enumerators)
        if signed and size:
            # Unsigned data forms carry negative values as their two's complement.
            limit = 1 << (8 * size)
            enumerators = [(n, v - limit if v >= limit >> 1 else v) for n, v in enumerators]
        return CType("enum", f"enum {name}" if name else "enum {...}", size, signed=signed,
                     enumerators=tuple(enumerators))

    def _array(self, die) -> CType:
        element = self.type_of(die)
        counts: list[Optional[int]] = []
        for child in die.iter_children():
            if child.tag != "DW_TAG_subrange_type":
                continue
            count_attr = child.attributes.get("DW_AT_count")
            upper_attr = child.attributes.get("DW_AT_upper_bound")
            if _is_constant(count_attr):
                counts.append(count_attr.value)
            elif _is_constant(upper_attr):
                lower = _attr_value(child, "DW_AT_lower_bound") or 0
                upper = upper_attr.value
                if upper_attr.form != "DW_FORM_sdata" and upper >= 1 << 63:
                    upper -= 1 << 64  # "int a[0]" may be encoded as upper bound -1
                counts.append(max(upper - lower + 1, 0))
            else:
                counts.append(None)  # flexible or variable-length array
        if not counts:
            counts = [None]
        ctype = element
        dims = ""
        for count in reversed(counts):
            dims = f"[{'' if count is None else count}]" + dims
            size = ctype.size * count if count is not None else 0
            ctype = CType("array", f"{element.name} {dims}", size, target=ctype, count=count)
        return ctype

    def _function_ctype(self, type_die, params_die, prototyped_die=None) -> CType:
        result = self.type_of(type_die) if type_die is not None else VOID
        params = []
        for child in params_die.iter_children():
            if child.tag == "DW_TAG_formal_parameter":
                params.append(self.type_of(child).name)
            elif child.tag == "DW_TAG_unspecified_parameters":
                params.append("...")
        if not params and prototyped_die is not None and _attr_value(prototyped_die, "DW_AT_prototyped"):
            params = ["void"]
        # sizeof a function is 1 in GNU C; it is never read as data.
        return CType("func", f"{result.name} ({', '.join(params)})", 1, target=result)
