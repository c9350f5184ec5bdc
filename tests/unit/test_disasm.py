"""Disassembly: known byte sequences, and whole functions checked against objdump."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import hwdbg
from hwdbg.disasm import Instruction, disassemble, disassemble_function
from hwdbg.errors import SymbolError, UnsupportedError
from hwdbg.session import Session

pytest.importorskip("capstone")


def test_prologue():
    insns = disassemble(bytes.fromhex("55 48 89 e5"), 0x401000)
    assert [(i.address, i.size, i.mnemonic, i.op_str) for i in insns] == [
        (0x401000, 1, "pushq", "%rbp"),
        (0x401001, 3, "movq", "%rsp, %rbp"),
    ]
    assert insns[1].bytes == bytes.fromhex("48 89 e5")


def test_string_instruction_and_ret():
    insns = disassemble(bytes.fromhex("f3 a4 c3"), 0x1000)
    assert [(i.mnemonic, i.op_str) for i in insns] == [("rep movsb", "(%rsi), (%rdi)"), ("retq", "")]


def test_rip_relative_store_and_call_target():
    # mov %rax,0x2f07(%rip); call to 0x1000 + 7 + 5 + 0x10
    insns = disassemble(bytes.fromhex("48 89 05 07 2f 00 00 e8 10 00 00 00"), 0x1000)
    assert [(i.mnemonic, i.op_str) for i in insns] == [("movq", "%rax, 0x2f07(%rip)"), ("callq", "0x101c")]


def test_count_and_undecodable_bytes():
    assert len(disassemble(bytes.fromhex("90 90 90"), 0, count=2)) == 2
    assert disassemble(bytes.fromhex("90"), 0, count=0) == []
    # 0x06 (push %es) does not exist in 64-bit mode: it is shown as data, decoding goes on.
    insns = disassemble(bytes.fromhex("06 90"), 0)
    assert [i.mnemonic for i in insns] == [".byte", "nop"]
    assert str(insns[1]) == "0x1:\tnop"


def test_missing_capstone_is_a_clear_error(monkeypatch):
    from hwdbg import disasm
    disasm._decoder.cache_clear()
    monkeypatch.setitem(sys.modules, "capstone", None)
    try:
        with pytest.raises(UnsupportedError, match="pip install capstone"):
            disassemble(b"\x90", 0)
    finally:
        disasm._decoder.cache_clear()


# ---------------------------------------------------------------- against objdump


def objdump_function(exe: Path, name: str, start: int, size: int) -> list[tuple[int, bytes, str, str]]:
    """(address, bytes, mnemonic, operands) of each instruction of one function, per objdump."""
    out = subprocess.run(["objdump", "-d", "-w", str(exe)], capture_output=True, text=True, check=True).stdout
    body = out.split(f"<{name}>:\n", 1)[1].split("\n\n", 1)[0]
    rows = []
    for line in body.splitlines():
        match = re.match(r"\s*([0-9a-f]+):\t((?:[0-9a-f]{2} )+)\s*\t?(\S+)?\s*(.*)", line)
        if match and start <= int(match[1], 16) < start + size:
            rows.append((int(match[1], 16), bytes.fromhex(match[2]), match[3], match[4].split("#")[0].strip()))
    return rows


def same_instruction(ours: Instruction, theirs: tuple[int, bytes, str, str]) -> bool:
    """Equal up to the notation differences: capstone writes size suffixes (movq, callq),
    ', ' between operands, and bare hex branch targets; objdump writes mov, ',' and 'ADDR <sym>'."""
    addr, raw, mnemonic, operands = theirs
    if (ours.address, ours.bytes) != (addr, raw):
        return False
    if ours.mnemonic not in (mnemonic, mnemonic + "q", mnemonic + "l", mnemonic + "w", mnemonic + "b"):
        return False
    if ours.mnemonic.startswith(("call", "j")) and re.fullmatch(r"0x[0-9a-f]+", ours.op_str):
        return int(ours.op_str, 16) == int(operands.split()[0], 16)
    registers = re.compile(r"%\w+")
    return registers.findall(ours.op_str) == registers.findall(operands)


@pytest.mark.parametrize("cflags", [(), ("-O2",)], ids=["O0", "O2"])
@pytest.mark.parametrize("name", ["level2", "fill", "main"])
def test_function_from_the_file_matches_objdump(build_target, cflags, name):
    exe = build_target("unwind_chain", cflags=cflags)
    session = Session()
    session.load([str(exe)])
    insns = disassemble_function(session.symbols, session.read_memory if session.alive else None, name)
    symbol = session.symbols.lookup(name)
    expected = objdump_function(exe, name, symbol.addr, symbol.size)

    assert insns[0].address == symbol.addr
    assert sum(i.size for i in insns) == symbol.size
    assert len(insns) == len(expected)
    for ours, theirs in zip(insns, expected):
        assert same_instruction(ours, theirs), (ours, theirs)


@pytest.mark.requires_ptrace
def test_live_pie_function_matches_objdump_at_runtime_addresses(build_target):
    exe = build_target("unwind_chain", pie=True)
    with hwdbg.spawn([str(exe)]) as target:
        try:
            target.run_to("main")
            session = target.session
            insns = disassemble_function(session.symbols, session.read_memory if session.alive else None, "level2")
            level2 = session.symbols.lookup("level2")
            module = session.symbols.module_for(level2.addr)
            expected = objdump_function(exe, "level2", level2.addr - module.bias, level2.size)

            assert module.bias != 0 and insns[0].address == level2.addr
            assert [(i.address - module.bias, i.bytes) for i in insns] == [(a, raw) for a, raw, _, _ in expected]
            # An address inside the function finds the same function.
            assert disassemble_function(session.symbols, session.read_memory if session.alive else None, insns[2].address) == insns
            # A function of a shared library, read from the process.
            assert disassemble_function(session.symbols, session.read_memory if session.alive else None, "memset")[0].address == session.symbols.lookup("memset").addr
        finally:
            # Closing a target stopped mid-way hangs in Inferior.kill() (the PTRACE_EVENT_EXIT
            # stop is never resumed); letting it run to its end avoids that.
            if target.alive:
                target.run_until_exit(timeout=10)


def test_pie_before_it_runs_uses_link_time_addresses(build_target):
    exe = build_target("unwind_chain", pie=True)
    session = Session()
    session.load([str(exe)])
    level3 = session.symbols.executable.image.find_symbol("level3")
    insns = disassemble_function(session.symbols, session.read_memory if session.alive else None, "level3")
    assert insns[0].address == level3.value
    assert sum(i.size for i in insns) == level3.size


def test_errors(build_target):
    session = Session()
    session.load([str(build_target("unwind_chain"))])
    with pytest.raises(SymbolError, match="no symbol 'levl3'.*level3"):
        disassemble_function(session.symbols, session.read_memory if session.alive else None, "levl3")
    with pytest.raises(SymbolError, match="'the_global' is not a function"):
        disassemble_function(session.symbols, session.read_memory if session.alive else None, "the_global")
    with pytest.raises(SymbolError, match="no function contains address 0x10"):
        disassemble_function(session.symbols, session.read_memory if session.alive else None, 0x10)
