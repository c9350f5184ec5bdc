"""The SysV x86-64 calling convention (psABI 3.2.3): how values are classified, passed and returned.

A scalar is INTEGER (integers, pointers, char, bool, enums), SSE (float, double) or X87 (long
double: on the stack as an argument, in st(0) as a return value); _Complex T is a struct of
two T, but _Complex long double is COMPLEX_X87 (st(0) and st(1)). A struct or union of at most
16 bytes is split in eightbytes, each classed by the fields that overlap it, the classes merged
by the psABI's rules (INTEGER wins over SSE; a long double shared with another field, or an
unaligned field, makes it MEMORY; a struct of one long double is X87); a bigger one is MEMORY. Arguments take rdi, rsi, rdx, rcx, r8, r9 and
xmm0-xmm7 in order; an argument whose eightbytes do not all fit in the registers left goes
whole on the stack, as MEMORY ones do. A MEMORY return value is written where the caller's
hidden first argument (rdi) points. Types are duck-typed (kind, size, fields, target, count):
this layer knows no DWARF.
"""
from __future__ import annotations

from dataclasses import field
from typing import Any, Iterator, Optional

from ..recordtype import record

INTEGER, SSE, MEMORY = "INTEGER", "SSE", "MEMORY"
X87, X87UP = "X87", "X87UP"  # long double: passed in memory, returned in st(0)
COMPLEX_X87 = "COMPLEX_X87"  # _Complex long double: passed in memory, returned in st(0) and st(1)
ARGUMENT_REGISTERS = ("rdi", "rsi", "rdx", "rcx", "r8", "r9")
SSE_ARGUMENTS = 8
RED_ZONE = 128  # below the stack pointer, the interrupted code may keep data (psABI 3.2.2)
STACK_ALIGNMENT = 16  # rsp + 8 is a multiple of 16 at a function's entry
XMM0_OFFSET = 160  # in the FXSAVE area (PTRACE_GETFPREGS, the start of XSAVE's); 16 bytes each
ST0_OFFSET = 32  # st(0), the x87 stack's top, in the FXSAVE area (registers in stack order, 16 bytes each)


def _leaves(ctype: Any, offset: int = 0) -> Iterator[tuple[int, Any]]:
    """(offset, scalar type) of every scalar in a type, arrays and nested records flattened."""
    if ctype.kind in ("struct", "union"):
        for member in ctype.fields:
            yield from _leaves(member.ctype, offset + member.offset)
    elif ctype.kind == "array":
        element = ctype.target
        if element is not None and element.size:
            for i in range(ctype.count or 0):
                yield from _leaves(element, offset + i * element.size)
    else:
        yield offset, ctype


def _merge(one: Optional[str], other: Optional[str]) -> Optional[str]:
    """Two classes of one eightbyte merged (psABI 3.2.3's rules a-f; None: NO_CLASS)."""
    if one == other or other is None:
        return one
    if one is None:
        return other
    if MEMORY in (one, other):
        return MEMORY
    if INTEGER in (one, other):
        return INTEGER
    if one in (X87, X87UP) or other in (X87, X87UP):
        return MEMORY
    return SSE


def _scalar_classes(leaf: Any) -> list[str]:
    if leaf.kind == "float":
        return [SSE] if leaf.size <= 8 else [X87, X87UP]
    return [INTEGER] * max(1, (leaf.size + 7) // 8)


def alignment(ctype: Any) -> int:
    """A type's alignment: its widest scalar's (a long double's is 16)."""
    return max((min(max(leaf.size, 1), 16) for _, leaf in _leaves(ctype)), default=1)


def classify(ctype: Any) -> list[str]:
    """The class of each eightbyte of a type: [INTEGER], [SSE, INTEGER], [X87, X87UP], [MEMORY]..."""
    if ctype.kind == "array":  # by value only as C's _Complex T: a struct of two T, but T long double
        element = ctype.target
        if element is not None and element.kind == "float" and element.size > 8:
            return [COMPLEX_X87]  # returned in st(0) and st(1); an argument in memory
    if ctype.kind in ("struct", "union", "array"):
        if ctype.size > 16 or ctype.size == 0:
            return [MEMORY]
        classes: list[Optional[str]] = [None] * ((ctype.size + 7) // 8)
        for offset, leaf in _leaves(ctype):
            if offset % alignment(leaf):
                return [MEMORY]  # an unaligned field
            for i, cls in enumerate(_scalar_classes(leaf)):
                word = offset // 8 + i
                classes[word] = _merge(classes[word], cls)
        if MEMORY in classes or any(cls == X87UP and (i == 0 or classes[i - 1] != X87)
                                    for i, cls in enumerate(classes)):
            return [MEMORY]  # the post-merger rules: an X87UP needs its X87 just before it
        return [c or SSE for c in classes]  # padding only: no register needed, SSE is harmless
    return _scalar_classes(ctype)


@record
class CallLayout:
    """Where a call's arguments go: integer registers by name, SSE registers' low eightbytes,
    and the bytes of the stack's argument area (from the stack pointer at the call up)."""

    integers: dict[str, int] = field(default_factory=dict)
    sse: list[bytes] = field(default_factory=list)
    stack: bytes = b""


def layout_arguments(arguments: list[tuple[Any, bytes]], hidden_return: bool = False) -> CallLayout:
    """Places each (type, little-endian bytes) argument; ``hidden_return``: rdi carries the
    address of a MEMORY return value's buffer."""
    layout = CallLayout()
    free_integers = list(ARGUMENT_REGISTERS[1:] if hidden_return else ARGUMENT_REGISTERS)
    stack = bytearray()
    for ctype, data in arguments:
        classes = classify(ctype)
        words = [data[8 * i:8 * i + 8].ljust(8, b"\0") for i in range(len(classes))]
        fits = not {MEMORY, X87, COMPLEX_X87} & set(classes) and classes.count(INTEGER) <= len(free_integers) \
            and classes.count(SSE) + len(layout.sse) <= SSE_ARGUMENTS
        if not fits:
            if alignment(ctype) > 8:  # a long double's slot (or a struct's holding one) is 16-byte aligned
                stack += bytes(-len(stack) % 16)
            stack += bytes(data).ljust((len(data) + 7) // 8 * 8, b"\0")
            continue
        for cls, word in zip(classes, words):
            if cls == INTEGER:
                layout.integers[free_integers.pop(0)] = int.from_bytes(word, "little")
            else:
                layout.sse.append(word)
    layout.stack = bytes(stack)
    return layout


def call_frame(sp: int, stack_arguments: int, return_size: int) -> tuple[int, int, int]:
    """The stack of an inferior call below ``sp``: (the return buffer's address or 0, where the
    stack arguments start, the stack pointer at the call's entry, the return address below)."""
    top = (sp - RED_ZONE) & ~(STACK_ALIGNMENT - 1)
    buffer = 0
    if return_size:
        top = buffer = (top - return_size) & ~(STACK_ALIGNMENT - 1)
    arguments = (top - stack_arguments) & ~(STACK_ALIGNMENT - 1)
    return buffer, arguments, arguments - 8
