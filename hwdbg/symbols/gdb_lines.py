"""The line table gdb 13 builds from one DWARF sequence, per source file (its "subfiles"), as
``break FILE:LINE`` searches it (dwarf2/read.c lnp_state_machine::record_line,
buildsym.c record_line):

- a row repeating the line of the row before, in the same file, is dropped once that line
  had a non-zero discriminator (dwarf_record_line_p, PR 17276);
- a row of line 0 is dropped; so is a non-statement row that switches file at an address
  where a statement row was already seen;
- switching file (and the end of the sequence) ends the previous file's run with a marker
  at the new address, which deletes that file's rows at the same address: a line whose
  code is empty there, such as a call line followed at once by the inlined callee's rows.
"""
from __future__ import annotations

from typing import NamedTuple, Sequence


class Row(NamedTuple):
    address: int
    file: str  # the source path ("" where the file number is unknown)
    line: int
    is_stmt: bool
    discriminator: int
    end_sequence: bool


class Entry(NamedTuple):
    address: int
    line: int  # 0: an end marker
    is_stmt: bool


def record_sequence(rows: Sequence[Row], tables: dict[str, list[Entry]]) -> None:
    """Add one sequence's rows to ``tables`` (path -> entries in recording order)."""
    last_file: object = None
    last_line = 0
    last_address = None
    stmt_at_address = False
    line, discriminated = None, False
    for row in rows:
        if row.line != line:  # gdb's advance_line: a new line starts without a discriminator seen
            line, discriminated = row.line, bool(row.discriminator)
        else:
            discriminated = discriminated or bool(row.discriminator)
        if row.file:
            changed = last_file != row.file
            ignore = (changed and not row.end_sequence and last_address == row.address and not row.is_stmt
                      and stmt_at_address) or (not row.end_sequence and row.line == 0)
            if (changed and not ignore) or row.end_sequence:
                if isinstance(last_file, str):
                    _record(tables.setdefault(last_file, []), Entry(row.address, 0, True))
            if not row.end_sequence and not ignore:
                if changed or row.line != last_line or not discriminated:
                    _record(tables.setdefault(row.file, []), Entry(row.address, row.line, row.is_stmt))
                last_file, last_line = row.file, row.line
        if last_address != row.address:
            stmt_at_address, last_address = False, row.address
        stmt_at_address = stmt_at_address or row.is_stmt
        if row.end_sequence:
            return


def _record(entries: list[Entry], entry: Entry) -> None:
    if entry.line == 0:  # an end marker deletes the rows at its address before it
        last_line = None
        while entries:
            last_line = entries[-1].line
            if entries[-1].address != entry.address:
                break
            entries.pop()
        if last_line is None or last_line == 0:
            return
    entries.append(entry)


def statements(tables: dict[str, list[Entry]]) -> list[tuple[str, int, int]]:
    """The (path, line, address) of every statement entry: what ``break FILE:LINE`` finds."""
    return [(path, e.line, e.address) for path, entries in tables.items() for e in entries if e.is_stmt and e.line]
