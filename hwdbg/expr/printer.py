"""Everything that turns a value or bytes into text: gdb's ``print`` rendering, C character and
string literals, and the integer formats of ``print/F`` and ``x/F``. Type names are spelled by
:func:`hwdbg.symbols.types.type_name`, which DWARF uses too."""
from __future__ import annotations

import math
from itertools import groupby
from typing import Callable, Iterator, Optional

from ..errors import TargetError, UsageError
from ..symbols.types import CType, is_complex, type_name
from . import x87
from .values import decode_float
from .evaluator import INT, Env, Value, encode_float, _field_place, _load, _Memory, _place, read_exact, untyped_type
from .syntax import _guard

PRINT_ELEMENTS = 200  # gdb's `set print elements`
PRINT_REPEATS = 10  # gdb's `set print repeats`
PRINT_DEPTH = 20  # gdb's `set print max-depth`
PREFETCH_LIMIT = 1 << 16  # aggregates up to this size are read in one go for printing
INTEGER_FORMATS = "xduotcaz"  # the letters format_integer knows
PRINT_FORMATS = INTEGER_FORMATS + "f"  # print/F's: /f is format_scalar's

_CHAR_ESCAPES = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r", 92: "\\\\"}
_PAGE = 4096


# --- C literals --------------------------------------------------------------

def _escape(byte: int, quote: str) -> str:
    if byte in _CHAR_ESCAPES:
        return _CHAR_ESCAPES[byte]
    if chr(byte) == quote:
        return "\\" + quote
    return chr(byte) if 32 <= byte < 127 else f"\\{byte:03o}"


def char_literal(number: int) -> str:
    """The low byte of ``number`` as a C character literal: ``'A'``, ``'\\n'``, ``'\\000'``."""
    return "'" + _escape(number & 0xFF, "'") + "'"


def string_literal(data: bytes, repeats: Optional[int] = PRINT_REPEATS) -> str:
    """``data`` as a C string literal. As gdb's ``print`` does, runs longer than ``repeats`` become
    ``'c' <repeats n times>``; ``repeats=None`` never folds a run (``x/s``)."""
    segments: list[str] = []
    current: list[str] = []
    for byte, run in groupby(data):
        count = len(list(run))
        if repeats is not None and count > repeats:
            if current:
                segments.append('"' + "".join(current) + '"')
                current = []
            segments.append(f"{char_literal(byte)} <repeats {count} times>")
        else:
            current.extend([_escape(byte, '"')] * count)
    if current or not segments:
        segments.append('"' + "".join(current) + '"')
    return ", ".join(segments)


def _c_string_chunks(memory: _Memory, address: int, limit: int) -> Iterator[bytes]:
    """The C string at ``address`` up to its NUL (at most ``limit`` bytes), one read per page: a read
    never crosses a page, so a string that ends just before unmapped memory still reads."""
    done = 0
    while done < limit:
        start = address + done
        chunk = read_exact(memory, start, min(limit - done, _PAGE - start % _PAGE))
        if b"\0" in chunk:
            yield chunk[:chunk.index(b"\0")]
            return
        yield chunk
        done += len(chunk)


def read_c_string(memory: _Memory, address: int, limit: int) -> bytes:
    """The bytes of the C string at ``address``, without its NUL; ``limit`` bytes if it has none by then."""
    return b"".join(_c_string_chunks(memory, address, limit))


# --- print/F and x/F ---------------------------------------------------------

def _no_symbol(address: int) -> str:
    return ""


def format_integer(number: int, fmt: str, size: int, *, full_width: bool = False,
                   symbol: Callable[[int], str] = _no_symbol) -> str:
    """The low ``size`` bytes of ``number`` in format letter ``fmt``: x hex, z zero-padded hex, d signed,
    u unsigned, o octal, t binary, c character, a address (plus ``symbol(address)``, e.g. ``<main+4>``).

    ``full_width`` pads x and t to every digit of the unit, as ``x`` shows memory (``print`` does not).
    """
    bits = 8 * size
    unsigned = number & ((1 << bits) - 1)
    if fmt == "z" or (fmt == "x" and full_width):
        return f"0x{unsigned:0{2 * size}x}"
    if fmt == "x":
        return f"{unsigned:#x}"
    if fmt == "o":
        return f"0{unsigned:o}" if unsigned else "0"
    if fmt == "t":
        return f"{unsigned:0{bits}b}" if full_width else f"{unsigned:b}"
    if fmt == "u":
        return str(unsigned)
    if fmt == "d":
        return str(unsigned - (1 << bits) if unsigned >> (bits - 1) else unsigned)
    if fmt == "c":
        byte = unsigned & 0xFF
        return f"{byte - 256 if byte > 127 else byte} {char_literal(byte)}"
    if fmt == "a":
        label = symbol(unsigned)
        return f"{unsigned:#x}" + (f" {label}" if label else "")
    raise UsageError(f"unknown format /{fmt}; use one of /{', /'.join(INTEGER_FORMATS)}")


def format_float_bits(number: int, size: int, signed: bool = True) -> str:
    """``/f`` of an integer as gdb 13 shows it: its bits as a float or a double when it has
    their size, else the integer itself."""
    if size in (4, 8):
        return _float_text(decode_float((number & ((1 << 8 * size) - 1)).to_bytes(size, "little")), size)
    return format_integer(number, "d" if signed else "u", size or 8)


def format_scalar(value: Value, fmt: str, symbol: Callable[[int], str] = _no_symbol) -> str:
    """``print/F``: a value in one of INTEGER_FORMATS or /f, at the width of its type (8 bytes if it has none)."""
    number = value.value
    ctype = value.ctype or untyped_type(number)  # an untyped -1 is an int: /x shows 0xffffffff, as gdb
    if ctype.kind in ("struct", "union", "array", "func"):
        raise UsageError(f"/{fmt} formats numbers; this value is a {ctype.kind}")
    if fmt == "f":
        if isinstance(number, float):
            return _float_text(number, ctype.size or 8)
        return format_float_bits(number, ctype.size or 8, ctype.signed and ctype.kind != "pointer")
    if isinstance(number, float):
        # gdb formats the bits of a floating-point value as an integer of its size
        size = ctype.size if ctype.size in (4, 8, 16) else 8
        bits = int.from_bytes(encode_float(number, size)[:10 if size == 16 else size], "little")  # x87: 10 bytes
        return format_integer(bits, fmt, size, symbol=symbol)
    return format_integer(number, fmt, ctype.size or 8, symbol=symbol)


# --- print -------------------------------------------------------------------

def _float_text(number: float, size: int) -> str:
    """As gdb prints it: %.9g for a float, %.17g for a double, %.21Lg for a long double; nan with its payload: -nan(0x8000000000000)."""
    if size > 8:  # long double: %.21Lg, a nan's payload its 64-bit significand (past a double's range too)
        return x87.special(encode_float(number, 16)) or x87.text(number)
    if math.isnan(number):
        bits = int.from_bytes(encode_float(number, 4 if size == 4 else 8), "little")
        sign, payload = (bits >> 31, bits & 0x7FFFFF) if size == 4 else (bits >> 63, bits & (1 << 52) - 1)
        return f"{'-' if sign else ''}nan({payload:#x})"
    if math.isinf(number):
        return "-inf" if number < 0 else "inf"
    return f"{number:.9g}" if size == 4 else f"{number:.17g}"


def _is_flag_enum(enumerators: tuple[tuple[str, int], ...]) -> bool:
    """gdb's flag enum: every value non-negative, of at most one bit, no bit used twice."""
    mask = 0
    for _, value in enumerators:
        if value < 0 or bin(value).count("1") > 1 or mask & value:
            return False
        mask |= value
    return True


def _enum_text(number: int, enumerators: tuple[tuple[str, int], ...]) -> str:
    """``GREEN``; for a flag enum ``(A | B)``, ``(A | unknown: 0x8)``; else the number, as gdb prints them."""
    named = next((name for name, known in enumerators if known == number), None)
    if named is not None:
        return named
    if not _is_flag_enum(enumerators) or number < 0:
        return str(number)
    parts = []
    for name, value in enumerators:
        if number & value:
            parts.append(name)
            number &= ~value
    if number:
        parts.append(f"unknown: {number:#x}")
    return f"({' | '.join(parts)})" if parts else "0"


class _Prefetched:
    """Serves reads inside one block read up front, so printing a struct costs one read."""

    def __init__(self, memory: _Memory, address: int, size: int, data: Optional[bytes] = None) -> None:
        self.memory = memory
        self.address = address
        self.data = read_exact(memory, address, size) if data is None else data

    def read_memory(self, addr: int, size: int) -> bytes:
        offset = addr - self.address
        if 0 <= offset and offset + size <= len(self.data):
            return self.data[offset:offset + size]
        return self.memory.read_memory(addr, size)


def _print_size(ctype: CType | None) -> int:
    if ctype is None or ctype.kind not in ("struct", "union", "array"):
        return 0
    if ctype.kind == "array":
        element = ctype.target
        return min(ctype.count or 0, PRINT_ELEMENTS) * (element.size if element else 0)
    return ctype.size


class _Printer:
    def __init__(self, env: Env, value: Value, fmt: Optional[str], symbol: Callable[[int], str],
                 pretty: bool = False) -> None:
        size = _print_size(value.ctype)
        self.memory: _Memory = env
        if value.data is not None:  # a string literal: its bytes are served, there is nothing to read
            self.memory = _Prefetched(env, value.value, len(value.data), value.data)
        elif 0 < size <= PREFETCH_LIMIT:
            self.memory = _Prefetched(env, value.value, size)
        self.fmt, self.symbol, self.pretty = fmt, symbol, pretty

    def address(self, number: int) -> str:
        """A pointer as gdb shows it: ``0x404188 <nodes+72>`` when it points into a known symbol."""
        label = self.symbol(number)
        return f"{number:#x} {label}" if label else f"{number:#x}"

    def top(self, value: Value) -> str:
        ctype = value.ctype
        if self.fmt is None and ctype is not None and ctype.kind == "pointer" and not self.is_char(ctype.target):
            return f"({type_name(ctype)}) {self.text(value, 0)}"
        return self.text(value, 0)

    @staticmethod
    def is_char(ctype: CType | None) -> bool:
        return ctype is not None and ctype.kind == "char" and ctype.size == 1

    def text(self, value: Value, depth: int) -> str:
        ctype, number = value.ctype, value.value
        kind = ctype.kind if ctype is not None else None
        if kind in ("struct", "union"):
            return self.struct(number, ctype, depth)
        if kind == "array":
            return self.array(number, ctype, depth)
        if kind == "func":
            return f"{{{type_name(ctype)}}} {self.address(number)}"
        if self.fmt is not None:
            return format_scalar(value, self.fmt, self.symbol)
        if isinstance(number, float):
            return _float_text(number, ctype.size if ctype else 8)
        if ctype is None:
            return str(number)
        if kind == "pointer":
            if self.is_char(ctype.target) and number:
                label = self.symbol(number)
                return f"{number:#x}{' ' + label if label else ''} {self.c_string(number)}"
            return self.address(number)
        if kind == "char":
            return f"{number} {char_literal(number)}"
        if kind == "bool" and number in (0, 1):
            return ("false", "true")[number]
        if kind == "enum":
            return _enum_text(number, ctype.enumerators)
        return str(number)

    def struct(self, address: int, ctype: CType, depth: int) -> str:
        if not ctype.fields:
            return "{<No data fields>}"
        if depth >= PRINT_DEPTH:
            return "{...}"
        parts = []
        for member in ctype.fields:
            text = self.text(_load(self.memory, _field_place(address, member.offset, member)), depth + 1)
            parts.append(f"{member.name} = {text}" if member.name else text)
        if self.pretty:  # gdb's set print pretty: a member a line, indented by its depth
            indent = "  " * (depth + 1)
            return "{\n" + ",\n".join(indent + part for part in parts) + "\n" + "  " * depth + "}"
        return "{" + ", ".join(parts) + "}"

    def array(self, address: int, ctype: CType, depth: int) -> str:
        element = ctype.target or INT
        if is_complex(ctype) and self.fmt is None:  # gdb: "1 + -2i"
            real, imaginary = (self.text(_load(self.memory, _place(address + i * element.size, element)), depth + 1)
                               for i in (0, 1))
            return f"{real} + {imaginary}i"
        count = ctype.count or 0
        shown = min(count, PRINT_ELEMENTS)
        more = "..." if count > shown else ""
        if self.is_char(element) and self.fmt is None:
            data = read_exact(self.memory, address, shown)
            if not more and data.endswith(b"\0"):
                data = data[:-1]  # the terminating NUL, which gdb does not show
            return string_literal(data) + more
        if depth >= PRINT_DEPTH:
            return "{...}"
        texts = [self.text(_load(self.memory, _place(address + i * element.size, element)), depth + 1)
                 for i in range(shown)]
        parts = []
        for text, run in groupby(texts):
            repeats = len(list(run))
            parts += [f"{text} <repeats {repeats} times>"] if repeats > PRINT_REPEATS else [text] * repeats
        return "{" + ", ".join(parts) + more + "}"

    def c_string(self, address: int) -> str:
        data = b""
        try:
            for chunk in _c_string_chunks(self.memory, address, PRINT_ELEMENTS):
                data += chunk
        except TargetError as exc:
            return (string_literal(data) if data else "") + f"<error: {exc}>"
        return string_literal(data) + ("..." if len(data) == PRINT_ELEMENTS else "")


def format_value(value: Value, env: Env, fmt: Optional[str] = None, symbol: Callable[[int], str] = _no_symbol,
                 pretty: bool = False) -> str:
    """The value as gdb's ``print`` shows it: ``42``, ``65 'A'``, ``{x = 1, y = 2}``, ``(int *) 0x404040 <x>``.

    ``fmt`` (``print/x``) formats every number inside, arrays and structs too; ``symbol(address)``
    names what a pointer points at (``<nodes+72>``); ``pretty``: structs on several lines, as
    gdb's ``set print pretty on``."""
    return _guard(lambda: _Printer(env, value, fmt, symbol, pretty).top(value))
