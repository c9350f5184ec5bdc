"""A unit's line table built in C (cext/linetable.c) is the one its Python builder makes
(symbols/line_table.py from_states, the reference), and so are the statement entries
``break FILE:LINE`` searches (symbols/gdb_lines.py, the reference): on any rows (hypothesis),
on every unit of the test programs and on a sample of the C library's and python3.11d's units."""
from __future__ import annotations

import pytest
from hypothesis import example, given, settings, strategies as st

from hwdbg.symbols import ElfImage, gdb_lines, line_program, line_table
from hwdbg.symbols.dwarf import DwarfInfo
from hwdbg.symbols.resolver import _Images

from test_symbols import DWARF_VARIANTS as VARIANTS  # tests/unit is on sys.path (no __init__.py)

FIELDS = ("starts", "ends", "lines", "file_ids", "entry_addrs", "entry_lines", "entry_files", "entry_stmts",
          "prologue_ends")


def _named(arrays: dict, files: list[str]) -> dict:
    """The arrays with file numbers as paths (two numbers of one path are the same file)."""
    return {name: [files[i] if i < len(files) else None for i in values] if name in ("file_ids", "entry_files")
            else list(values) for name, values in arrays.items()}


def _arrays(table: line_table.UnitLines) -> dict:
    return _named({name: getattr(table, name) for name in FIELDS}, table.files)


def _python(rows: list[tuple], files: list[str]) -> line_table.UnitLines:
    return line_table.from_states([line_program.LineState(*row) for row in rows], files)


def _c(rows: list[tuple], files: list[str]) -> dict:
    arrays = line_program.table_of_rows(rows, len(files), line_table._ranks(files))
    assert arrays is not None
    arrays["file_ids"] = arrays.pop("files")
    return _named({name: arrays[name] for name in FIELDS}, files)


# Rows as line_program.LineState takes them: (address, line, file, discriminator, is_stmt,
# end_sequence, prologue_end). The address steps by 0-2 bytes from the row before (some steps
# go back), and a sequence starts again at 0, at 10 or where the last ended;
# few lines and files, so that rows share them.
STEP = st.tuples(st.sampled_from([0, 0, 1, 2, -9]), st.integers(-2, 6), st.integers(0, 4),
                 st.sampled_from([0, 0, 1, 3]), st.booleans(), st.sampled_from([False, False, False, True]),
                 st.booleans())
FILES = st.lists(st.sampled_from(["", "a.c", "b.h", "/x/a.c"]), max_size=4)


@st.composite
def _rows(draw, min_size=0, max_size=40):
    rows, addr = [], draw(st.sampled_from([0, 10]))
    for step, *rest in draw(st.lists(STEP, min_size=min_size, max_size=max_size)):
        addr = max(0, addr + step)
        rows.append((addr, *rest))
        if rest[4]:  # end_sequence: the next sequence may cover the same code
            addr = draw(st.sampled_from([0, 10, addr]))
    return rows


@st.composite
def _program(draw):
    """Rows as a line program makes them: sequences (one at 0 now and then: discarded code)
    that end with DW_LNE_end_sequence, the rows of each at rising addresses."""
    rows = []
    for _ in range(draw(st.integers(1, 4))):
        addr = draw(st.sampled_from([0, 10, 10, 20]))
        for step, line, file, discriminator, is_stmt, _, prologue_end in draw(st.lists(STEP, max_size=14)):
            addr += max(0, step)
            rows.append((addr, line, file, discriminator, is_stmt, False, prologue_end))
        rows.append((addr + draw(st.integers(0, 2)), draw(st.integers(0, 6)), draw(st.integers(0, 3)), 0, False, True,
                     False))
    return rows


@settings(max_examples=400, deadline=None)
@given(st.one_of(_rows(), _program()), FILES)
# Two sequences over the same bytes: the ranges are ordered by path, then line.
@example([(10, 5, 1, 0, True, False, False), (11, 0, 1, 0, False, True, False),
          (10, 1, 0, 0, True, False, False), (11, 0, 0, 0, False, True, False)], ["b.h", "a.c"])
def test_c_builder_agrees_with_python_on_any_rows(rows, files):
    assert _c(rows, files) == _arrays(_python(rows, files))


@given(_rows(1, 30), FILES, st.integers(0, 45))
@settings(max_examples=200, deadline=None)
def test_queries_read_the_rows(rows, files, addr):
    """``at`` and ``entry`` answer from the rows themselves: a line the table gives at an
    address is a row's line in that file, at or before it in its sequence."""
    table = _python(rows, files)
    found = table.at(addr)
    if found is not None:
        assert any(r[1] == found[1] and r[2] < len(files) and files[r[2]] == found[0] and r[0] <= addr for r in rows)
    entry = table.entry(addr)
    if entry is not None:
        start, end, path, line, _ = entry
        assert start <= addr < end and line != 0
        assert any(r[0] == start and r[1] == line and files[r[2]] == path for r in rows if r[2] < len(files))


def _python_statements(rows: list[tuple], files: list[str]) -> list[tuple[str, int, int]]:
    by_file: dict = {}
    sequence: list = []
    for address, line, file, discriminator, is_stmt, end_sequence, _ in rows:
        sequence.append(gdb_lines.Row(address, files[file] if file < len(files) else "", line, is_stmt, discriminator,
                                      end_sequence))
        if end_sequence:
            if sequence[0].address != 0:
                gdb_lines.record_sequence(sequence, by_file)
            sequence = []
    return sorted(gdb_lines.statements(by_file))


def _c_statements(rows: list[tuple], files: list[str]) -> list[tuple[str, int, int]]:
    paths = sorted({path for path in files if path})
    found = line_program.statements_of_rows(rows, len(files), [paths.index(p) if p else -1 for p in files])
    assert found is not None
    return sorted((paths[path_id], line, addr) for path_id, line, addr in found)


@settings(max_examples=600, deadline=None)
@given(st.one_of(_rows(), _program()), st.one_of(FILES, st.lists(st.sampled_from(["a.c", "b.h", "/x/a.c"]),
                                                                 min_size=2, max_size=4)))
def test_c_statements_agree_with_python_on_any_rows(rows, files):
    assert _c_statements(rows, files) == _python_statements(rows, files)


def _check_units(dwarf: DwarfInfo, units) -> int:
    rows = 0
    for cu in units:
        program = dwarf._dwarf.line_program_for_CU(cu)
        if program is None:
            continue
        files = dwarf._file_table(cu, program)
        fast = line_table.build(program, files)
        slow = line_table.from_states([e.state for e in program.get_entries() if e.state is not None], files)
        assert fast is not None
        assert _arrays(fast) == _arrays(slow), cu.cu_offset
        states = [e.state for e in program.get_entries() if e.state is not None]
        as_rows = [(s.address, s.line, s.file, s.discriminator or 0, s.is_stmt, s.end_sequence, s.prologue_end)
                   for s in states]
        assert _c_statements(as_rows, files) == _python_statements(as_rows, files), cu.cu_offset
        rows += len(fast.starts)
    return rows


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_c_builder_agrees_on_test_programs(build_target, variant):
    dwarf = DwarfInfo(ElfImage(build_target("steps", cflags=("-O2", *VARIANTS[variant]))).elf)
    assert _check_units(dwarf, dwarf._units()) > 10


@pytest.mark.parametrize("path", ["/lib/x86_64-linux-gnu/libc.so.6", "/usr/bin/python3.11d"])
def test_c_builder_agrees_on_big_files(path):
    found = _Images().get(path)
    if found is None or found[1] is None:
        pytest.skip(f"no debug information for {path} (libc6-dbg, python3.11-dbg)")
    dwarf = found[1]
    assert _check_units(dwarf, dwarf._units()[::40]) > 1000
