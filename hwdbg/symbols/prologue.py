"""Where gdb 13 puts a breakpoint on a function: its rule for the end of the prologue on x86-64,
as pure logic over facts the symbol layer gathers (symbols/prologue_facts.py).

gdb (symtab.c find_function_start_sal_1, skip_prologue_sal; amd64-tdep.c amd64_skip_prologue):

- A unit whose variables have location lists (optimised code from gcc >= 4.5: gdb's
  ``locations_valid``), or one written in assembler, is trusted: ``break FUNCTION`` stops at
  the function's first byte, whatever follows.
- Otherwise an address the compiler marked ``prologue_end`` wins.
- Otherwise the amd64 analysis: ``[endbr64] push %rbp; mov %rsp,%rbp`` is skipped; a function
  without it is frameless and stays at its first byte (gcc's line table alone is not trusted
  on amd64, so there is no "second line" rule). Left mid-line, the breakpoint moves on to the
  start of the next line-table entry when that is still inside the function.

``FILE:LINE`` locations go through skip_prologue_sal alone: a location before the address
above moves to it; in a trusted unit that address is the entry itself (gdb's second pass
without skipping), so nothing moves unless ``prologue_end`` says so.
"""
from __future__ import annotations

from typing import Callable, Optional

from ..recordtype import record

# find_pc_line: the (start, end) of the line-table entry holding an address, or None.
LineSpan = Callable[[int], Optional[tuple[int, int]]]


@record(frozen=True)
class FunctionFacts:
    """What gdb's rule looks at, for one function (addresses all in one space)."""

    entry: int  # the function's first byte (BLOCK_ENTRY_PC, or the ELF symbol's value)
    end: int  # the end of its code (BLOCK_END)
    trusted: bool = False  # its unit has location lists (gdb's locations_valid)
    asm: bool = False  # its line table is an assembler's
    prologue_end: Optional[int] = None  # the first address marked prologue_end in [entry, end)
    frame_setup: int = 0  # frame_setup_length of the code at entry
    has_debug_function: bool = True  # DWARF describes the function (else: an ELF symbol only)


def prologue_skip(facts: FunctionFacts, line_span: LineSpan) -> int:
    """The address skip_prologue_sal computes for the function: where a location before it
    moves to."""
    if facts.has_debug_function:  # gdb asks the unit of the function's symbol, if there is one
        if facts.prologue_end is not None:
            return facts.prologue_end
        if facts.trusted:
            return facts.entry  # the second pass, without skipping, is the one that counts
    pc = facts.entry + facts.frame_setup
    span = line_span(pc)
    # Left mid-line: on to the next entry, if the function goes on there.
    if span is not None and span[0] != pc and facts.entry <= span[1] < facts.end:
        pc = span[1]
    return pc


def function_start(facts: FunctionFacts, line_span: LineSpan) -> int:
    """Where ``break FUNCTION`` goes (find_function_start_sal with funfirstline)."""
    span = line_span(facts.entry)
    if span is not None and (facts.trusted or facts.asm):
        return facts.entry
    return max(facts.entry, prologue_skip(facts, line_span))


def line_moves_to(facts: FunctionFacts, line_span: LineSpan, addr: int) -> Optional[int]:
    """Where skip_prologue_sal moves a ``FILE:LINE`` location at ``addr`` in the function, or
    None when it stays."""
    pc = prologue_skip(facts, line_span)
    return pc if addr < pc else None
