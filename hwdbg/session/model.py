"""The user's breakpoints: what a logical breakpoint is, as the session and the front ends see it."""
from __future__ import annotations

from collections import deque
from dataclasses import field
from typing import Any, Callable, Optional

from .. import records as rec
from ..arch import BpType
from ..errors import UsageError
from ..hw.breakpoint import HwBreakpoint
from ..hw.counting import Counter
from ..hw.perftrace import TraceEvents
from ..records import Kind
from ..recordtype import record
from .writers import WriterTable

ACCESS = {Kind.WATCH: BpType.W, Kind.RWATCH: BpType.R, Kind.AWATCH: BpType.RW, Kind.HBREAK: BpType.X}
KEPT_HITS = 10_000  # per breakpoint, by default: hit_count counts them all, memory stays flat


def kind_of(name: Any) -> Kind:
    try:
        return Kind(name)
    except ValueError:
        raise UsageError(f"unknown breakpoint kind {name!r}; use watch, rwatch, awatch, hbreak or break") from None


@record(eq=False)
class UserBreakpoint:
    """A logical breakpoint as the user sees it; its number never depends on the slot."""

    id: int
    kind: Kind
    expr: str
    addr: int
    length: int
    priority: int = 0
    thread: Optional[int] = None
    condition: Optional[str] = None
    ignore_count: int = 0
    trace: bool = False
    changes_only: bool = False
    backtrace: bool = False
    signed: bool = False
    commands: list[str] = field(default_factory=list)
    on_hit: Optional[Callable[[rec.Hit], Any]] = None
    hit_count: int = 0
    hits: deque = field(default_factory=lambda: deque(maxlen=KEPT_HITS))
    writers: WriterTable = field(default_factory=WriterTable)  # every hit of the run, grouped by pc
    value: Optional[bytes] = None  # the watched bytes when last looked at
    hw: Optional[HwBreakpoint] = None
    counter: Optional[Counter] = None  # watch --count: perf counts, never stops
    resolve: Optional[Callable[[], tuple[int, int]]] = None  # re-resolution after exec/restart
    enabled: bool = True
    count: bool = False
    counted: int = 0  # counts of earlier runs/images of a --count watch
    condition_ast: Any = None
    evicted: bool = False  # lost its slots to higher priorities while the process ran
    temporary: bool = False  # deleted by the session at its first stop
    inserted: bool = False  # break: its int3 is in the code
    pending: bool = False  # break on LIB:FUNCTION whose library is not loaded yet
    kernel: bool = False  # watch --kernel: writes by the kernel during system calls are hits too
    paged: bool = False  # too large for the debug registers: page protection (pagewatch.py)
    armed_pages: bool = False  # its pages are protected now
    scope: Any = None  # a watch on a local: the frame it lives in (session/scoped.py Scope)
    no_stop: bool = False  # --no-stop: perf records, the target never stops (session/notrace.py)
    tracer: Optional[TraceEvents] = None  # its events while the process lives
    lost: int = 0  # --no-stop: records the kernel dropped (ring full), reported exactly
    more: tuple = ()  # break: its further locations (a function's inlined copies), addr being the first
    line: Optional[int] = None  # break FILE:LINE: the line gdb reports for it (locations.CodeSite.line)
    disabled_locations: set = field(default_factory=set)  # break: numbers (1-based) of locations disabled
    sites: tuple = ()  # break FUNCTION: how gdb shows each location (symbols/function_sites.py Site), by address

    @property
    def addresses(self) -> tuple:
        """Every address of the breakpoint: gdb's locations N.1, N.2, ... in this order."""
        return (self.addr, *self.more)

    @property
    def live_addresses(self) -> tuple:
        """The addresses of its enabled locations: where its int3s go."""
        return tuple(a for n, a in enumerate(self.addresses, 1) if n not in self.disabled_locations)

    def locations(self) -> list[dict[str, Any]]:
        """Each location: its number (gdb's "1.2"), address and whether it is enabled itself."""
        return [{"number": f"{self.id}.{n}", "address": addr, "enabled": n not in self.disabled_locations}
                for n, addr in enumerate(self.addresses, 1)]

    @property
    def access(self) -> BpType:
        return ACCESS[self.kind]

    @property
    def status(self) -> str:
        if not self.enabled:
            return "DISABLED"
        if self.counter is not None:
            return "COUNTING"
        if self.tracer is not None:
            return "TRACING"
        if self.kind is Kind.BREAK:
            return "INSTALLED" if self.inserted else "PENDING"
        if self.paged:
            return "INSTALLED" if self.armed_pages else "PENDING"
        if self.hw is None:
            return "PENDING"
        return self.hw.status.name

    @property
    def total(self) -> int:
        """Hits so far: trapped ones, or the perf count of a --count watch."""
        return self.counted + (self.counter.total() if self.counter is not None else self.hit_count)

    def overlaps(self, addr: int, size: int) -> bool:
        """Whether this data breakpoint watches any of the bytes [addr, addr + size)."""
        return self.kind.is_data and self.addr < addr + size and addr < self.addr + self.length

    def slots(self) -> dict[int, tuple[int, ...]]:
        return dict(self.hw.slots_by_tid) if self.hw else {}

    def to_json(self) -> dict[str, Any]:
        return {"event": "breakpoint", "id": self.id, "kind": str(self.kind), "expr": self.expr,
                "address": self.addr, "length": self.length, "status": self.status, "priority": self.priority,
                "thread": self.thread, "condition": self.condition, "ignore": self.ignore_count, "hits": self.total,
                "trace": self.trace, "kernel": self.kernel,
                "backend": "pages" if self.paged else "int3" if self.kind is Kind.BREAK else "perf"
                if self.count or self.no_stop else "debug registers",
                "slots": {str(t): list(s) for t, s in self.slots().items()},
                "no_stop": self.no_stop, "lost": self.lost, "locations": self.locations()}
