"""C types from DWARF DIEs: base types, qualifiers, typedefs, structs and unions (with
bitfields), enums, arrays and function types, each converted once and cached by DIE.

``TypeDecoder`` is a mixin of ``DwarfInfo`` (hwdbg/symbols/dwarf.py), which supplies
``_elf`` and ``_complete_definition`` (an opaque declaration's definition, by name).
"""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable, Optional

from elftools.common.exceptions import DWARFError, ELFError
from elftools.dwarf import constants as dw
from elftools.dwarf.dwarf_expr import DW_OP_name2opcode

from hwdbg.symbols.types import CType, Field, base_type_name, fill_later, member, pointer_name, renamed

VOID = CType("void", "void", 0)
SMALL_DEBUG_INFO = 256 << 10  # bytes of .debug_info that index in about a tenth of a second

# Location expressions are matched as raw bytes, so the opcodes are needed as numbers.
DW_OP_addr, DW_OP_plus_uconst = DW_OP_name2opcode["DW_OP_addr"], DW_OP_name2opcode["DW_OP_plus_uconst"]
DW_OP_addrx, DW_OP_GNU_addr_index = DW_OP_name2opcode["DW_OP_addrx"], DW_OP_name2opcode["DW_OP_GNU_addr_index"]
DW_OP_const4u, DW_OP_const8u, DW_OP_constu = (DW_OP_name2opcode[n] for n in ("DW_OP_const4u", "DW_OP_const8u", "DW_OP_constu"))
DW_OP_GNU_push_tls_address, DW_OP_form_tls_address = 0xE0, 0x9B

QUALIFIER_TAGS = frozenset(
    ("DW_TAG_const_type", "DW_TAG_volatile_type", "DW_TAG_restrict_type", "DW_TAG_atomic_type", "DW_TAG_immutable_type")
)
SCALAR_LEAVES = ("int", "char", "bool", "float", "enum")
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
    return file_matcher(wanted)(path)


def file_matcher(wanted: str) -> Callable[[str], bool]:
    """``file_matches`` for one ``wanted``, normalised once (for a search over many paths)."""
    wanted = os.path.normpath(wanted)
    suffix = "/" + wanted
    return lambda path: path == wanted or path.endswith(suffix)


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


def function_name(die) -> Optional[str]:
    """gdb's name of a C function DIE: its DW_AT_linkage_name when it has one (glibc's
    ``__GI___clock_nanosleep``), through its declaration or abstract origin, else DW_AT_name."""
    for attr in ("DW_AT_linkage_name", "DW_AT_MIPS_linkage_name", "DW_AT_name"):
        found = _inherited(die, attr)
        if found is not None:
            return _text(_attr_value(found, attr))
    return None


class TypeDecoder:
    """DIE -> CType, for a class that has ``_elf``, ``_types`` and ``_complete_definition``."""

    _elf: Any
    _types: dict

    def _complete_definition(self, die):  # pragma: no cover - supplied by DwarfInfo
        raise NotImplementedError

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
            return self._base_type(die, base_type_name(name))
        if tag in QUALIFIER_TAGS:
            return self._qualified(die)
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

    def _qualified(self, die) -> CType:
        """``const char``: gdb spells the const and volatile of a base or enum type; other
        qualified types (pointers, structs, typedefs) read as their unqualified type."""
        target = self.type_of(die)
        word = {"DW_TAG_const_type": "const", "DW_TAG_volatile_type": "volatile"}.get(die.tag)
        if word is None or target.typedef_of is not None or target.kind not in (*SCALAR_LEAVES, "void"):
            return target
        words = target.name.split()
        qualifiers = {word, *(w for w in words if w in ("const", "volatile"))}
        rest = " ".join(w for w in words if w not in ("const", "volatile"))
        name = " ".join(q for q in ("const", "volatile") if q in qualifiers)  # gdb's order, whatever DWARF's
        return dataclasses.replace(target, name=f"{name} {rest}")

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
        return renamed(self.type_of(die), name)

    def _aggregate(self, die, name: str, key) -> CType:
        definition = self._complete_definition(die)
        if definition is not die:
            return self._convert(definition)
        keyword = AGGREGATE_KEYWORDS[die.tag]
        kind = "union" if keyword == "union" else "struct"
        ctype = CType(kind, f"{keyword} {name}" if name else f"{keyword} {{...}}", _attr_value(die, "DW_AT_byte_size") or 0)
        # Cached before the members are converted so self-referential types terminate; the
        # members are converted when first asked for, so a big struct costs nothing until used.
        self._types[key] = ctype
        fill_later(ctype, lambda: self._members(die))
        return ctype

    def _members(self, die) -> tuple[Field, ...]:
        try:
            return tuple(self._member(child) for child in die.iter_children() if child.tag == "DW_TAG_member")
        except PARSE_ERRORS:  # one unreadable member list should not take the struct's name too
            return ()

    def _member(self, die) -> Field:
        name = _text(_attr_value(die, "DW_AT_name"))
        offset = self._member_offset(die)
        bit_size = _attr_value(die, "DW_AT_bit_size")
        if bit_size is None:
            return member(name, offset, lambda: self._member_type(die))
        ctype = self.type_of(die)
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

    def _member_type(self, die) -> CType:
        try:
            return self.type_of(die)
        except PARSE_ERRORS:  # read after the member list: one unreadable type stays one member's
            return CType("void", "<unreadable type>", 0)

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
        params, types = [], []
        for child in params_die.iter_children():
            if child.tag == "DW_TAG_formal_parameter":
                types.append(self.type_of(child))
                params.append(types[-1].name)
            elif child.tag == "DW_TAG_unspecified_parameters":
                params.append("...")
                types.append(None)
        prototyped = prototyped_die is not None and _attr_value(prototyped_die, "DW_AT_prototyped")
        if not params and prototyped:
            params = ["void"]
        # sizeof a function is 1 in GNU C; it is never read as data.
        return CType("func", f"{result.name} ({', '.join(params)})", 1, target=result,
                     params=tuple(types) if prototyped or types else None)

