"""info breakpoints, info watchpoints, info writers: the breakpoint table as the user reads it."""
from __future__ import annotations

import argparse
import os
from typing import Any, Optional

from ...records import Kind, writers_table
from ...session import writers_of
from ...session.pagewatch import backend_text
from ..render import KIND_TYPES
from . import Category, CommandParser, Result, command
from .breakpoints import bp_json, file_shown, selected

B = Category.BREAKPOINTS


# ------------------------------------------------------------------ info breakpoints

def _info_parser(name: str) -> CommandParser:
    parser = CommandParser(name)
    parser.add_argument("ids", nargs="*", metavar="N")
    return parser


def breakpoint_table(ctx: Any, bps: list[Any]) -> str:
    if not bps:
        return "No breakpoints or watchpoints."
    rows = [f"{'Num':<5}{'Type':<16}{'Disp':<5}{'Enb':<4}{'Status':<12}{'Address':<20}{'Len':<5}What"]
    for bp in bps:
        flags = []
        if bp.trace:
            flags.append("trace, no-stop" if bp.no_stop else "trace")
        if bp.priority:
            flags.append(f"priority {bp.priority}")
        what = bp.expr
        if not bp.kind.is_data:
            frame = ctx.session.describe(bp.addr)
            if frame.function and frame.function != bp.expr:
                what += f" in {frame.function}"
            if frame.file and frame.line:  # the file as the line table names it (gdb)
                what += f" at {file_shown(ctx, bp.addr, frame.file)}:{frame.line}"
        labelled = _site(bp, bp.addr) if not bp.more else None
        if labelled is not None and labelled.label:  # no line info: a PLT stub, an IFUNC's resolver
            what = f"<{labelled.label}>"
        disp = "del" if bp.id in ctx.temporary or bp.temporary else "keep"
        enb = "y" if bp.enabled else "n"
        thread = None
        if bp.thread is not None:  # gdb's number of the thread (its TID once it has none)
            number = ctx.session.thread_numbers.number(bp.thread)
            thread = bp.thread if number is None else number
        suffix = f" thread {thread}" if thread is not None else ""  # gdb ends What with it too
        if bp.more:  # several locations: gdb's <MULTIPLE> row, each location on a row of its own after
            rows.append(f"{bp.id:<5}{KIND_TYPES[bp.kind]:<16}{disp:<5}{enb:<4}{bp.status:<12}{'<MULTIPLE>':<20}"
                        f"{bp.length:<5}{bp.expr}{suffix}")
        else:
            kind = "STT_GNU_IFUNC resolver" if labelled is not None and labelled.resolver else KIND_TYPES[bp.kind]
            rows.append(f"{bp.id:<5}{kind:<15} {disp:<5}{enb:<4}{bp.status:<12}{bp.addr:#018x}  "
                        f"{bp.length:<5}{what}{suffix}")
        if flags:
            rows.append(f"\t{', '.join(flags)}")
        if bp.condition:
            rows.append(f"\tstop only if {bp.condition}")
        if thread is not None:
            rows.append(f"\tstop only in thread {thread}")
        if bp.total:
            times = "time" if bp.total == 1 else "times"
            what = "counted" if bp.count else "breakpoint already hit"
            rows.append(f"\t{what} {bp.total} {times}")
        if bp.no_stop and bp.lost:
            rows.append(f"\t{bp.lost} record(s) lost (the kernel's ring was full)")
        if bp.ignore_count:
            rows.append(f"\tignore next {bp.ignore_count} hits")
        for tid, slots in sorted(bp.slots().items()):
            names = ", ".join(f"DR{s}" for s in slots)
            rows.append(f"\tthread {tid}: slot {names}")
        if bp.paged:
            rows.append(f"\tbackend: {backend_text(bp)}")
        if bp.kernel:
            rows.append(f"\tkernel writes: {ctx.session.kernel.mode(ctx.session.inferior)}")
        for line in bp.commands:
            rows.append(f"        {line}")
        if bp.more:
            rows += _location_rows(ctx, bp)
    return "\n".join(rows)


def _location_rows(ctx: Any, bp: Any) -> list[str]:
    """gdb's ``1.2  y  0x... in scale at t.c:10`` rows: the function is the one the breakpoint
    names (each location is a copy of it, inlined) or, for a line, the innermost one the location
    is in, inlined ones too; the line is the one asked for a line, else the line table's;
    ``y-``: enabled itself, its breakpoint disabled."""
    named = bp.expr.split(":")[-1]
    on_line = named.isdigit()  # FILE:LINE or LINE: each location names the function it is in
    rows = []
    for location in bp.locations():
        frame = ctx.session.describe(location["address"])
        site = _site(bp, location["address"])
        function = (ctx.session.innermost.name(location["address"], frame) or "??") if on_line else \
            (site.name if site is not None and site.name else named)
        line = bp.line if on_line and bp.line else frame.line  # gdb: the line asked (or moved to)
        enb = ("y" if location["enabled"] else "n") + ("" if bp.enabled or not location["enabled"] else "-")
        what = f"in {function}" + (f" at {os.path.basename(frame.file)}:{line}" if frame.file and line else "")
        if site is not None and site.label:  # no line info: gdb names the address
            what = f"<{site.label}>"
        rows.append(f"{location['number']:<26}{enb:<4}{'':<12}{location['address']:#018x}  {'':<5}{what}")
    return rows


def _site(bp: Any, addr: int) -> Any:
    """How gdb shows the location of ``bp`` at ``addr`` (a function_sites.Site), or None."""
    return next((site for site in getattr(bp, "sites", ()) if site.addr == addr), None)


def _info_breakpoints(ctx: Any, args: argparse.Namespace, name: str, kinds: Optional[set]) -> Result:
    bps = [bp for bp in selected(ctx, args.ids) if kinds is None or bp.kind in kinds]
    bps.sort(key=lambda bp: bp.id)
    text = breakpoint_table(ctx, bps)
    if kinds is not None and not bps:
        text = "No watchpoints."
    return Result(name, {"breakpoints": [bp_json(bp) for bp in bps]}, text)


@command(_info_parser("info breakpoints"), category=B, group="info", name="breakpoints", aliases=("break", "b"))
def info_breakpoints(ctx: Any, args: argparse.Namespace) -> Result:
    """info breakpoints [N...]

    Lists breakpoints and watchpoints: number, type, status (INSTALLED in every
    thread's debug registers, REGISTERED waiting for a free slot, DISABLED, or
    PENDING until the program runs), address, length, condition, hit count,
    commands, per thread the debug-register slot(s) it occupies, and for a watch
    too large for them the backend that took it (page protection: pages and cost
    per write) and for watch --kernel how kernel writes are seen."""
    return _info_breakpoints(ctx, args, "info breakpoints", None)


@command(_info_parser("info watchpoints"), category=B, group="info", name="watchpoints")
def info_watchpoints(ctx: Any, args: argparse.Namespace) -> Result:
    """info watchpoints [N...]

    Like info breakpoints, watchpoints only."""
    return _info_breakpoints(ctx, args, "info watchpoints", {Kind.WATCH, Kind.RWATCH, Kind.AWATCH})


@command(_info_parser("info writers"), category=B, group="info", name="writers")
def info_writers(ctx: Any, args: argparse.Namespace) -> Result:
    """info writers [N...]

    Who wrote watches N (all watches without N): their hits of the current or last
    run grouped by writing instruction, most writes first. One row per instruction:
    its function+offset and file:line, the threads that wrote, the count (exact: every hit
    counts, kept or not), the first and the last old -> new, and one sample backtrace:
    that of its first write (one unwind per writer, not per hit; none for --no-stop
    watches without --backtrace). The pc of a row is that of its hits: the
    address after the writing instruction. Valid after the program exited; `run`
    starts a new count."""
    rows = writers_of(selected(ctx, args.ids))
    return Result("info writers", {"writers": [w.to_json() for w in rows]}, writers_table(rows))
