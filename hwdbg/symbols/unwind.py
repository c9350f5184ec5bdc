"""The call stack of a stopped thread: its pc, then each caller's return address.

Frames are unwound with DWARF call-frame information (``.eh_frame``, ``.debug_frame``):
for a pc it says where the caller's frame starts (the CFA) and where registers were
saved, so it works without frame pointers (``-O2``, glibc's assembly). Code that has
no CFI is walked through the frame-pointer chain instead. x86-64 only.
"""
from __future__ import annotations

import bisect
import re
import struct
import weakref
from dataclasses import field, replace
from typing import Any, Callable, Optional

from elftools.dwarf import constants as dw
from elftools.dwarf.callframe import FDE
from elftools.dwarf.dwarf_expr import DWARFExprParser

from hwdbg.errors import HwdbgError
from hwdbg.recordtype import record
from hwdbg.symbols.elf import ElfImage
from hwdbg.symbols.fde_index import FdeIndex

# DWARF register numbers of x86-64 (System V psABI), as named in user_regs_struct.
DWARF_REGISTERS = ("rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp",
                   "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip")
RBP, RSP, RIP = 6, 7, 16
MASK64 = (1 << 64) - 1

Registers = dict[int, int]
ReadWord = Callable[[int], int]


class _CannotUnwind(Exception):
    """This frame's caller cannot be found; the backtrace ends here."""


# ---------------------------------------------------------------- FDE index per ELF image

# One index per image, kept as long as the image: each FDE it parses is parsed once.
_indexes: "weakref.WeakKeyDictionary[ElfImage, FdeIndex]" = weakref.WeakKeyDictionary()


def _index_for(image: ElfImage) -> FdeIndex:
    index = _indexes.get(image)
    if index is None:
        index = _indexes[image] = FdeIndex(image)
    return index


# ---------------------------------------------------------------- CFI rows


@record
class _Row:
    """The unwind rule in force at one pc: how to find the CFA and each saved register.

    A rule is (kind, argument); a register without a rule keeps its value in the caller.
    Rows in a cached table are shared by every lookup: read them, never change them.
    """

    cfa_reg: int = RSP
    cfa_offset: int = 0
    cfa_expr: Optional[bytes] = None
    rules: dict[int, tuple[str, Any]] = field(default_factory=dict)

    def copy(self) -> "_Row":
        return replace(self, rules=dict(self.rules))


@record
class _Table:
    """An FDE's rows in program order: ``rows[i]`` is in force from ``locs[i]`` on.

    ``locs`` holds the running maximum of the locations, so bisection finds the row the
    program reaches first for a pc even after a backwards DW_CFA_set_loc. ``broken_at``:
    from there on the program hit an instruction no unwinder can follow (``problem``).
    """

    locs: list[int] = field(default_factory=list)
    rows: list[_Row] = field(default_factory=list)
    broken_at: Optional[int] = None
    problem: str = ""


_ADVANCES = {dw.DW_CFA_advance_loc, dw.DW_CFA_advance_loc1, dw.DW_CFA_advance_loc2, dw.DW_CFA_advance_loc4}


def _execute(instructions: list, row: _Row, initial: Optional[_Row], loc: int,
             code_align: int, data_align: int) -> _Table:
    """Runs CFA instructions from ``loc`` to their end, keeping the row of each location."""
    table = _Table()
    remembered: list[_Row] = []
    reach = loc
    for instr in instructions:
        op, args = int(instr.opcode), instr.args
        if op in _ADVANCES or op == dw.DW_CFA_set_loc:
            table.locs.append(reach)
            table.rows.append(row.copy())
            loc = args[0] if op == dw.DW_CFA_set_loc else loc + args[0] * code_align
            reach = max(reach, loc)
        elif op == dw.DW_CFA_def_cfa:
            row.cfa_reg, row.cfa_offset, row.cfa_expr = args[0], args[1], None
        elif op == dw.DW_CFA_def_cfa_sf:
            row.cfa_reg, row.cfa_offset, row.cfa_expr = args[0], args[1] * data_align, None
        elif op == dw.DW_CFA_def_cfa_register:
            row.cfa_reg, row.cfa_expr = args[0], None
        elif op == dw.DW_CFA_def_cfa_offset:
            row.cfa_offset = args[0]
        elif op == dw.DW_CFA_def_cfa_offset_sf:
            row.cfa_offset = args[0] * data_align
        elif op == dw.DW_CFA_def_cfa_expression:
            row.cfa_expr = bytes(args[0])
        elif op in (dw.DW_CFA_offset, dw.DW_CFA_offset_extended, dw.DW_CFA_offset_extended_sf):
            row.rules[args[0]] = ("offset", args[1] * data_align)
        elif op in (dw.DW_CFA_val_offset, dw.DW_CFA_val_offset_sf):
            row.rules[args[0]] = ("val_offset", args[1] * data_align)
        elif op == dw.DW_CFA_register:
            row.rules[args[0]] = ("register", args[1])
        elif op in (dw.DW_CFA_expression, dw.DW_CFA_val_expression):
            kind = "expression" if op == dw.DW_CFA_expression else "val_expression"
            row.rules[args[0]] = (kind, bytes(args[1]))
        elif op == dw.DW_CFA_undefined:
            row.rules[args[0]] = ("undefined", None)
        elif op == dw.DW_CFA_same_value:
            row.rules.pop(args[0], None)
        elif op in (dw.DW_CFA_restore, dw.DW_CFA_restore_extended):
            if initial is not None and args[0] in initial.rules:
                row.rules[args[0]] = initial.rules[args[0]]
            else:
                row.rules.pop(args[0], None)
        elif op == dw.DW_CFA_remember_state:
            remembered.append(row.copy())
        elif op == dw.DW_CFA_restore_state:
            if not remembered:
                table.broken_at, table.problem = reach, "DW_CFA_restore_state without a remembered state"
                return table
            row = remembered.pop()
        # nop and GNU_args_size change nothing an unwinder needs.
    table.locs.append(reach)
    table.rows.append(row)
    return table


def _table_of(fde: FDE) -> _Table:
    cie = fde.cie
    code_align, data_align = cie["code_alignment_factor"], cie["data_alignment_factor"]
    cie_table = _execute(cie.instructions, _Row(), None, 0, code_align, data_align)
    if cie_table.broken_at is not None:
        return _Table(broken_at=0, problem=cie_table.problem)
    initial = cie_table.rows[-1]
    return _execute(fde.instructions, initial.copy(), initial, fde["initial_location"], code_align, data_align)


# Each FDE's program runs once, not once per frame of every backtrace; the entries die
# with the FDE index that holds the FDE.
_tables: "weakref.WeakKeyDictionary[FDE, _Table]" = weakref.WeakKeyDictionary()


def _row_at(fde: FDE, link_pc: int) -> _Row:
    table = _tables.get(fde)
    if table is None:
        table = _tables[fde] = _table_of(fde)
    if not table.rows or (table.broken_at is not None and link_pc >= table.broken_at):
        raise _CannotUnwind(table.problem)
    return table.rows[max(bisect.bisect_right(table.locs, link_pc) - 1, 0)]


def _is_signal_frame(fde: FDE) -> bool:
    """The CIE's 'S' augmentation marks a signal trampoline (glibc's __restore_rt)."""
    return b"S" in bytes(fde.cie["augmentation"] or b"")


# ---------------------------------------------------------------- DWARF expressions

_BINARY_OPS: dict[str, Callable[[int, int], int]] = {
    "DW_OP_plus": lambda a, b: a + b,
    "DW_OP_minus": lambda a, b: a - b,
    "DW_OP_mul": lambda a, b: a * b,
    "DW_OP_and": lambda a, b: a & b,
    "DW_OP_or": lambda a, b: a | b,
    "DW_OP_xor": lambda a, b: a ^ b,
    "DW_OP_shl": lambda a, b: a << b,
    "DW_OP_shr": lambda a, b: a >> b,
    "DW_OP_ge": lambda a, b: int(_signed(a) >= _signed(b)),
    "DW_OP_gt": lambda a, b: int(_signed(a) > _signed(b)),
    "DW_OP_le": lambda a, b: int(_signed(a) <= _signed(b)),
    "DW_OP_lt": lambda a, b: int(_signed(a) < _signed(b)),
    "DW_OP_eq": lambda a, b: int(a == b),
    "DW_OP_ne": lambda a, b: int(a != b),
}


def _signed(value: int) -> int:
    return value - (1 << 64) if value & (1 << 63) else value


def _evaluate(expr: bytes, parser: DWARFExprParser, regs: Registers, read_word: ReadWord,
              initial: tuple[int, ...] = ()) -> int:
    """The value of the small DWARF expressions CFI uses (PLT entries, signal trampolines)."""
    try:
        ops = parser.parse_expr(expr)
    except Exception:  # pyelftools' own errors for an unknown or truncated opcode
        raise _CannotUnwind("unparseable DWARF expression in call-frame information") from None
    stack = list(initial)
    try:
        for op in ops:
            name = op.op_name
            if name == "DW_OP_bregx":
                stack.append(regs[op.args[0]] + op.args[1])
            elif name.startswith("DW_OP_breg"):
                stack.append(regs[int(name[len("DW_OP_breg"):])] + op.args[0])
            elif name.startswith("DW_OP_lit"):
                stack.append(int(name[len("DW_OP_lit"):]))
            elif re.fullmatch(r"DW_OP_const(\d[us]|[us])", name):
                stack.append(op.args[0])
            elif name == "DW_OP_plus_uconst":
                stack.append(stack.pop() + op.args[0])
            elif name == "DW_OP_deref":
                stack.append(read_word(stack.pop()))
            elif name == "DW_OP_dup":
                stack.append(stack[-1])
            elif name == "DW_OP_drop":
                stack.pop()
            elif name in _BINARY_OPS:
                right, left = stack.pop(), stack.pop()
                stack.append(_BINARY_OPS[name](left, right))
            else:
                raise _CannotUnwind(f"unsupported {name} in call-frame information")
            if stack:
                stack[-1] &= MASK64
        return stack[-1]
    except (IndexError, KeyError) as e:
        raise _CannotUnwind(f"malformed DWARF expression: {e!r}") from None


# ---------------------------------------------------------------- one frame


def _cfa_of(row: _Row, regs: Registers, read_word: ReadWord, parser: DWARFExprParser) -> int:
    """The canonical frame address: the caller's stack pointer before its call."""
    if row.cfa_expr is not None:
        return _evaluate(row.cfa_expr, parser, regs, read_word)
    if row.cfa_reg in regs:
        return (regs[row.cfa_reg] + row.cfa_offset) & MASK64
    raise _CannotUnwind(f"CFA based on unknown register {row.cfa_reg}")


def _caller_from_cfi(row: _Row, regs: Registers, read_word: ReadWord,
                     parser: DWARFExprParser) -> Registers:
    cfa = _cfa_of(row, regs, read_word, parser)
    kind, _ = row.rules.get(RIP, ("undefined", None))
    if kind == "undefined":
        raise _CannotUnwind("outermost frame")  # _start, thread entry: no caller
    # The x86-64 CFA is the caller's stack pointer; every other register keeps its value
    # unless a rule says where it was saved. All rules read the callee's registers.
    caller = dict(regs)
    caller[RSP] = cfa
    for reg, (kind, arg) in row.rules.items():
        if kind == "offset":
            caller[reg] = read_word(cfa + arg)
        elif kind == "val_offset":
            caller[reg] = (cfa + arg) & MASK64
        elif kind == "register":
            caller[reg] = regs.get(arg, 0)
        elif kind == "expression":
            caller[reg] = read_word(_evaluate(arg, parser, regs, read_word, (cfa,)))
        elif kind == "val_expression":
            caller[reg] = _evaluate(arg, parser, regs, read_word, (cfa,))
        elif kind == "undefined":
            caller.pop(reg, None)
    return caller


def _caller_from_frame_pointer(regs: Registers, read_word: ReadWord) -> Registers:
    """Code without CFI: [rbp] is the caller's rbp, [rbp+8] the return address."""
    rbp = regs.get(RBP, 0)
    if rbp < regs[RSP] or rbp % 8:
        raise _CannotUnwind("rbp is not a frame pointer")
    caller = dict(regs)
    caller[RBP], caller[RIP], caller[RSP] = read_word(rbp), read_word(rbp + 8), rbp + 16
    return caller


def _find_fde(symbols: Callable[[], Any], refresh: Optional[Callable[[], None]], pc: int,
              refreshed: list[bool]) -> Optional[tuple[FDE, int, FdeIndex]]:
    table = symbols()
    if table is None:
        return None
    module = table.module_for(pc)
    if module is None and not refreshed[0] and refresh is not None:
        # Libraries mapped after the last refresh (libc is loaded after exec): look again once.
        refreshed[0] = True
        refresh()
        table = symbols()
        module = table.module_for(pc) if table is not None else None
    if module is None:
        return None
    index = _index_for(module.image)
    fde = index.covering(pc - module.bias)
    return (fde, module.bias, index) if fde is not None else None


def _registers(user_regs: Any) -> Registers:
    return {number: int(getattr(user_regs, name)) for number, name in enumerate(DWARF_REGISTERS)}


@record(frozen=True)
class UnwoundFrame:
    """One frame: its pc, the registers it sees (DWARF numbers; callee-saved ones recovered
    from the CFI, caller-saved ones only in frame 0) and its CFA (None if unknown)."""

    pc: int
    regs: Registers
    cfa: Optional[int]
    exact: bool  # pc is the next instruction to run (frame 0, signal frames), not a return address
    saved: dict[int, int] = field(default_factory=dict)  # register -> where this frame saved it
    caller_pc: Optional[int] = None  # the return address when its caller is a frame, else None
    dummy: bool = False  # a debugger's dummy frame (gdb's "<function called from gdb>"): see unwind_frames


def unwind(user_regs: Any, read_memory: Callable[[int, int], bytes], symbols: Callable[[], Any],
           refresh: Optional[Callable[[], None]] = None, limit: int = 64) -> list[int]:
    """The pcs of a thread's frames from its registers, innermost first: its pc, then return
    addresses. ``symbols`` gives the current symbol table; ``refresh`` re-reads the map once
    when a pc lies in no known module.

    Ends at the outermost frame, a pc of 0, unreadable memory, a stack that does not
    grow towards the caller, or ``limit`` frames.
    """
    return [frame.pc for frame in unwind_frames(user_regs, read_memory, symbols, refresh, limit)]


def unwind_frames(user_regs: Any, read_memory: Callable[[int, int], bytes], symbols: Callable[[], Any],
                  refresh: Optional[Callable[[], None]] = None, limit: int = 64,
                  dummy: Optional[Callable[[int, int], Any]] = None) -> list[UnwoundFrame]:
    """Like ``unwind``, with each frame's registers and CFA (what locals are found by).
    ``dummy(pc, sp)``: the registers a function called by the debugger was called from, when
    a frame at (pc, sp) is where that call returns (its dummy frame); None otherwise. The
    unwinder goes on from those registers, as from a signal frame's."""

    def read_word(addr: int) -> int:
        return struct.unpack("<Q", read_memory(addr & MASK64, 8))[0]

    regs = _registers(user_regs)
    frames: list[UnwoundFrame] = []
    refreshed = [False]
    # Frame 0's pc, and that of a frame a signal interrupted, is the next instruction
    # to run; any other is a return address, so pc-1 is what lies inside the call.
    exact_pc = True
    while len(frames) < limit:
        pc = regs.get(RIP, 0)
        if pc == 0:
            break
        called_from = dummy(pc, regs.get(RSP, 0)) if dummy is not None and len(frames) else None
        if called_from is not None:
            frames.append(UnwoundFrame(pc, regs, regs.get(RSP, 0), False, dummy=True))
            regs, exact_pc = _registers(called_from), True
            continue
        lookup_pc = pc if exact_pc else pc - 1
        cfa: Optional[int] = None
        caller: Optional[Registers] = None
        caller_exact = False
        saved: dict[int, int] = {}
        try:
            found = _find_fde(symbols, refresh, lookup_pc, refreshed)
            if found is None:
                caller = _caller_from_frame_pointer(regs, read_word)
                cfa = caller[RSP]
                saved = {RBP: cfa - 16, RIP: cfa - 8}
            else:
                fde, bias, index = found
                row = _row_at(fde, lookup_pc - bias)
                cfa = _cfa_of(row, regs, read_word, index.expr_parser)
                saved = {reg: (cfa + arg) & MASK64 for reg, (kind, arg) in row.rules.items() if kind == "offset"}
                caller = _caller_from_cfi(row, regs, read_word, index.expr_parser)
                caller_exact = _is_signal_frame(fde)
        except (_CannotUnwind, HwdbgError):
            caller = None
        if caller is None or caller.get(RSP, 0) <= regs[RSP]:
            frames.append(UnwoundFrame(pc, regs, cfa, exact_pc, saved))
            break  # the outermost frame; a stack that does not grow towards the caller would loop
        frames.append(UnwoundFrame(pc, regs, cfa, exact_pc, saved, caller.get(RIP, 0) or None))
        # Registers without a CFI rule keep their value in the caller, as gdb takes them.
        regs, exact_pc = caller, caller_exact
    return frames


def walk(user_regs: Any, read_memory: Callable[[int, int], bytes], symbols: Callable[[], Any],
         refresh: Optional[Callable[[], None]] = None, limit: int = 64,
         dummy: Optional[Callable[[int, int], Any]] = None) -> list[tuple[int, Optional[int]]]:
    """(pc, cfa) of each frame, innermost first. The CFA (the caller's stack pointer) names an
    activation, as gdb's frame id does: stepping tells recursion apart by it."""
    return [(frame.pc, frame.cfa) for frame in unwind_frames(user_regs, read_memory, symbols, refresh, limit, dummy)]
