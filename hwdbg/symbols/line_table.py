"""The line table of one compilation unit, as the queries of symbols/dwarf_lines.py read it:
flat arrays (memoryviews when built in C, lists here), never a Python object per row.

- ranges: [start, end) -> (file, line) of the code there (address -> file:line), sorted;
- entries: gdb's line table (address, line, file, is_stmt), line 0 being the end marker of a
  sequence (gdb's find_pc_line and the prologue rule look at it);
- prologue_ends: the addresses the compiler marked prologue_end, sorted.

``build`` makes it in C (line_program.table) when it can; ``from_states`` is the reference,
the same tables from pyelftools' states, for the programs the C decoder leaves alone.
"""
from __future__ import annotations

import bisect
from typing import Any, Optional, Sequence

from hwdbg.recordtype import record
from hwdbg.symbols import line_program

NO_FILE = line_program.NO_FILE


@record
class UnitLines:
    """One unit's tables; ``files`` turns a file number into its path."""

    files: list[str]
    starts: Sequence[int] = ()
    ends: Sequence[int] = ()
    lines: Sequence[int] = ()
    file_ids: Sequence[int] = ()
    entry_addrs: Sequence[int] = ()
    entry_lines: Sequence[int] = ()
    entry_files: Sequence[int] = ()
    entry_stmts: Sequence[int] = ()
    prologue_ends: Sequence[int] = ()

    def _range(self, link_addr: int) -> int:
        """The index of the range holding ``link_addr``, or -1."""
        i = bisect.bisect_right(self.starts, link_addr) - 1
        return i if i >= 0 and link_addr < self.ends[i] else -1

    def at(self, link_addr: int) -> Optional[tuple[str, int]]:
        """(path, line) of the code at ``link_addr``, or None."""
        i = self._range(link_addr)
        if i < 0 or self.lines[i] <= 0:
            return None
        return self.files[self.file_ids[i]], self.lines[i]

    def row_start(self, link_addr: int) -> Optional[int]:
        i = self._range(link_addr)
        return self.starts[i] if i >= 0 else None

    def entry(self, link_addr: int) -> Optional[tuple[int, int, str, int, bool]]:
        """(start, end, path, line, is_stmt) of the entry holding ``link_addr`` (gdb's
        find_pc_line: at one address the is_stmt entry wins), or None."""
        addrs, lines, stmts = self.entry_addrs, self.entry_lines, self.entry_stmts
        i = bisect.bisect_right(addrs, link_addr) - 1
        if i < 0 or i + 1 >= len(addrs):
            return None  # no entry, or no end after it
        start = addrs[i]
        j = i
        while not stmts[j] and j > 0 and addrs[j - 1] == start and lines[j - 1]:
            j -= 1
        k = j if stmts[j] else i
        if lines[k] == 0:
            return None
        return start, addrs[i + 1], self.files[self.entry_files[k]], lines[k], bool(stmts[k])

    def prologue_end_in(self, low: int, high: int) -> Optional[int]:
        """The first address in [low, high) marked prologue_end, or None."""
        i = bisect.bisect_left(self.prologue_ends, low)
        return self.prologue_ends[i] if i < len(self.prologue_ends) and self.prologue_ends[i] < high else None


def _ranks(files: list[str]) -> list[int]:
    """Each file number's place among the paths in string order (equal paths, equal places)."""
    order = {path: rank for rank, path in enumerate(sorted(set(files)))}
    return [order[path] for path in files]


def build(program: Any, files: list[str]) -> Optional[UnitLines]:
    """The unit's tables built in C from its line program, or None where that cannot be done."""
    arrays = line_program.table(program, len(files), _ranks(files))
    if arrays is None:
        return None
    arrays["file_ids"] = arrays.pop("files")
    return UnitLines(files, **arrays)


def build_from_header(section: Any, header: Any, files: list[str]) -> Optional[UnitLines]:
    """``build`` for a program read by symbols/unit_header.py from ``section`` (.debug_line)."""
    arrays = line_program.table_of_header(section, header, len(files), _ranks(files))
    if arrays is None:
        return None
    arrays["file_ids"] = arrays.pop("files")
    return UnitLines(files, **arrays)


def from_states(states: Sequence[Any], files: list[str]) -> UnitLines:
    """The unit's tables from line-program states (pyelftools' attribute names), in Python."""
    ranks = _ranks(files)
    ranges: list[tuple[int, int, int, int, int]] = []
    entries: list[tuple[int, int, int, bool]] = []
    prologue_ends: list[int] = []
    sequence: list[Any] = []
    for state in states:
        sequence.append(state)
        if state.end_sequence:
            prologue_ends += [s.address for s in sequence if getattr(s, "prologue_end", False)]
            if sequence[0].address != 0:  # a sequence at 0: code the linker discarded
                _add_ranges(sequence, len(files), ranks, ranges)
                _add_entries(sequence, len(files), entries)
            sequence = []
    ranges.sort()
    entries.sort(key=lambda e: (e[0], e[1] != 0))  # an end marker before a line at its address (gdb)
    return UnitLines(files, [r[0] for r in ranges], [r[1] for r in ranges], [r[3] for r in ranges],
                     [r[4] for r in ranges], [e[0] for e in entries], [e[1] for e in entries],
                     [e[2] for e in entries], [int(e[3]) for e in entries], sorted(prologue_ends))


def _add_ranges(sequence, nfiles: int, ranks: list[int], ranges: list) -> None:
    """(start, end, path rank, line, file): each row up to the next address; the last is_stmt
    row at an address names it (gdb)."""
    stmt_file, stmt_line, stmt_addr = 0, 0, -1
    for row, following in zip(sequence, sequence[1:]):
        if row.file >= nfiles:
            continue
        file, line = row.file, row.line
        if row.is_stmt and row.line > 0:
            stmt_file, stmt_line, stmt_addr = file, row.line, row.address
        if following.address > row.address:
            if stmt_addr == row.address:
                file, line = stmt_file, stmt_line
            ranges.append((row.address, following.address, ranks[file], line, file))


def _add_entries(sequence, nfiles: int, entries: list) -> None:
    """One sequence's rows as gdb records them: a row repeating the line of the one before is
    dropped when that line had a non-zero discriminator since it began (gdb's
    dwarf_record_line_p), and the sequence ends with a line-0 marker."""
    last: Optional[tuple[int, int]] = None  # (file, line) of the last recorded row
    line, discriminated = None, False
    for row in sequence:
        if row.end_sequence:
            entries.append((row.address, 0, NO_FILE, False))
            break
        if row.line != line:
            line, discriminated = row.line, bool(getattr(row, "discriminator", 0))
        else:
            discriminated = discriminated or bool(getattr(row, "discriminator", 0))
        if row.file >= nfiles or row.line == 0:
            continue
        if last == (row.file, row.line) and discriminated:
            continue
        entries.append((row.address, row.line, row.file, bool(row.is_stmt)))
        last = (row.file, row.line)
