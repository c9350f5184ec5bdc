"""The expression language of ``print``, ``set var``, watch locations and conditions.

A hand-written tokenizer and precedence-climbing parser build a small tree, which
is evaluated against an :class:`Env` (symbols, memory, registers). User text never
reaches Python's eval/exec/compile/ast. Grammar, lowest precedence first::

    expression = or ;
    or         = and { ("||" | "or") and } ;
    and        = not { ("&&" | "and") not } ;
    not        = ("!" | "not") not | comparison ;
    comparison = bitor [ ("==" | "!=" | "<" | "<=" | ">" | ">=") bitor ] ;
    bitor      = bitxor { "|" bitxor } ;
    bitxor     = bitand { "^" bitand } ;
    bitand     = shift { "&" shift } ;
    shift      = sum { ("<<" | ">>") sum } ;
    sum        = product { ("+" | "-") product } ;
    product    = unary { ("*" | "/" | "%") unary } ;
    unary      = ("-" | "+" | "~" | "*" | "&") unary | "(" type ")" unary | postfix ;
    postfix    = primary { "." NAME | "->" NAME | "[" expression "]" } ;
    primary    = INTEGER | FLOAT | CHAR | NAME | LIBRARY ":" NAME | "$" NAME
               | "(" expression ")" ;
    type       = C base type words (int, unsigned long, char, double, _Bool, ...)
                 or a fixed-width name (uint32_t, size_t, ...), then { "*" } ;

INTEGER is decimal (no leading zeros), 0x hex, 0o octal or 0b binary; FLOAT is
``1.5``, ``2e10``; CHAR is ``'a'`` with C escapes. ``!`` binds as loosely as
``not`` (``!a == b`` is ``!(a == b)``). Comparisons do not chain.

Semantics follow C on a 64-bit target: integer results wrap to 64-bit two's
complement (unsigned when an operand is an unsigned 64-bit integer or a pointer),
division truncates toward zero, pointer arithmetic scales by the pointee size
(``void *`` and unknown pointees by 1). Comparisons use the mathematical values.
A symbol without debug information reads as a signed 8-byte ``long``;
dereferencing an integer, a ``void *`` or a pointer of unknown type reads a
4-byte ``int``, as gdb does.
"""
from __future__ import annotations

import math
import operator
import re
import struct
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from itertools import groupby
from typing import Callable, ClassVar, Iterator, Mapping, NamedTuple, Optional, Protocol, TypeVar, Union

from .errors import SymbolError, TargetError, UsageError
from .symbols.types import CType, Field, integer_type

__all__ = [
    "Env", "Value", "Node", "Num", "Name", "Register", "Unary", "Binary", "Member", "Index", "Cast",
    "parse", "parse_assignment", "evaluate", "evaluate_text", "lvalue", "assign_bytes", "truth",
    "referenced_names", "format_value",
]

MAX_LENGTH = 4096
MAX_DEPTH = 64  # keeps parsing and evaluation far from Python's recursion limit
PRINT_ELEMENTS = 200  # gdb's `set print elements`
PRINT_REPEATS = 10  # gdb's `set print repeats`
PRINT_DEPTH = 20  # gdb's `set print max-depth`
PREFETCH_LIMIT = 1 << 16  # aggregates up to this size are read in one go for printing

MASK64 = (1 << 64) - 1
_LONG_MAX = (1 << 63) - 1
INT = integer_type(4, signed=True)
LONG = integer_type(8, signed=True)
ULONG = integer_type(8)
CHAR = CType("char", "char", 1, signed=True)
VOID = CType("void", "void", 0)
Number = Union[int, float]
T = TypeVar("T")


class Env(Protocol):
    def lookup(self, name: str, lib: str | None) -> tuple[int, CType | None]:
        """Runtime address and type of a variable or function; raises SymbolError."""

    def read_memory(self, addr: int, size: int) -> bytes:
        """Raises TargetError if unreadable."""

    def register(self, name: str) -> int:
        """A register or convenience value, name without '$'; raises UsageError if unknown."""


class _Memory(Protocol):
    def read_memory(self, addr: int, size: int) -> bytes: ...


@dataclass(frozen=True)
class Value:
    value: Number  # for structs, unions, arrays and functions: their address
    ctype: CType | None = None  # None: a plain integer (or float) without a C type
    address: int | None = None  # set when the value was read from memory


# --- syntax tree -------------------------------------------------------------

@dataclass(frozen=True)
class Node:
    """Every node keeps its source text (for messages) and its height (to bound recursion)."""

    height: ClassVar[int] = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "height", 1 + max((child.height for child in _children(self)), default=0))


def _source() -> str:
    return field(default="", compare=False, repr=False)


@dataclass(frozen=True)
class Num(Node):
    value: Number
    ctype: Optional[CType] = None
    text: str = _source()


@dataclass(frozen=True)
class Name(Node):
    name: str
    lib: Optional[str] = None
    text: str = _source()


@dataclass(frozen=True)
class Register(Node):
    """``$name``: a register or a convenience value such as ``$tid``."""

    name: str
    text: str = _source()


@dataclass(frozen=True)
class Unary(Node):
    op: str  # one of - + ~ ! * &
    operand: Node
    text: str = _source()


@dataclass(frozen=True)
class Binary(Node):
    op: str  # C spelling: ``and`` is stored as ``&&``
    left: Node
    right: Node
    text: str = _source()


@dataclass(frozen=True)
class Member(Node):
    base: Node
    name: str
    arrow: bool = False
    text: str = _source()


@dataclass(frozen=True)
class Index(Node):
    base: Node
    index: Node
    text: str = _source()


@dataclass(frozen=True)
class Cast(Node):
    ctype: CType
    operand: Node
    text: str = _source()


def _children(node: Node) -> list[Node]:
    return [child for child in (getattr(node, f.name) for f in fields(node)) if isinstance(child, Node)]


# --- tokens ------------------------------------------------------------------

class _Token(NamedTuple):
    kind: str  # number, name, qualified, dollar, op, end
    text: str
    column: int  # 1-based
    value: object = None

    @property
    def end(self) -> int:
        return self.column - 1 + len(self.text)


_OPERATORS = ("||", "&&", "==", "!=", "<=", ">=", "<<", ">>", "->", *"+-*/%&|^~!<>()[].=")
_KEYWORDS = {"or": "||", "and": "&&", "not": "!"}
_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
            ">": operator.gt, ">=": operator.ge}
_PRECEDENCE = {"||": 1, "&&": 2, **dict.fromkeys(_COMPARE, 4), "|": 5, "^": 6, "&": 7, "<<": 8, ">>": 8,
               "+": 9, "-": 9, "*": 10, "/": 10, "%": 10}
_NOT_PRECEDENCE = 3
_SPACE = " \t\r\n"

_FLOAT = re.compile(r"(?:\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+)(?![\w.])", re.ASCII)
_NUMBER = re.compile(r"\d[\w.]*", re.ASCII)  # greedy, so that 1_000 or 12abc is one bad token
_INTEGER = re.compile(r"0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0|[1-9][0-9]*", re.ASCII)
_LIBRARY = re.compile(r"[A-Za-z_][\w.+-]*", re.ASCII)  # libfoo.so.1, libstdc++, ld-linux-x86-64
_NAME = re.compile(r"[A-Za-z_]\w*", re.ASCII)
_DOLLAR = re.compile(r"\$(\w+)", re.ASCII)
_CHARACTER = re.compile(r"""'(\\(?:[0-7]{1,3}|x[0-9a-fA-F]{1,2}|[abfnrtv\\'"?])|[ -&(-\[\]-~])'""")
_ESCAPED = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, "'": 39, '"': 34, "?": 63}


def _syntax_error(text: str, column: int, message: str) -> UsageError:
    where = f" in '{_printable(text)}'" if len(text) <= 80 else ""
    return UsageError(f"syntax error at column {column}: {message}{where}")


def _clip(spelling: str) -> str:
    """A token as quoted in a message: short enough to keep the message one readable line."""
    return spelling if len(spelling) <= 32 else spelling[:29] + "..."


def _printable(text: str) -> str:
    """Escapes control and other unprintable characters so a message stays one line."""
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    plain_until = 0  # inside a run already known not to be followed by ':', no name is qualified
    while pos < len(text):
        char, column = text[pos], pos + 1
        if char in _SPACE:
            pos += 1
            continue
        if char.isascii() and char.isdigit():
            token = _number(text, pos)
        elif char == "'":
            token = _character(text, pos)
        elif match := _NAME.match(text, pos):
            token = _Token("name", match[0], column)
            if pos >= plain_until:
                library = _LIBRARY.match(text, pos)
                plain_until = library.end()
                if text.startswith(":", plain_until):
                    token = _qualified(text, pos, library[0])
        elif match := _DOLLAR.match(text, pos):
            token = _Token("dollar", match[0], column, match[1])
        else:
            op = next((op for op in _OPERATORS if text.startswith(op, pos)), None)
            if op is None:
                shown = repr(char) if char.isprintable() else f"'{_printable(char)}'"
                raise _syntax_error(text, column, f"unexpected character {shown}")
            token = _Token("op", op, column)
        tokens.append(token)
        pos += len(token.text)
    tokens.append(_Token("end", "", len(text) + 1))
    return tokens


def _qualified(text: str, pos: int, library: str) -> _Token:
    colon = pos + len(library)
    name = _NAME.match(text, colon + 1)
    if name is None:
        raise _syntax_error(text, colon + 2, f"expected a symbol name after '{_clip(library)}:'")
    return _Token("qualified", text[pos:name.end()], pos + 1, (library, name[0]))


def _literal_type(token: _Token) -> CType | None:
    """As in C: a character literal is a char, an integer too big for long an unsigned long."""
    if token.text.startswith("'"):
        return CHAR
    if isinstance(token.value, int) and token.value > _LONG_MAX:
        return ULONG
    return None  # a plain number


def _number(text: str, pos: int) -> _Token:
    if match := _FLOAT.match(text, pos):
        return _Token("number", match[0], pos + 1, float(match[0]))
    spelling = _NUMBER.match(text, pos)[0]
    if not _INTEGER.fullmatch(spelling):
        hint = " (octal is written 0o17)" if re.fullmatch(r"0\d+", spelling) else ""
        raise _syntax_error(text, pos + 1, f"invalid number '{_clip(spelling)}'{hint}")
    value = int(spelling, 0)
    if value > MASK64:
        raise _syntax_error(text, pos + 1, f"number '{_clip(spelling)}' does not fit in 64 bits")
    return _Token("number", spelling, pos + 1, value)


def _character(text: str, pos: int) -> _Token:
    match = _CHARACTER.match(text, pos)
    if match is None:
        raise _syntax_error(text, pos + 1, "invalid character literal")
    body = match[1]
    if not body.startswith("\\"):
        code = ord(body)
    elif body[1] == "x":
        code = int(body[2:], 16)
    elif body[1].isdigit():
        code = int(body[1:], 8)
    else:
        code = _ESCAPED[body[1]]
    if code > 0xFF:
        raise _syntax_error(text, pos + 1, f"character escape {body} is out of range")
    return _Token("number", match[0], pos + 1, _truncate(code, 8, signed=True))


# --- casts -------------------------------------------------------------------

_FIXED_WIDTH = {
    **{f"int{8 * size}_t": CType("int", f"int{8 * size}_t", size, signed=True) for size in (1, 2, 4, 8)},
    **{f"uint{8 * size}_t": CType("int", f"uint{8 * size}_t", size) for size in (1, 2, 4, 8)},
    "size_t": CType("int", "size_t", 8), "uintptr_t": CType("int", "uintptr_t", 8),
    "ssize_t": CType("int", "ssize_t", 8, signed=True), "intptr_t": CType("int", "intptr_t", 8, signed=True),
    "ptrdiff_t": CType("int", "ptrdiff_t", 8, signed=True),
}
_INTEGER_SIZES = {  # sorted words without signed/unsigned -> size
    ("char",): 1, ("short",): 2, ("int", "short"): 2, (): 4, ("int",): 4,
    ("long",): 8, ("int", "long"): 8, ("long", "long"): 8, ("int", "long", "long"): 8,
}
_OTHER_TYPES = {
    ("void",): VOID, ("_Bool",): CType("bool", "_Bool", 1), ("bool",): CType("bool", "bool", 1),
    ("float",): CType("float", "float", 4, signed=True), ("double",): CType("float", "double", 8, signed=True),
    ("double", "long"): CType("float", "long double", 16, signed=True),
}
_TYPE_WORDS = {"signed", "unsigned", "char", "short", "int", "long", "float", "double", "void", "_Bool", "bool",
               *_FIXED_WIDTH}
_TAGS = {"struct", "union", "enum"}
_CAST_START = _TYPE_WORDS | _TAGS


def _builtin_type(words: list[str]) -> CType | None:
    if len(words) == 1 and words[0] in _FIXED_WIDTH:
        return _FIXED_WIDTH[words[0]]
    signs = [w for w in words if w in ("signed", "unsigned")]
    key = tuple(sorted(w for w in words if w not in ("signed", "unsigned")))
    if len(signs) > 1 or (signs and key not in _INTEGER_SIZES):
        return None
    if key in _INTEGER_SIZES:
        kind = "char" if key == ("char",) else "int"
        return CType(kind, " ".join(words), _INTEGER_SIZES[key], signed=signs != ["unsigned"])
    return _OTHER_TYPES.get(key)


def _pointer_to(ctype: CType | None) -> CType:
    return CType("pointer", "", 8, target=ctype)


# --- parser ------------------------------------------------------------------

class _Parser:
    """Precedence climbing: one Python frame per nesting level, not one per precedence level."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0
        self.consumed_end = 0  # where the last consumed token ends, for node source text

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def operator(self) -> str | None:
        token = self.token
        if token.kind == "op":
            return token.text
        return _KEYWORDS.get(token.text) if token.kind == "name" else None

    def advance(self) -> _Token:
        token = self.token
        self.index += 1
        self.consumed_end = token.end
        return token

    def error(self, message: str) -> UsageError:
        return _syntax_error(self.text, self.token.column, message)

    def expect(self, op: str) -> None:
        if self.token.kind != "op" or self.token.text != op:
            raise self.error(f"expected '{op}'")
        self.advance()

    def make(self, start: _Token, cls: Callable[..., T], *args: object) -> T:
        node = cls(*args, text=self.text[start.column - 1:self.consumed_end])
        if node.height > MAX_DEPTH:
            raise UsageError("expression nested too deeply")
        return node

    @contextmanager
    def nested(self) -> Iterator[None]:
        """Bounds the parser's own recursion; every recursive descent goes through here."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise UsageError("expression nested too deeply")
        yield
        self.depth -= 1

    def expression(self, min_precedence: int = 0) -> Node:
        with self.nested():
            start = self.token
            if self.operator() == "!" and min_precedence <= _NOT_PRECEDENCE:
                self.advance()
                left = self.make(start, Unary, "!", self.expression(_NOT_PRECEDENCE))
            else:
                left = self.unary()
            while (precedence := _PRECEDENCE.get(self.operator() or "", 0)) >= max(min_precedence, 1):
                op = self.operator()
                self.advance()
                left = self.make(start, Binary, op, left, self.expression(precedence + 1))
                if op in _COMPARE and self.operator() in _COMPARE:
                    raise self.error("comparisons do not chain (join them with 'and')")
            return left

    def unary(self) -> Node:
        start = self.token
        op = self.operator()
        following = self.tokens[self.index + 1] if op == "(" else None
        if op in ("-", "+", "~", "*", "&"):
            self.advance()
            with self.nested():
                return self.make(start, Unary, op, self.unary())
        if following is not None and following.kind == "name" and following.text in _CAST_START:
            ctype = self.cast_type()
            with self.nested():
                return self.make(start, Cast, ctype, self.unary())
        return self.postfix()

    def cast_type(self) -> CType:
        self.advance()  # (
        if self.token.text in _TAGS:
            raise self.error(f"casts to {self.token.text} types are not supported")
        words = []
        while self.token.kind == "name" and self.token.text in _TYPE_WORDS:
            words.append(self.advance().text)
        ctype = _builtin_type(words)
        if ctype is None:
            raise self.error(f"unknown type '{' '.join(words)}'")
        while self.operator() == "*":
            self.advance()
            ctype = _pointer_to(ctype)
        if ctype.kind == "void":
            raise self.error("cannot cast to void")
        self.expect(")")
        return ctype

    def postfix(self) -> Node:
        start = self.token
        node = self.primary()
        while (op := self.operator()) in (".", "->", "["):
            self.advance()
            if op == "[":
                index = self.expression()
                self.expect("]")
                node = self.make(start, Index, node, index)
            elif self.token.kind != "name":
                raise self.error(f"expected a field name after '{op}'")
            else:
                node = self.make(start, Member, node, self.advance().text, op == "->")
        return node

    def primary(self) -> Node:
        token = self.token
        if token.kind == "number":
            self.advance()
            return self.make(token, Num, token.value, _literal_type(token))
        if token.kind == "name" and token.text not in _KEYWORDS:
            self.advance()
            return self.make(token, Name, token.text)
        if token.kind == "qualified":
            self.advance()
            lib, name = token.value
            return self.make(token, Name, name, lib)
        if token.kind == "dollar":
            self.advance()
            return self.make(token, Register, token.value)
        if self.operator() == "(":
            self.advance()
            node = self.expression()
            self.expect(")")
            return node
        if token.kind == "end":
            raise self.error("expected an expression")
        if self.operator() == "!":
            raise self.error(f"expected an expression, found '{token.text}' (parenthesise the negation)")
        raise self.error(f"expected an expression, found '{_clip(token.text)}'")

    def finish(self) -> None:
        if self.token.kind != "end":
            hint = " (use '==' to compare)" if self.token.text == "=" else ""
            raise self.error(f"unexpected '{_clip(self.token.text)}'{hint}")


def _guard(call: Callable[[], T]) -> T:
    """The last line of defence: nothing but HwdbgError leaves this module."""
    try:
        return call()
    except RecursionError:
        raise UsageError("expression nested too deeply") from None
    except ArithmeticError as exc:  # e.g. a float conversion of an absurdly wide integer
        raise UsageError(f"arithmetic error: {exc}") from None


def _parser(text: str) -> _Parser:
    if len(text) > MAX_LENGTH:
        raise UsageError(f"expression too long ({len(text)} characters, at most {MAX_LENGTH})")
    if not text.strip(_SPACE):
        raise UsageError("empty expression")
    return _Parser(text)


_LINE_BREAKS = str.maketrans({"\n": " ", "\r": " ", "\t": " ", "\v": " ", "\f": " "})


def parse(text: str) -> Node:
    """Parses one expression; raises UsageError naming the column of the problem."""
    if isinstance(text, str):
        text = text.translate(_LINE_BREAKS)  # whitespace all the same, and messages stay on one line
    def run() -> Node:
        parser = _parser(text)
        node = parser.expression()
        parser.finish()
        return node
    return _guard(run)


def parse_assignment(text: str) -> tuple[Node, Node]:
    """Parses ``LVALUE = EXPR`` (for ``set var``) into its two sides."""
    def run() -> tuple[Node, Node]:
        parser = _parser(text)
        target = parser.expression()
        parser.expect("=")
        source = parser.expression()
        parser.finish()
        return target, source
    return _guard(run)


def referenced_names(node: Node) -> set[str]:
    """Identifiers used: ``name``, ``lib:name`` and ``$register``; field names are not included."""
    if isinstance(node, Name):
        return {f"{node.lib}:{node.name}" if node.lib else node.name}
    if isinstance(node, Register):
        return {f"${node.name}"}
    return set().union(*(referenced_names(child) for child in _children(node)))


# --- evaluation --------------------------------------------------------------

class _Place(NamedTuple):
    """A location in memory: what an lvalue names."""

    address: int
    ctype: Optional[CType]
    bits: Optional[tuple[int, int]] = None  # (bit_offset, bit_size) of a bit-field


_RECORDS = ("struct", "union")  # never usable as numbers
_AGGREGATES = (*_RECORDS, "array", "func")  # values are their address; read only on demand
_SCALARS = ("int", "char", "bool", "enum", "pointer", "float")
_ADDRESS_REGISTERS = {"pc", "sp", "fp", "rip", "rsp", "rbp", "eip", "esp", "ebp"}
_VOID_POINTER = _pointer_to(VOID)


def _place(address: int, ctype: CType | None, bits: tuple[int, int] | None = None) -> _Place:
    return _Place(address & MASK64, ctype, bits)


def _truncate(number: int, bits: int, signed: bool) -> int:
    number &= (1 << bits) - 1
    return number - (1 << bits) if signed and bits and number >> (bits - 1) else number


def _wrap(number: int, unsigned: bool = False) -> int:
    return _truncate(number, 64, signed=not unsigned)


def _read(memory: _Memory, address: int, size: int) -> bytes:
    data = memory.read_memory(address, size)
    if len(data) != size:
        raise TargetError(f"short read: {len(data)} of {size} bytes at {address:#x}")
    return bytes(data)


def _load(memory: _Memory, place: _Place) -> Value:
    ctype = place.ctype or LONG  # no debug information: read as a signed long
    if ctype.kind in _AGGREGATES:
        return Value(place.address, ctype, place.address)  # read lazily, field by field
    if ctype.kind == "void":
        raise UsageError(f"cannot read a value of type {_type_name(ctype)}")  # also DWARF it could not parse
    if place.bits:
        bit_offset, bit_size = place.bits
        raw = int.from_bytes(_read(memory, place.address, (bit_offset + bit_size + 7) // 8), "little")
        number: Number = _truncate(raw >> bit_offset, bit_size, ctype.signed)
    elif ctype.kind == "float":
        number = _decode_float(_read(memory, place.address, ctype.size))
    else:
        raw = int.from_bytes(_read(memory, place.address, ctype.size), "little")
        number = _truncate(raw, 8 * ctype.size, ctype.signed and ctype.kind != "pointer")
    return Value(number, place.ctype, place.address)


def _decode_float(data: bytes) -> float:
    if len(data) == 4:
        return struct.unpack("<f", data)[0]
    if len(data) == 8:
        return struct.unpack("<d", data)[0]
    if len(data) in (10, 12, 16):  # x87 extended precision, padded
        mantissa = int.from_bytes(data[:8], "little")
        top = int.from_bytes(data[8:10], "little")
        sign = -1.0 if top & 0x8000 else 1.0
        exponent = top & 0x7FFF
        if exponent == 0x7FFF:
            return sign * math.inf if mantissa << 1 & MASK64 == 0 else math.nan
        try:
            return sign * math.ldexp(mantissa, max(exponent, 1) - 16383 - 63)
        except OverflowError:
            return sign * math.inf
    raise UsageError(f"cannot read a {len(data)}-byte floating-point value")


def _float32(number: float) -> float:
    try:
        return struct.unpack("<f", struct.pack("<f", number))[0]
    except OverflowError:
        return math.copysign(math.inf, number)


def _encode_float(number: float, size: int) -> bytes:
    if size == 4:
        return struct.pack("<f", _float32(number))
    if size == 8:
        return struct.pack("<d", number)
    raise UsageError(f"cannot write a {size}-byte floating-point value")


def _pointer_type(value: Value) -> CType | None:
    """The pointer type a value acts as in arithmetic: arrays and functions decay."""
    ctype = value.ctype
    if ctype is None:
        return None
    if ctype.kind == "pointer":
        return ctype
    if ctype.kind == "array":
        return _pointer_to(ctype.target)
    if ctype.kind == "func":
        return _pointer_to(ctype)
    return None


def _pointee(pointer: CType) -> CType:
    target = pointer.target
    return INT if target is None or target.kind == "void" else target


def _stride(pointer: CType) -> int:
    target = pointer.target
    return target.size if target is not None and target.kind not in ("void", "func") and target.size > 0 else 1


def _unsigned64(value: Value) -> bool:
    ctype = value.ctype
    if ctype is None:
        return False
    if _pointer_type(value) is not None:
        return True
    return ctype.kind in ("int", "char", "enum", "bool") and ctype.size >= 8 and not ctype.signed


def _scalar(value: Value, op: str) -> Number:
    ctype = value.ctype
    if ctype is not None and ctype.kind in _RECORDS:
        verb = "compare" if op in _COMPARE else f"apply '{op}' to"
        raise UsageError(f"cannot {verb} a {ctype.kind}")
    return value.value


def _integer(number: Number, op: str) -> int:
    if isinstance(number, float):
        raise UsageError(f"'{op}' needs an integer, not a floating-point value")
    return number


def _integer_result(number: int, unsigned: bool) -> Value:
    return Value(_wrap(number, unsigned), ULONG if unsigned else None)


def _c_divide(a: int, b: int) -> int:
    if b == 0:
        raise UsageError("division by zero")
    quotient = abs(a) // abs(b)
    return -quotient if (a < 0) != (b < 0) else quotient


def _integer_operation(op: str, a: int, b: int) -> int:
    if op == "/":
        return _c_divide(a, b)
    if op == "%":
        return a - b * _c_divide(a, b)
    if op in ("<<", ">>"):
        if not 0 <= b <= 63:
            raise UsageError(f"shift count {b} is out of range 0..63")
        return a << b if op == "<<" else a >> b
    return {"+": operator.add, "-": operator.sub, "*": operator.mul,
            "&": operator.and_, "|": operator.or_, "^": operator.xor}[op](a, b)


def _arithmetic(op: str, left: Value, right: Value) -> Value:
    a, b = _scalar(left, op), _scalar(right, op)
    if isinstance(a, float) or isinstance(b, float):
        if op not in ("+", "-", "*", "/"):
            raise UsageError(f"'{op}' needs integers, not floating-point values")
        if op == "/" and b == 0:
            raise UsageError("division by zero")
        return Value({"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}[op](a, b))
    return _integer_result(_integer_operation(op, a, b), _unsigned64(left) or _unsigned64(right))


def _pointer_arithmetic(op: str, left: Value, right: Value) -> Value | None:
    """``p + n``, ``n + p``, ``p - n`` scale by the pointee; ``p - q`` counts elements."""
    left_pointer, right_pointer = _pointer_type(left), _pointer_type(right)
    if left_pointer and right_pointer and op == "-":
        return Value(_wrap(_c_divide(left.value - right.value, _stride(left_pointer))))
    if left_pointer and not right_pointer:
        pointer, base, offset, sign = left_pointer, left, right, 1 if op == "+" else -1
    elif right_pointer and not left_pointer and op == "+":
        pointer, base, offset, sign = right_pointer, right, left, 1
    else:
        return None
    count = _integer(_scalar(offset, op), op)
    return Value((base.value + sign * count * _stride(pointer)) & MASK64, pointer)


def _convert(value: Value, ctype: CType) -> Value:
    """C's conversion of a scalar to ``ctype``, for casts and assignments."""
    source = value.ctype
    if source is not None and source.kind in _RECORDS:
        raise UsageError(f"cannot convert a {source.kind} to {_type_name(ctype)}")
    if ctype.kind not in _SCALARS:
        raise UsageError(f"cannot convert to {_type_name(ctype)}")
    number = value.value
    if ctype.kind == "float":
        return Value(_float32(float(number)) if ctype.size == 4 else float(number), ctype)
    if isinstance(number, float):
        if ctype.kind == "pointer" or not math.isfinite(number):
            raise UsageError(f"cannot convert {number} to {_type_name(ctype)}")
        number = int(number)
    if ctype.kind == "bool":
        return Value(int(number != 0), ctype)
    if ctype.kind == "pointer":
        return Value(number & MASK64, ctype)
    return Value(_truncate(number, 8 * ctype.size, ctype.signed), ctype)


def _find_field(ctype: CType, name: str) -> tuple[int, Field] | None:
    """The field and its offset, looking inside anonymous struct and union members as C does."""
    for member in ctype.fields:
        if member.name == name:
            return member.offset, member
        if not member.name and member.ctype.kind in ("struct", "union"):
            inner = _find_field(member.ctype, name)
            if inner is not None:
                return member.offset + inner[0], inner[1]
    return None


def _field_place(address: int, offset: int, member: Field) -> _Place:
    bits = (member.bit_offset or 0, member.bit_size) if member.bit_size else None
    return _place(address + offset, member.ctype, bits)


class _Evaluator:
    def __init__(self, env: Env, bindings: Mapping[str, int] | None) -> None:
        self.env = env
        self.bindings = bindings or {}

    def bound(self, node: Node) -> bool:
        return isinstance(node, Name) and node.lib is None and node.name in self.bindings

    def value(self, node: Node) -> Value:
        if isinstance(node, Num):
            return Value(node.value, node.ctype)
        if isinstance(node, Register):
            return self.register(node.name)
        if self.bound(node):
            return Value(int(self.bindings[node.name]))
        if isinstance(node, Binary):
            return self.binary(node)
        if isinstance(node, Cast):
            return _convert(self.value(node.operand), node.ctype)
        if isinstance(node, Unary) and node.op != "*":
            return self.unary(node)
        return _load(self.env, self.place(node))

    def register(self, name: str) -> Value:
        if f"${name}" in self.bindings:
            return Value(int(self.bindings[f"${name}"]))
        number = self.env.register(name)
        return Value(number, _VOID_POINTER) if name in _ADDRESS_REGISTERS else Value(number)

    def place(self, node: Node) -> _Place:
        if isinstance(node, Name) and not self.bound(node):
            address, ctype = self.env.lookup(node.name, node.lib)
            return _place(address, ctype)
        if isinstance(node, Member):
            return self.member(node)
        if isinstance(node, Index):
            return self.index(node)
        if isinstance(node, Unary) and node.op == "*":
            return self.dereference(node)
        raise SymbolError(f"'{node.text}' does not name memory")

    def member(self, node: Member) -> _Place:
        base = self.value(node.base)
        ctype = base.ctype
        if ctype is not None and ctype.kind == "pointer":  # like gdb, '.' and '->' both see through a pointer
            ctype = ctype.target
        if ctype is None:
            raise UsageError(f"'{node.base.text}' has no type information")
        if ctype.kind not in ("struct", "union"):
            raise UsageError(f"'{node.base.text}' is not a struct or union")
        found = _find_field(ctype, node.name)
        if found is None:
            raise SymbolError(f"{_type_name(ctype)} has no field '{node.name}'")
        offset, member = found
        return _field_place(base.value, offset, member)

    def index(self, node: Index) -> _Place:
        base = self.value(node.base)
        pointer = _pointer_type(base)
        if pointer is None:
            raise UsageError(f"cannot subscript '{node.base.text}'")
        count = _integer(_scalar(self.value(node.index), "[]"), "[]")
        return _place(base.value + count * _stride(pointer), _pointee(pointer))

    def dereference(self, node: Unary) -> _Place:
        operand = self.value(node.operand)
        pointer = _pointer_type(operand)
        if pointer is not None:
            return _place(operand.value, _pointee(pointer))
        number = _scalar(operand, "*")
        if isinstance(number, float):
            raise UsageError(f"cannot dereference '{node.operand.text}': it is a floating-point value")
        return _place(number, INT)  # an untyped address reads as int, as in gdb

    def unary(self, node: Unary) -> Value:
        op = node.op
        if op == "&":
            place = self.place(node.operand)
            if place.bits:
                raise UsageError(f"cannot take the address of bit-field '{node.operand.text}'")
            return Value(place.address, _pointer_to(place.ctype or LONG))
        operand = self.value(node.operand)
        if op == "!":
            return Value(int(not truth(operand)))
        number = _scalar(operand, op)
        if isinstance(number, float) and op in ("-", "+"):
            return Value(-number if op == "-" else number)
        number = _integer(number, op)
        result = {"-": operator.neg, "+": operator.pos, "~": operator.invert}[op](number)
        return _integer_result(result, _unsigned64(operand))

    def binary(self, node: Binary) -> Value:
        op = node.op
        left = self.value(node.left)
        if op in ("&&", "||"):
            if truth(left) == (op == "||"):  # short-circuit
                return Value(int(op == "||"))
            return Value(int(truth(self.value(node.right))))
        right = self.value(node.right)
        if op in _COMPARE:
            return Value(int(_COMPARE[op](_scalar(left, op), _scalar(right, op))))
        if op in ("+", "-"):
            result = _pointer_arithmetic(op, left, right)
            if result is not None:
                return result
        return _arithmetic(op, left, right)


def evaluate(node: Node, env: Env, bindings: Mapping[str, int] | None = None) -> Value:
    """The value of ``node``. ``bindings`` (e.g. ``new``, ``old``, ``$tid``) shadow symbols and registers."""
    return _guard(lambda: _Evaluator(env, bindings).value(node))


def evaluate_text(text: str, env: Env, bindings: Mapping[str, int] | None = None) -> Value:
    return evaluate(parse(text), env, bindings)


def truth(value: Value) -> bool:
    ctype = value.ctype
    if ctype is not None and ctype.kind in _RECORDS:
        raise UsageError(f"cannot use a {ctype.kind} as a condition")
    return value.value != 0


def lvalue(node: Node, env: Env) -> tuple[int, CType | None]:
    """The address and type of the memory ``node`` names; SymbolError if it names none.

    For a bit-field this is its containing storage unit.
    """
    place = _guard(lambda: _Evaluator(env, None).place(node))
    return place.address, place.ctype


def assign_bytes(node: Node, value: Number, env: Env) -> tuple[int, bytes]:
    """What ``set var NODE = value`` writes: the address and its new little-endian bytes.

    The value is converted as C does (truncated, like gdb); a bit-field is merged
    into the bytes currently around it, so this reads memory but never writes it.
    """
    def run() -> tuple[int, bytes]:
        place = _Evaluator(env, None).place(node)
        ctype = place.ctype or LONG
        if ctype.kind not in _SCALARS:
            raise UsageError(f"cannot assign to '{node.text}' of type {_type_name(ctype)}")
        number = _convert(Value(value), ctype).value
        if place.bits:
            bit_offset, bit_size = place.bits
            width = (bit_offset + bit_size + 7) // 8
            old = int.from_bytes(_read(env, place.address, width), "little")
            mask = ((1 << bit_size) - 1) << bit_offset
            new = old & ~mask | (number << bit_offset) & mask
            return place.address, new.to_bytes(width, "little")
        if ctype.kind == "float":
            return place.address, _encode_float(number, ctype.size)
        return place.address, (number & ((1 << 8 * ctype.size) - 1)).to_bytes(ctype.size, "little")
    return _guard(run)


# --- printing ----------------------------------------------------------------

_CHAR_ESCAPES = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r", 92: "\\\\"}
_PAGE = 4096


def _type_name(ctype: CType | None) -> str:
    if ctype is None:
        return "void"
    if ctype.name:
        return ctype.name
    if ctype.kind == "pointer":
        target = ctype.target
        if target is not None and target.kind == "array":
            return f"{_type_name(target.target)} (*)[{target.count or ''}]"
        inner = _type_name(target)
        if target is not None and target.kind == "func" and " (" in inner:
            result, _, parameters = inner.partition(" (")  # 'int (void)' -> 'int (*)(void)'
            return f"{result} (*)({parameters}"
        return f"{inner}*" if inner.endswith("*") else f"{inner} *"
    if ctype.kind == "array":
        return f"{_type_name(ctype.target)} [{ctype.count or ''}]"
    return ctype.kind


def _escape(byte: int, quote: str) -> str:
    if byte in _CHAR_ESCAPES:
        return _CHAR_ESCAPES[byte]
    if chr(byte) == quote:
        return "\\" + quote
    return chr(byte) if 32 <= byte < 127 else f"\\{byte:03o}"


def _char_literal(number: int) -> str:
    return "'" + _escape(number & 0xFF, "'") + "'"


def _string_literal(data: bytes) -> str:
    """gdb's rendering: runs longer than PRINT_REPEATS become ``'c' <repeats n times>``."""
    segments: list[str] = []
    current: list[str] = []
    for byte, run in groupby(data):
        count = len(list(run))
        if count > PRINT_REPEATS:
            if current:
                segments.append('"' + "".join(current) + '"')
                current = []
            segments.append(f"{_char_literal(byte)} <repeats {count} times>")
        else:
            current.extend([_escape(byte, '"')] * count)
    if current or not segments:
        segments.append('"' + "".join(current) + '"')
    return ", ".join(segments)


def _float_text(number: float, size: int) -> str:
    """The shortest text that reads back as the same float (or double)."""
    if not math.isfinite(number):
        return ("-" if math.copysign(1, number) < 0 else "") + ("nan" if math.isnan(number) else "inf")
    for digits in range(1, 18):
        text = f"{number:.{digits}g}"
        if (_float32(float(text)) if size == 4 else float(text)) == number:
            return text
    return repr(number)


class _Prefetched:
    """Serves reads inside one block read up front, so printing a struct costs one read."""

    def __init__(self, memory: _Memory, address: int, size: int) -> None:
        self.memory = memory
        self.address = address
        self.data = _read(memory, address, size)

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
    def __init__(self, env: Env, value: Value) -> None:
        size = _print_size(value.ctype)
        self.memory: _Memory = _Prefetched(env, value.value, size) if 0 < size <= PREFETCH_LIMIT else env

    def top(self, value: Value) -> str:
        ctype = value.ctype
        if ctype is not None and ctype.kind == "pointer" and not self.is_char(ctype.target):
            return f"({_type_name(ctype)}) {self.text(value, 0)}"
        return self.text(value, 0)

    @staticmethod
    def is_char(ctype: CType | None) -> bool:
        return ctype is not None and ctype.kind == "char" and ctype.size == 1

    def text(self, value: Value, depth: int) -> str:
        ctype, number = value.ctype, value.value
        if isinstance(number, float):
            return _float_text(number, ctype.size if ctype else 8)
        if ctype is None:
            return str(number)
        kind = ctype.kind
        if kind in ("struct", "union"):
            return self.struct(number, ctype, depth)
        if kind == "array":
            return self.array(number, ctype, depth)
        if kind == "pointer":
            if self.is_char(ctype.target) and number:
                return f"{number:#x} {self.c_string(number)}"
            return f"{number:#x}"
        if kind == "func":
            return f"{{{_type_name(ctype)}}} {number:#x}"
        if kind == "char":
            return f"{number} {_char_literal(number)}"
        if kind == "bool" and number in (0, 1):
            return ("false", "true")[number]
        if kind == "enum":
            return next((name for name, known in ctype.enumerators if known == number), str(number))
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
        return "{" + ", ".join(parts) + "}"

    def array(self, address: int, ctype: CType, depth: int) -> str:
        element = ctype.target or INT
        count = ctype.count or 0
        shown = min(count, PRINT_ELEMENTS)
        more = "..." if count > shown else ""
        if self.is_char(element):
            data = _read(self.memory, address, shown)
            if not more and data.endswith(b"\0"):
                data = data[:-1]  # the terminating NUL, which gdb does not show
            return _string_literal(data) + more
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
        while len(data) < PRINT_ELEMENTS:
            start = address + len(data)
            want = min(PRINT_ELEMENTS - len(data), _PAGE - start % _PAGE)  # never read across a page
            try:
                chunk = _read(self.memory, start, want)
            except TargetError as exc:
                return (_string_literal(data) if data else "") + f"<error: {exc}>"
            if b"\0" in chunk:
                return _string_literal(data + chunk[:chunk.index(b"\0")])
            data += chunk
        return _string_literal(data) + "..."


def format_value(value: Value, env: Env) -> str:
    """The value as gdb's ``print`` shows it: ``42``, ``65 'A'``, ``{x = 1, y = 2}``, ``(int *) 0x404040``."""
    return _guard(lambda: _Printer(env, value).top(value))
