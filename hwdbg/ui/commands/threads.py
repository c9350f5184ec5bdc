"""info threads and thread, with gdb's per-process thread numbers (1 is the first thread) and
its ``Thread 0x... (LWP N)`` names; a kernel TID is still understood where a number is taken."""
from __future__ import annotations

import argparse
from typing import Any

from ...errors import HwdbgError, TargetError
from ...session.thread_numbers import target_id
from . import Category, CommandParser, Result, command, current_tid, number
from .frames import source_line, stop_frame_text

S = Category.STATUS


def thread_tid(ctx: Any, n: int) -> int:
    """The TID of gdb's thread number N, or N itself when it is no thread number but a TID of the
    process (what hwdbg took before); gdb's ``Unknown thread N.`` otherwise."""
    session = ctx.session
    inf = session.inferior
    if inf is None or not inf.alive:
        raise TargetError(f"Unknown thread {n}.")
    tid = session.thread_numbers.tid_of(n)
    if tid in inf.threads:
        return tid
    if tid in session.thread_numbers.terminated:
        raise TargetError(f"Thread ID {n} has terminated.")
    if tid is None and n in inf.threads:
        return n
    raise TargetError(f"Unknown thread {n}.")


def thread_number(session: Any, tid: int) -> int:
    number = session.thread_numbers.number(tid)
    if number is None:  # not seen appear (cannot happen in a process hwdbg started): numbered now
        session.thread_numbers.add(tid)
        number = session.thread_numbers.number(tid)
    return number


def thread_target_id(session: Any, tid: int) -> str:
    """``Thread 0x7ffff7d8a740 (LWP 123)``: the pointer read now if the thread is stopped (the
    main thread's is known only so), else the one kept when it appeared."""
    thread = session.inferior.threads.get(tid)
    if thread is not None and not thread.running:
        try:
            return target_id(tid, session.env(tid).register("fs_base"))
        except HwdbgError:
            pass
    return session.thread_numbers.target_id(tid)


def _thread_name(inf: Any, tid: int) -> str:
    try:
        with open(f"/proc/{inf.pid}/task/{tid}/comm", encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return ""


@command(category=S, group="info", name="threads")
def info_threads(ctx: Any, args: argparse.Namespace) -> Result:
    """info threads

    Every thread of the process as gdb lists them: its number (gdb's, per process, in order
    of appearance: the one `thread N` and `break LOCATION thread N` take), its target id
    (pthread_t and LWP, the kernel's thread id) and name, and its frame 0, or (running).
    * marks the current thread (see `thread`)."""
    session = ctx.session
    inf = session.require_process()
    session.thread_numbers.prune()  # as gdb's update of its thread list
    current = current_tid(ctx)
    rows: list[dict[str, Any]] = []
    cells: list[tuple[bool, int, str, str]] = []
    for tid in sorted(inf.threads, key=lambda tid: thread_number(session, tid)):
        thread = inf.threads[tid]
        row: dict[str, Any] = {"tid": tid, "number": thread_number(session, tid), "current": tid == current,
                               "state": "running" if thread.running else "stopped",
                               "target_id": thread_target_id(session, tid)}
        where = "(running)"
        if not thread.running:
            pc = session.arch.get_pc(inf.get_regs(tid))
            frame = session.describe(pc)
            row.update(pc=pc, function=frame.function, file=frame.file, line=frame.line)
            shown = stop_frame_text(session, tid)
            where = shown.text if shown else f"{pc:#018x} in ??"
        name = _thread_name(inf, tid)
        rows.append(row)
        cells.append((tid == current, row["number"], row["target_id"] + (f' "{name}"' if name else ""), where))
    # gdb's table: columns of 1 and 4, the target id as wide as the widest (17 at least), each
    # cell followed by a space
    width = max([17] + [len(cell[2]) for cell in cells])
    lines = [f"  {'Id':<4} {'Target Id':<{width}} Frame "]
    lines += [f"{'*' if mark else ' '} {n:<4} {name:<{width}} {where}" for mark, n, name, where in cells]
    return Result("info threads", {"threads": rows}, "\n".join(lines))


_thread_parser = CommandParser("thread")
_thread_parser.add_argument("number", nargs="?", type=number, metavar="N")


@command(_thread_parser, category=S)
def thread(ctx: Any, args: argparse.Namespace) -> Result:
    """thread [N]

    Makes thread N (gdb's number, as `info threads` lists it) the current thread (for print,
    x, info registers, stepi, bt) and shows its frame 0; without N, shows the current thread.
    N may also be a kernel thread id (TID) of the process that is no thread number."""
    session = ctx.session
    inf = session.require_process()
    if args.number is None:
        tid = current_tid(ctx)
        n = thread_number(session, tid)
        return Result("thread", {"tid": tid, "number": n},
                      f"[Current thread is {n} ({thread_target_id(session, tid)})]")
    tid = thread_tid(ctx, args.number)
    session.current_tid = tid
    n = thread_number(session, tid)
    text = f"[Switching to thread {n} ({thread_target_id(session, tid)})]"
    if not inf.threads[tid].running:
        shown = stop_frame_text(session, tid)
        if shown is not None:
            text += f"\n#0  {shown.text}"
            source = source_line(shown)
            if source is not None:
                text += f"\n{source}"
    return Result("thread", {"tid": tid, "number": n}, text)
