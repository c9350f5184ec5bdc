"""The breakpoint table: the user's breakpoints, and their life on the hw layer (install,
delete, enable, priority, conditions, re-arming on a fresh image, perf counters)."""
from __future__ import annotations

import itertools
from collections import deque
from contextlib import AbstractContextManager
from typing import Any, Callable, Iterator, Optional

from .. import expr
from .. import records as rec
from ..errors import AddressError, HwdbgError, LibraryNotLoaded, SlotError, UsageError, ValidationError
from ..hw.breakpoint import BreakpointManager, HwBreakpoint
from ..hw.counting import Counter
from ..hw.ranges import split_range
from ..hw.router import SlotHit
from ..linux import procfs
from ..process.control import Inferior
from ..records import Kind
from . import scoped
from .model import ACCESS, KEPT_HITS, UserBreakpoint, kind_of
from .notrace import NoStopTraces, check_options


def parse_condition(text: Optional[str]) -> Any:
    return expr.parse(text) if text else None


class BreakpointTable:
    def __init__(self, manager: BreakpointManager, *, process: Callable[[], Inferior], alive: Callable[[], bool],
                 all_stopped: Callable[[Inferior], AbstractContextManager],
                 read_value: Callable[[UserBreakpoint], Optional[bytes]],
                 triggered: Callable[[UserBreakpoint, SlotHit], None], emit: Callable[[Any], None],
                 notrace: NoStopTraces, pages: Any = None) -> None:
        self.manager = manager
        self.notrace = notrace
        self.pages = pages  # pagewatch.PageWatches: the backend of watches too large for the debug registers
        self.breakpoints: dict[int, UserBreakpoint] = {}
        self._process, self._alive, self._all_stopped = process, alive, all_stopped
        self._read_value, self._triggered, self._emit = read_value, triggered, emit
        self._ids = itertools.count(1)

    def __iter__(self) -> Iterator[UserBreakpoint]:
        return iter(list(self.breakpoints.values()))

    def get(self, ident: Any) -> UserBreakpoint:
        try:
            return self.breakpoints[int(ident)]
        except (KeyError, ValueError, TypeError):
            raise UsageError(f"no breakpoint number {ident}; see `info breakpoints`") from None

    # ------------------------------------------------------------ changes

    def add(self, kind: Any, addr: int, length: int, *, expr: Optional[str] = None, priority: int = 0,
            thread: Optional[int] = None, condition: Optional[str] = None, trace: bool = False,
            changes_only: Optional[bool] = None, backtrace: bool = False, signed: bool = False,
            on_hit: Optional[Callable[[rec.Hit], Any]] = None,
            resolve: Optional[Callable[[], tuple[int, int]]] = None, count: bool = False,
            keep: Optional[int] = KEPT_HITS, temporary: bool = False, pending: bool = False,
            kernel: bool = False, scope: Any = None, no_stop: bool = False, more: tuple = ()) -> UserBreakpoint:
        kind = kind_of(kind)
        if kernel and (kind is not Kind.WATCH or count or no_stop):
            raise UsageError("--kernel reports the kernel's writes: it goes with watch (not rwatch, awatch, "
                             "hbreak, --count or --no-stop)")
        if no_stop:
            check_options(kind, condition=condition, on_hit=on_hit, count=count)
            trace = True
        if count and (kind is Kind.RWATCH or condition or on_hit or backtrace):
            raise UsageError("--count counts in the CPU without stopping: it cannot filter reads (rwatch), "
                             "test conditions, call back or take backtraces")
        condition_ast = parse_condition(condition)
        if kind in (Kind.HBREAK, Kind.BREAK):
            length = self.manager.arch.exec_length
        if kind is Kind.BREAK and count:
            raise UsageError("--count needs a debug register; use hbreak")
        if 0 <= addr < procfs.mmap_min_addr() and not pending:
            raise AddressError(f"{addr:#x} is below vm.mmap_min_addr ({procfs.mmap_min_addr():#x}): no program "
                               "can have memory there, so this breakpoint could never trigger")
        if kind.is_data and self._alive():
            self.pages.check_own(self._process().pid, addr, length)
        paged = kind is Kind.WATCH and not count and not no_stop and self._too_large(addr, length)
        if paged:
            self.pages.check_length(length)
        elif kind is not Kind.BREAK:
            self.manager.make_chunks(addr, length, ACCESS[kind])  # validate before anything changes
        bp = UserBreakpoint(id=next(self._ids), kind=kind, expr=expr or f"*{addr:#x}", addr=addr, length=length,
                            priority=priority, thread=thread,
                            condition=" ".join(condition.split()) if condition else None, trace=trace,
                            changes_only=(kind is Kind.WATCH) if changes_only is None else changes_only,
                            backtrace=backtrace, signed=signed, on_hit=on_hit, resolve=resolve, count=count,
                            hits=deque(maxlen=keep), condition_ast=condition_ast, temporary=temporary,
                            pending=pending, kernel=kernel, paged=paged, scope=scope, no_stop=no_stop, more=more)
        if self._alive():
            self.install(bp)
            self._guard(bp, True)
        self.breakpoints[bp.id] = bp
        return bp

    def _guard(self, bp: UserBreakpoint, armed: bool) -> None:
        """The internal int3 that ends a scoped watch when its frame returns (session/scoped.py)."""
        if bp.scope is None or not self._alive():
            return
        inf = self._process()
        with self._all_stopped(inf):
            if armed:
                try:
                    inf.breaks.insert(bp.scope.return_address, scoped.guard_owner(bp.id))
                except HwdbgError:
                    self.delete(bp)
                    raise
            else:
                inf.breaks.remove(bp.scope.return_address, scoped.guard_owner(bp.id))

    def install(self, bp: UserBreakpoint) -> None:
        """Registers bp with the hw layer on the stopped process (all or nothing)."""
        inf = self._process()
        if bp.count:
            return self._install_counter(bp, inf)
        if bp.paged:
            if bp.enabled:
                with self._all_stopped(inf):
                    self.pages.arm(inf, bp)
            return
        if bp.no_stop:
            if bp.thread is not None and bp.thread not in inf.threads:
                raise ValidationError(f"no thread {bp.thread} in process {inf.pid}; see `info threads`")
            with self._all_stopped(inf):
                return self.notrace.install(bp, [bp.thread] if bp.thread is not None else list(inf.threads))
        if bp.kind is Kind.BREAK:
            return self._insert(bp, inf)
        with self._all_stopped(inf):
            if bp.thread is not None and bp.thread not in inf.threads:
                raise ValidationError(f"no thread {bp.thread} in process {inf.pid}; see `info threads`")
            bp.hw = self.manager.register_user_hw_breakpoint(
                bp.addr, bp.length, bp.access, priority=bp.priority, tid=bp.thread, bp_id=bp.id,
                triggered=lambda _hw, hit: self._triggered(bp, hit),
                installed=lambda hw: self._emit(rec.Notice("installed", f"breakpoint {hw.id} installed",
                                                           data={"id": hw.id}, routine=self._routine(hw, True))),
                uninstalled=lambda hw: self._emit(rec.Notice("uninstalled", f"breakpoint {hw.id} waits for a slot",
                                                             data={"id": hw.id}, routine=self._routine(hw, False))))
            if not bp.enabled:
                self.manager.modify_user_hw_breakpoint(bp.hw, enabled=False)
            bp.value = self._read_value(bp)

    def _insert(self, bp: UserBreakpoint, inf: Inferior) -> None:
        """A software breakpoint: its int3 goes in now if it is enabled (no debug register)."""
        if bp.thread is not None and bp.thread not in inf.threads:
            raise ValidationError(f"no thread {bp.thread} in process {inf.pid}; see `info threads`")
        if bp.enabled and not bp.inserted and not bp.pending:
            with self._all_stopped(inf):
                done: list[int] = []
                for addr in bp.live_addresses:
                    try:
                        inf.breaks.insert(addr, bp.id)
                    except HwdbgError as exc:
                        for placed in done:  # all or nothing
                            inf.breaks.remove(placed, bp.id)
                        raise AddressError(f"cannot insert a breakpoint at {addr:#x}: {exc}") from None
                    done.append(addr)
            bp.inserted = True

    def move_break(self, bp: UserBreakpoint, site: Any) -> None:
        """A breakpoint on an IFUNC's resolver goes to the function it chose (session/ifunc_stops.py)."""
        self._remove(bp)
        bp.addr, bp.more, bp.sites, bp.disabled_locations = site.addr, (), (site,), set()
        self._insert(bp, self._process())

    def _remove(self, bp: UserBreakpoint) -> None:
        if bp.inserted and self._alive():
            with self._all_stopped(self._process()):
                for addr in bp.live_addresses:
                    self._process().breaks.remove(addr, bp.id)
        bp.inserted = False

    def _routine(self, hw: HwBreakpoint, installed: bool) -> bool:
        """Whether a slot change tells a person nothing: a breakpoint armed as it was set (at
        run, attach, or by its own command), or one that only waits because the process is gone.
        An eviction, and the return of an evicted breakpoint, are worth a line."""
        bp = self.breakpoints.get(hw.id)
        if bp is None or not self._alive():
            return True
        if installed:
            evicted, bp.evicted = bp.evicted, False
            return not evicted
        if not hw.enabled:
            return True  # disabled (by the user, or for a call): it gave its slot up, nothing took it
        bp.evicted = True
        return False

    def _install_counter(self, bp: UserBreakpoint, inf: Inferior) -> None:
        """watch --count: perf counters on every thread, and their slots kept free of ptrace."""
        chunks = self.manager.make_chunks(bp.addr, bp.length, bp.access)
        with self._all_stopped(inf):
            self.manager.reserved += len(chunks)
            counter = Counter(chunks)
            try:
                if self.manager.reserved > self.manager.arch.nslots:
                    left = self.manager.arch.nslots - self.manager.reserved + len(chunks)
                    raise SlotError(f"--count needs {len(chunks)} debug register(s) per thread and only "
                                    f"{left} are left for counting")
                self.manager.sync()  # moves ptrace breakpoints out of the reserved slots first
                for tid in inf.threads:
                    counter.add_thread(tid)
            except BaseException:
                counter.close()
                self.manager.reserved -= len(chunks)
                self.manager.sync()
                raise
            bp.counter = counter

    def release_counter(self, bp: UserBreakpoint) -> None:
        """Closes a breakpoint's perf events (--count, --no-stop), keeping what they counted."""
        self.notrace.release(bp)
        if bp.counter is not None:
            bp.counted += bp.counter.total()
            bp.counter.close()
            bp.counter = None
            self.manager.reserved -= len(self.manager.make_chunks(bp.addr, bp.length, bp.access))

    def _too_large(self, addr: int, length: int) -> bool:
        """More than the debug registers can cover: page protection takes it."""
        arch = self.manager.arch
        if length <= 0:
            return False  # make_chunks refuses it with its own message
        return length > arch.nslots * arch.max_length or len(split_range(addr, length, arch.lengths)) > arch.nslots

    def _disarm_pages(self, bp: UserBreakpoint) -> None:
        if bp.armed_pages:
            inf = self._process() if self._alive() else None
            if inf is not None:
                with self._all_stopped(inf):
                    self.pages.disarm(inf, bp)
            else:
                self.pages.disarm(None, bp)

    def delete(self, bp: UserBreakpoint) -> None:
        self._disarm_pages(bp)
        self.release_counter(bp)
        self._remove(bp)
        self._guard(bp, False)
        if bp.hw is not None and self._alive():
            with self._all_stopped(self._process()):
                self.manager.unregister_hw_breakpoint(bp.hw)
        self.breakpoints.pop(bp.id, None)
        bp.hw = None

    def set_location_enabled(self, bp: UserBreakpoint, number: int, enabled: bool) -> None:
        """gdb's ``enable N.M`` / ``disable N.M``: one location of a code breakpoint; its int3
        comes out (or goes in) at once, the others untouched."""
        inserted = bp.inserted
        self._remove(bp)  # with the set of locations it was inserted with
        (bp.disabled_locations.discard if enabled else bp.disabled_locations.add)(number)
        if inserted and self._alive():
            self._insert(bp, self._process())

    def set_enabled(self, bp: UserBreakpoint, enabled: bool) -> None:
        if bp.count or bp.no_stop:
            if not enabled:
                self.release_counter(bp)
            elif bp.counter is None and bp.tracer is None and self._alive():
                self.install(bp)
            bp.enabled = enabled
            return
        if bp.kind is Kind.BREAK:
            bp.enabled = enabled
            if not enabled:
                self._remove(bp)
            elif self._alive():
                self._insert(bp, self._process())
            return
        if bp.paged:
            if not enabled:
                self._disarm_pages(bp)
            bp.enabled = enabled
            if enabled and self._alive() and not bp.armed_pages:
                self.install(bp)
            return
        if bp.hw is not None and self._alive():
            with self._all_stopped(self._process()):
                self.manager.modify_user_hw_breakpoint(bp.hw, enabled=enabled)
        bp.enabled = enabled

    def set_priority(self, bp: UserBreakpoint, priority: int) -> None:
        if bp.hw is not None and self._alive():
            with self._all_stopped(self._process()):
                self.manager.modify_user_hw_breakpoint(bp.hw, priority=priority)
        bp.priority = priority

    def set_condition(self, bp: UserBreakpoint, condition: Optional[str]) -> None:
        bp.condition_ast = parse_condition(condition)
        bp.condition = " ".join(condition.split()) if condition else None

    # ------------------------------------------------------------ threads and images

    def thread_created(self, tid: int) -> None:
        self.notrace.thread_created(tid, lambda bp: bp.thread is None)
        for bp in self.breakpoints.values():
            if bp.counter is not None:
                bp.counter.add_thread(tid)  # before ptrace writes any of its slots

    def thread_exited(self, tid: int) -> None:
        self.notrace.thread_exited(tid)
        for bp in self.breakpoints.values():
            if bp.counter is not None:
                bp.counter.remove_thread(tid)

    def release_counters(self) -> None:
        for bp in self.breakpoints.values():
            self.release_counter(bp)

    def rearm(self, why: str) -> None:
        """(Re-)registers every breakpoint on a fresh image (start, exec); reports those that cannot be."""
        for bp in self:
            self.release_counter(bp)
            bp.evicted = False
            bp.inserted = False  # a fresh image: the process layer forgot the old one's int3s
            if bp.hw is not None:
                try:
                    self.manager.unregister_hw_breakpoint(bp.hw)
                except HwdbgError:
                    pass
                bp.hw = None
            if bp.thread is not None or bp.scope is not None:
                self.breakpoints.pop(bp.id)
                gone = "thread" if bp.thread is not None else "frame"
                self._emit(rec.Notice("breakpoint-dropped", f"breakpoint {bp.id} dropped: its {gone} is gone",
                                      data={"id": bp.id}))
                continue
            try:
                if bp.kind is Kind.BREAK:
                    bp.pending = False
                if bp.resolve is not None:
                    bp.addr, bp.length = bp.resolve()
                elif why == "exec":
                    self._process().read_memory(bp.addr, 1)  # still mapped in the new image?
                self.install(bp)
            except LibraryNotLoaded:
                if bp.kind is not Kind.BREAK:
                    raise
                bp.pending = True  # resolved when the library loads (see resolve_pending)
            except HwdbgError as exc:
                bp.enabled = False
                self._emit(rec.Notice("breakpoint-dropped", f"breakpoint {bp.id} ({bp.expr}) disabled after "
                                      f"{why}: {exc}", data={"id": bp.id}))

    @property
    def any_pending(self) -> bool:
        return any(bp.pending and bp.enabled for bp in self.breakpoints.values())

    def resolve_pending(self) -> None:
        """Libraries were loaded (the dynamic linker's hook): breaks waiting for them go in."""
        for bp in self:
            if not (bp.pending and bp.enabled) or bp.resolve is None:
                continue
            try:
                bp.addr = bp.resolve()[0]
                bp.pending = False
                self._insert(bp, self._process())
            except LibraryNotLoaded:
                continue
            except HwdbgError as exc:
                bp.pending, bp.enabled = False, False
                self._emit(rec.Notice("breakpoint-dropped", f"breakpoint {bp.id} ({bp.expr}) disabled: {exc}",
                                      data={"id": bp.id}))
                continue
            self._emit(rec.Notice("breakpoint-resolved", f"breakpoint {bp.id} ({bp.expr}) resolved at "
                                  f"{bp.addr:#x}", data={"id": bp.id, "address": bp.addr}))

    @property
    def any_function_breaks(self) -> bool:
        return any(bp.sites for bp in self.breakpoints.values())

    def reresolve(self) -> None:
        """Libraries came or went (the loader's hook): each ``break FUNCTION`` takes gdb's
        locations anew, silently (breakpoint_re_set): a copy in the new library is one more."""
        for bp in self:
            if bp.kind is not Kind.BREAK or not bp.sites or bp.pending or bp.resolve is None:
                continue
            inserted, before = bp.inserted, (bp.addr, bp.more, bp.sites, bp.line)
            self._remove(bp)
            try:
                bp.addr = bp.resolve()[0]
            except HwdbgError:
                bp.addr, bp.more, bp.sites, bp.line = before
            if bp.addresses != (before[0], *before[1]):
                bp.disabled_locations = set()
            if inserted:
                self._insert(bp, self._process())

    def refresh_values(self, addr: int, size: int) -> None:
        """Memory [addr, addr + size) was written by the debugger: watches over it see the new
        bytes as their current value, so the next hit reports the right ``old``."""
        for bp in self.breakpoints.values():
            if bp.overlaps(addr, size):
                bp.value = self._read_value(bp)
