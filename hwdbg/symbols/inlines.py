"""Where a function was inlined: the entry address of each DW_TAG_inlined_subroutine whose
abstract origin has that name (gdb's breakpoint locations for ``break FUNCTION``: every inlined
copy, at gdb 13's BLOCK_ENTRY_PC, the start of its first range, plus the out-of-line copy if
there is one).

Every DIE of the file is read once, in C (``hwdbg_inline_scan``: python3.11d's 900,000 DIEs
take pyelftools about a minute), and the copies are kept by name in the index cache beside the
name index (``BUILD-ID.inlines``). Without the C module a small file is walked with pyelftools.
"""
from __future__ import annotations

from typing import Any, Optional

from hwdbg.symbols import index as name_index
from hwdbg.symbols.dwarf import DwarfInfo
from hwdbg.symbols.dwarf_types import PARSE_ERRORS, function_name
from hwdbg.symbols.scopes import _ranges

KIND = "inlines"  # the cache file's suffix


def inline_sites(dwarf: DwarfInfo, name: str, slow_ok: bool = True) -> list[int]:
    """Link-time entry addresses of the inlined copies of ``name``, lowest first. ``slow_ok``:
    may the copies be collected with pyelftools when the C scanner cannot (a big file takes
    minutes)?"""
    return sorted({entry for entry, end, _ in _copies(dwarf, name, slow_ok) if not end})


def function_copies(dwarf: DwarfInfo, name: str, slow_ok: bool = True) -> list[tuple[int, int]]:
    """Link-time [entry, end) of the out-of-line copies of ``name`` that DWARF makes from its
    abstract instance: the function itself where it is inlined elsewhere too, and the clones
    gcc splits off (``.part.0``, ``.isra.0``, ``.constprop.0``), which gdb breaks in as well."""
    return sorted({(entry, end) for entry, end, _ in _copies(dwarf, name, slow_ok) if end})


def _copies(dwarf: DwarfInfo, name: str, slow_ok: bool) -> list[tuple[int, int, Any]]:
    table = getattr(dwarf, "_inline_sites", None)
    if table is None:
        table = _load(dwarf, slow_ok)
        if table is None:
            return []
        dwarf._inline_sites = table  # type: ignore[attr-defined]
    return table.get(name, [])


def _load(dwarf: DwarfInfo, slow_ok: bool) -> Any:
    """name -> [(entry, end, DIE)]: from the cache, the C scanner, or (``slow_ok``) pyelftools."""
    info = dwarf._dwarf.debug_info_sec
    size = info.size if info is not None else 0
    cached = name_index.load_cached(dwarf._build_id, size, KIND)
    if cached is not None:
        return cached.inlines
    try:
        found = name_index.scan(dwarf._dwarf, dwarf._elf.stream.name, inlines=True)
    except name_index.ScanError as e:
        if not slow_ok:
            return None
        name_index.notice(f"{e}; reading inlined functions the slow way")
        return _collect(dwarf)
    name_index.store(found, dwarf._build_id, size, KIND)
    return found.inlines


def _collect(dwarf: DwarfInfo, units: Optional[list[Any]] = None) -> dict[str, list[tuple[int, int, Any]]]:
    """The copies in every unit (or in ``units``), with pyelftools."""
    out: dict[str, list[tuple[int, int, Any]]] = {}
    try:
        for unit in dwarf._units() if units is None else units:
            for die in unit.iter_DIEs():
                inlined = die.tag == "DW_TAG_inlined_subroutine"
                if not inlined and not (die.tag == "DW_TAG_subprogram" and "DW_AT_abstract_origin" in die.attributes):
                    continue
                ranges = [(low, high) for low, high in _ranges(dwarf, die) if low != 0 and high > low]
                name = function_name(die)
                if ranges and name is not None:
                    out.setdefault(name, []).append((ranges[0][0], 0 if inlined else ranges[0][1], die))
    except PARSE_ERRORS:
        pass
    return out
