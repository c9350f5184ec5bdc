"""The call stack: backtrace, frame, up, down, info frame, info locals, info args (gdb's text)."""
from __future__ import annotations

import argparse
import functools
import os
from typing import Any, Optional

from ... import expr
from ...errors import FrameError, HwdbgError, UsageError
from ...session.frames import variable_value
from ...symbols.types import type_name
from ..location import FrameShown
from . import Category, CommandParser, Result, command, current_tid, number, session_symbolic

D = Category.DATA
# gdb's register order, for info frame's "Saved registers" (DWARF numbers of x86-64).
_GDB_ORDER = (0, 3, 2, 1, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)
_DWARF_NAMES = ("rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp",
                "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip")
RSP = 7  # the stack pointer's DWARF number


# ------------------------------------------------------------------ text of values and frames

def frame_env(session: Any, tid: Optional[int] = None) -> Any:
    """The expression environment frame texts read values in: the session's, plus what names an
    address (gdb's ``f=0x401136 <square>``)."""
    env = session.env(tid)
    env.symbolic = functools.partial(session_symbolic, session)
    return env


def _no_symbol(addr: int) -> str:
    return ""


def value_text(value: Optional[expr.Value], env: Any, pretty: bool = False) -> str:
    """A variable's value as info locals and frame lines show it (no '(type *)' before pointers);
    ``pretty``: structs on several lines (info locals with set print pretty on)."""
    if value is None:
        return "<optimized out>"
    try:
        text = expr.format_value(value, env, symbol=getattr(env, "symbolic", None) or _no_symbol, pretty=pretty)
    except HwdbgError as exc:
        return f"<error: {exc}>"
    ctype = value.ctype
    if ctype is not None and ctype.kind == "pointer":
        prefix = f"({type_name(ctype)}) "
        if text.startswith(prefix):
            text = text[len(prefix):]
    return text


def _variables(frame: Any, env: Any, which: str, pretty: bool = False) -> list[dict]:
    out = []
    for var in frame.arguments() if which == "args" else frame.locals():
        try:
            value = variable_value(frame, var, env)
        except HwdbgError as exc:
            out.append({"name": var.name, "value": f"<error: {exc}>", "python": None, "var": var})
            continue
        out.append({"name": var.name, "value": value_text(value, env, pretty), "python": value, "var": var})
    return out


def _argument_texts(frame: Any, env: Any) -> list[str]:
    """gdb's frame line arguments: scalars printed, aggregates as '...', entry values as p@entry."""
    texts = []
    for item in _variables(frame, env, "args"):
        value, name = item["python"], item["name"]
        ctype = item["var"].ctype
        aggregate = ctype is not None and ctype.kind in ("struct", "union", "array")
        shown = "..." if aggregate and value is not None else item["value"]
        entry = None if aggregate else frame.entry_value(item["var"])
        if entry is None:
            texts.append(f"{name}={shown}")
            continue
        entry_value = expr.Value(_decode(entry, ctype), ctype)
        entry_text = value_text(entry_value, env)
        if value is not None and shown == entry_text:
            texts.append(f"{name}={name}@entry={shown}")
        else:
            texts.append(f"{name}={shown}, {name}@entry={entry_text}")
    return texts


def _decode(data: bytes, ctype: Any) -> Any:
    """The number in a scalar's bytes, read as its type says."""
    return expr.evaluate(expr.Name("v", None, "v"), _HeldEnv(expr.Held(data, ctype, ""))).value


class _HeldEnv:
    """An Env whose one name is a value with no address."""

    def __init__(self, held: Any) -> None:
        self._held = held

    def lookup(self, name: str, lib: Optional[str]) -> Any:
        return self._held

    def read_memory(self, addr: int, size: int) -> bytes:
        raise UsageError("no memory here")

    def register(self, name: str) -> int:
        raise UsageError("no registers here")


def frame_text(frame: Any, env: Any) -> str:
    """``0x00005555555551ae in fact (n=3) at t.c:13`` (no address when frame 0's pc starts its
    line): a frame as gdb prints it in a backtrace, after ``#N``, and in stop lines."""
    if frame.kind == "dummy":
        return frame.function  # gdb's <function called from gdb>
    text = f"{frame.pc:#018x} in " if frame.shows_address else ""
    text += f"{frame.function or '??'} ({', '.join(_argument_texts(frame, env)) if frame.scope else ''})"
    if frame.file and frame.line:
        text += f" at {frame.file_shown}:{frame.line}"
    elif frame.where.module and frame.function:
        text += f" from {frame.where.module}"
    return text


def frame_line(frame: Any, env: Any) -> str:
    """``#1  0x00005555555551ae in fact (n=3) at t.c:13``, as gdb prints a frame."""
    head = f"#{frame.level:<3}" if frame.level >= 10 else f"#{frame.level:<2}"
    return f"{head} {frame_text(frame, env)}"


def stop_frame_text(session: Any, tid: int) -> Optional[FrameShown]:
    """Frame 0 of a stopped thread as a stop line shows it (``sum_pair (p=0x...) at steps.c:15``);
    None when its frame cannot be built (the caller then shows what the stop record knows)."""
    try:
        frames = session.frames.stack(tid, 1)
        if not frames:
            return None
        return FrameShown(frame_text(frames[0], frame_env(session, tid)), frames[0].file, frames[0].line,
                          frames[0].file_shown)
    except HwdbgError:
        return None


@functools.lru_cache(maxsize=32)
def _source_lines(path: str, mtime: float) -> tuple[str, ...]:
    with open(path, encoding="utf-8", errors="replace") as f:
        return tuple(f.read().splitlines())


def source_line(frame: Any) -> Optional[str]:
    """``13\\t    if (n > 1) ...``: the frame's line from its source file (gdb prints it on selection)."""
    if not frame.file or not frame.line:
        return None
    try:
        lines = _source_lines(frame.file, os.path.getmtime(frame.file))
    except OSError:
        return f"{frame.line}\tin {frame.file}"
    return f"{frame.line}\t{lines[frame.line - 1]}" if frame.line <= len(lines) else None


def frame_json(frame: Any, env: Any) -> dict[str, Any]:
    return {"level": frame.level, "pc": frame.pc, "function": frame.function, "file": frame.file,
            "line": frame.line, "module": frame.where.module, "cfa": frame.cfa,
            "args": [{"name": item["name"], "value": item["value"]} for item in _variables(frame, env, "args")]}


def _stack(ctx: Any) -> tuple[Any, int]:
    session = ctx.session
    if not session.alive:
        raise FrameError("No stack.")
    session.require_stopped()
    return session, current_tid(ctx)


def _selected(ctx: Any) -> Any:
    session, tid = _stack(ctx)
    frame = session.frames.selected(tid)
    if frame is None:
        raise FrameError("No stack.")
    return frame


def _shown(ctx: Any, frame: Any, name: str) -> Result:
    """A frame selected or described: its line and source line, as gdb prints them."""
    env = frame_env(ctx.session)
    lines = [frame_line(frame, env)]
    source = source_line(frame)
    if source:
        lines.append(source)
    return Result(name, {"frame": frame_json(frame, env)}, "\n".join(lines))


# ------------------------------------------------------------------ backtrace

_bt_parser = CommandParser("backtrace")
_bt_parser.add_argument("limit", nargs="?", type=number, default=None, metavar="N")


@command(_bt_parser, category=D, aliases=("bt", "where"))
def backtrace(ctx: Any, args: argparse.Namespace) -> Result:
    """backtrace [N]

    The call stack of the current thread, innermost frame first, as gdb shows it:
    `#0  sum_pair (p=0x7ffe...) at steps.c:15`, `#1  0x... in main () at steps.c:30`;
    scalar arguments with their values, structs as `...`, `p=p@entry=V` when the
    caller's call site tells the value at entry. As gdb, a function inlined at the pc
    (DW_TAG_inlined_subroutine) is a frame of its own, its caller at the call's line,
    and a function that tail-called the next one (DW_AT_call_tail_call) is found again
    from the call sites. At most N frames; like gdb it ends at main."""
    session, tid = _stack(ctx)
    limit = args.limit
    if limit is not None and (limit < 1 or limit > 100_000):
        raise UsageError(f"backtrace N needs 1 <= N <= 100000, not {limit}")
    frames = session.frames.stack(tid)
    shown = frames if limit is None else frames[:limit]
    env = frame_env(session)
    lines = [frame_line(f, env) for f in shown]
    if len(shown) < len(frames):
        lines.append("(More stack frames follow...)")
    return Result("backtrace", {"tid": tid, "frames": [dict(f.record().to_json(), **frame_json(f, env))
                                                       for f in shown]}, "\n".join(lines))


# ------------------------------------------------------------------ frame, up, down

_frame_parser = CommandParser("frame")
_frame_parser.add_argument("level", nargs="?", type=number, metavar="N")


@command(_frame_parser, category=D, aliases=("f",))
def frame(ctx: Any, args: argparse.Namespace) -> Result:
    """frame [N]

    Selects frame N (0 is the innermost, see backtrace) and shows it; without N
    shows the selected frame. print, x, set var and watch then see that frame's
    locals and registers. Every stop selects frame 0 again."""
    session, tid = _stack(ctx)
    if args.level is None:
        return _shown(ctx, _selected(ctx), "frame")
    if args.level < 0:
        raise UsageError(f"frame N needs N >= 0, not {args.level}")
    return _shown(ctx, session.frames.select(tid, args.level), "frame")


_move_parser = CommandParser("up")
_move_parser.add_argument("count", nargs="?", type=number, metavar="N")


@command(_move_parser, category=D)
def up(ctx: Any, args: argparse.Namespace) -> Result:
    """up [N]

    Selects the frame N levels up (towards main; default 1) and shows it; a plain
    up in the outermost frame is an error, up N stops there."""
    session, tid = _stack(ctx)
    return _shown(ctx, session.frames.move(tid, 1 if args.count is None else args.count, args.count is not None),
                  "up")


@command(_move_parser, category=D)
def down(ctx: Any, args: argparse.Namespace) -> Result:
    """down [N]

    Selects the frame N levels down (towards frame 0; default 1) and shows it."""
    session, tid = _stack(ctx)
    count = 1 if args.count is None else args.count
    return _shown(ctx, session.frames.move(tid, -count, args.count is not None), "down")


# ------------------------------------------------------------------ info frame, locals, args

def _frame_address(frame: Any) -> Optional[int]:
    """gdb's "frame at": the CFA; a dummy frame's is 16 above its return address, where gdb's
    amd64 dummy frame id puts it (the frame pointer it fakes, plus 16)."""
    if frame.kind == "dummy" and frame.cfa is not None:
        return frame.cfa + 8
    return frame.cfa


@command(category=D, group="info", name="frame")
def info_frame(ctx: Any, args: argparse.Namespace) -> Result:
    """info frame

    The selected frame in detail, as gdb: its address (the CFA), pc and saved pc,
    the frames it calls and is called by, where its arguments and locals are, and
    the registers it saved."""
    session, tid = _stack(ctx)
    frame = _selected(ctx)
    env = frame_env(session)
    frames = session.frames.stack(tid)
    caller = frame.caller()
    where = f" in {frame.function}" if frame.function and frame.kind != "dummy" else ""
    if frame.file and frame.line:
        where += f" ({frame.file_shown}:{frame.line})"
    cfa = _frame_address(frame)
    lines = [f"Stack level {frame.level}, frame at {cfa:#x}:" if cfa is not None else f"Stack level {frame.level}:"]
    saved_pc = frame.saved_pc
    lines.append(f" rip = {frame.pc:#x}{where}" + (f"; saved rip = {saved_pc:#x}" if saved_pc is not None else ""))
    links = []
    if frame.kind == "tailcall":
        links.append("tail call frame")
    elif frame.kind == "inline":
        links.append(f"inlined into frame {frame.level + 1}")
    elif caller is not None and caller.cfa is not None:
        links.append(f"called by frame at {_frame_address(caller):#x}")
    if frame.level > 0 and frames[frame.level - 1].cfa is not None:
        links.append(f"caller of frame at {_frame_address(frames[frame.level - 1]):#x}")
    if links:
        lines.append(" " + ", ".join(links))
    if frame.scope is not None:
        lines.append(" source language c.")
    arglist = ", ".join(_argument_texts(frame, env)) if frame.scope else ""
    base = frame.base_address() if frame.kind == "normal" else None
    if base is not None:
        lines.append(f" Arglist at {base:#x}, args: {arglist}".rstrip())
        lines.append(f" Locals at {base:#x}, Previous frame's sp is {cfa:#x}" if cfa is not None
                     else f" Locals at {base:#x},")
    elif frame.kind != "normal":
        # gdb knows no frame base of a frame that has no stack of its own
        lines.append(" Arglist at unknown address.")
        if frame.kind == "dummy" and caller is not None:  # the stack pointer the call was made with
            cfa = caller.regs.get(RSP, cfa)
        lines.append(" Locals at unknown address, Previous frame's sp "
                     + ("in rsp" if frame.kind == "inline" else f"is {cfa:#x}"))
    # Below a tail call frame gdb computes the pc rather than reading it where it was saved.
    computed = (16,) if caller is not None and caller.kind == "tailcall" else ()
    saved = [(reg, frame.saved[reg]) for reg in _GDB_ORDER
             if reg in frame.saved and reg not in computed and frame.kind == "normal"]
    if saved:
        lines.append(" Saved registers:")
        lines.append("  " + ", ".join(f"{_DWARF_NAMES[reg]} at {addr:#x}" for reg, addr in saved))
    data = frame_json(frame, env)
    data.update(saved_pc=saved_pc, kind=frame.kind, caller_cfa=caller.cfa if caller is not None else None,
                saved_registers={_DWARF_NAMES[reg]: addr for reg, addr in saved})
    return Result("info frame", {"frame": data}, "\n".join(lines))


def _info_variables(ctx: Any, which: str) -> Result:
    if not ctx.session.alive:
        raise FrameError("No frame selected.")
    session, _tid = _stack(ctx)
    frame = _selected(ctx)
    name = f"info {which}"
    if frame.scope is None:
        return Result(name, {"frame": frame.level, "variables": []}, "No symbol table info available.")
    items = _variables(frame, frame_env(session), which, ctx.print_pretty)
    rows = [{"name": item["name"], "value": item["value"]} for item in items]
    empty = "No arguments." if which == "args" else "No locals."
    text = "\n".join(f"{item['name']} = {item['value']}" for item in items) or empty
    return Result(name, {"frame": frame.level, "variables": rows}, text)


@command(category=D, group="info", name="locals")
def info_locals(ctx: Any, args: argparse.Namespace) -> Result:
    """info locals

    The local variables of the selected frame, innermost block first (a variable
    shadowed by an inner one is listed too), `name = value` as gdb prints them;
    `<optimized out>` where the compiler left nothing at this pc; structs on several
    lines with set print pretty on."""
    return _info_variables(ctx, "locals")


@command(category=D, group="info", name="args")
def info_args(ctx: Any, args: argparse.Namespace) -> Result:
    """info args

    The arguments of the selected frame, `name = value`."""
    return _info_variables(ctx, "args")
