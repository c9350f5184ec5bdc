"""list: the program's source lines, as gdb lists them (ten at a time, centred on a line)."""
from __future__ import annotations

import argparse
import re
from typing import Any, Optional

from ...errors import HwdbgError, SymbolError, UsageError
from ...recordtype import record
from . import Category, CommandParser, Result, command, printable, raw_split

D = Category.DATA
LINES = 10  # gdb's `set listsize`


@record
class Listing:
    """Where `list` without an argument goes on: the file and the next line to show."""

    path: str
    next_line: int
    missing_reported: bool = False
    first_line: int = 0  # the first line the last listing showed: `list -` shows those before it


def _read_lines(path: str) -> Optional[list[str]]:
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", errors="replace").splitlines()
    except OSError:
        return None


def _source_path(ctx: Any, file: str) -> str:
    symbols = ctx.session.symbols
    if symbols is not None:
        for module in symbols.modules:
            if module.dwarf is not None and (module is symbols.executable or module.dwarf.small):
                path = module.dwarf.source_path(file)
                if path is not None:
                    return path
    raise SymbolError(f'No source file named {file}.')


def _shown(ctx: Any, path: str) -> str:
    """The file as gdb names it in messages: as the line table does (v.c, not /src/v.c)."""
    symbols = ctx.session.symbols
    for module in symbols.modules if symbols is not None else []:
        if module.dwarf is not None and (module is symbols.executable or module.dwarf.small):
            shown = module.dwarf.display_name(path)
            if shown != path:
                return shown
    return path


def _function_line(ctx: Any, name: str, after_prologue: bool = False) -> tuple[str, int]:
    symbols = ctx.session.symbols
    try:
        if symbols is None:
            raise SymbolError(name)
        var = symbols.lookup(name)
    except SymbolError:
        raise SymbolError(f'Function "{printable(name)}" not defined.') from None
    if var.kind != "func":
        raise SymbolError(f'"{printable(name)}" is not a function')
    addr = symbols.after_prologue(var) if after_prologue else var.addr
    where = ctx.session.describe(addr)
    if not where.file or not where.line:
        raise SymbolError(f'Function "{printable(name)}" has no line information (compile with -g).')
    return where.file, where.line


def _stop_line(ctx: Any) -> Optional[tuple[str, int]]:
    """File and line of the current thread's pc, when the program is stopped there."""
    session = ctx.session
    if not session.alive or not session.inferior.all_stopped:
        return None
    try:
        from .data import _current_pc
        pc = _current_pc(ctx)
    except HwdbgError:
        return None
    where = session.describe(pc) if pc is not None else None
    return (where.file, where.line) if where is not None and where.file and where.line else None


def _centred(line: int) -> int:
    return max(line - LINES // 2, 1)


def _show(ctx: Any, path: str, first: int, last: int) -> Result:
    """Lines first..last of ``path`` (fewer at its end); remembers where `list` goes on."""
    listing = ctx.listing if isinstance(ctx.listing, Listing) and ctx.listing.path == path else Listing(path, first)
    ctx.listing = listing
    text = _read_lines(path)
    if text is None:
        listing.next_line = first  # gdb stays where it is: `list` names the same line again
        if not listing.missing_reported:
            listing.missing_reported = True
            raise SymbolError(f"{first}\t{_shown(ctx, path)}: No such file or directory.")
        return Result("list", {"file": path, "lines": [], "missing": True}, f"{first}\tin {_shown(ctx, path)}")
    if first > len(text):
        listing.first_line = first  # gdb: a later `list -` shows the ten lines before this one
        raise SymbolError(f"Line number {first} out of range; {_shown(ctx, path)} has {len(text)} lines.")
    last = min(last, len(text))
    listing.next_line, listing.first_line = last + 1, first
    lines = [{"line": n, "text": text[n - 1]} for n in range(first, last + 1)]
    return Result("list", {"file": path, "lines": lines, "missing": False},
                  "\n".join(f"{row['line']}\t{row['text']}" for row in lines))


def _line_number(text: str) -> int:
    if not re.fullmatch(r"\d+", text):
        raise UsageError(f"bad line number {printable(text)!r}")
    return int(text)


def _location(ctx: Any, spec: str) -> tuple[str, int]:
    """FILE:LINE, LINE or FUNCTION -> (path, line to centre on)."""
    file, colon, line = spec.rpartition(":")
    if colon and re.fullmatch(r"\d+", line.strip()):
        return _source_path(ctx, file.strip()), _line_number(line.strip())
    if re.fullmatch(r"\d+", spec):
        return _current_file(ctx), int(spec)
    if colon:  # FILE:FUNCTION
        _source_path(ctx, file.strip())
        return _function_line(ctx, line.strip())
    return _function_line(ctx, spec)


def _current_file(ctx: Any) -> str:
    if isinstance(ctx.listing, Listing):
        return ctx.listing.path
    stop = _stop_line(ctx)
    if stop is not None:
        return stop[0]
    return _function_line(ctx, "main", after_prologue=True)[0]


_list_parser = CommandParser("list")
_list_parser.add_argument("text", nargs="?", metavar="LOCATION")


@command(_list_parser, category=D, split=raw_split, aliases=("l",), repeatable=True, complete="symbols")
def list_(ctx: Any, args: argparse.Namespace) -> Result:
    """list [LOCATION|-]

    Shows source lines, ten at a time, as gdb does. LOCATION is FUNCTION (around its
    start), LINE (of the current file), FILE:LINE, FILE:FUNCTION, or FIRST,LAST (those
    lines; FIRST, and ,LAST for ten from or to a line). Without LOCATION: around where
    the program stopped (or before main when it has not run), then the ten lines after
    the last ones listed; list - shows the ten before the last ones listed. A source
    file that is not on disk is named instead."""
    text = (args.text or "").strip()
    if text == "-":  # the ten lines before the last listing, as gdb
        listing = ctx.listing if isinstance(ctx.listing, Listing) else None
        if listing is None:
            raise UsageError("No default source file: list a location first")
        if listing.first_line <= 1:
            raise UsageError(f"Already at the start of {_shown(ctx, listing.path)}.")
        last = listing.first_line - 1
        return _show(ctx, listing.path, max(last - LINES + 1, 1), last)
    if not text:
        if isinstance(ctx.listing, Listing):
            listing = ctx.listing
            return _show(ctx, listing.path, listing.next_line, listing.next_line + LINES - 1)
        stop = _stop_line(ctx)
        if stop is not None:
            path, line = stop
        else:  # gdb: the lines before main's body, centred once more
            path, body = _function_line(ctx, "main", after_prologue=True)
            line = max(body - (LINES - 1), 1)
        first = _centred(line)
        return _show(ctx, path, first, first + LINES - 1)
    if "," in text:
        start, _, end = text.partition(",")
        path, first = _location(ctx, start.strip()) if start.strip() else (_current_file(ctx), None)
        if end.strip():
            last = _line_number(end.strip())
            first = first if first is not None else max(last - LINES + 1, 1)
        else:
            last = first + LINES - 1
        if last < first:
            raise UsageError(f"list {printable(text)}: the last line comes before the first")
        return _show(ctx, path, first, last)
    path, line = _location(ctx, text)
    first = _centred(line)
    return _show(ctx, path, first, first + LINES - 1)
