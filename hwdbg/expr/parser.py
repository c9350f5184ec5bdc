"""The expression parser: precedence climbing over the tokens of :mod:`.syntax` (grammar in :mod:`hwdbg.expr`)."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Optional

from ..errors import SymbolError, UsageError
from ..symbols.types import CType, base_type_name, integer_type
from .syntax import (
    _COMPARE, _KEYWORDS, _NOT_PRECEDENCE, _PRECEDENCE, _SPACE, Binary, Call, Cast, Str, Conditional, Index, Member, Name, Node,
    Num,
    Register, SizeOf, T, Unary, _children, _clip, _guard, _literal_type, _syntax_error, _Token, _tokenize,
)

MAX_LENGTH = 4096
MAX_DEPTH = 64  # keeps parsing and evaluation far from Python's recursion limit
VOID = CType("void", "void", 0)


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
_QUALIFIERS = {"const", "volatile", "restrict"}
_CAST_START = _TYPE_WORDS | _TAGS | _QUALIFIERS
SIZE_TYPE = integer_type(4, signed=True)  # gdb's type of sizeof: int
# Types named by the program (struct/union/enum tags, typedefs): 'struct node' or 'pair_t' -> CType.
TypeLookup = Callable[[str], Optional[CType]]


def _builtin_type(words: list[str]) -> CType | None:
    if len(words) == 1 and words[0] in _FIXED_WIDTH:
        return _FIXED_WIDTH[words[0]]
    signs = [w for w in words if w in ("signed", "unsigned")]
    key = tuple(sorted(w for w in words if w not in ("signed", "unsigned")))
    if len(signs) > 1 or (signs and key not in _INTEGER_SIZES):
        return None
    if key in _INTEGER_SIZES:
        kind = "char" if key == ("char",) else "int"
        return CType(kind, _canonical(words), _INTEGER_SIZES[key], signed=signs != ["unsigned"])
    return _OTHER_TYPES.get(key)


def _canonical(words: list[str]) -> str:
    """``long unsigned int`` -> ``unsigned long``, ``signed char`` stays: gdb's spelling."""
    rest = [w for w in words if w not in ("signed", "unsigned")]
    sign = "unsigned " if "unsigned" in words else ("signed " if rest == ["char"] and "signed" in words else "")
    if not rest:
        return "unsigned int" if sign == "unsigned " else "int"
    if rest != ["int"] and "int" in rest:
        rest.remove("int")
    order = {"short": 0, "long": 1, "char": 2, "int": 3}
    return base_type_name(sign + " ".join(sorted(rest, key=lambda w: order.get(w, 9))))


def _pointer_to(ctype: CType | None) -> CType:
    return CType("pointer", "", 8, target=ctype)


# --- parser ------------------------------------------------------------------

class _Parser:
    """Precedence climbing: one Python frame per nesting level, not one per precedence level."""

    def __init__(self, text: str, types: TypeLookup | None = None) -> None:
        self.text = text
        self.types = types
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

    def expression(self) -> Node:
        """A whole expression: conditionals joined by commas (each evaluated, the last one's value)."""
        start = self.token
        node = self.conditional()
        while self.operator() == ",":
            self.advance()
            node = self.make(start, Binary, ",", node, self.conditional())
        return node

    def conditional(self) -> Node:
        """``OR ? EXPRESSION : CONDITIONAL`` (right to left, as in C) or just OR."""
        with self.nested():
            start = self.token
            node = self.binary()
            if self.operator() != "?":
                return node
            self.advance()
            then = self.expression()
            self.expect(":")
            return self.make(start, Conditional, node, then, self.conditional())

    def binary(self, min_precedence: int = 0) -> Node:
        with self.nested():
            start = self.token
            if self.operator() == "!" and min_precedence <= _NOT_PRECEDENCE:
                self.advance()
                left = self.make(start, Unary, "!", self.binary(_NOT_PRECEDENCE))
            else:
                left = self.unary()
            while (precedence := _PRECEDENCE.get(self.operator() or "", 0)) >= max(min_precedence, 1):
                op = self.operator()
                self.advance()
                left = self.make(start, Binary, op, left, self.binary(precedence + 1))
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
        if following is not None and self.starts_type(following):
            self.advance()  # (
            ctype = self.type_name()
            refused = self.error("cannot cast to void") if ctype.kind == "void" else None
            self.expect(")")
            with self.nested():
                operand = self.unary()
            if refused is not None and not isinstance(operand, Call):  # (void)f(x) discards a call's value
                raise refused
            return self.make(start, Cast, ctype, operand)
        if self.token.kind == "name" and self.token.text == "sizeof":
            return self.sizeof()
        return self.postfix()

    def starts_type(self, token: _Token) -> bool:
        if token.kind != "name":
            return False
        if token.text in _CAST_START:
            return True
        return self.types is not None and token.text not in _KEYWORDS and self.types(token.text) is not None

    def sizeof(self) -> Node:
        start = self.advance()
        if self.operator() == "(" and self.starts_type(self.tokens[self.index + 1]):
            self.advance()
            ctype = self.type_name()
            self.expect(")")
            return self.make(start, Num, ctype.size, SIZE_TYPE)
        with self.nested():
            return self.make(start, SizeOf, self.unary())

    def type_name(self) -> CType:
        """A C type name: base type words, ``struct TAG``, a typedef name; then ``*``s and ``[N]``s."""
        while self.token.kind == "name" and self.token.text in _QUALIFIERS:
            self.advance()
        if self.token.kind == "name" and self.token.text in _TAGS:
            tag = self.advance().text
            if self.token.kind != "name":
                raise self.error(f"expected a {tag} tag name")
            name = self.advance().text
            if self.types is None:  # parsing alone, without the program's debug info
                raise self.error(f"unknown type '{tag} {_clip(name)}'")
            ctype = self.types(f"{tag} {name}")
            if ctype is None:
                raise SymbolError(f"No {tag} type named {name}.")
        elif self.token.kind == "name" and self.token.text not in _TYPE_WORDS:
            ctype = self.types(self.token.text) if self.types is not None else None
            if ctype is None:
                raise SymbolError(f'No symbol "{_clip(self.token.text)}" in current context.')
            self.advance()
        else:
            words = []
            while self.token.kind == "name" and self.token.text in _TYPE_WORDS | _QUALIFIERS:
                word = self.advance().text
                if word not in _QUALIFIERS:
                    words.append(word)
            program = self.types(words[0]) if self.types is not None and words in ([w] for w in _FIXED_WIDTH) else None
            ctype = program or _builtin_type(words)  # the program's own uint32_t typedef when it has one
            if ctype is None:
                raise self.error(f"unknown type '{' '.join(words)}'")
        while self.token.kind == "name" and self.token.text in _QUALIFIERS:
            self.advance()
        while self.operator() == "*":
            self.advance()
            ctype = _pointer_to(ctype)
            while self.token.kind == "name" and self.token.text in _QUALIFIERS:
                self.advance()
        dimensions = []
        while self.operator() == "[":
            self.advance()
            if self.token.kind != "number" or not isinstance(self.token.value, int):
                raise self.error("expected an array length")
            dimensions.append(self.advance().value)
            self.expect("]")
        for count in reversed(dimensions):
            ctype = CType("array", "", ctype.size * count, target=ctype, count=count)
        return ctype

    def postfix(self) -> Node:
        start = self.token
        node = self.primary()
        while (op := self.operator()) in (".", "->", "[", "("):
            self.advance()
            if op == "(":
                node = self.make(start, Call, node, self.arguments())
            elif op == "[":
                index = self.expression()
                self.expect("]")
                node = self.make(start, Index, node, index)
            elif self.token.kind != "name":
                raise self.error(f"expected a field name after '{op}'")
            else:
                node = self.make(start, Member, node, self.advance().text, op == "->")
        return node

    def arguments(self) -> tuple[Node, ...]:
        """A call's arguments after its '(': conditionals separated by commas, then ')'."""
        found: list[Node] = []
        if self.operator() == ")":
            self.advance()
            return ()
        with self.nested():
            while True:
                found.append(self.conditional())
                if self.operator() == ")":
                    self.advance()
                    return tuple(found)
                self.expect(",")

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
        if token.kind == "string":
            data = self.advance().value
            while self.token.kind == "string":  # "a" "b" is "ab", as in C
                data += self.advance().value
            return self.make(token, Str, data)
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


def _parser(text: str, types: TypeLookup | None = None) -> _Parser:
    if len(text) > MAX_LENGTH:
        raise UsageError(f"expression too long ({len(text)} characters, at most {MAX_LENGTH})")
    if not text.strip(_SPACE):
        raise UsageError("empty expression")
    return _Parser(text, types)


_LINE_BREAKS = str.maketrans({"\n": " ", "\r": " ", "\t": " ", "\v": " ", "\f": " "})


def parse(text: str, types: TypeLookup | None = None) -> Node:
    """Parses one expression; raises UsageError naming the column of the problem.

    ``types`` names the program's types (for casts such as ``(struct node *)p`` and ``sizeof``)."""
    if isinstance(text, str):
        text = text.translate(_LINE_BREAKS)  # whitespace all the same, and messages stay on one line
    def run() -> Node:
        parser = _parser(text, types)
        node = parser.expression()
        parser.finish()
        return node
    return _guard(run)


def parse_type(text: str, types: TypeLookup | None = None) -> CType | None:
    """The type ``text`` names (``struct node *``, ``pair_t``, ``unsigned long``), or None when
    ``text`` is not a type name (it may be an expression); an unknown ``struct TAG`` raises."""
    text = text.translate(_LINE_BREAKS)
    def run() -> CType | None:
        parser = _parser(text, types)
        if not parser.starts_type(parser.token):
            return None
        ctype = parser.type_name()
        return ctype if parser.token.kind == "end" else None
    return _guard(run)


def parse_assignment(text: str) -> tuple[Node, Node]:
    """Parses ``LVALUE = EXPR`` (for ``set var``) into its two sides."""
    def run() -> tuple[Node, Node]:
        parser = _parser(text)
        target = parser.conditional()
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
