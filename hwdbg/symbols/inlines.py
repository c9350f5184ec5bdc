"""Where a function was inlined: the entry address of each DW_TAG_inlined_subroutine whose
abstract origin has that name (gdb's breakpoint locations for ``break FUNCTION``: every inlined
copy, at the first address of its first range, plus the out-of-line copy if there is one).

The units of the file are walked once, and every inlined function's sites kept by name.
"""
from __future__ import annotations

from hwdbg.symbols.dwarf import DwarfInfo
from hwdbg.symbols.dwarf_types import PARSE_ERRORS, _attr_value, _inherited, _text
from hwdbg.symbols.scopes import _ranges


def inline_sites(dwarf: DwarfInfo, name: str) -> list[int]:
    """Link-time entry addresses of the inlined copies of ``name``, lowest first."""
    sites = getattr(dwarf, "_inline_sites", None)
    if sites is None:
        sites = dwarf._inline_sites = _collect(dwarf)  # type: ignore[attr-defined]
    return sites.get(name, [])


def _collect(dwarf: DwarfInfo) -> dict[str, list[int]]:
    out: dict[str, set[int]] = {}
    try:
        for unit in dwarf._units():
            for die in unit.iter_DIEs():
                if die.tag != "DW_TAG_inlined_subroutine":
                    continue
                ranges = _ranges(dwarf, die)
                name_die = _inherited(die, "DW_AT_name")
                if not ranges or name_die is None:
                    continue
                out.setdefault(_text(_attr_value(name_die, "DW_AT_name")), set()).add(ranges[0][0])
    except PARSE_ERRORS:
        pass
    return {name: sorted(addrs) for name, addrs in out.items()}
