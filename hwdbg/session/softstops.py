"""The session's side of software breakpoints: whose int3 a trap is, and the step-over.

A thread reported at one of our int3s has its pc set back to the breakpoint; before it runs
again it must execute the original instruction: the byte is restored, that thread alone
single-steps (every other thread stopped, so none runs past the address unseen), and the
int3 goes back. The step's own event is queued, so a debug-register hit during it is
handled like any other.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from ..errors import HwdbgError, LibraryNotLoaded
from ..locations import resolve_break
from ..process.control import Inferior
from ..process.swbreak import INT3
from ..records import Kind
from .hits import HitSemantics, TrapHits
from .model import UserBreakpoint


class SoftStops:
    LOADER = 0  # owner of the internal int3 on the dynamic linker's hook (breakpoint numbers start at 1)
    STEP = -1  # owner of the step engine's int3s (a return address, a function's body)

    def __init__(self, arch: Any, hits: HitSemantics, breakpoints: Callable[[], dict[int, UserBreakpoint]]) -> None:
        self.arch, self.hits, self._breakpoints = arch, hits, breakpoints
        self.over: dict[int, int] = {}  # tid -> breakpoint address it stands on, to step over

    def reset(self) -> None:
        self.over.clear()

    def claim(self, inf: Inferior, tid: int) -> Optional[int]:
        """If this int3 trap is ours, sets the pc back onto the breakpoint and returns its address."""
        regs = inf.get_regs(tid)
        addr = self.arch.get_pc(regs) - 1
        breaks = inf.breaks
        if not breaks.is_ours(addr):
            # One we removed while this trap waited in the queue (gdb's moribund locations).
            if addr not in breaks.ever or addr in breaks.sites or inf.read_raw(addr, 1)[0] == INT3:
                return None
        self.arch.set_pc(regs, addr)
        inf.set_regs(tid, regs)
        self.over[tid] = addr
        return addr

    def hits_at(self, tid: int, addr: int, owners: set[int]) -> TrapHits:
        """Applies each breakpoint's semantics (thread, condition, ignore count) to one int3 hit."""
        trap = TrapHits()
        breakpoints = self._breakpoints()
        for bp_id in sorted(owners):
            bp = breakpoints.get(bp_id)
            if bp is None or not bp.enabled or (bp.thread is not None and bp.thread != tid):
                continue
            self.hits.record(bp, tid, addr, trap)
        return trap

    def needs_step_over(self, inf: Inferior, tid: int) -> Optional[int]:
        addr = self.over.pop(tid, None)
        if addr is None or not inf.breaks.is_ours(addr):
            return None
        if self.arch.get_pc(inf.get_regs(tid)) != addr:
            return None  # the user moved the pc
        return addr

    def step_over(self, inf: Inferior, tid: int, addr: int) -> None:
        """Runs the original instruction at addr in tid alone; its event is queued for the loop."""
        inf.breaks.lift(addr)
        try:
            event = inf.step_alone(tid)
        finally:
            if inf.alive:
                inf.breaks.drop(addr)
        if event is not None:
            inf.requeue(event)
            if tid in inf.threads and self.arch.get_pc(inf.get_regs(tid)) == addr:
                self.over[tid] = addr  # stopped before the instruction ran (an interrupt): still to do

    def resume_all(self, inf: Inferior, only: Optional[int] = None) -> None:
        """Resumes every thread (or ``only`` that one); those standing on one of our int3s step over it first."""
        for tid in list(self.over):
            thread = inf.threads.get(tid)
            if only is not None and tid != only:
                continue
            addr = self.needs_step_over(inf, tid) if thread and not thread.running and not thread.held else None
            if addr is not None:
                self.step_over(inf, tid, addr)
        if only is None:
            inf.resume_all()
        elif only in inf.threads and not inf.threads[only].running and not inf.threads[only].held:
            inf.resume(only)

    def start(self, inf: Inferior, tid: int, *, step: bool, lock: bool) -> None:
        """The step engine's resume: tid runs (one instruction if ``step``); the others run too
        unless ``lock``. A thread whose stop is queued is not resumed: that stop is read first."""
        thread = inf.threads.get(tid)
        if thread is None or thread.running or thread.held:
            if not lock:
                self.resume_all(inf)
            return
        if not step:
            self.resume_all(inf, only=tid if lock else None)
            return
        addr = self.needs_step_over(inf, tid)
        if addr is not None:
            self.step_over(inf, tid, addr)  # that is the step; its event is queued
            return
        if not lock:
            for other in list(self.over):
                if other != tid:
                    self.resume_all(inf, only=other)
            inf.resume_all(except_tids=(tid,))
        inf.resume(tid, step=True)


class BreakSites:
    """Setting software breakpoints: where a linespec lands, and pending ones (a library not
    loaded yet). It gets what it needs as callables, never the session."""

    def __init__(self, *, symbols: Callable[[], Any], env: Callable[[], Any], describe: Callable[[int], Any],
                 inferior: Callable[[], Optional[Inferior]], last_stop: Callable[[], Any],
                 add: Callable[..., UserBreakpoint], any_pending: Callable[[], bool],
                 refresh: Optional[Callable[[], None]] = None) -> None:
        self._symbols, self._env, self._describe = symbols, env, describe
        self._inferior, self._last_stop, self._add, self._any_pending = inferior, last_stop, add, any_pending
        self._refresh = refresh

    def add_break(self, location: str, **options: Any) -> tuple[UserBreakpoint, Optional[str]]:
        made: list[UserBreakpoint] = []
        inf = self._inferior()
        if self._refresh is not None and inf is not None and inf.alive:
            self._refresh()  # the libraries mapped now, as gdb knows them from the loader's events

        def resolve() -> tuple[int, int]:
            site = resolve_break(self._symbols(), self._env(), location, self.default_file())
            if made:
                made[0].more, made[0].line, made[0].sites = site.more, site.line, site.sites  # in the new image
            return site.addr, 1

        try:
            site = resolve_break(self._symbols(), self._env(), location, self.default_file())
        except LibraryNotLoaded as exc:
            if ":" not in location:
                raise
            bp = self._add(Kind.BREAK, 0, 1, expr=location, resolve=resolve, pending=True, **options)
            made.append(bp)
            self.watch_loader()
            return bp, f"breakpoint {bp.id} is pending: {exc}"
        made.append(self._add(Kind.BREAK, site.addr, 1, expr=location, resolve=resolve, more=site.more, **options))
        made[0].line, made[0].sites = site.line, site.sites
        if site.sites:
            self.watch_loader()  # a library loaded later may hold more of its locations
        return made[0], site.note

    def watch_loader(self) -> None:
        """While breaks wait for libraries, an internal int3 on the dynamic linker's
        _dl_debug_state (called at every load and unload: gdb's shlib event) tells when."""
        inf, symbols = self._inferior(), self._symbols()
        if inf is None or not inf.alive or not self._any_pending() or symbols is None:
            return
        try:
            inf.breaks.insert(symbols.lookup("_dl_debug_state").addr, SoftStops.LOADER)
        except HwdbgError:
            pass  # a static program: nothing will be loaded

    def default_file(self) -> Optional[str]:
        """The source file a bare LINE means: the one of the last stop, else the one of main."""
        inf, last_stop, symbols = self._inferior(), self._last_stop(), self._symbols()
        where = last_stop.where if last_stop is not None and inf is not None and inf.alive else None
        if where is not None and where.file:
            return where.file
        try:
            main = symbols.lookup("main") if symbols is not None else None
        except HwdbgError:
            return None
        return self._describe(main.addr).file if main is not None else None
