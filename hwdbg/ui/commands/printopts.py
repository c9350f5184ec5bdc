"""gdb's print settings: set print pretty on|off, show print pretty, and print's own options
(print -pretty [on|off] -- EXPR), which apply to one command."""
from __future__ import annotations

import argparse
import re
from typing import Any

from ...errors import UsageError
from . import Category, CommandParser, Result, command, printable

_OPTION = re.compile(r"-(\w[\w-]*)(?:\s+|$)")
SWITCH = re.compile(r"(on|off|1|0|yes|no|enable|disable)(?:\s+|$)")
OPTIONS = ("pretty",)


def print_options(text: str) -> tuple[dict[str, bool], str]:
    """Leading ``-pretty [on|off]`` options (a unique prefix will do, as in gdb) and an optional
    ``--``: (the options given, the rest). A word that names no option starts the expression
    (``print -x`` negates x)."""
    given: dict[str, bool] = {}
    rest = text.lstrip()
    while True:
        if rest.startswith("--") and (len(rest) == 2 or rest[2].isspace()):
            return given, rest[2:].strip()
        match = _OPTION.match(rest)
        names = [o for o in OPTIONS if match and o.startswith(match.group(1))]
        if not names:
            return given, rest
        rest = rest[match.end():]
        switch = SWITCH.match(rest)
        if switch is not None:
            given[names[0]] = switch.group(1) in ("on", "1", "yes", "enable")
            rest = rest[switch.end():]
        else:
            given[names[0]] = True


def pretty(ctx: Any, options: dict[str, bool]) -> bool:
    return options.get("pretty", ctx.print_pretty)


_set_parser = CommandParser("set print")
_set_parser.add_argument("setting", metavar="pretty")
_set_parser.add_argument("value", nargs="?", default="on", metavar="on|off")


@command(_set_parser, category=Category.DATA, group="set", name="print", aliases=("p", "pr"))
def set_print(ctx: Any, args: argparse.Namespace) -> Result:
    """set print pretty [on|off]

    With pretty on, print, call and output show structs as gdb does with set print
    pretty on: one member a line, indented two spaces a level (arrays stay on one line,
    their struct elements spread out). print -pretty [on|off] -- EXPR sets it for one
    command. Default off."""
    if not "pretty".startswith(args.setting):
        raise UsageError(f'Undefined set print command: "{printable(args.setting)}"; only pretty is supported')
    switch = SWITCH.fullmatch(args.value)
    if switch is None:
        raise UsageError(f'"on" or "off" expected, not "{printable(args.value)}"')
    ctx.print_pretty = switch.group(1) in ("on", "1", "yes", "enable")
    return Result("set print pretty", {"pretty": ctx.print_pretty})


_show_parser = CommandParser("show print")
_show_parser.add_argument("setting", metavar="pretty")


@command(_show_parser, category=Category.STATUS, group="show", name="print", aliases=("p", "pr"))
def show_print(ctx: Any, args: argparse.Namespace) -> Result:
    """show print pretty

    Whether print shows structs on several lines (set print pretty)."""
    if not "pretty".startswith(args.setting):
        raise UsageError(f'Undefined show print command: "{printable(args.setting)}"; only pretty is supported')
    state = "on" if ctx.print_pretty else "off"
    return Result("show print pretty", {"pretty": ctx.print_pretty},
                  f"Pretty formatting of structures is {state}.")
