"""Auto-display: display[/F] EXPR, undisplay, info display; the displays are shown at every stop."""
from __future__ import annotations

import argparse
import functools
import re
from typing import Any, Optional

from ... import expr
from ...errors import HwdbgError, UsageError
from ...recordtype import record
from . import Category, CommandParser, Result, command, parse_ids, printable, raw_split, shell_split, symbolic

D = Category.DATA


Block = tuple[str, list[tuple[int, int]]]  # a module's path, link-time ranges


@record
class Display:
    number: int
    expr: str
    fmt: Optional[str] = None
    enabled: bool = True
    # The innermost block declaring a local the expression read when it was made (gdb's
    # innermost_block): elsewhere the display is kept but not shown.
    block: Optional[Block] = None

    @property
    def spelled(self) -> str:
        """As gdb lists it: ``/x arr`` or ``arr[0]``."""
        return f"/{self.fmt} {self.expr}" if self.fmt else self.expr


def _show(ctx: Any, display: Display, env: Any = None) -> Result:
    """One display as gdb shows it at a stop: ``1: x = 5``, ``2: /x arr = {0x1, 0x2}``."""
    data = {"number": display.number, "expr": display.expr, "format": display.fmt}
    try:
        env = env if env is not None else ctx.session.env()
        value = expr.evaluate_text(ctx.history_text(display.expr), env, ctx.bindings())
        shown = expr.format_value(value, ctx.session.env(), display.fmt, functools.partial(symbolic, ctx),
                                  ctx.print_pretty)
    except HwdbgError as exc:
        shown = f"<error: {exc}>"
    return Result("display", {**data, "text": shown}, f"{display.number}: {display.spelled} = {shown}")


def _declaring_block(frame: Any, var: Any) -> Optional[Block]:
    scope, module = frame.scope, frame.module
    if scope is None or module is None:
        return None
    return module.path, scope.declaring_ranges(var, frame.lookup_pc - frame.bias)


def _innermost(locals_used: list[tuple[Any, Any]]) -> Optional[Block]:
    blocks = [b for b in (_declaring_block(frame, var) for frame, var in locals_used) if b is not None]
    return min(blocks, key=lambda b: sum(high - low for low, high in b[1]), default=None)


def in_context(ctx: Any, display: Display) -> bool:
    """Can the display be evaluated where the selected frame is (gdb's contained_in)?"""
    if display.block is None:
        return True
    session = ctx.session
    if not session.alive:
        return False
    frame = session.frames.selected(session.current_tid or session.inferior.pid)
    if frame is None or frame.module is None:
        return False
    path, ranges = display.block
    link_pc = frame.lookup_pc - frame.bias
    return frame.module.path == path and any(low <= link_pc < high for low, high in ranges)


def show_displays(ctx: Any) -> list[Result]:
    """Every enabled display that can be evaluated here, in number order (called at each stop);
    one whose locals are out of scope is kept and not shown, as in gdb."""
    return [_show(ctx, d) for d in ctx.displays if d.enabled and in_context(ctx, d)]


def _split_format(text: str) -> tuple[Optional[str], str]:
    match = re.match(r"/(\w*)\s*", text)
    if not match:
        return None, text
    fmt = match.group(1)
    if fmt == "s":  # gdb: a string where it can be, as without a format
        return None, text[match.end():].strip()
    if len(fmt) != 1 or fmt not in expr.PRINT_FORMATS:
        raise UsageError(f"bad format /{printable(fmt)}: use one letter of {expr.PRINT_FORMATS}")
    return fmt, text[match.end():].strip()


_display_parser = CommandParser("display")
_display_parser.add_argument("text", nargs="?", metavar="EXPR")


@command(_display_parser, category=D, split=raw_split, complete="symbols")
def display(ctx: Any, args: argparse.Namespace) -> Any:
    """display[/F] [EXPR]

    Shows EXPR (formatted with /F as print/F does) every time the program stops, as
    "N: EXPR = VALUE" (structs on several lines with set print pretty on); without
    EXPR, shows every display now. A display that reads locals is shown only where
    the block declaring them is (the selected frame's pc): elsewhere it is kept,
    not shown, and info display says "cannot be evaluated in the current context". EXPR is checked first: one that does not parse or
    names nothing known is refused."""
    text = (args.text or "").strip()
    if not text:
        return show_displays(ctx)
    fmt, text = _split_format(text)
    if not text:
        raise UsageError("display needs an expression")
    session = ctx.session
    env = session.env()
    node = expr.parse(ctx.history_text(text), getattr(env, "type_named", None))
    if not (session.alive and session.inferior.all_stopped):
        expr.type_of(node, env, ctx.bindings())  # a name nothing knows is refused now, as gdb does
    ctx.next_display += 1
    new = Display(ctx.next_display, text, fmt)
    if session.alive and session.inferior.all_stopped:
        made = session.env()
        shown = _show(ctx, new, made)
        if shown.data["text"].startswith("<error: "):
            ctx.next_display -= 1
            raise UsageError(shown.data["text"][len("<error: "):-1])
        new.block = _innermost(made.locals_used)
        ctx.displays.append(new)
        return shown if ctx.interactive else Result("display", shown.data)
    ctx.displays.append(new)
    return Result("display", {"number": new.number, "expr": new.expr, "format": new.fmt, "text": None})


_undisplay_parser = CommandParser("undisplay")
_undisplay_parser.add_argument("ids", nargs="*", metavar="N")


@command(_undisplay_parser, category=D, split=shell_split)
def undisplay(ctx: Any, args: argparse.Namespace) -> Result:
    """undisplay [N...]

    Stops showing displays N... (all of them without N)."""
    if not args.ids:
        removed = [d.number for d in ctx.displays]
        ctx.displays.clear()
        return Result("undisplay", {"ids": removed})
    ids = parse_ids(args.ids, "display")
    known = {d.number for d in ctx.displays}
    for n in ids:
        if n not in known:
            raise UsageError(f"No display number {n}.")
    ctx.displays[:] = [d for d in ctx.displays if d.number not in ids]
    return Result("undisplay", {"ids": ids})


@command(CommandParser("info display"), category=D, group="info", name="display")
def info_display(ctx: Any, args: argparse.Namespace) -> Result:
    """info display

    The expressions shown at every stop, with their numbers."""
    here = {d.number: in_context(ctx, d) for d in ctx.displays}
    rows = [{"number": d.number, "expr": d.expr, "format": d.fmt, "enabled": d.enabled, "in_context": here[d.number]}
            for d in ctx.displays]
    if not rows:
        return Result("info display", {"displays": []}, "There are no auto-display expressions now.")
    lines = ["Auto-display expressions now in effect:", "Num Enb Expression"]
    lines += [f"{d.number}:   {'y' if d.enabled else 'n'}  {d.spelled}"
              + ("" if here[d.number] else " (cannot be evaluated in the current context)") for d in ctx.displays]
    return Result("info display", {"displays": rows}, "\n".join(lines))
