"""DWARF abbreviation tables decoded with plain byte arithmetic, into pyelftools' own
``AbbrevTable``/``AbbrevDecl`` objects.

pyelftools decodes a table through construct, one Container per attribute: for a unit of
python3.11d or libc (a few hundred declarations) that is tens of milliseconds, paid by the
first DIE read from each unit, which is most of what one lookup in a big program costs.
The result is the same objects pyelftools makes (a test compares them), so the DIE parser
uses them unchanged.
"""
from __future__ import annotations

from typing import Any, NamedTuple

from elftools.common.exceptions import DWARFError
from elftools.dwarf.abbrevtable import AbbrevDecl, AbbrevTable
from elftools.dwarf.enums import ENUM_DW_AT, ENUM_DW_CHILDREN, ENUM_DW_FORM, ENUM_DW_TAG

_TAGS = {v: k for k, v in ENUM_DW_TAG.items()}
_ATTRS = {v: k for k, v in ENUM_DW_AT.items()}
_FORMS = {v: k for k, v in ENUM_DW_FORM.items()}
_CHILDREN = {v: k for k, v in ENUM_DW_CHILDREN.items()}
DW_FORM_implicit_const = 0x21


class AttrSpec(NamedTuple):
    """One (attribute, form) of a declaration, read like pyelftools' Container: .name, .form, .value."""

    name: Any  # 'DW_AT_name', or the number of an attribute pyelftools does not name
    form: Any
    value: Any = None  # DW_FORM_implicit_const: the constant


def _uleb(data, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _sleb(data, pos: int) -> tuple[int, int]:
    start = pos
    value, pos = _uleb(data, pos)
    bits = 7 * (pos - start)
    return (value - (1 << bits) if value & (1 << (bits - 1)) else value), pos


def parse_table(data, offset: int) -> dict[int, AbbrevDecl]:
    """The declarations of the table at ``offset`` in .debug_abbrev ``data``, by code."""
    table: dict[int, AbbrevDecl] = {}
    pos = offset
    try:
        while True:
            code, pos = _uleb(data, pos)
            if code == 0:
                return table
            tag, pos = _uleb(data, pos)
            children = data[pos]
            pos += 1
            specs = []
            while True:
                name, pos = _uleb(data, pos)
                form, pos = _uleb(data, pos)
                if name == 0 and form == 0:
                    break
                value = None
                if form == DW_FORM_implicit_const:
                    value, pos = _sleb(data, pos)
                specs.append(AttrSpec(_ATTRS.get(name, name), _FORMS.get(form, form), value))
            decl = {"tag": _TAGS.get(tag, tag), "children_flag": _CHILDREN.get(children, children), "attr_spec": specs}
            table[code] = AbbrevDecl(code, decl)
    except IndexError:
        raise DWARFError(f"abbreviation table at .debug_abbrev+{offset:#x} runs past the section") from None


def install(dwarfinfo) -> None:
    """Make ``dwarfinfo.get_abbrev_table`` decode tables here (cached as pyelftools caches them)."""
    cache = dwarfinfo._abbrevtable_cache

    def get_abbrev_table(offset: int) -> AbbrevTable:
        table = cache.get(offset)
        if table is None:
            section = dwarfinfo.debug_abbrev_sec
            if section is None or not 0 <= offset < section.size:
                raise DWARFError(f"Offset '{offset:#x}' to abbrev table out of section bounds")
            table = AbbrevTable.__new__(AbbrevTable)
            table.structs, table.stream, table.offset = dwarfinfo.structs, section.stream, offset
            stream = section.stream
            table._abbrev_map = parse_table(stream.whole() if hasattr(stream, "whole") else stream.getbuffer(), offset)
            cache[offset] = table
        return table

    dwarfinfo.get_abbrev_table = get_abbrev_table
