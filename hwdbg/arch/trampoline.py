"""x86-64 code that runs one faulting write with its pages writable (page watches).

A write to a protected page faults. Instead of four trips through the debugger (unprotect,
step, protect, resume), the thread runs a small trampoline in memory of hwdbg's in the
target, then stops once at its int3:

    syscall                   ; mprotect(start, length, writable): rax, rdi, rsi, rdx set by ptrace
    mov rax, [saved + 0] ...  ; the program's rax, rdi, rsi, rdx, rcx, r11 back (syscall used them)
    <the instruction>         ; copied; a rip-relative operand is re-aimed at the same address
    mov [saved + 0], rax ...  ; what the instruction left in them
    mov eax, 10 ; mov rdi, [start] ; mov rsi, [length] ; mov rdx, [read-only] ; syscall
    int3                      ; the debugger puts the six registers back and the pc after the write

Flags survive both system calls (the CPU keeps them in r11, restored by sysret). Only
instructions whose behaviour does not depend on where they are qualify: no jump, call,
return, interrupt or system call; no rep prefix (a string instruction faults once per
element and may cross pages); a rip-relative operand only if the trampoline is within
2 GiB of its target. Pure: no process is needed to test it.
"""
from __future__ import annotations

import struct
from typing import Any, Optional

from ..recordtype import record

SAVED = ("rax", "rdi", "rsi", "rdx", "rcx", "r11")  # the registers the trampoline's system calls use
DATA = struct.Struct("<6Q3Q")  # the six registers, then start, length, read-only protection
NR_MPROTECT = 10
_LOAD = {"rax": b"\x48\x8b\x05", "rdi": b"\x48\x8b\x3d", "rsi": b"\x48\x8b\x35", "rdx": b"\x48\x8b\x15",
         "rcx": b"\x48\x8b\x0d", "r11": b"\x4c\x8b\x1d"}  # mov REG, [rip + disp32]
_STORE = {"rax": b"\x48\x89\x05", "rdi": b"\x48\x89\x3d", "rsi": b"\x48\x89\x35", "rdx": b"\x48\x89\x15",
          "rcx": b"\x48\x89\x0d", "r11": b"\x4c\x89\x1d"}  # mov [rip + disp32], REG
SYSCALL, INT3 = b"\x0f\x05", b"\xcc"
_REFUSED_GROUPS = {1, 2, 3, 4, 5, 7}  # capstone: jump, call, ret, int, iret, branch_relative
_REP_PREFIXES = {0xF2, 0xF3}
MAX_INSN = 15


@record(frozen=True)
class Write:
    """A decoded instruction that may run elsewhere."""
    code: bytes
    length: int
    disp_offset: int  # offset of a rip-relative disp32 in code, or 0
    target: int  # the address that rip-relative operand names (0 if none)

    def at(self, addr: int) -> Optional[bytes]:
        """The instruction's bytes for address addr; None if its operand cannot reach from there."""
        if not self.disp_offset:
            return self.code
        disp = self.target - (addr + self.length)
        if not -(1 << 31) <= disp < 1 << 31:
            return None
        return self.code[:self.disp_offset] + struct.pack("<i", disp) + self.code[self.disp_offset + 4:]


def _decoder() -> Any:
    import capstone  # loaded on first use, as in disasm.py
    decoder = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    decoder.detail = True
    return decoder


_DECODER: list[Any] = []


def decode(code: bytes, pc: int) -> Optional[Write]:
    """The instruction at the start of code (read at pc), if it can run in a trampoline."""
    if not _DECODER:
        _DECODER.append(_decoder())
    insn = next(_DECODER[0].disasm(code[:MAX_INSN], pc, 1), None)
    if insn is None or set(insn.groups) & _REFUSED_GROUPS or set(insn.prefix) & _REP_PREFIXES:
        return None
    if insn.mnemonic in ("syscall", "sysenter", "int3", "ud2", "hlt", "xbegin", "xabort", "xend"):
        return None
    raw = bytes(insn.bytes)
    rip_relative = any(op.type == 3 and op.mem.base == 41 for op in insn.operands)  # X86_OP_MEM, X86_REG_RIP
    if not rip_relative:
        return Write(raw, insn.size, 0, 0)
    if insn.disp_size != 4 or not insn.disp_offset:
        return None
    return Write(raw, insn.size, insn.disp_offset, pc + insn.size + insn.disp)


def _rip(code: bytearray, at: int, opcode: bytes, target: int) -> None:
    """Appends `opcode disp32` aimed at target (code starts at address at)."""
    end = at + len(code) + len(opcode) + 4
    code += opcode + struct.pack("<i", target - end)


def build(addr: int, data: int, insn: bytes) -> tuple[bytes, int]:
    """The trampoline at addr with its data at data (DATA); returns its bytes and the offset of
    the copied instruction (which must be encoded for addr + that offset)."""
    code = bytearray(SYSCALL)
    for i, reg in enumerate(SAVED):
        _rip(code, addr, _LOAD[reg], data + 8 * i)
    offset = len(code)
    code += insn
    for i, reg in enumerate(SAVED):
        _rip(code, addr, _STORE[reg], data + 8 * i)
    code += b"\xb8" + struct.pack("<I", NR_MPROTECT)  # mov eax, 10
    for i, reg in enumerate(("rdi", "rsi", "rdx")):
        _rip(code, addr, _LOAD[reg], data + 8 * (len(SAVED) + i))
    code += SYSCALL + INT3
    return bytes(code), offset


def build_for(addr: int, data: int, write: Write) -> Optional[bytes]:
    """The trampoline for one instruction, or None if it cannot reach its operand from addr."""
    _, offset = build(addr, data, write.code)
    insn = write.at(addr + offset)
    return None if insn is None else build(addr, data, insn)[0]
