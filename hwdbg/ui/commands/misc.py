"""Support commands: help, quit, source, echo."""
from __future__ import annotations

import argparse
from typing import Any

from ...errors import UsageError
from . import REGISTRY, Category, Command, CommandParser, Result, command, number, raw_split

SUPPORT = Category.SUPPORT


def command_json(cmd: Command) -> dict[str, Any]:
    return {"name": cmd.full_name, "usage": cmd.usage, "category": cmd.category.value,
            "aliases": list(cmd.aliases), "summary": cmd.summary}


def _overview() -> Result:
    lines = ["List of commands:"]
    for category in Category:
        cmds = [c for c in REGISTRY if c.category is category]
        subs = [s for c in REGISTRY if c.subcommands for s in c.subcommands if s.category is category]
        if not cmds and not subs:
            continue
        lines += ["", f"{category.title}:"]
        for cmd in sorted(cmds + subs, key=lambda c: c.full_name):
            lines.append(f"  {cmd.usage:<44} {cmd.summary}"[:160].rstrip())
    lines += ["", 'Type "help COMMAND" for details; commands may be abbreviated if unambiguous.']
    everything = [command_json(c) for c in REGISTRY]
    everything += [command_json(s) for c in REGISTRY if c.subcommands for s in c.subcommands]
    return Result("help", {"commands": everything}, "\n".join(lines))


def _detail(cmd: Command) -> Result:
    lines = [f"Usage: {cmd.usage}"]
    if cmd.help:
        lines += ["", cmd.help]
    if cmd.aliases:
        lines += ["", f"Aliases: {', '.join(cmd.aliases)}"]
    if cmd.subcommands is not None:
        lines += ["", "Subcommands:"]
        lines += [f"  {s.usage:<36} {s.summary}".rstrip() for s in cmd.subcommands]
    data = command_json(cmd)
    data["help"] = cmd.help
    return Result("help", {"command": data}, "\n".join(lines))


_help_parser = CommandParser("help")
_help_parser.add_argument("words", nargs="*", metavar="COMMAND")


@command(_help_parser, category=SUPPORT, aliases=("h",), complete="commands")
def help_(ctx: Any, args: argparse.Namespace) -> Result:
    """help [COMMAND [SUBCOMMAND]]

    Lists the commands by category, or explains one (help watch, help info slots)."""
    if not args.words:
        return _overview()
    cmd = REGISTRY.lookup(args.words[0])
    for word in args.words[1:]:
        if cmd.subcommands is None:
            raise UsageError(f'"{cmd.full_name}" has no subcommands')
        cmd = cmd.subcommands.lookup(word)
    return _detail(cmd)


_quit_parser = CommandParser("quit")
_quit_parser.add_argument("code", nargs="?", type=number, metavar="CODE")


@command(_quit_parser, category=SUPPORT, aliases=("q", "exit"))
def quit_(ctx: Any, args: argparse.Namespace) -> None:
    """quit [CODE]

    Leaves hwdbg: a program it started is killed, one it attached to is detached
    (debug registers cleared first). CODE is hwdbg's exit status."""
    from ..context import Quit  # here: the context imports the commands
    if args.code is not None and not 0 <= args.code <= 255:
        raise UsageError(f"exit status must be 0-255, not {args.code}")
    raise Quit(args.code)


_source_parser = CommandParser("source")
_source_parser.add_argument("path", metavar="FILE")


@command(_source_parser, category=SUPPORT)
def source(ctx: Any, args: argparse.Namespace) -> None:
    """source FILE

    Runs the commands in FILE, one per line (# starts a comment); stops at the
    first command that fails. The same as -x FILE."""
    from ..batch import run_file  # here: batch and the context import the commands
    from ..context import AlreadyReported
    if not run_file(ctx, args.path):
        raise AlreadyReported(f"{args.path}: stopped at the first failing command")


_echo_parser = CommandParser("echo")
_echo_parser.add_argument("text", nargs="?", default="", metavar="TEXT")


@command(_echo_parser, category=SUPPORT, split=raw_split)
def echo(ctx: Any, args: argparse.Namespace) -> Result:
    """echo TEXT

    Prints TEXT (C escapes such as \\n are understood); nothing ends the line but \\n,
    as in gdb: echo x = , then output x, then echo \\n print one line. Useful in
    breakpoint commands."""
    text = args.text or ""
    try:
        shown = text.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except UnicodeDecodeError as exc:
        raise UsageError(f"bad escape in echo text: {exc.reason}") from None
    return Result("echo", {"text": shown}, shown, raw=True)
