"""Breakpoint and watchpoint commands: watch, rwatch, awatch, hbreak, delete, enable, commands..."""
from __future__ import annotations

import argparse
import os
from typing import Any, Optional

from ...errors import NotInMemory, UsageError
from ...locations import resolve_code, resolve_watch
from ...records import Kind
from ...session.kernelwrites import SYSCALL_STOP_COST
from ...session.pagewatch import backend_text
from ...session.scoped import scope_of
from ...symbols.dwarf_locations import REGISTER_NAMES
from ..render import KIND_TITLES
from . import (Category, CommandParser, Result, command, first_then_raw, number, parse_ids, shell_split,
               split_condition)
from .threads import thread_tid

B = Category.BREAKPOINTS


def _bp_parser(name: str, *, code: bool = False) -> CommandParser:
    """The options every breakpoint kind shares."""
    parser = CommandParser(name)
    parser.add_argument("expr", nargs="+", metavar="LOCATION" if code else "EXPR")
    if not code:
        parser.add_argument("-l", "-location", dest="location", action="store_true")
        parser.add_argument("--length", type=number, metavar="N")
        parser.add_argument("--count", action="store_true")
        parser.add_argument("--kernel", action="store_true")
    parser.add_argument("--priority", type=number, default=0, metavar="P")
    parser.add_argument("--thread", type=number, metavar="N")
    parser.add_argument("--trace", action="store_true")
    parser.add_argument("--no-stop", action="store_true")
    parser.add_argument("--backtrace", action="store_true")
    parser.add_argument("--if", dest="condition", help=argparse.SUPPRESS)  # what `if COND` becomes
    return parser


def bp_split(rest: str) -> list[str]:
    body, condition = split_condition(rest)
    argv = shell_split(body)
    if condition is not None:
        argv.append(f"--if={condition}")
    return argv


def break_split(rest: str) -> list[str]:
    """gdb's `break LOC thread N if COND` (and `watch EXPR thread N`) as well as the --thread option."""
    argv = bp_split(rest)
    words = [w for w in argv if not w.startswith("--if=")]
    if len(words) >= 3 and words[-2] == "thread":
        argv = words[:-2] + ["--thread", words[-1]] + [w for w in argv if w.startswith("--if=")]
    return argv


def bp_json(bp: Any) -> dict[str, Any]:
    data = bp.to_json()
    data.pop("event", None)
    data["commands"] = list(bp.commands)
    return data


def _check_options(ctx: Any, args: argparse.Namespace) -> None:
    if args.thread is not None:
        args.thread = thread_tid(ctx, args.thread)  # gdb's number (or a TID) -> the TID it limits to
    if args.priority < -(1 << 31) or args.priority >= 1 << 31:
        raise UsageError(f"priority {args.priority} is out of range")


def _status_note(bp: Any) -> str:
    if bp.status == "REGISTERED":
        return " (registered: waiting for a free debug register)"
    if bp.paged:
        return f"\n  backend: {backend_text(bp)}; other data on those pages is stepped over"
    return ""


def _not_in_memory(text: str, exc: NotInMemory, kind: Kind, location: bool) -> str:
    """Why a variable held in a register (or computed) cannot be watched: gdb's words where gdb
    refuses too; for watch, gdb falls back to a software watchpoint, which hwdbg does not have."""
    if location:
        return "Attempt to take address of value not located in memory."
    if kind is not Kind.WATCH:
        return "Expression cannot be implemented with read/access watchpoint."
    where = f"lives in register ${REGISTER_NAMES[exc.register]}" if exc.register is not None \
        and exc.register < len(REGISTER_NAMES) else "is computed by the compiler"
    return f"Cannot watch {text}: it {where}, not in memory, and hwdbg has no software watchpoints"


def _add_watch(ctx: Any, args: argparse.Namespace, kind: Kind) -> Result:
    session = ctx.session
    text = " ".join(args.expr)
    _check_options(ctx, args)
    length = args.length
    if length is not None and length <= 0:
        raise UsageError(f"length must be a positive number of bytes, not {length}")
    env = session.env()
    try:
        where = resolve_watch(session.symbols, env, text, length)
    except NotInMemory as exc:
        raise NotInMemory(_not_in_memory(text, exc, kind, args.location), exc.register) from None
    scope = None if args.location else scope_of(env.frame_used)

    def resolve() -> tuple[int, int]:
        if args.location:
            return where.addr, where.length  # -location: the address it named when set
        again = resolve_watch(session.symbols, session.env(), text, length)
        return again.addr, again.length

    shown = f"-location {text}" if args.location else text
    bp = session.add_breakpoint(kind, where.addr, where.length, expr=shown, priority=args.priority,
                                thread=args.thread, condition=args.condition, trace=args.trace,
                                backtrace=args.backtrace, signed=where.signed, resolve=resolve, count=args.count,
                                kernel=getattr(args, "kernel", False), scope=scope, no_stop=args.no_stop)
    ctx.last_bp_id = bp.id
    data = bp_json(bp)
    if scope is not None:
        data["scope"] = {"cfa": scope.cfa, "function": scope.function, "return_address": scope.return_address}
    return Result(kind, {"breakpoint": data},
                  f"{'Watchpoint' if bp.paged else KIND_TITLES[kind]} {bp.id}: {shown}{_status_note(bp)}"
                  f"{_kernel_note(ctx.session, bp)}")  # gdb's title for a watch without debug registers


def _kernel_note(session: Any, bp: Any) -> str:
    """Which way the kernel's writes are seen (or system calls into protected pages made
    safe), and what it costs: never a silent slow path."""
    if not bp.kernel and not bp.paged:
        return ""
    what = "kernel writes" if bp.kernel else "system calls into its pages"
    if not session.alive:
        return f"\n  {what}: the program will run under a seccomp filter that stops only the system calls that write memory"
    if session.kernel.mode(session.inferior) == "seccomp":
        return f"\n  {what}: seccomp filter (only the system calls that write memory stop)"
    return (f"\n  {what}: every system call of this process stops twice (PTRACE_SYSCALL, " + SYSCALL_STOP_COST
            + "); a program started after the watch is set stops only at the calls that write")


@command(_bp_parser("watch"), category=B, split=break_split, complete="symbols")
def watch(ctx: Any, args: argparse.Namespace) -> Result:
    """watch EXPR [-l|-location] [--length N] [--priority P] [--thread N] [--trace [--no-stop]] [--count] [--kernel] [--backtrace] [if CONDITION]

    Stop when a write changes the value of EXPR (a variable, a field, an array
    element, *ADDRESS, LIB:symbol). The length comes from the type; --length
    overrides it (1, 2, 4, 8, or a range hwdbg splits over several debug registers).
    Writes of the same value are not reported (gdb semantics).

    EXPR is evaluated in the selected frame. A watch on a local watches that frame's
    instance; when the frame returns the watch is deleted and the program stops
    ("Watchpoint N deleted because the program has left the block in which its
    expression is valid."), recursion included. -l/-location watches the address
    EXPR names now, never scoped, as gdb's watch -location.

    A range the debug registers cannot cover (over 32 aligned bytes: an array,
    a struct, *p@100000, --length 100000) is watched by page protection, and the result
    says so: its pages lose write permission (an mprotect run in the target); a write to
    them faults and, the other threads stopped, runs in a trampoline of hwdbg's in the
    target that lifts the pages, writes, protects them again and stops once (a jump, rep
    string or far rip-relative instruction, or a process with debug-register watches, is
    single-stepped between two injected mprotects instead: four stops). A change of the
    range is a hit at the exact writing pc with the bytes that changed (`changed` address
    and length; old and new are those bytes). Writes to other data on those pages are not
    reported, at the same cost (about 0.02-0.07 ms per write when the C hit loop takes it: one
    thread, hits only recorded; 0.1-0.2 ms otherwise, 0.25 ms with several threads (the
    others are stopped at each fault), 0.15-0.3 stepped; 0.01 ms by a debug register;
    bench/results/pages.md); a rep stos/movs faults per element. System calls never get
    EFAULT there (with the system-call stops of --kernel): a call writing there
    (read, readv, preadv2, recvmsg, recvmmsg, select, ppoll, wait4, stat, pipe2 ...)
    writes into hwdbg's scratch memory (a copy of its iovec array or msghdr pointing
    there) and the bytes it wrote are copied in at its exit, so the pages stay
    protected while it blocks (poll, nanosleep and clock_nanosleep too: their scratch
    memory stays theirs while the kernel restarts them with the pointer it saved, and a
    hit at an interruption has the result -516, ERESTART_RESTARTBLOCK); a few (calls into
    MAP_SHARED pages, buffers over 64 MiB or reaching unwritable memory) run with the
    pages lifted, and another thread's write there meanwhile is not trapped (with
    --kernel it shows as the call's); such a call that the kernel restarts after a signal
    (poll, nanosleep, clock_nanosleep: restart_syscall) has them lifted again. Another
    process's writes to MAP_SHARED memory are never seen; a forked child's copy of the pages
    gets its own protection back before it runs. A vfork child (vfork, posix_spawn) shares
    them: it stays traced until it execs or exits, with the program's other threads kept
    stopped meanwhile, and each of its writes there is a hit whose thread is the child's pid
    (a stop of the thread that vforked, reported when the child has gone). Calls hwdbg does not decode
    (ioctl, fcntl) get EFAULT there. Not for thread stacks; 1 byte to 1 GiB of
    writable memory.
    Pages get their protection back on delete, detach, quit, kill and errors; after a SIGKILL of
    hwdbg an attached program dies of SIGSEGV at its next write there; a thread that was in
    the trampoline finishes its write untraced and dies of SIGTRAP at the trampoline's int3
    (unless another thread's write to the pages kills the process with SIGSEGV first).

    --trace reports each change in one line and keeps running; --thread N (or gdb's
    trailing thread N) arms it in thread N only (gdb's number, or a TID, as for break),
    and it is deleted when that thread exits (gdb's "Thread-specific breakpoint N deleted");
    --priority P decides who keeps a debug register when more breakpoints are registered than the CPU has slots (higher wins); --backtrace
    records the call stack at each hit; --count never stops: the CPU counts the writes
    (perf breakpoints, exact, at full speed; `info breakpoints` shows the count).
    --trace --no-stop never stops the target either: each write is a perf record
    (pc, thread, time; the call chain with --backtrace) read while it runs, and
    reported as a hit. There is no value in a record, so old and new are unknown
    (null in JSON, with a note) and every write is reported, changed or not; no
    condition. Records the kernel drops (ring full) are counted (`lost`). If hwdbg
    is killed, the target runs on unharmed (the events close with hwdbg).
    CONDITION is an expression where `new` and `old` are the value after and before
    the write: watch counter if new > 10.

    --kernel also reports writes the kernel makes into EXPR during a system call
    of the program (read, pread64, readv, preadv2, recvfrom, recvmsg, recvmmsg,
    getdents64, stat, fstat, newfstatat, statx, wait4, waitid, pipe2, socketpair,
    getrandom, epoll_wait, poll, select, clock_gettime outside the vDSO, and about
    60 more): the hit names the system call with its arguments (fd, count) and
    result, its pc is the `syscall` instruction, and `info writers` gives it a row
    "kernel: NAME". The rule: a system call whose output buffers overlap EXPR
    makes a hit when, at its exit, bytes of EXPR inside those buffers differ from
    the last value hwdbg knew (a write of the same bytes is no hit, as for watch).
    A program started while a --kernel watch exists runs under a seccomp filter:
    only the system calls that can write memory stop (twice when a buffer overlaps
    a watch, else once); the others run at full speed. Such a program cannot be
    detached (its filtered calls would then fail with ENOSYS), and its forked
    children stay traced, untouched. Otherwise (attached, or started first) every
    system call stops at entry and exit (PTRACE_SYSCALL: about 90 µs added to
    every call, against about 45 µs per writing call with the filter and none to
    the others, on a loaded 2-vCPU machine; bench/results/kernel.md).
    System calls behave exactly as without hwdbg (results, errno, EINTR, restarts).
    Not seen: io_uring and AIO completions, writes by other processes (shared
    memory, process_vm_writev) or devices (DMA), signal frames, rseq updates,
    ioctl and fcntl results, and 32-bit (int 0x80) calls."""
    return _add_watch(ctx, args, Kind.WATCH)


@command(_bp_parser("rwatch"), category=B, split=break_split, complete="symbols")
def rwatch(ctx: Any, args: argparse.Namespace) -> Result:
    """rwatch EXPR [-l|-location] [--length N] [--priority P] [--thread N] [--trace] [--backtrace] [if CONDITION]

    Stop when EXPR is read. x86-64 cannot trap reads only: this is emulated with an
    access (read/write) watchpoint plus filtering. An access that changes the value
    counts as a write and is not reported; a write of the same value looks like a
    read and is reported. So --no-stop is refused: without a value reads and
    writes cannot be told apart (use awatch --no-stop)."""
    return _add_watch(ctx, args, Kind.RWATCH)


@command(_bp_parser("awatch"), category=B, split=break_split, complete="symbols")
def awatch(ctx: Any, args: argparse.Namespace) -> Result:
    """awatch EXPR [-l|-location] [--length N] [--priority P] [--thread N] [--trace [--no-stop]] [--backtrace] [if CONDITION]

    Stop when EXPR is read or written (an access watchpoint). With --trace
    --no-stop, every access is recorded without stopping, as for watch (no value)."""
    return _add_watch(ctx, args, Kind.AWATCH)


def _add_hbreak(ctx: Any, args: argparse.Namespace, temporary: bool) -> Result:
    session = ctx.session
    text = " ".join(args.expr)
    _check_options(ctx, args)
    addr = resolve_code(session.symbols, session.env(), text)
    bp = session.add_breakpoint(Kind.HBREAK, addr, 1, expr=text, priority=args.priority, thread=args.thread,
                                condition=args.condition, trace=args.trace, backtrace=args.backtrace,
                                resolve=lambda: (resolve_code(session.symbols, session.env(), text), 1),
                                no_stop=args.no_stop)
    if temporary:
        ctx.temporary.add(bp.id)
    ctx.last_bp_id = bp.id
    title = "Temporary breakpoint" if temporary else "Hardware assisted breakpoint"
    return _announce(ctx, "hbreak", bp, title, temporary)


def file_shown(ctx: Any, addr: int, path: str) -> str:
    """A source file as gdb names it in messages: as the program's line table does."""
    symbols = ctx.session.symbols
    module = symbols.module_for(addr) if symbols is not None else None
    dwarf = module.dwarf if module is not None else None
    return dwarf.display_name(path, addr - module.bias) if dwarf is not None else os.path.basename(path)


def _announce(ctx: Any, name: str, bp: Any, title: str, temporary: bool, note: Optional[str] = None) -> Result:
    frame = ctx.session.describe(bp.addr)
    line = getattr(bp, "line", None) or frame.line  # FILE:LINE: the line asked, as gdb says
    first = next((site for site in getattr(bp, "sites", ()) if site.addr == bp.addr), None)
    has_line = frame.file and line and not (first is not None and first.label)  # a resolver's has none for gdb
    place = f"{f': {bp.expr}.' if has_line else ''} ({len(bp.addresses)} locations)" if bp.more else \
        f": file {file_shown(ctx, bp.addr, frame.file)}, line {line}." if has_line else ""
    data = dict(bp_json(bp), temporary=temporary)
    resolver = not bp.more and any(site.resolver for site in getattr(bp, "sites", ()))
    at = "gnu-indirect-function resolver at " if resolver else ""  # an IFUNC whose choice is not known yet
    text = f"{title} {bp.id} at {at}{bp.addr:#x}{place}{_status_note(bp)}"
    if note:  # the text says it as gdb 13 does: by the line it announces
        data["note"] = note
    return Result(name, {"breakpoint": data}, text)


def _add_break(ctx: Any, args: argparse.Namespace, temporary: bool) -> Result:
    session = ctx.session
    _check_options(ctx, args)
    bp, note = session.add_break(" ".join(args.expr), thread=args.thread, condition=args.condition,
                                 trace=args.trace, backtrace=args.backtrace, temporary=temporary)
    if temporary:
        ctx.temporary.add(bp.id)
    ctx.last_bp_id = bp.id
    return _announce(ctx, "break", bp, "Temporary breakpoint" if temporary else "Breakpoint", temporary, note)


def _break_parser(name: str) -> CommandParser:
    parser = CommandParser(name)
    parser.add_argument("expr", nargs="+", metavar="LOCATION")
    parser.add_argument("--thread", type=number, metavar="N")
    parser.add_argument("--trace", action="store_true")
    parser.add_argument("--backtrace", action="store_true")
    parser.add_argument("--if", dest="condition", help=argparse.SUPPRESS)
    parser.set_defaults(priority=0)
    return parser


@command(_break_parser("break"), category=B, split=break_split, complete="symbols", aliases=("b", "br"))
def break_(ctx: Any, args: argparse.Namespace) -> Result:
    """break LOCATION [thread N] [--trace] [--backtrace] [if CONDITION]

    A software breakpoint (an int3 written into the code): stop before the
    instruction at LOCATION runs. LOCATION is FUNCTION (after its prologue, as gdb),
    *ADDRESS or *FUNCTION (that very byte), FUNCTION+OFFSET, FILE:LINE, LINE (in
    the current file) or LIB:FUNCTION (pending until LIB is loaded, at startup
    or by dlopen). A line without code moves to the next line that has some, and
    says so. A FUNCTION inlined in several places stops at each (1.1, 1.2, ...), and
    so does a FILE:LINE of inlined code (one location per inlined copy, as gdb); so
    does a name defined in several places (static functions of several files, the
    program and its libraries, ld.so's copies, older symbol versions: a library's
    locations are added when it loads). An IFUNC (libc's strlen) breaks in the
    function its resolver chose once known, else on the resolver (said "at
    gnu-indirect-function resolver"; alone there, its hits count without a stop
    and it then moves to the chosen function, as gdb 13 does). Any
    number of them, none uses a debug register; the int3 bytes are invisible to print,
    x, disassemble and memory reads, and are removed before the process is let go
    (detach, quit, errors, signals) and from forked children. thread N: only thread N stops
    (gdb's number, see `info threads`; a kernel TID of the process that is no number works too);
    the breakpoint is deleted when that thread exits, as in gdb."""
    return _add_break(ctx, args, temporary=False)


@command(_break_parser("tbreak"), category=B, split=break_split, complete="symbols")
def tbreak(ctx: Any, args: argparse.Namespace) -> Result:
    """tbreak LOCATION [thread N] [if CONDITION]

    Like break, but the breakpoint is deleted when it first stops the program."""
    return _add_break(ctx, args, temporary=True)


@command(_bp_parser("hbreak", code=True), category=B, split=break_split, complete="symbols", aliases=("hb",))
def hbreak(ctx: Any, args: argparse.Namespace) -> Result:
    """hbreak LOCATION [--priority P] [--thread N] [--trace [--no-stop]] [--backtrace] [if CONDITION]

    A hardware execute breakpoint: stop before the instruction at LOCATION runs.
    LOCATION is FUNCTION, FUNCTION+OFFSET, FILE:LINE, *ADDRESS or LIB:FUNCTION. The
    code is not modified (no int3), so it works on read-only and shared code.
    --trace --no-stop records each execution without stopping (as for watch)."""
    return _add_hbreak(ctx, args, temporary=False)


@command(_bp_parser("thbreak", code=True), category=B, split=break_split, complete="symbols")
def thbreak(ctx: Any, args: argparse.Namespace) -> Result:
    """thbreak LOCATION [--priority P] [--thread N] [if CONDITION]

    Like hbreak, but the breakpoint is deleted when it is first hit."""
    return _add_hbreak(ctx, args, temporary=True)


def one_id(word: str) -> int:
    """One breakpoint number (no range): for condition and ignore."""
    ids = parse_ids([word])
    if len(ids) != 1 or "-" in word:
        raise UsageError(f"give one breakpoint number, not {word!r}")
    return ids[0]


def _ids_parser(name: str) -> CommandParser:
    parser = CommandParser(name)
    parser.add_argument("ids", nargs="*", metavar="N")
    return parser


def selected(ctx: Any, words: list[str]) -> list[Any]:
    """The breakpoints named (all of them if none is); every number is checked first."""
    session = ctx.session
    if not words:
        return list(session.breakpoints.values())
    return [session.get_breakpoint(n) for n in dict.fromkeys(parse_ids(words))]


@command(_ids_parser("delete"), category=B, aliases=("d",))
def delete(ctx: Any, args: argparse.Namespace) -> Result:
    """delete [N...]

    Deletes breakpoints N (numbers or ranges such as 2-4); all of them without N.
    Their debug registers are freed in every thread at once."""
    bps = selected(ctx, args.ids)
    for bp in bps:
        ctx.session.delete(bp)
        ctx.temporary.discard(bp.id)
    return Result("delete", {"ids": [bp.id for bp in bps]})


_condition_parser = CommandParser("condition")
_condition_parser.add_argument("id", metavar="N")
_condition_parser.add_argument("expr", nargs="?", metavar="EXPR")


@command(_condition_parser, category=B, split=first_then_raw, complete="symbols")
def condition(ctx: Any, args: argparse.Namespace) -> Result:
    """condition N [EXPR]

    Breakpoint N stops only when EXPR is true (non-zero); without EXPR it stops
    every time again. In EXPR, `new` and `old` are the watched value after and before
    the access. A condition that cannot be evaluated stops, with a warning."""
    bp = ctx.session.get_breakpoint(one_id(args.id))
    ctx.session.set_condition(bp, args.expr)
    text = f"Breakpoint {bp.id} now unconditional." if not bp.condition else ""
    return Result("condition", {"id": bp.id, "condition": bp.condition}, text)


_ignore_parser = CommandParser("ignore")
_ignore_parser.add_argument("id", metavar="N")
_ignore_parser.add_argument("count", type=number, metavar="COUNT")


@command(_ignore_parser, category=B)
def ignore(ctx: Any, args: argparse.Namespace) -> Result:
    """ignore N COUNT

    The next COUNT hits of breakpoint N do not stop (and run no commands)."""
    bp = ctx.session.get_breakpoint(one_id(args.id))
    if args.count < 0 or args.count >= 1 << 63:
        raise UsageError(f"ignore count must be between 0 and 2^63-1, not {args.count}")
    bp.ignore_count = args.count
    if args.count == 0:
        text = f"Will stop next time breakpoint {bp.id} is reached."
    elif args.count == 1:
        text = f"Will ignore next crossing of breakpoint {bp.id}."
    else:
        text = f"Will ignore next {args.count} crossings of breakpoint {bp.id}."
    return Result("ignore", {"id": bp.id, "ignore": bp.ignore_count}, text)


@command(_ids_parser("commands"), category=B)
def commands(ctx: Any, args: argparse.Namespace) -> None:
    """commands [N...]

    Gives breakpoints N (default: the last one set) commands to run when they stop
    the program, one per line, ended by a line saying just `end`. A first line
    `silent` suppresses the hit report; `continue` resumes the program (the lines
    after it are not run). An empty block removes the commands. In -x files and
    -ex sequences the lines follow as separate lines or -ex arguments."""
    if args.ids:
        bps = selected(ctx, args.ids)
    elif ctx.last_bp_id is not None and ctx.last_bp_id in ctx.session.breakpoints:
        bps = [ctx.session.breakpoints[ctx.last_bp_id]]
    else:
        raise UsageError("no breakpoint given and none was set; use commands N")
    ctx.start_commands(bps)


@command(category=B)
def end(ctx: Any, args: argparse.Namespace) -> None:
    """end

    Ends a `commands` block; meaningless anywhere else."""
    raise UsageError('"end" without "commands": it ends a commands block')
