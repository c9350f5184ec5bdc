"""Where ``break FILE:LINE`` goes, by gdb 13's rules (linespec.c create_sals_line_offset):
every is_stmt address of the line, but only the first in each block, an inlined copy of a
function being a block of its own (so a line of an inline function has one location per
copy); each one at a function's entry moved past the prologue (skip_prologue_sal). The line
reported is the one asked (or the next with code), unless the prologue skip moved it."""
from __future__ import annotations

from typing import Any, Optional

from ..recordtype import record
from .prologue import line_moves_to
from .prologue_facts import function_facts, line_span
from .scopes import function_ranges, function_scope


@record(frozen=True)
class LineSite:
    addr: int  # run-time
    line: int  # the line gdb reports for it


def line_sites(symbols: Any, file: str, line: int) -> tuple[list[LineSite], int]:
    """The locations of file:line (sorted by address) and the line with code they are for."""
    first, found = symbols.line_with_code(file, line)  # raises the user's error if nothing has code
    sites: dict[int, LineSite] = {}
    # The module that has the line (the executable and small files first, as address_of_line
    # looks): reading every unit of a big library's debug info for a file it lacks is slow.
    module = symbols.module_for(first)
    dwarf = module.dwarf if module is not None else None
    if dwarf is not None:
        seen: set[int] = set()
        addresses = dwarf.line_addresses(file, found)
        for link_addr in addresses:
            # Blocks tell apart the addresses of a line; one alone needs none (a big function's
            # blocks cost more to read than the rest of the command).
            block = _block_at(dwarf, link_addr) if len(addresses) > 1 else None
            if block is not None:
                if id(block) in seen:
                    continue
                seen.add(id(block))
            site = _past_prologue(module, link_addr, found)
            addr = site.addr + module.bias
            sites.setdefault(addr, LineSite(addr, site.line))
    if not sites:
        return [LineSite(first, found)], found
    return sorted(sites.values(), key=lambda site: site.addr), found


def _block_at(dwarf: Any, link_pc: int) -> Optional[Any]:
    """gdb's block_for_pc: the innermost lexical block with variables, inlined subroutine or
    function around the pc (gdb makes no block of a lexical block without variables)."""
    scope = function_scope(dwarf, link_pc)
    if scope is None:
        return None
    block = shown = scope.top
    while True:
        inner = next((b for b in block.blocks + block.inlines if b.contains(link_pc)), None)
        if inner is None:
            return shown
        block = inner
        if inner.inline is not None or inner.variables:
            shown = inner


def _past_prologue(module: Any, link_addr: int, line: int) -> LineSite:
    """A location in a function's prologue moves to where its body starts, and takes that line
    (gdb's skip_prologue_sal: in optimised code nothing moves, see symbols/prologue.py)."""
    dwarf = module.dwarf
    ranges = function_ranges(dwarf, link_addr)
    if not ranges:
        return LineSite(link_addr, line)
    low, high = min(start for start, _ in ranges), max(end for _, end in ranges)
    facts = function_facts(module.image, dwarf, low, high - low)
    body = line_moves_to(facts, line_span(dwarf), link_addr)
    if body is None:
        return LineSite(link_addr, line)
    moved = dwarf.line_at(body)
    return LineSite(body, moved[1] if moved else line)
