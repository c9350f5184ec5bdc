"""Running the program: run, start, starti, attach, detach, kill, continue (stepping: stepping.py)."""
from __future__ import annotations

import argparse
import os
from typing import Any

from ...errors import HwdbgError, SymbolError, TargetError, UsageError
from ...locations import resolve_code
from ...records import Kind
from . import Category, CommandParser, Result, command, number, raw_split, shell_split
from ..render import frame_text
from .breakpoints import bp_json, file_shown
from .frames import stop_frame_text

R = Category.RUNNING


def _args_parser(name: str) -> CommandParser:
    parser = CommandParser(name)
    parser.add_argument("args", nargs="?", metavar="ARGS")
    return parser


def _program_args(args: argparse.Namespace) -> Any:
    return shell_split(args.args) if args.args else None


def _not_running(ctx: Any, restart: bool = False) -> None:
    """run and start again: from a script, a program hwdbg started is killed and started anew
    (gdb -batch answers its question yes); at the prompt, where gdb would ask, and for a program
    attached to, it must be killed (or detached) first."""
    inf = ctx.session.inferior
    if inf is not None and inf.alive:
        if not (restart and inf.spawned) or ctx.interactive:
            raise TargetError(f"process {inf.pid} is already being debugged; `kill` or `detach` it first")
        ctx.session.kill()
        ctx._drop_temporaries(all_of_them=True)
    for bp in ctx.session.breakpoints.values() if restart else ():  # gdb counts the hits of each run anew
        bp.hit_count = bp.counted = 0


@command(_args_parser("run"), category=R, split=raw_split, aliases=("r",))
def run(ctx: Any, args: argparse.Namespace) -> None:
    """run [ARGS]

    Starts the program (with ARGS, split like a shell does but without redirection;
    without ARGS, the arguments of the last run) and lets it run until a breakpoint
    stops it or it ends. Breakpoints set before are armed before its first instruction.
    In a script (--batch, -x, a pipe) a program hwdbg started that is still there is
    killed and started again, as gdb -batch does; at the prompt, and for a program
    attached to, kill (or detach) it first. Hit counts start again at 0."""
    _not_running(ctx, restart=True)
    ctx.spawn(_program_args(args))
    ctx.resume(ctx.session.cont)


@command(_args_parser("start"), category=R, split=raw_split)
def start(ctx: Any, args: argparse.Namespace) -> None:
    """start [ARGS]

    Like run, but stops at the beginning of main (a temporary hardware breakpoint).
    Needed before watching a variable of a position-independent executable, whose
    addresses are known only once it runs."""
    session = ctx.session
    _not_running(ctx, restart=True)
    ctx.spawn(_program_args(args))
    try:
        addr = resolve_code(session.symbols, session.env(), "main")
        bp = session.add_breakpoint(Kind.HBREAK, addr, 1, expr="main",
                                    resolve=lambda: (resolve_code(session.symbols, session.env(), "main"), 1))
    except HwdbgError as exc:
        try:
            session.kill()  # nothing changed: no half-started program left behind
        except HwdbgError:
            pass
        if isinstance(exc, SymbolError):
            raise SymbolError(f"cannot start: {exc}; use starti or run instead") from None
        raise
    ctx.temporary.add(bp.id)
    frame = session.describe(addr)
    place = f": file {file_shown(ctx, addr, frame.file)}, line {frame.line}." if frame.file and frame.line else "."
    data = bp_json(bp)
    data["temporary"] = True
    # gdb sets it before the program runs: a PIE's main is announced at its link-time address.
    shown = addr - session.symbols.executable.bias
    ctx.report(Result("hbreak", {"breakpoint": data}, f"Temporary breakpoint {bp.id} at {shown:#x}{place}"))
    ctx.resume(session.cont)


@command(_args_parser("starti"), category=R, split=raw_split)
def starti(ctx: Any, args: argparse.Namespace) -> Result:
    """starti [ARGS]

    Starts the program and stops at its very first instruction (in the dynamic loader)."""
    _not_running(ctx, restart=True)
    ctx.spawn(_program_args(args))
    session = ctx.session
    pc = session.arch.get_pc(session.inferior.get_regs(session.inferior.pid))
    frame = session.describe(pc)
    return Result("starti", {"pid": session.inferior.pid, "pc": pc}, f"\nProgram stopped.\n{frame_text(frame, pc)}")


_file_parser = CommandParser("file")
_file_parser.add_argument("path", metavar="PROGRAM")
_file_parser.add_argument("args", nargs="*", metavar="ARGS")


@command(_file_parser, category=R)
def file(ctx: Any, args: argparse.Namespace) -> Result:
    """file PROGRAM [ARGS...]

    Names the program to debug (and its arguments) and reads its symbols, as the
    command line's PROGRAM does; breakpoints can then be set before `run`."""
    _not_running(ctx)
    path = args.path
    if os.sep not in path and not os.path.exists(path):
        import shutil  # here: it brings the compression modules, which an attach does not need
        path = shutil.which(path) or path
    ctx.session.load([path, *args.args])
    return Result("file", {"program": path, "args": list(args.args)}, f"Reading symbols from {path}...")


_attach_parser = CommandParser("attach")
_attach_parser.add_argument("pid", type=number, metavar="PID")


@command(_attach_parser, category=R)
def attach(ctx: Any, args: argparse.Namespace) -> Result:
    """attach PID

    Attaches to a running process and all its threads ("[New LWP N]" for each one
    besides the main thread, as gdb says), and stops it. Watchpoints
    set afterwards are armed in every thread, and in threads it creates later.
    Needs permission to trace it (same user and kernel.yama.ptrace_scope=0, or
    CAP_SYS_PTRACE)."""
    if args.pid <= 0 or args.pid >= 1 << 31:
        raise UsageError(f"{args.pid} is not a process id")
    _not_running(ctx)
    session = ctx.session
    session.attach(args.pid)
    ctx.last_exit = None
    inf = session.inferior
    pc = session.arch.get_pc(inf.get_regs(inf.pid))
    # gdb names the other threads it finds as LWPs (before libthread_db names them as threads)
    found = "".join(f"[New LWP {tid}]\n" for tid in sorted(inf.threads) if tid != inf.pid)
    shown = stop_frame_text(session, inf.pid)  # frame 0 as a stop shows it: arguments, source line
    where = shown.text if shown is not None else frame_text(session.describe(pc), pc)
    sources = getattr(ctx.out, "sources", None)  # text output only
    if shown is not None and shown.file and shown.line and sources is not None:
        where += "\n" + sources.text(shown.file, shown.line, shown.file_shown)
    text = f"Attaching to process {inf.pid}\n{found}{where}"
    return Result("attach", {"pid": inf.pid, "threads": sorted(inf.threads), "pc": pc}, text)


@command(category=R)
def detach(ctx: Any, args: argparse.Namespace) -> Result:
    """detach

    Clears the debug registers of every thread and lets the process go on without
    the debugger. Breakpoints stay defined for the next run or attach."""
    pid = ctx.session.require_process().pid
    ctx.session.detach()
    return Result("detach", {"pid": pid}, f"[Inferior 1 (process {pid}) detached]")


@command(category=R)
def kill(ctx: Any, args: argparse.Namespace) -> Result:
    """kill

    Kills the program being debugged. Breakpoints stay defined for the next run."""
    pid = ctx.session.require_process().pid
    ctx.session.kill()
    ctx._drop_temporaries(all_of_them=True)
    return Result("kill", {"pid": pid}, f"[Inferior 1 (process {pid}) killed]")


_continue_parser = CommandParser("continue")
_continue_parser.add_argument("n", nargs="?", type=number, metavar="N")


@command(_continue_parser, category=R, aliases=("c", "cont", "fg"), repeatable=True)
def continue_(ctx: Any, args: argparse.Namespace) -> None:
    """continue [N]

    Resumes every thread until a breakpoint stops the program or it ends. With N,
    the breakpoint that caused the last stop is ignored N-1 more times (gdb).
    Ctrl-C stops the program and returns to the prompt."""
    session = ctx.session
    session.require_stopped()
    if args.n is not None:
        if args.n < 1 or args.n >= 1 << 63:
            raise UsageError(f"continue N needs 1 <= N < 2^63, not {args.n}")
        stop = session.last_stop
        bp = None
        if stop is not None and stop.hits:
            bp = session.breakpoints.get(stop.hits[0].id)
        if bp is None:
            ctx.message("Not stopped at any breakpoint; argument ignored.")
        else:
            bp.ignore_count = args.n - 1
            ctx.message(f"Will ignore next {args.n - 1} crossings of breakpoint {bp.id}.  Continuing.")
    if ctx.request_resume(session.cont):
        return
    ctx.resume(session.cont)
