"""A unit's line header read from the bytes (symbols/unit_header.py) says what pyelftools'
parser says (the header fields, directories, files, where the program lies, the unit's
compilation directory), and gives the same file names: every unit of the test programs in
each DWARF variant, and a sample of the C library's and python3.11d's units."""
from __future__ import annotations

import pytest

from hwdbg.symbols import ElfImage, unit_header
from hwdbg.symbols.dwarf import DwarfInfo
from hwdbg.symbols.dwarf_types import _attr_value, _unit_key
from hwdbg.symbols.resolver import _Images

from test_symbols import DWARF_VARIANTS as VARIANTS  # tests/unit is on sys.path (no __init__.py)


def _check(dwarf: DwarfInfo, units) -> int:
    checked = 0
    for cu in units:
        if _unit_key(cu)[0] != "CompileUnit":
            continue
        program = dwarf._dwarf.line_program_for_CU(cu)
        header = unit_header.read(dwarf._dwarf, cu.cu_offset)
        if program is None:
            assert header is None
            continue
        assert header is not None, cu.cu_offset
        theirs = program.header
        assert (header.version, header.min_inst_len, header.max_ops, bool(header.default_is_stmt), header.line_base,
                header.line_range, header.opcode_base) == (
            theirs["version"], theirs["minimum_instruction_length"],
            theirs.get("maximum_operations_per_instruction", 1), bool(theirs["default_is_stmt"]),
            theirs["line_base"], theirs["line_range"], theirs["opcode_base"])
        assert header.directories == list(theirs["include_directory"])
        assert header.files == [(entry.name, entry.dir_index or 0) for entry in theirs["file_entry"]]
        assert (header.program_start, header.program_end) == (program.program_start_offset, program.program_end_offset)
        assert header.comp_dir == _attr_value(cu.get_top_DIE(), "DW_AT_comp_dir")
        ours, pyelftools = DwarfInfo(dwarf._elf), DwarfInfo(dwarf._elf)  # each records the names gdb shows
        assert ours._header_files(cu, header) == pyelftools._file_table(cu, program)
        assert ours._display == pyelftools._display
        checked += 1
    return checked


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("target", [("steps", ("-O2",)), ("sym_globals", ())])
def test_header_agrees_with_pyelftools(build_target, variant, target):
    name, flags = target
    dwarf = DwarfInfo(ElfImage(build_target(name, cflags=(*flags, *VARIANTS[variant]))).elf)
    assert _check(dwarf, dwarf._units()) >= 1


@pytest.mark.parametrize("path", ["/lib/x86_64-linux-gnu/libc.so.6", "/usr/bin/python3.11d"])
def test_header_agrees_with_pyelftools_on_big_files(path):
    found = _Images().get(path)
    if found is None or found[1] is None:
        pytest.skip(f"no debug information for {path} (libc6-dbg, python3.11-dbg)")
    dwarf = found[1]
    assert _check(dwarf, dwarf._units()[::15]) > 10


def test_a_unit_cut_short_is_left_to_pyelftools(build_target):
    """A unit this reader cannot read (here: .debug_info ends inside its header) is None, not an error."""
    dwarf = DwarfInfo(ElfImage(build_target("steps", cflags=("-O2",))).elf)._dwarf
    offset = next(iter(dwarf.iter_CUs())).cu_offset
    assert unit_header.read(dwarf, offset) is not None
    dwarf.debug_info_sec = dwarf.debug_info_sec._replace(size=offset + 8)  # a namedtuple
    assert unit_header.read(dwarf, offset) is None
