"""The types of things: whatis and ptype, of an expression or of a type name."""
from __future__ import annotations

import argparse
from typing import Any

from ... import expr
from ...errors import UsageError
from . import Category, CommandParser, Result, command, raw_split

D = Category.DATA


def _parser(name: str) -> CommandParser:
    parser = CommandParser(name)
    parser.add_argument("text", nargs="?", metavar="EXPR|TYPE")
    return parser


def type_of_text(ctx: Any, text: str) -> tuple[Any, bool]:
    """(the C type ``text`` names or has, whether ``text`` is a type name rather than an expression)."""
    env = ctx.session.env()
    types = getattr(env, "type_named", None)
    named = expr.parse_type(text, types)
    if named is not None:
        return named, True
    node = expr.parse(ctx.history_text(text), types)
    return expr.type_of(node, env, ctx.bindings()), False


def _run(ctx: Any, name: str, text: str) -> Result:
    text = (text or "").strip()
    if not text:
        raise UsageError(f"{name} needs an expression or a type name")
    ctype, is_type = type_of_text(ctx, text)
    if name == "ptype":
        shown = expr.ptype_text(ctype)
    else:  # whatis on a typedef name unrolls it one level, as gdb does
        shown = expr.whatis_text(ctype.typedef_of if is_type and ctype.typedef_of is not None else ctype)
    return Result(name, {"expr": text, "type": shown}, f"type = {shown}")


@command(_parser("whatis"), category=D, split=raw_split, complete="symbols")
def whatis(ctx: Any, args: argparse.Namespace) -> Result:
    """whatis EXPR|TYPE

    The type of EXPR, by name (typedef names kept): whatis head -> type = struct node *.
    Of a type name, the type it names one typedef down: whatis pair_t -> type = struct pair."""
    return _run(ctx, "whatis", args.text)


@command(_parser("ptype"), category=D, split=raw_split, complete="symbols")
def ptype(ctx: Any, args: argparse.Namespace) -> Result:
    """ptype EXPR|TYPE

    The type of EXPR, or the type TYPE names, written out as gdb does: typedefs resolved
    and a struct, union or enum with its members, one a line (bit-fields as NAME : BITS):
    ptype struct node, ptype head, ptype enum color, ptype main."""
    return _run(ctx, "ptype", args.text)
