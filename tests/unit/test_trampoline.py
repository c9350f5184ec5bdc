"""arch/trampoline.py: which writes may run elsewhere, and the trampoline's code (decoded back
with capstone: it lifts, restores the six registers, writes, saves them, protects, stops)."""
from __future__ import annotations

import struct

import capstone
from hypothesis import given
from hypothesis import strategies as st

from hwdbg.arch import trampoline

PC = 0x401000


def dis(code: bytes, addr: int) -> list[str]:
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    return [f"{i.mnemonic} {i.op_str}".strip() for i in md.disasm(code, addr)]


def test_plain_stores_run_anywhere_and_control_flow_or_rep_never():
    store = trampoline.decode(bytes.fromhex("8814 02") + b"\x90" * 12, PC)  # mov [rdx+rax], dl
    assert store is not None and store.length == 3 and store.at(0x7F0000000000) == bytes.fromhex("881402")
    for code in ("f3aa", "e800000000", "ebfe", "c3", "0f05", "cc", "ff10"):  # rep stosb, call, jmp, ret, syscall, int3
        assert trampoline.decode(bytes.fromhex(code) + b"\x90" * 13, PC) is None, code


@given(st.integers(-(1 << 31), (1 << 31) - 1 - 16), st.integers(0, (1 << 47) - 1))
def test_a_rip_relative_store_is_reaimed_at_the_same_address(disp, addr):
    code = b"\xc6\x05" + struct.pack("<i", disp) + b"\x05"  # mov byte ptr [rip + disp], 5
    write = trampoline.decode(code + b"\x90" * 8, PC)
    assert write is not None and write.target == PC + 7 + disp
    moved = write.at(addr)
    if moved is None:
        assert not -(1 << 31) <= write.target - (addr + 7) < 1 << 31
    else:
        assert addr + 7 + struct.unpack("<i", moved[2:6])[0] == write.target and moved[6] == 5


def test_the_trampoline_lifts_writes_protects_and_stops():
    area, data = 0x7F0000000000, 0x7F0000001000
    write = trampoline.decode(bytes.fromhex("8814 02") + b"\x90" * 12, PC)
    code = trampoline.build_for(area, data, write)
    lines = dis(code, area)
    assert lines[0] == "syscall" and lines[-2:] == ["syscall", "int3"]
    assert lines[7] == "mov byte ptr [rdx + rax], dl"
    loads = [line for line in lines[1:7]]
    assert loads == [f"mov {r}, qword ptr [rip + {hex(data + 8 * i - (area + off))}]"
                     for i, (r, off) in enumerate(zip(trampoline.SAVED, range(2 + 7, 2 + 7 * 7, 7)))]
    assert lines[8:14] == [f"mov qword ptr [rip + {hex(data + 8 * i - (area + 2 + 42 + 3 + 7 * (i + 1)))}], {r}"
                           for i, r in enumerate(trampoline.SAVED)]
    assert lines[14] == "mov eax, 0xa"
