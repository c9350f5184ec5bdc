"""The words and tree of the expression language: tokens, the lexer, the syntax-tree nodes.

The grammar itself is in the docstring of :mod:`hwdbg.expr`.
"""
from __future__ import annotations

import operator
import re
from dataclasses import field, fields
from typing import Callable, ClassVar, NamedTuple, Optional, TypeVar, Union

from ..errors import UsageError
from ..recordtype import record
from ..symbols.types import CType, integer_type

MASK64 = (1 << 64) - 1
_LONG_MAX = (1 << 63) - 1
ULONG = integer_type(8)
CHAR = CType("char", "char", 1, signed=True)
Number = Union[int, float]
T = TypeVar("T")


# --- syntax tree -------------------------------------------------------------

@record(frozen=True)
class Node:
    """Every node keeps its source text (for messages) and its height (to bound recursion)."""

    height: ClassVar[int] = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "height", 1 + max((child.height for child in _children(self)), default=0))


def _source() -> str:
    return field(default="", compare=False, repr=False)


@record(frozen=True)
class Num(Node):
    value: Number
    ctype: Optional[CType] = None
    text: str = _source()


@record(frozen=True)
class Name(Node):
    name: str
    lib: Optional[str] = None
    text: str = _source()


@record(frozen=True)
class Register(Node):
    """``$name``: a register or a convenience value such as ``$tid``."""

    name: str
    text: str = _source()


@record(frozen=True)
class Unary(Node):
    op: str  # one of - + ~ ! * &
    operand: Node
    text: str = _source()


@record(frozen=True)
class Binary(Node):
    op: str  # C spelling: ``and`` is stored as ``&&``
    left: Node
    right: Node
    text: str = _source()


@record(frozen=True)
class Conditional(Node):
    """``condition ? then : otherwise``."""

    condition: Node
    then: Node
    otherwise: Node
    text: str = _source()


@record(frozen=True)
class Member(Node):
    base: Node
    name: str
    arrow: bool = False
    text: str = _source()


@record(frozen=True)
class Index(Node):
    base: Node
    index: Node
    text: str = _source()


@record(frozen=True)
class Cast(Node):
    ctype: CType
    operand: Node
    text: str = _source()


@record(frozen=True)
class SizeOf(Node):
    """``sizeof EXPR`` (``sizeof(TYPE)`` is parsed to a number at once)."""

    operand: Node
    text: str = _source()


@record(frozen=True)
class Str(Node):
    """``"text"``: a string literal, as a call's argument copied into the process (gdb's way)."""

    data: bytes  # without the terminating NUL
    text: str = _source()


@record(frozen=True)
class Call(Node):
    """``function(arguments)``: an inferior call, run in the process by the environment."""

    function: Node
    arguments: tuple[Node, ...]
    text: str = _source()


def _children(node: Node) -> list[Node]:
    out: list[Node] = []
    for child in (getattr(node, f.name) for f in fields(node)):
        if isinstance(child, Node):
            out.append(child)
        elif isinstance(child, tuple):
            out += [c for c in child if isinstance(c, Node)]
    return out


# --- tokens ------------------------------------------------------------------

class _Token(NamedTuple):
    kind: str  # number, name, qualified, dollar, op, end
    text: str
    column: int  # 1-based
    value: object = None

    @property
    def end(self) -> int:
        return self.column - 1 + len(self.text)


_OPERATORS = ("||", "&&", "==", "!=", "<=", ">=", "<<", ">>", "->", *"+-*/%&|^~!<>()[].=@?:,")
_KEYWORDS = {"or": "||", "and": "&&", "not": "!"}
_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
            ">": operator.gt, ">=": operator.ge}
_PRECEDENCE = {"||": 1, "&&": 2, **dict.fromkeys(_COMPARE, 4), "|": 5, "^": 6, "&": 7, "<<": 8, ">>": 8,
               "@": 9, "+": 10, "-": 10, "*": 11, "/": 11, "%": 11}  # '@' as in gdb's C grammar
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
        elif char == '"':
            token = _string(text, pos)
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


_STRING = re.compile(r'"((?:\\(?:[0-7]{1,3}|x[0-9a-fA-F]{1,2}|[abfnrtv\\\'"?])|[^"\\])*)"')
_ESCAPE = re.compile(r"\\([0-7]{1,3}|x[0-9a-fA-F]{1,2}|.)")


def _string(text: str, pos: int) -> _Token:
    match = _STRING.match(text, pos)
    if match is None:
        raise _syntax_error(text, pos + 1, "unterminated or invalid string literal")

    def unescape(escape: re.Match) -> str:
        body = escape[1]
        code = int(body[1:], 16) if body[0] == "x" else int(body, 8) if body[0].isdigit() else _ESCAPED[body]
        if code > 0xFF:
            raise _syntax_error(text, pos + 1, f"character escape \\{body} is out of range")
        return chr(code)

    data = _ESCAPE.sub(unescape, match[1]).encode("latin-1", errors="replace")
    return _Token("string", match[0], pos + 1, data)


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


def _truncate(number: int, bits: int, signed: bool) -> int:
    number &= (1 << bits) - 1
    return number - (1 << bits) if signed and bits and number >> (bits - 1) else number


def _guard(call: Callable[[], T]) -> T:
    """The last line of defence: nothing but HwdbgError leaves this package."""
    try:
        return call()
    except RecursionError:
        raise UsageError("expression nested too deeply") from None
    except ArithmeticError as exc:  # e.g. a float conversion of an absurdly wide integer
        raise UsageError(f"arithmetic error: {exc}") from None
