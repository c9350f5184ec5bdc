"""C types as text, the way gdb's ``whatis`` and ``ptype`` print them.

A type is written as a C declaration: a *leaf* (a base type, ``struct node``, a typedef
name) and a declarator built inside out from pointers, arrays and function parameters
(``int (*op)(int, int)``, ``short (*)[2][3]``, ``char name[8]``). ``whatis`` writes every
leaf by name; ``ptype`` also strips the typedefs on the way to the leaf and writes a
struct, union or enum leaf with its body, one member a line, as gdb does.
"""
from __future__ import annotations

from typing import Callable, Optional

from ..symbols.types import CType, is_complex

INDENT = "    "
_STRUCTURAL = ("pointer", "array", "func")


def _parameters(ctype: CType) -> str:
    """``(int, char **)`` of a function type, from its C spelling ``int (int, char **)``."""
    _, paren, rest = ctype.name.partition(" (")
    return "(" + rest if paren else "(void)"


def _join(leaf: str, declarator: str) -> str:
    return f"{leaf} {declarator}" if declarator else leaf


def declaration(ctype: Optional[CType], declarator: str = "", leaf: Optional[Callable[[CType], str]] = None) -> str:
    """``ctype`` declaring ``declarator`` (a name, or "" for the type alone): ``int (*op)(int, int)``."""
    leaf = leaf or (lambda t: t.name or t.kind)
    while True:
        if ctype is None:
            return _join("void", declarator)
        if ctype.typedef_of is not None or ctype.kind not in _STRUCTURAL or is_complex(ctype):
            return _join(leaf(ctype), declarator)
        if ctype.kind == "pointer":
            declarator = "*" + declarator
        else:
            if declarator.startswith("*"):
                declarator = f"({declarator})"
            if ctype.kind == "array":
                declarator += f"[{'' if ctype.count is None else ctype.count}]"
            else:
                declarator += _parameters(ctype)
        ctype = ctype.target


def strip_typedefs(ctype: CType) -> CType:
    while ctype.typedef_of is not None:
        ctype = ctype.typedef_of
    return ctype


def _stripped(ctype: Optional[CType]) -> Optional[CType]:
    """``ctype`` without typedefs on the way from it to its leaf (ptype's top level)."""
    if ctype is None:
        return None
    ctype = strip_typedefs(ctype)
    if ctype.kind in _STRUCTURAL and ctype.target is not None:
        inner = _stripped(ctype.target)
        if inner is not ctype.target:
            return CType(ctype.kind, ctype.name, ctype.size, ctype.signed, inner, ctype.count)
    return ctype


def _anonymous(ctype: CType) -> bool:
    return ctype.typedef_of is None and ctype.kind in ("struct", "union", "enum") and ctype.name.endswith("{...}")


def _enum_body(ctype: CType) -> str:
    parts, expected = [], 0
    for name, value in ctype.enumerators:
        parts.append(name if value == expected else f"{name} = {value}")
        expected = value + 1
    return "{" + ", ".join(parts) + "}"


def body(ctype: CType, depth: int = 0) -> str:
    """A struct, union or enum with its members: ``struct pair {\\n    int x;\\n}``."""
    head = ctype.name[:-len("{...}")].rstrip() if ctype.name.endswith("{...}") else ctype.name
    if ctype.kind == "enum":
        return f"{head} {_enum_body(ctype)}"
    if not ctype.fields:
        return f"{head} {{}}" if ctype.size else f"{head} {{\n{INDENT * (depth + 1)}<incomplete type>\n{INDENT * depth}}}"
    lines = [f"{head} {{"]
    for field in ctype.fields:
        text = declaration(field.ctype, field.name, lambda t: body(t, depth + 1) if _anonymous(t) else t.name)
        if field.bit_size:
            text += f" : {field.bit_size}"
        lines.append(f"{INDENT * (depth + 1)}{text};")
    lines.append(f"{INDENT * depth}}}")
    return "\n".join(lines)


def whatis_text(ctype: Optional[CType]) -> str:
    """What ``whatis`` shows after ``type = ``: the type by name, typedef names kept."""
    return declaration(ctype)


def ptype_text(ctype: Optional[CType]) -> str:
    """What ``ptype`` shows after ``type = ``: typedefs resolved, the leaf struct/union/enum expanded."""
    return declaration(_stripped(ctype), "", lambda t: body(t) if t.kind in ("struct", "union", "enum") else t.name)
