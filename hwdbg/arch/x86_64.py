"""x86-64 debug registers: DR7/DR6 bit layout and the rules the kernel enforces.

References: Intel SDM Vol. 3B, 18.2 "Debug Registers" (18.2.3 DR6, 18.2.4 DR7,
18.2.5 breakpoint field recognition); Linux ``arch/x86/kernel/hw_breakpoint.c``
(``arch_build_bp_info``) and ``arch/x86/kernel/ptrace.c``. This module is the only
place in hwdbg that knows these bits.
"""
from __future__ import annotations

from typing import Optional, Sequence

from ..errors import AddressError, AlignmentError, LengthError, UnsupportedError
from .base import ArchSpec, BpType, Chunk, DebugStatus

NSLOTS = 4
DR_STATUS = 6
DR_CONTROL = 7

# DR7: Ln = bit 2n, Gn = bit 2n+1, R/Wn = bits 16+4n..17+4n, LENn = bits 18+4n..19+4n.
DR7_LOCAL_ENABLE = 0x1
DR7_GLOBAL_ENABLE = 0x2
DR7_ENABLE_MASK = 0x3
DR7_CONTROL_SHIFT = 16
DR7_CONTROL_SIZE = 4
DR7_RW_EXEC = 0b00
DR7_RW_WRITE = 0b01
DR7_RW_IO = 0b10  # never allowed from user space
DR7_RW_READWRITE = 0b11
# LEN encoding is not monotonic: 1 -> 00, 2 -> 01, 8 -> 10, 4 -> 11 (SDM 18.2.4).
DR7_LEN_ENCODING = {1: 0b00, 2: 0b01, 8: 0b10, 4: 0b11}
DR7_LEN_DECODING = {v: k for k, v in DR7_LEN_ENCODING.items()}
DR7_RW_ENCODING = {BpType.X: DR7_RW_EXEC, BpType.W: DR7_RW_WRITE, BpType.RW: DR7_RW_READWRITE}
DR7_RW_DECODING = {v: k for k, v in DR7_RW_ENCODING.items()}

# DR6: Bn = bit n, BD = 13, BS = 14 (single step), BT = 15.
DR6_SLOT_MASK = 0xF
DR6_SINGLE_STEP = 1 << 14

# TASK_SIZE_MAX on 4-level paging: the kernel refuses this address and everything above
# it, the last user page included (measured: 0x7ffffffff000 gives EINVAL).
TASK_SIZE_MAX = 0x7FFFFFFFF000
NR_EXIT = 60  # exit(2): one thread ends (pthread_exit); the whole process ends by exit_group(2), 231


def _enable_shift(slot: int) -> int:
    return 2 * slot


def _control_shift(slot: int) -> int:
    return DR7_CONTROL_SHIFT + DR7_CONTROL_SIZE * slot


# Signal frames (Linux): the sigreturn trampoline's code, and where the interrupted rsp (then rip)
# lies from the stack pointer at a handler's entry: the return address, then the ucontext (flags,
# link, stack_t: 40 bytes) whose sigcontext holds r8..r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip.
SIGRETURN = b"\x48\xc7\xc0\x0f\x00\x00\x00\x0f\x05"  # mov $15 (rt_sigreturn),%rax; syscall
UC_MCONTEXT_RSP = 8 + 40 + 15 * 8

class X86_64(ArchSpec):
    name = "x86-64"
    nslots = NSLOTS
    lengths = (1, 2, 4, 8)
    native_types = frozenset({BpType.X, BpType.W, BpType.RW})
    exec_length = 1
    max_user_address = TASK_SIZE_MAX
    control_register = DR_CONTROL
    status_register = DR_STATUS
    manual = "Intel SDM Vol. 3B 18.2"
    register_aliases = {"pc": "rip", "sp": "rsp", "fp": "rbp"}

    def validate(self, addr: int, length: int, bp_type: BpType) -> Chunk:
        if bp_type == BpType.R:
            raise UnsupportedError(
                "x86-64 cannot trap reads only (SDM 18.2.4: R/W=10 means I/O); "
                "watch reads and writes with type rw (rwatch emulates read-only with rw plus filtering)")
        if bp_type not in self.native_types:
            raise UnsupportedError(f"unknown breakpoint type {bp_type!r} on x86-64; use x, w or rw")
        if bp_type == BpType.X:
            length = self.exec_length  # execute breakpoints are always LEN=00 (SDM 18.2.4)
        elif length not in self.lengths:
            raise LengthError(
                f"length {length} is not supported: x86-64 debug registers watch 1, 2, 4 or 8 bytes "
                "(SDM 18.2.4); split the range or let hwdbg split it")
        if addr < 0 or addr + length > TASK_SIZE_MAX:
            raise AddressError(
                f"{addr:#x} is not a user-space address: the kernel accepts debug-register addresses "
                f"below {TASK_SIZE_MAX:#x} (kernel, non-canonical and last-page addresses are refused)")
        if addr % length:
            base = addr - addr % length
            raise AlignmentError(
                f"{addr:#x} is not {length}-byte aligned (SDM 18.2.5: a {length}-byte watch needs addr % {length} == 0); "
                f"watch {base:#x} length {length}, or use length 1, or let hwdbg split the range")
        return Chunk(addr, length, bp_type)

    def encode_control(self, slots: Sequence[Optional[Chunk]]) -> int:
        if len(slots) > NSLOTS:
            raise ValueError(f"x86-64 has {NSLOTS} debug-register slots, got {len(slots)}")
        dr7 = 0
        for slot, chunk in enumerate(slots):
            if chunk is None:
                continue  # type/len bits stay 00/00, which the kernel accepts for a disabled slot
            dr7 |= DR7_LOCAL_ENABLE << _enable_shift(slot)
            bits = DR7_RW_ENCODING[chunk.type] | (DR7_LEN_ENCODING[chunk.length] << 2)
            dr7 |= bits << _control_shift(slot)
        return dr7

    def decode_control(self, value: int) -> list[Optional[tuple[BpType, int]]]:
        out: list[Optional[tuple[BpType, int]]] = []
        for slot in range(NSLOTS):
            if not (value >> _enable_shift(slot)) & DR7_ENABLE_MASK:
                out.append(None)
                continue
            bits = (value >> _control_shift(slot)) & 0xF
            rw = bits & 0b11
            if rw == DR7_RW_IO:
                raise ValueError(f"DR7 {value:#x}: slot {slot} has the I/O type, which user space cannot set")
            out.append((DR7_RW_DECODING[rw], DR7_LEN_DECODING[bits >> 2]))
        return out

    def decode_status(self, value: int) -> DebugStatus:
        slots = tuple(n for n in range(NSLOTS) if value & (1 << n))
        return DebugStatus(slots=slots, single_step=bool(value & DR6_SINGLE_STEP))

    # Instruction and register facts the generic layers need, delegated to module functions.
    def is_string_store(self, code: bytes) -> bool:
        return decode_rep_string(code) is not None

    def string_store_in_flight(self, code: bytes, regs, chunk: Chunk) -> Optional[int]:
        return string_store_in_flight(code, regs, chunk)

    def get_pc(self, regs) -> int:
        return get_pc(regs)

    def set_pc(self, regs, value: int) -> None:
        set_pc(regs, value)

    def get_sp(self, regs) -> int:
        return get_sp(regs)

    def get_fp(self, regs) -> int:
        return get_fp(regs)


# ---------------------------------------------------------------- instructions and registers

EFLAGS_DF = 1 << 10
EFLAGS_RF = 1 << 16  # resume flag: the kernel sets it at an execute-breakpoint stop (SDM 18.3.1.1)
_REP_PREFIXES = (0xF3, 0xF2)
_STRING_OPCODES = {0xA4: ("movs", 1), 0xA5: ("movs", 0), 0xAA: ("stos", 1), 0xAB: ("stos", 0)}


def decode_rep_string(code: bytes) -> Optional[tuple[int, str, int]]:
    """(instruction length, 'movs'|'stos', element size) for a rep-prefixed string store, else None."""
    i, opsize, rex_w, rep = 0, 4, False, False
    while i < len(code) and i < 5:
        byte = code[i]
        if byte in _REP_PREFIXES:
            rep = True
        elif byte == 0x66:
            opsize = 2
        elif 0x40 <= byte <= 0x4F:
            # REX counts only right before the opcode (SDM Vol. 2A 2.2.1); a later prefix voids it.
            rex_w = bool(byte & 0x8)
            i += 1
            continue
        else:
            break
        rex_w = False
        i += 1
    if not rep or i >= len(code) or code[i] not in _STRING_OPCODES:
        return None
    op, fixed = _STRING_OPCODES[code[i]]
    size = fixed or (8 if rex_w else opsize)
    return i + 1, op, size


def string_store_in_flight(code: bytes, regs, chunk: Chunk) -> Optional[int]:
    """If the thread stopped inside a rep movs/stos whose last element touched ``chunk``,
    the instruction's length (the stop is mid-instruction: RIP is the instruction itself)."""
    decoded = decode_rep_string(code)
    if decoded is None or regs.rcx == 0:
        return None
    length, op, size = decoded
    step = -size if regs.eflags & EFLAGS_DF else size
    touched = [regs.rdi - step]
    if op == "movs" and chunk.type == BpType.RW:
        touched.append(regs.rsi - step)
    for start in touched:
        if start < chunk.addr + chunk.length and chunk.addr < start + size:
            return length
    return None


def set_pc(regs, value: int) -> None:
    """Moves the pc; clears RF so that an execute breakpoint at the new pc is not skipped."""
    regs.rip = value
    regs.eflags &= ~EFLAGS_RF


def get_pc(regs) -> int:
    return regs.rip


def get_sp(regs) -> int:
    return regs.rsp


def get_fp(regs) -> int:
    return regs.rbp


# The frame set-up gdb's amd64 prologue analysis skips (symbols/prologue.py has its rule).
ENDBR64 = b"\xf3\x0f\x1e\xfa"
PUSH_RBP = b"\x55"
MOV_RSP_RBP = (b"\x48\x89\xe5", b"\x48\x8b\xec")  # the two encodings of movq %rsp,%rbp
MOV_ESP_EBP = (b"\x89\xe5", b"\x8b\xec")  # movl %esp,%ebp
CODE_NEEDED = 26  # bytes of code at the entry the analysis reads (realignment 18, endbr64, push, mov)


def stack_align_length(code: bytes) -> int:
    """Bytes of gcc's stack realignment at a function's start (gdb's amd64_analyze_stack_align),
    0 when the code does not start with it: ``leaq 8(%rsp),%reg`` (or ``pushq %reg; leaq
    16(%rsp),%reg``), ``andq $-N,%rsp`` (imm8 or imm32), ``pushq -8(%reg)``; %reg neither
    %rsp nor %rbp."""
    buf = code[:18].ljust(18, b"\0")
    if buf[0] & 0xFB == 0x48 and buf[1] == 0x8D and buf[3] == 0x24 and buf[4] == 0x08:
        if buf[2] & 0xC7 != 0x44:
            return 0
        reg, at = (buf[2] >> 3 & 7) + (8 if buf[0] == 0x4C else 0), 5
    else:
        if buf[0] & 0xF8 == 0x50:
            reg, at = buf[0] & 7, 1
        elif buf[0] & 0xF6 == 0x40 and buf[1] & 0xF8 == 0x50:
            reg, at = (8 if buf[0] & 1 else 0) + (buf[1] & 7), 2
        else:
            return 0
        if buf[at] & 0xFB != 0x48 or buf[at + 1] != 0x8D or buf[at + 3] != 0x24 or buf[at + 4] != 0x10:
            return 0
        if buf[at + 2] & 0xC7 != 0x44 or reg != (buf[at + 2] >> 3 & 7) + (8 if buf[at] == 0x4C else 0):
            return 0
        at += 5
    if reg in (4, 5) or buf[at] != 0x48 or buf[at + 2] != 0xE4 or buf[at + 1] not in (0x81, 0x83):
        return 0
    at += 7 if buf[at + 1] == 0x81 else 4
    base = 0
    if buf[at] == 0xFF:
        at += 1
    elif buf[at] & 0xF6 == 0x40 and buf[at + 1] == 0xFF:
        base, at = (8 if buf[at] & 1 else 0), at + 2
    else:
        return 0
    if buf[at + 1] != 0xF8 or buf[at] & 0xF8 != 0x70 or reg != base + (buf[at] & 7):
        return 0
    return at + 2 if at + 2 <= len(code) else 0


def frame_setup_length(code: bytes) -> int:
    """How many bytes amd64_analyze_prologue skips at a function's start: a stack realignment
    (stack_align_length), then those of ``[endbr64] push %rbp; mov %rsp,%rbp`` (or ``movl
    %esp,%ebp``); 0 for a frameless function (no ``push %rbp``, or one not followed by the move)."""
    at = stack_align_length(code)
    at += len(ENDBR64) if code[at:].startswith(ENDBR64) else 0
    if code[at:at + 1] != PUSH_RBP:
        return 0
    after = code[at + 1:at + 4]
    if after in MOV_RSP_RBP:
        return at + 4
    if after[:2] in MOV_ESP_EBP:
        return at + 3
    return 0
