"""gdb 13's choice of where a function's breakpoint goes (symbols/prologue.py) and the line
table it searches for FILE:LINE (symbols/gdb_lines.py), as pure logic."""
from __future__ import annotations

import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hwdbg.symbols import ElfImage
from hwdbg.symbols.dwarf import DwarfInfo

from hwdbg.symbols.gdb_lines import Entry, Row, record_sequence, statements
from hwdbg.symbols.prologue_facts import function_facts
from hwdbg.arch.x86_64 import ENDBR64, frame_setup_length
from hwdbg.symbols.prologue import FunctionFacts, function_start, line_moves_to, prologue_skip

PUSH_MOV = b"\x55\x48\x89\xe5"


def spans(*starts: int):
    """find_pc_line over entries starting at ``starts`` (the last one ends the table)."""
    def span(addr: int):
        for start, end in zip(starts, starts[1:]):
            if start <= addr < end:
                return start, end
        return None
    return span


def test_frame_setup_is_push_rbp_and_mov_with_or_without_endbr64():
    assert frame_setup_length(PUSH_MOV + b"\x90" * 4) == 4
    assert frame_setup_length(ENDBR64 + PUSH_MOV) == 8
    assert frame_setup_length(b"\x55\x48\x8b\xec") == 4
    assert frame_setup_length(b"\x55\x89\xe5\x90") == 3  # movl %esp,%ebp
    assert frame_setup_length(b"\x55\x53\x48\x83") == 0  # push %rbp alone: frameless for gdb
    assert frame_setup_length(b"\x48\x83\xec\x08") == 0
    assert frame_setup_length(b"") == 0


@given(st.binary(max_size=12))
def test_frame_setup_never_skips_past_the_bytes_it_matched(code):
    n = frame_setup_length(code)
    assert n in (0, 3, 4, 7, 8)
    assert n == 0 or code[n - 4 if n in (4, 8) else n - 3:n] in (PUSH_MOV, b"\x55\x48\x8b\xec", b"\x55\x89\xe5",
                                                                 b"\x55\x8b\xec")


def test_frame_pointer_function_stops_at_the_next_line_entry():
    # -O0: push/mov inside the first line's entry [0x10, 0x1c); the body's line starts at 0x1c.
    facts = FunctionFacts(0x10, 0x40, frame_setup=4)
    assert function_start(facts, spans(0x10, 0x1c, 0x30, 0x40)) == 0x1c


def test_frameless_function_stays_at_its_first_byte():
    assert function_start(FunctionFacts(0x10, 0x40), spans(0x10, 0x13, 0x40)) == 0x10


def test_trusted_unit_keeps_the_entry_even_with_a_frame():
    facts = FunctionFacts(0x10, 0x40, trusted=True, frame_setup=4)
    assert function_start(facts, spans(0x10, 0x1c, 0x40)) == 0x10
    assert line_moves_to(facts, spans(0x10, 0x1c, 0x40), 0x10) is None


def test_assembler_unit_keeps_the_entry():
    assert function_start(FunctionFacts(0x10, 0x40, asm=True, frame_setup=4), spans(0x10, 0x1c, 0x40)) == 0x10


def test_prologue_end_wins_unless_the_unit_is_trusted():
    facts = FunctionFacts(0x10, 0x40, prologue_end=0x18, frame_setup=4)
    assert function_start(facts, spans(0x10, 0x1c, 0x40)) == 0x18
    # FILE:LINE in a trusted unit still moves to prologue_end (skip_prologue_sal's first pass).
    trusted = FunctionFacts(0x10, 0x40, trusted=True, prologue_end=0x18)
    assert line_moves_to(trusted, spans(0x10, 0x40), 0x10) == 0x18
    assert line_moves_to(trusted, spans(0x10, 0x40), 0x20) is None


def test_mid_line_stays_when_the_next_entry_is_past_the_function():
    facts = FunctionFacts(0x10, 0x20, frame_setup=4)
    assert function_start(facts, spans(0x10, 0x20)) == 0x14


def test_function_without_line_info_skips_its_frame_setup_only():
    facts = FunctionFacts(0x10, 0x40, trusted=True, frame_setup=4, has_debug_function=False)
    assert function_start(facts, lambda addr: None) == 0x14


@given(st.integers(0, 64), st.integers(1, 64), st.sampled_from((0, 4, 8)), st.booleans(), st.booleans(),
       st.lists(st.integers(1, 127), max_size=6))
def test_break_address_lies_in_the_function(entry, length, setup, trusted, asm, cuts):
    facts = FunctionFacts(entry, entry + length + setup, trusted=trusted, asm=asm, frame_setup=setup)
    starts = sorted({entry, *(entry + c for c in cuts), entry + length + setup + 64})
    pc = function_start(facts, spans(*starts))
    assert facts.entry <= pc < facts.end
    assert pc >= prologue_skip(facts, spans(*starts)) or trusted or asm


def rows(*specs, end=None):
    out = [Row(a, f, l, s, d, False) for a, f, l, s, d in specs]
    return out + [Row(end if end is not None else out[-1].address + 4, out[-1].file, out[-1].line, False, 0, True)]


def test_a_repeated_line_after_a_discriminator_is_dropped():
    tables: dict = {}
    record_sequence(rows((0x10, "a.c", 5, False, 0), (0x14, "a.c", 6, False, 0), (0x18, "a.c", 6, True, 1),
                         (0x1c, "a.c", 6, True, 0), (0x20, "a.c", 7, True, 0)), tables)
    assert statements(tables) == [("a.c", 7, 0x20)]
    plain: dict = {}
    record_sequence(rows((0x10, "a.c", 6, False, 0), (0x18, "a.c", 6, True, 0)), plain)
    assert statements(plain) == [("a.c", 6, 0x18)]


def test_switching_file_at_one_address_deletes_the_empty_line():
    tables: dict = {}
    record_sequence(rows((0x10, "a.c", 3, True, 0), (0x20, "a.c", 9, True, 0), (0x20, "h.h", 40, True, 0),
                         (0x28, "a.c", 10, True, 0)), tables)
    assert ("a.c", 9, 0x20) not in statements(tables)
    assert ("h.h", 40, 0x20) in statements(tables) and ("a.c", 3, 0x10) in statements(tables)
    assert tables["a.c"][-1] == Entry(0x2c, 0, True)  # the sequence's end marker


@given(st.lists(st.tuples(st.integers(0, 6), st.sampled_from(("a.c", "b.h")), st.integers(0, 9), st.booleans(),
                          st.integers(0, 2)), min_size=1, max_size=12))
def test_recorded_statements_are_rows_of_the_sequence(specs):
    ordered = sorted(specs, key=lambda s: s[0])
    seq = rows(*[(0x100 + 4 * a, f, l, s, d) for a, f, l, s, d in ordered])
    tables: dict = {}
    record_sequence(seq, tables)
    given_rows = {(r.file, r.line, r.address) for r in seq if r.is_stmt and r.line and not r.end_sequence}
    assert set(statements(tables)) <= given_rows


@pytest.mark.parametrize("level, trusted", [("-O0", False), ("-O2", True)])
def test_a_unit_is_trusted_when_its_variables_have_location_lists(build_target, level, trusted):
    exe = build_target("steps", cflags=(level,))
    image = ElfImage(str(exe))
    dwarf = DwarfInfo(image.elf)
    sym = image.find_symbol("sum_pair")
    facts = function_facts(image, dwarf, sym.value, sym.size)
    assert (facts.trusted, facts.asm, facts.has_debug_function) == (trusted, False, True)
    assert facts.end == sym.value + sym.size
    # gcc -O0 sets up a frame pointer; the readelf view of the unit agrees on location lists.
    assert (facts.frame_setup > 0) == (level == "-O0")
    forms = subprocess.run(["readelf", "--debug-dump=info", str(exe)], stdout=subprocess.PIPE, text=True).stdout
    assert ("location list" in forms) == trusted
