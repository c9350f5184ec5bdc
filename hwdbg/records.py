"""Plain records of what happened, shared by the Python API, the REPL and --json.

Every record serialises with ``to_json()`` to the object ``--json`` prints.
"""
from __future__ import annotations

import enum
from dataclasses import asdict, field
from typing import Any, Optional, Sequence

from .recordtype import record


class Kind(str, enum.Enum):
    """What a logical breakpoint traps on. A str, so JSON and ``hit.kind == "watch"`` keep working."""

    WATCH = "watch"  # writes that change the value (gdb's watch)
    RWATCH = "rwatch"  # reads (emulated on x86-64: accesses that leave the value unchanged)
    AWATCH = "awatch"  # every access
    HBREAK = "hbreak"  # execution of an instruction (a debug register)
    BREAK = "break"  # execution of an instruction (an int3 in the code)

    def __str__(self) -> str:
        return self.value

    @property
    def is_data(self) -> bool:
        return self not in (Kind.HBREAK, Kind.BREAK)


@record(frozen=True)
class Frame:
    pc: int
    function: Optional[str] = None
    offset: int = 0
    file: Optional[str] = None
    line: Optional[int] = None
    module: Optional[str] = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@record(slots=True)
class Hit:
    """One hit of one logical breakpoint in one thread (not frozen: built on the hot path)."""

    id: int
    kind: Kind
    expr: str
    address: int
    length: int
    tid: int
    pc: int
    old: Optional[int]
    new: Optional[int]
    function: Optional[str] = None
    file: Optional[str] = None
    line: Optional[int] = None
    backtrace: Optional[tuple[Frame, ...]] = None
    stopped: bool = False  # this hit stops the target (it is reported with the stop), else it is traced
    note: Optional[str] = None  # why old/new are None (--no-stop: the target did not stop to be read)
    time: Optional[int] = None  # --no-stop: the kernel's timestamp of the access (perf clock, ns)
    syscall: Optional[str] = None  # a write by the kernel during this system call (pc: its syscall instruction)
    syscall_args: Optional[dict[str, int]] = None  # the arguments that matter (fd, count, ...)
    syscall_result: Optional[int] = None  # what it returned (-errno on failure)
    changed: Optional[tuple[int, int]] = None  # page watches: (address, length) of the bytes old/new are of

    @property
    def syscall_text(self) -> str:
        """``read(fd=3, count=64) = 64``, for a kernel write."""
        args = ", ".join(f"{k}={v}" for k, v in (self.syscall_args or {}).items())
        return f"{self.syscall}({args}) = {self.syscall_result}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"event": "hit", "id": self.id, "kind": str(self.kind), "expr": self.expr,
                               "address": self.address, "length": self.length, "tid": self.tid, "pc": self.pc,
                               "old": self.old, "new": self.new}
        if self.time is not None:
            out["time"] = self.time
        out.update(function=self.function, file=self.file, line=self.line)
        if self.note is not None:
            out["note"] = self.note
        if self.backtrace is not None:
            out["backtrace"] = [f.to_json() for f in self.backtrace]
        if self.changed is not None:
            out["changed"] = {"address": self.changed[0], "length": self.changed[1]}
        if self.syscall is not None:
            out.update(writer="kernel", syscall=self.syscall, syscall_args=dict(self.syscall_args or {}),
                       syscall_result=self.syscall_result)
        return out


@record(frozen=True)
class Stopped:
    """The target is stopped and waits for a command."""

    reason: str  # breakpoint | step | finish | until | signal | interrupted | int3 (the program's own) | timeout
    # | fork | vfork | vforkdone | exec (only when Session.fork_events/exec_events ask for them)
    tid: int
    pc: int
    hits: tuple[Hit, ...] = ()
    signal: Optional[str] = None
    where: Optional[Frame] = None
    message: Optional[str] = None
    # How a person sees a stop that ends a step (gdb's print_stop_event): "line" (the source line),
    # "frame" (the frame, then the line), with "-address" when the pc is inside a line. Not in JSON.
    style: Optional[str] = None
    child: Optional[int] = None  # the new process of a fork/vfork stop (hwdbg serve). Not in JSON.

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"event": "stopped", "reason": self.reason, "tid": self.tid, "pc": self.pc}
        if self.signal:
            out["signal"] = self.signal
        if self.where is not None:
            out.update(function=self.where.function, file=self.where.file, line=self.where.line)
        if self.message:
            out["message"] = self.message
        return out


@record(frozen=True)
class Exited:
    code: int
    pid: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"event": "exited", "code": self.code, "pid": self.pid}


@record(frozen=True)
class Killed:
    signal: str
    pid: int = 0
    core: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"event": "killed", "signal": self.signal, "pid": self.pid, "core": self.core}


@record(frozen=True)
class Notice:
    """Something worth telling that does not stop the target (new thread, exec, signal passed on...)."""

    what: str  # thread-created | thread-exited | exec | signal | breakpoint-dropped | breakpoint-deleted | installed | uninstalled
    message: str
    tid: Optional[int] = None
    data: dict[str, Any] = field(default_factory=dict)
    routine: bool = False  # expected, tells a person nothing new (shown in JSON only)

    def to_json(self) -> dict[str, Any]:
        return {"event": self.what, "message": self.message, "tid": self.tid, **self.data}


@record(frozen=True)
class Writer:
    """One instruction that wrote a watched range, with its hits of the last run aggregated."""

    id: int  # the breakpoint
    pc: int  # as in its hits: for data breakpoints the address after the writing instruction
    function: Optional[str]
    offset: int
    file: Optional[str]
    line: Optional[int]
    count: int
    threads: tuple[int, ...]
    first: tuple[Optional[int], Optional[int]]  # (old, new) of its first write
    last: tuple[Optional[int], Optional[int]]
    backtrace: Optional[tuple[Frame, ...]] = None  # its first hit's (none from --no-stop records)
    timeline: tuple[int, ...] = ()  # its writes per bin of hits_per_bin hits of the breakpoint
    hits_per_bin: int = 1
    syscall: Optional[str] = None  # the system call, for the kernel's writes (pc: its syscall instruction)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "pc": self.pc, "function": self.function, "offset": self.offset, "file": self.file,
                "line": self.line, "count": self.count, "threads": list(self.threads),
                "first": {"old": self.first[0], "new": self.first[1]},
                "last": {"old": self.last[0], "new": self.last[1]}, "syscall": self.syscall,
                "backtrace": None if self.backtrace is None else [f.to_json() for f in self.backtrace],
                "timeline": list(self.timeline), "hits_per_bin": self.hits_per_bin}


def writers_table(rows: Sequence[Writer]) -> str:
    """The writers as a gdb-style table. It lives here, not in ui, because the pytest plugin
    (beside ui, not above it) prints the same table when an assertion fails."""
    if not rows:
        return "No writes."

    def value(v: Optional[int]) -> str:
        return "?" if v is None else str(v)

    table = [("Num", "Count", "Writer", "At", "Threads", "First -> last")]
    backtraces = []
    for w in rows:
        many = f" (+{len(w.threads) - 3})" if len(w.threads) > 3 else ""
        writer = f"{w.function}+{w.offset}" if w.function else f"{w.pc:#x}"
        if w.syscall is not None:
            writer = f"kernel: {w.syscall} ({writer})"
        table.append((str(w.id), str(w.count), writer,
                      f"{w.file.rsplit('/', 1)[-1]}:{w.line}" if w.file and w.line else f"{w.pc:#x}",
                      ",".join(map(str, w.threads[:3])) + many,
                      f"{value(w.first[0])} -> {value(w.first[1])} ... {value(w.last[0])} -> {value(w.last[1])}"))
        backtraces.append(w.backtrace or ())
    widths = [max(len(r[i]) for r in table) for i in range(5)]
    lines = []
    for n, r in enumerate(table):
        cells = [r[0].ljust(widths[0]), r[1].rjust(widths[1])] + [r[i].ljust(widths[i]) for i in (2, 3, 4)]
        lines.append("  ".join(cells + [r[5]]))
        for depth, frame in enumerate(backtraces[n - 1] if n else ()):
            where = frame.function or "??"
            if frame.file and frame.line:
                where += f" at {frame.file.rsplit('/', 1)[-1]}:{frame.line}"
            lines.append(f"      #{depth:<2} {frame.pc:#x} in {where}")
    return "\n".join(lines)


Event = Any  # Hit | Stopped | Exited | Killed | Notice
