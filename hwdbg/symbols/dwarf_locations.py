"""Where a variable of one frame lives: DWARF location expressions and location lists, evaluated.

pyelftools decodes the operations (``DWARFExprParser``) and the location lists of
``.debug_loc`` (DWARF 4) and ``.debug_loclists`` (DWARF 5); this module runs them against
a frame's registers, its CFA and the target's memory. The result is an address in memory,
a register, bytes known outright (``DW_OP_stack_value``, ``DW_OP_implicit_value``, pieces),
or nothing: the compiler left no trace of the variable at this pc (``<optimized out>``).
x86-64 only (DWARF register numbers of the System V psABI).
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from elftools.dwarf.dwarf_expr import DWARFExprParser
from elftools.dwarf.locationlists import BaseAddressEntry, LocationEntry, LocationExpr, LocationParser

from hwdbg.recordtype import record
from hwdbg.symbols.dwarf_types import PARSE_ERRORS

MASK64 = (1 << 64) - 1
XMM0 = 17  # DWARF numbers 17-32 are xmm0-15
# DWARF register numbers of x86-64, as user_regs_struct names them (0-16), for messages.
REGISTER_NAMES = ("rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp",
                  "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip") + tuple(f"xmm{n}" for n in range(16))


class NotAvailable(Exception):
    """The location cannot be computed here (a register the frame does not know, an operation
    hwdbg does not run): the variable reads as ``<optimized out>``, as in gdb."""


@record(frozen=True)
class Located:
    """Where a value is: exactly one of ``address``, ``register`` or ``data``, or none of them
    when it was optimized out."""

    address: Optional[int] = None
    register: Optional[int] = None  # DWARF register number
    data: Optional[bytes] = None  # the value itself, little-endian

    @property
    def optimized_out(self) -> bool:
        return self.address is None and self.register is None and self.data is None


OPTIMIZED_OUT = Located()


@record
class FrameState:
    """What a location expression may ask of its frame."""

    regs: dict[int, int]  # DWARF register number -> value; a missing one is not known in this frame
    cfa: Optional[int]
    read_memory: Callable[[int, int], bytes]
    bias: int = 0  # load bias of the module: DW_OP_addr is a link-time address
    frame_base: Optional[Callable[[], int]] = None
    # The value DW_OP_entry_value's sub-expression (parsed operations) had when the function was entered.
    entry_value: Optional[Callable[[list], Optional[int]]] = None

    def register(self, number: int) -> int:
        if number not in self.regs:
            raise NotAvailable(f"register {number} is not saved in this frame")
        return self.regs[number]

    def word(self, addr: int, size: int = 8) -> int:
        return int.from_bytes(self.read_memory(addr & MASK64, size), "little")


def _signed(value: int) -> int:
    value &= MASK64
    return value - (1 << 64) if value >> 63 else value


_BINARY: dict[str, Callable[[int, int], int]] = {
    "DW_OP_plus": lambda a, b: a + b, "DW_OP_minus": lambda a, b: a - b, "DW_OP_mul": lambda a, b: a * b,
    "DW_OP_and": lambda a, b: a & b, "DW_OP_or": lambda a, b: a | b, "DW_OP_xor": lambda a, b: a ^ b,
    "DW_OP_shl": lambda a, b: a << b if b < 64 else 0, "DW_OP_shr": lambda a, b: a >> b,
    "DW_OP_shra": lambda a, b: _signed(a) >> min(b, 63),
    "DW_OP_div": lambda a, b: int(_signed(a) / _signed(b)) if b else 0,
    "DW_OP_mod": lambda a, b: a % b if b else 0,
    "DW_OP_eq": lambda a, b: int(a == b), "DW_OP_ne": lambda a, b: int(a != b),
    "DW_OP_lt": lambda a, b: int(_signed(a) < _signed(b)), "DW_OP_le": lambda a, b: int(_signed(a) <= _signed(b)),
    "DW_OP_gt": lambda a, b: int(_signed(a) > _signed(b)), "DW_OP_ge": lambda a, b: int(_signed(a) >= _signed(b)),
}


def evaluate(expr: bytes | list[int], parser: DWARFExprParser, frame: FrameState, size: int = 8) -> Located:
    """The location a DWARF expression describes in ``frame``; ``size`` is the variable's byte
    size (to assemble pieces)."""
    try:
        ops = parser.parse_expr(list(expr))
    except PARSE_ERRORS:
        return OPTIMIZED_OUT
    if not ops:
        return OPTIMIZED_OUT  # an empty expression: the variable has no location
    try:
        return _run(ops, parser, frame, size)
    except (NotAvailable, IndexError, KeyError):
        return OPTIMIZED_OUT
    except Exception as exc:  # unreadable memory while computing an address (the target's fault)
        if type(exc).__name__ in ("TargetError", "PtraceError"):
            return OPTIMIZED_OUT
        raise


def _run(ops: list, parser: DWARFExprParser, frame: FrameState, size: int) -> Located:
    stack: list[int] = []
    pieces: list[tuple[Located, int]] = []
    result: Optional[Located] = None  # what the last operation named, before a piece
    for op in ops:
        name, args = op.op_name, op.args
        if result is not None and name not in ("DW_OP_piece", "DW_OP_bit_piece"):
            raise NotAvailable(f"{name} after a complete location")
        if name == "DW_OP_addr":
            stack.append(args[0] + frame.bias)
        elif name.startswith("DW_OP_lit"):
            stack.append(int(name[len("DW_OP_lit"):]))
        elif name in ("DW_OP_const_type", "DW_OP_GNU_const_type"):
            stack.append(int.from_bytes(bytes(args[1][:8]), "little"))  # a typed constant (a double's bits)
        elif name.startswith("DW_OP_const"):
            stack.append(args[0] & MASK64)
        elif name.startswith("DW_OP_reg") and name != "DW_OP_regval_type":
            number = args[0] if name == "DW_OP_regx" else int(name[len("DW_OP_reg"):])
            frame.register(number)  # unknown in this frame: optimized out
            result = Located(register=number)
        elif name == "DW_OP_bregx":
            stack.append(frame.register(args[0]) + args[1])
        elif name.startswith("DW_OP_breg"):
            stack.append(frame.register(int(name[len("DW_OP_breg"):])) + args[0])
        elif name == "DW_OP_fbreg":
            if frame.frame_base is None:
                raise NotAvailable("no frame base")
            stack.append(frame.frame_base() + args[0])
        elif name == "DW_OP_call_frame_cfa":
            if frame.cfa is None:
                raise NotAvailable("no CFA")
            stack.append(frame.cfa)
        elif name == "DW_OP_plus_uconst":
            stack.append(stack.pop() + args[0])
        elif name in _BINARY:
            right, left = stack.pop(), stack.pop()
            stack.append(_BINARY[name](left, right))
        elif name in ("DW_OP_neg", "DW_OP_not", "DW_OP_abs"):
            value = _signed(stack.pop())
            stack.append(-value if name == "DW_OP_neg" else ~value if name == "DW_OP_not" else abs(value))
        elif name == "DW_OP_deref":
            stack.append(frame.word(stack.pop()))
        elif name == "DW_OP_deref_size":
            stack.append(frame.word(stack.pop(), args[0]))
        elif name == "DW_OP_dup":
            stack.append(stack[-1])
        elif name == "DW_OP_drop":
            stack.pop()
        elif name == "DW_OP_over":
            stack.append(stack[-2])
        elif name == "DW_OP_pick":
            stack.append(stack[-1 - args[0]])
        elif name == "DW_OP_swap":
            stack[-1], stack[-2] = stack[-2], stack[-1]
        elif name == "DW_OP_rot":
            stack[-1], stack[-2], stack[-3] = stack[-2], stack[-3], stack[-1]
        elif name == "DW_OP_stack_value":
            result = Located(data=(stack.pop() & MASK64).to_bytes(8, "little"))
        elif name == "DW_OP_implicit_value":
            result = Located(data=bytes(args[-1]))  # pyelftools: [the block]
        elif name in ("DW_OP_entry_value", "DW_OP_GNU_entry_value"):
            value = frame.entry_value(args[0]) if frame.entry_value is not None and args else None
            if value is None:
                raise NotAvailable("entry value not known")
            stack.append(value)
        elif name == "DW_OP_nop":
            pass
        elif name in ("DW_OP_piece", "DW_OP_bit_piece"):
            if name == "DW_OP_bit_piece" and (args[0] % 8 or args[1] % 8):
                raise NotAvailable("bit pieces")
            length = args[0] if name == "DW_OP_piece" else args[0] // 8
            where = result if result is not None else Located(address=stack.pop()) if stack else OPTIMIZED_OUT
            pieces.append((where, length))
            result = None
        else:
            raise NotAvailable(f"{name} is not supported")  # TLS, implicit pointers, typed stack...
        if stack:
            stack[-1] &= MASK64
    if pieces:
        return _assemble(pieces, frame)
    if result is not None:
        return result
    return Located(address=stack[-1])


def _assemble(pieces: list[tuple[Located, int]], frame: FrameState) -> Located:
    """The bytes of a value split into pieces (a struct in two registers)."""
    data = b""
    for where, length in pieces:
        if where.optimized_out:
            raise NotAvailable("a piece is optimized out")  # gdb shows such fields one by one; we do not
        data += read_located(where, length, frame)
    return Located(data=data)


def read_located(where: Located, size: int, frame: FrameState) -> bytes:
    """``size`` bytes of the value at ``where`` (a register gives its low bytes)."""
    if where.data is not None:
        return where.data[:size].ljust(size, b"\0")
    if where.register is not None:
        width = 16 if XMM0 <= where.register < XMM0 + 16 else 8
        value = frame.register(where.register) & ((1 << 8 * width) - 1)
        return value.to_bytes(width, "little")[:size].ljust(size, b"\0")
    if where.address is not None:
        return bytes(frame.read_memory(where.address, size))
    raise NotAvailable("optimized out")


def expression_at(attr: Any, die: Any, location_lists: Any, link_pc: int) -> Optional[list[int]]:
    """The location expression of a DIE attribute in force at ``link_pc``: the attribute's
    own expression, or the matching entry of its location list (None: no entry covers it)."""
    version = die.cu["version"]
    parser = LocationParser(location_lists)
    try:
        parsed = parser.parse_from_attribute(attr, version, die)
    except PARSE_ERRORS:
        return None
    if isinstance(parsed, LocationExpr):
        return list(parsed.loc_expr)
    top = die.cu.get_top_DIE()
    low = top.attributes.get("DW_AT_low_pc")
    base = low.value if low is not None else 0
    default = None
    for entry in parsed:
        if isinstance(entry, BaseAddressEntry):
            base = entry.base_address
        elif isinstance(entry, LocationEntry):
            begin, end = entry.begin_offset, entry.end_offset
            if begin == -1:
                default = list(entry.loc_expr)  # DW_LLE_default_location: where no other entry applies
            elif not entry.is_absolute:
                begin, end = base + begin, base + end
            if begin <= link_pc < end:
                return list(entry.loc_expr)
    return default
