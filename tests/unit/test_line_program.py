"""The line-number programs decoded in C (symbols/line_program.py) give the same states as
pyelftools' decoder: every unit of the test programs in each DWARF variant, and a sample of
the C library's units (libc6-dbg) and python3.11d's."""
from __future__ import annotations

import pytest

from hwdbg.symbols import ElfImage
from hwdbg.symbols import line_program
from hwdbg.symbols.dwarf import DwarfInfo
from hwdbg.symbols.resolver import _Images

from test_symbols import DWARF_VARIANTS as VARIANTS  # tests/unit is on sys.path (no __init__.py)


def _key(state) -> tuple:
    return (state.address, state.line, state.file, state.discriminator or 0, bool(state.is_stmt),
            bool(state.end_sequence), bool(state.prologue_end))


def _check(dwarf: DwarfInfo, units) -> int:
    rows = 0
    for cu in units:
        program = dwarf._dwarf.line_program_for_CU(cu)
        if program is None:
            continue
        fast = line_program._fast(program)
        slow = [e.state for e in program.get_entries() if e.state is not None]
        assert fast is not None
        assert [_key(s) for s in fast] == [_key(s) for s in slow], cu.cu_offset
        rows += len(fast)
    return rows


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("target", [("steps", ("-O2",)), ("inline_target", ("-O2",)), ("sym_globals", ())])
def test_c_decoder_agrees_with_pyelftools(build_target, variant, target):
    name, flags = target
    dwarf = DwarfInfo(ElfImage(build_target(name, cflags=(*flags, *VARIANTS[variant]))).elf)
    assert _check(dwarf, dwarf._units()) > 10


@pytest.mark.parametrize("path", ["/lib/x86_64-linux-gnu/libc.so.6", "/usr/bin/python3.11d"])
def test_c_decoder_agrees_with_pyelftools_on_big_files(path):
    found = _Images().get(path)
    if found is None or found[1] is None:
        pytest.skip(f"no debug information for {path} (libc6-dbg, python3.11-dbg)")
    dwarf = found[1]
    assert _check(dwarf, dwarf._units()[::25]) > 1000
