"""The expression language of ``print``, ``set var``, watch locations and conditions.

A hand-written tokenizer and precedence-climbing parser build a small tree, which
is evaluated against an :class:`Env` (symbols, memory, registers). User text never
reaches Python's eval/exec/compile/ast. Grammar, lowest precedence first::

    expression = cond { "," cond } ;   (each evaluated, left to right: the last one's value)
    cond       = or [ "?" expression ":" cond ] ;   (only the branch taken is evaluated)
    or         = and { ("||" | "or") and } ;
    and        = not { ("&&" | "and") not } ;
    not        = ("!" | "not") not | comparison ;
    comparison = bitor [ ("==" | "!=" | "<" | "<=" | ">" | ">=") bitor ] ;
    bitor      = bitxor { "|" bitxor } ;
    bitxor     = bitand { "^" bitand } ;
    bitand     = shift { "&" shift } ;
    shift      = repeat { ("<<" | ">>") repeat } ;
    repeat     = sum { "@" sum } ;
    sum        = product { ("+" | "-") product } ;
    product    = unary { ("*" | "/" | "%") unary } ;
    unary      = ("-" | "+" | "~" | "*" | "&") unary | "(" type ")" unary
               | "sizeof" "(" type ")" | "sizeof" unary | postfix ;
    postfix    = primary { "." NAME | "->" NAME | "[" expression "]" | "(" [ cond { "," cond } ] ")" } ;
    primary    = INTEGER | FLOAT | CHAR | STRING { STRING } | NAME | LIBRARY ":" NAME | "$" NAME
               | "(" expression ")" ;
    type       = C base type words (int, unsigned long, char, double, _Bool, ...), a fixed-width
                 name (uint32_t, size_t, ...), "struct"/"union"/"enum" TAG or a typedef name of
                 the program, then { "*" } { "[" INTEGER "]" } ;

INTEGER is decimal (no leading zeros), 0x hex, 0o octal or 0b binary; FLOAT is
``1.5``, ``2e10``; CHAR is ``'a'`` with C escapes, STRING ``"abc"``. ``!`` binds as loosely as
``not`` (``!a == b`` is ``!(a == b)``). Comparisons do not chain. ``lib:name``
names a library's symbol, so a conditional's ``:`` goes between spaces (``a ? b : c``).

Semantics follow C on a 64-bit target: integer results wrap to 64-bit two's
complement (unsigned when an operand is an unsigned 64-bit integer or a pointer),
division truncates toward zero, pointer arithmetic scales by the pointee size
(``void *`` and unknown pointees by 1). Comparisons use the mathematical values.
A symbol without debug information reads as a signed 8-byte ``long``;
dereferencing an integer, a ``void *`` or a pointer of unknown type reads a
4-byte ``int``, as gdb does. ``LEFT@N`` is gdb's artificial array: N objects of
LEFT's type from LEFT's address on. A cast to a struct or union type sees the
operand's bytes as that type. ``f(ARGS)`` calls f in the process (an inferior call, as
gdb's); a cast gives a function without debug info its return type: ``(int)getpid()``.
"""
# The package, by job (each imports only those above it): syntax (tokens, tree, lexer), parser,
# arithmetic (C's operators on values), evaluator (values, memory, lvalues), printer (values and bytes as text).
from __future__ import annotations

from .evaluator import Env, Held, Value, assign_bytes, assign_target, evaluate, evaluate_text, lvalue, truth, type_of
from .parser import parse, parse_assignment, parse_type, referenced_names
from .printer import (
    INTEGER_FORMATS, PRINT_FORMATS, char_literal, format_float_bits, format_integer, format_scalar, format_value, read_c_string,
    string_literal,
)
from .syntax import Binary, Call, Cast, Conditional, Index, Member, Name, Node, Num, Register, SizeOf, Unary
from .typeprint import declaration, ptype_text, strip_typedefs, whatis_text

__all__ = [
    "Env", "Held", "Value", "Node", "Call", "Num", "Name", "Register", "Unary", "Binary", "Conditional", "Member", "Index", "Cast", "SizeOf",
    "parse", "parse_assignment", "parse_type", "evaluate", "evaluate_text", "lvalue", "assign_bytes", "assign_target", "truth",
    "type_of", "declaration", "ptype_text", "whatis_text", "strip_typedefs",
    "referenced_names", "format_value",
    "INTEGER_FORMATS", "PRINT_FORMATS", "format_integer", "format_float_bits", "format_scalar", "char_literal", "string_literal", "read_c_string",
]
