"""A unit's line-number program decoded in C (``hwdbg_line_rows``, cext/lineprog.c): the same
states pyelftools' ``LineProgram.get_entries()`` gives (address, file, line, is_stmt,
discriminator, end_sequence, prologue_end), at a hundredth of its cost. python3.11d has 84
units' programs to run for 151 ``break FUNCTION`` (pyelftools: ~20 s of CPU). A program the C
decoder leaves alone (DW_LNE_define_file, an unknown opcode), or no C module, goes to pyelftools.
``table`` also builds the unit's line table from the rows in C (cext/linetable.c), for
symbols/line_table.py.
"""
from __future__ import annotations

import struct
from typing import Any, Optional

from hwdbg.errors import HwdbgError

ROW = struct.Struct("=QqIIBBBB4x")  # struct hwdbg_line_row (8-byte aligned)


class LineState:
    """One row of the line table, with pyelftools' LineState attribute names."""

    __slots__ = ("address", "line", "file", "discriminator", "is_stmt", "end_sequence", "prologue_end")

    def __init__(self, address: int, line: int, file: int, discriminator: int, is_stmt: int, end_sequence: int,
                 prologue_end: int, _pad: int = 0) -> None:
        self.address, self.line, self.file, self.discriminator = address, line, file, discriminator
        self.is_stmt, self.end_sequence, self.prologue_end = bool(is_stmt), bool(end_sequence), bool(prologue_end)


def states(program: Any) -> list[Any]:
    """The states of a pyelftools LineProgram, in order."""
    rows = _fast(program)
    if rows is None:
        rows = [e.state for e in program.get_entries() if e.state is not None]
    return rows


def _fast(program: Any):
    decoded = _decode(program)
    if decoded is None:
        return None
    ffi, _, out, count = decoded
    return [LineState(*row) for row in ROW.iter_unpack(ffi.buffer(out, count * ROW.size))]


# The arrays of struct hwdbg_line_table, with their item formats, as line_table.UnitLines names them.
_RANGE_ARRAYS = (("starts", "unsigned long long", "Q"), ("ends", "unsigned long long", "Q"),
                 ("lines", "long long", "q"), ("files", "unsigned int", "I"))
_ENTRY_ARRAYS = (("entry_addrs", "unsigned long long", "Q"), ("entry_lines", "long long", "q"),
                 ("entry_files", "unsigned int", "I"), ("entry_stmts", "unsigned char", "B"))


def table(program: Any, nfiles: int, ranks: list[int]) -> Optional[dict[str, Any]]:
    """The unit's line table built in C: UnitLines' arrays by name, as memoryviews (the
    ``entry_files`` of an end marker is ``NO_FILE``); None where the C decoder cannot run it."""
    decoded = _decode(program)
    if decoded is None:
        return None
    ffi, lib, rows, count = decoded
    return _table(ffi, lib, rows, count, nfiles, ranks)


STMT = struct.Struct("=Qqii")  # struct hwdbg_line_stmt


def statements_of_header(section: Any, header: Any, nfiles: int, ids: list[int]) -> Optional[list[tuple[int, int, int]]]:
    """gdb's statement entries of a program read by symbols/unit_header.py (symbols/gdb_lines.py's
    rules, in C): (path id, line, address), in no order; ``ids`` gives each file number's path
    id (-1: no path). None where the C decoder cannot run the program."""
    decoded = _run_header(section, header)
    if decoded is None:
        return None
    ffi, lib, rows, count = decoded
    return _statements(ffi, lib, rows, count, nfiles, ids)


def statements_of_rows(rows: list[tuple], nfiles: int, ids: list[int]) -> Optional[list[tuple[int, int, int]]]:
    """``statements_of_header`` for rows given as ``table_of_rows`` takes them (for tests)."""
    made = _rows_in_c(rows)
    return None if made is None else _statements(*made, len(rows), nfiles, ids)


def _statements(ffi, lib, rows, count: int, nfiles: int, ids: list[int]) -> Optional[list[tuple[int, int, int]]]:
    out = ffi.new("struct hwdbg_line_stmt[]", max(1, count))
    nids = max(ids, default=-1) + 1
    found = lib.hwdbg_line_statements(rows, count, min(nfiles, len(ids)), ffi.new("int[]", ids or [0]), nids, out,
                                      count)
    if found < 0:
        return None
    return [(path_id, line, address) for address, line, path_id, _ in STMT.iter_unpack(ffi.buffer(out, found * STMT.size))]


def table_of_rows(rows: list[tuple], nfiles: int, ranks: list[int]) -> Optional[dict[str, Any]]:
    """``table`` of rows given as (address, line, file, discriminator, is_stmt, end_sequence,
    prologue_end) tuples (for tests: the same builder on any rows); None without the C module."""
    made = _rows_in_c(rows)
    return None if made is None else _table(*made, len(rows), nfiles, ranks)


def _rows_in_c(rows: list[tuple]) -> Optional[tuple[Any, Any, Any]]:
    """(ffi, lib, the rows as a C array of struct hwdbg_line_row); None without the C module."""
    try:
        from hwdbg.linux.native import ffi, lib
    except HwdbgError:
        return None
    out = ffi.new("struct hwdbg_line_row[]", max(1, len(rows)))
    for i, row in enumerate(rows):
        out[i] = row
    return ffi, lib, out


def _table(ffi, lib, rows, count: int, nfiles: int, ranks: list[int]) -> Optional[dict[str, Any]]:
    t = ffi.new("struct hwdbg_line_table *")
    keep = []  # the arrays live until copied out below
    for name, ctype, _ in (*_RANGE_ARRAYS, *_ENTRY_ARRAYS, ("prologue_ends", "unsigned long long", "Q")):
        keep.append(ffi.new(f"{ctype}[]", max(1, count)))
        setattr(t, name, keep[-1])
    c_ranks = ffi.new("int[]", ranks or [0])
    if lib.hwdbg_line_table(rows, count, min(nfiles, len(ranks)), c_ranks, t) < 0:
        return None
    found = {}
    for arrays, n in ((_RANGE_ARRAYS, t.nranges), (_ENTRY_ARRAYS, t.nentries),
                      ((("prologue_ends", "unsigned long long", "Q"),), t.nprologue)):
        for name, ctype, fmt in arrays:
            found[name] = memoryview(bytes(ffi.buffer(getattr(t, name), n * ffi.sizeof(ctype)))).cast(fmt)
    return found


NO_FILE = 0xFFFFFFFF  # HWDBG_NO_FILE: an end marker's file


def _decode(program: Any):
    """(ffi, lib, rows, count) of a pyelftools LineProgram decoded in C, or None."""
    start, end = program.program_start_offset, program.program_end_offset
    program.stream.seek(start)
    code = program.stream.read(end - start)
    header = program.header
    max_ops = header.get("maximum_operations_per_instruction", 1) if hasattr(header, "get") else 1
    return _run(code, (header["minimum_instruction_length"], max_ops, int(bool(header["default_is_stmt"])),
                       header["line_base"], header["line_range"], header["opcode_base"]))


def states_of_header(section: Any, header: Any) -> Optional[list[Any]]:
    """``states`` of a program read by symbols/unit_header.py (``header``) from ``section``."""
    decoded = _run_header(section, header)
    if decoded is None:
        return None
    ffi, _, out, count = decoded
    return [LineState(*row) for row in ROW.iter_unpack(ffi.buffer(out, count * ROW.size))]


def _run_header(section: Any, header: Any):
    section.stream.seek(header.program_start)
    code = section.stream.read(header.program_end - header.program_start)
    return _run(code, (header.min_inst_len, header.max_ops, int(bool(header.default_is_stmt)), header.line_base,
                       header.line_range, header.opcode_base))


def table_of_header(section: Any, header: Any, nfiles: int, ranks: list[int]) -> Optional[dict[str, Any]]:
    """``table`` of a program read by symbols/unit_header.py (``header``) from ``section``
    (.debug_line); None where the C decoder cannot run it."""
    decoded = _run_header(section, header)
    if decoded is None:
        return None
    ffi, lib, rows, count = decoded
    return _table(ffi, lib, rows, count, nfiles, ranks)


def _run(code: bytes, fields: tuple[int, int, int, int, int, int]):
    """(ffi, lib, rows, count) of the program's opcodes ``code`` with the header ``fields``
    (min_inst_len, max_ops, default_is_stmt, line_base, line_range, opcode_base), or None."""
    try:
        # Imported here: the symbols layer imports without the C build (pyelftools decodes then).
        from hwdbg.linux.native import ffi, lib
    except HwdbgError:
        return None
    params = ffi.new("struct hwdbg_line_params *")
    (params.min_inst_len, params.max_ops, params.default_is_stmt, params.line_base, params.line_range,
     params.opcode_base) = fields
    room = len(code) + 1  # every row takes at least one byte of the program
    out = ffi.new("struct hwdbg_line_row[]", room)
    count = lib.hwdbg_line_rows(ffi.from_buffer(code) if code else ffi.NULL, len(code), params, out, room)
    if count < 0:
        return None
    return ffi, lib, out, count
