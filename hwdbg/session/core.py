"""The debugging session: one process, its breakpoints, and the collaborators that serve them.

It ties the process layer (stops), the hw layer (slots, routing, string stores) and the
symbols together, handing each collaborator only what it needs: the breakpoint table, the
hit semantics, the C loop's planner and the expression environment. It returns records
and calls listeners; it never prints.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, Optional, Sequence

from .. import records as rec
from ..arch import ArchSpec, current
from ..errors import TargetError, UsageError
from ..hw.breakpoint import BreakpointManager
from ..hw.router import Router
from ..hw.strings import StringStores
from ..process.control import Inferior
from ..process.launch import find_program
from . import cleanup
from .causeless import CauselessTraps
from .dispatch import StopDispatch
from .env import ExpressionEnv
from .fastplan import FastPlanner
from .frames import FrameTable
from .hits import HitSemantics
from .image import ProgramImage, load_symbols
from .dummies import DummyFrames
from .infcall import InferiorCalls
from .kernelwrites import KernelWrites
from .lifecycle import Lifecycle
from .model import UserBreakpoint
from .notrace import NoStopTraces, slot_holders
from .pagefast import PageFast
from .pagewatch import PageWatches
from .publisher import Publisher
from .running import Running
from .softstops import BreakSites, SoftStops
from .ifunc_stops import IfuncResolvers
from .stepping import Stepper
from .stops import SignalTable
from .thread_numbers import ThreadNumbers
from .hit_places import InnermostFunctions
from .table import BreakpointTable
from .vforkchild import VforkChildren


class Session(Lifecycle, Running, StopDispatch):
    """One debugging session. Its parts by job: lifecycle.py (start, attach, let go), running.py
    (the run loop), dispatch.py (what each stop means); this module wires them together."""

    def __init__(self, *, arch: Optional[ArchSpec] = None) -> None:
        self.arch = arch or current()
        self.manager = BreakpointManager(self.arch)
        self.router = Router(self.manager)
        self.inferior: Optional[Inferior] = None
        self.program: Optional[list[str]] = None
        self.listeners: list[Callable[[Any], None]] = []
        self.flushers: list[Callable[[], None]] = []  # called after a burst of hits was announced
        self.current_tid: Optional[int] = None
        self.last_stop: Optional[rec.Stopped] = None
        self.pin = False
        self.fast_path = True  # let the C loop take hits that need no Python
        self.fast_hits = 0  # how many of them it took
        self._paged = False  # the C loop takes page faults too (pagefast.py)
        self.fork_events = self.exec_events = False  # fork, vfork and exec stop too (hwdbg serve's client asks)
        self.signals = SignalTable()  # gdb's handle table
        self.thread_numbers = ThreadNumbers()  # gdb's thread numbers, for stop messages
        self._saved_affinity: dict[int, set[int]] = {}
        self._stepping: set[int] = set()
        self._locked: Optional[int] = None  # while set, only this thread runs (scheduler-locking)
        self.scheduler_locking = "replay"  # gdb's modes: off, on, step, replay (= off when not replaying)
        self.step_filter: Optional[Callable[[int, int], bool]] = None  # the step engine's int3s: stop here?
        self._interrupt_wanted = False
        self.interrupts = 0
        self._timed_out = False
        self._resume_all_after = False
        self._tracing = False  # hits never stop the target (run_until_exit, events)
        self._batch: Optional[int] = None  # in tracing mode, return after this many hits
        self._batch_start = 0
        self._flushed = 0
        self.image = ProgramImage(self.arch, lambda: self.inferior, self.require_process)
        self.strings = StringStores(self.manager, self.arch, read_memory=self.read_memory,
                                    get_regs=lambda tid: self.require_process().get_regs(tid))
        self.innermost = InnermostFunctions(lambda: self.symbols)  # the function a place names (inlined ones too)
        self.hits = HitSemantics(self.strings, read_memory=self.read_memory, describe=self.describe,
                                 backtrace=self.backtrace, env=self.env, emit=self.emit,
                                 tracing=lambda: self._tracing, current=lambda bp_id: bp_id in self.breakpoints,
                                 function_at=self.innermost.name)
        self.pages = PageWatches(breakpoints=lambda: self.breakpoints, hits=self.hits, read_memory=self.read_memory)
        self.pagefast = PageFast(self.pages)  # page faults the C hit loop takes
        self.vforks = VforkChildren(self.pages)  # vfork children sharing protected pages
        self.notrace = NoStopTraces(self.manager, publish=self.hits.publish, publish_records=self.hits.publish_records,
                                    describe=self.describe, emit=self.emit,
                                    flush=self.flush, holders=lambda: slot_holders(self.breakpoints.values()))
        self._cpus: Optional[set[int]] = None  # with --pin: the debugger's CPUs but the pinned one (the publisher's)
        self.publisher = Publisher(self.hits.publish_many, self.flush, self.notrace.lock, lambda: self._cpus)
        self.table = BreakpointTable(self.manager, process=self.require_process, alive=lambda: self.alive,
                                     all_stopped=self._all_threads_stopped, read_value=self.hits.read_value,
                                     triggered=self.hits.triggered, emit=self.emit, notrace=self.notrace,
                                     pages=self.pages)
        self._planner = FastPlanner(self.manager, self.arch.nslots)
        self.soft = SoftStops(self.arch, self.hits, lambda: self.breakpoints)
        self.causeless = CauselessTraps(self.manager, self.router, lambda: self.breakpoints)
        self.sites = BreakSites(symbols=lambda: self.symbols, env=self.env, describe=self.describe,
                                inferior=lambda: self.inferior, last_stop=lambda: self.last_stop,
                                add=self.add_breakpoint,
                                any_pending=lambda: self.table.any_pending or self.table.any_function_breaks,
                                refresh=lambda: self.image.refresh())
        self.ifuncs = IfuncResolvers(self.arch, breakpoints=lambda: self.breakpoints, symbols=lambda: self.symbols,
                                     move=self.table.move_break)
        self.kernel = KernelWrites(breakpoints=lambda: self.breakpoints, hits=self.hits, read_memory=self.read_memory,
                                   pages=self.pages, all_stopped=self._all_threads_stopped)
        self.stepper = Stepper(self)  # next, step, finish, until, advance, nexti
        self.dummies = DummyFrames(self)  # calls stopped before they returned (gdb's dummy frames)
        self.frames = FrameTable(regs=lambda tid: self.require_process().get_regs(tid), dummy=self.dummies.unwinder,
                                 xmm=lambda tid: self.require_process().get_xmm(tid), read_memory=self.read_memory,
                                 symbols=lambda: self.symbols, refresh=self.refresh_symbols, describe=self.describe)
        self.calls = InferiorCalls(self)  # call f(1), print f(1)
        self.manager.is_held = self._held
        cleanup.live_sessions.add(self)

    # ------------------------------------------------------------ events out

    def flush(self) -> None:
        """Tells listeners that buffered the hits of a burst to pass them on now."""
        if self.hits.published != self._flushed:
            with self.notrace.guard():
                self._flushed = self.hits.published
                for flusher in list(self.flushers):
                    flusher()

    def emit(self, event: Any) -> None:
        if self.listeners:
            if self.notrace.reading:  # the --no-stop reader announces hits too: one at a time
                with self.notrace.lock:
                    for listener in list(self.listeners):
                        listener(event)
                return
            for listener in self.listeners[:]:
                listener(event)

    # ------------------------------------------------------------ the process (started in lifecycle.py)

    @property
    def symbols(self) -> Any:
        """The program's symbol table (hwdbg.symbols.SymbolTable), or None when it is not known."""
        return self.image.symbols

    @symbols.setter
    def symbols(self, table: Any) -> None:
        self.image.symbols = table

    @property
    def alive(self) -> bool:
        return self.inferior is not None and self.inferior.alive

    def require_process(self) -> Inferior:
        if not self.alive:
            raise TargetError("the program is not being run; use `run`, `start` or `attach PID`")
        assert self.inferior is not None
        return self.inferior

    def require_stopped(self) -> Inferior:
        inf = self.require_process()
        if not inf.all_stopped:
            raise TargetError(f"process {inf.pid} is running; interrupt it first (Ctrl-C)")
        return inf

    def load(self, program: Sequence[str]) -> None:
        """Names the program to run; symbols are read now so breakpoints can be set before `run`."""
        self.program = list(program)
        self.symbols = load_symbols(find_program(self.program[0]))

    # ------------------------------------------------------------ breakpoints (the table's, on this process)

    @property
    def breakpoints(self) -> dict[int, UserBreakpoint]:
        return self.table.breakpoints

    def add_breakpoint(self, kind: Any, addr: int, length: int, **options: Any) -> UserBreakpoint:
        return self.table.add(kind, addr, length, **options)

    def add_break(self, location: str, **options: Any) -> tuple[UserBreakpoint, Optional[str]]:
        """A software breakpoint at a location (gdb's linespecs); returns it and a note to tell
        the user (the line moved to the next one with code, or it waits for its library), or None."""
        return self.sites.add_break(location, **options)

    def delete(self, bp: UserBreakpoint) -> None:
        self.table.delete(bp)

    def set_enabled(self, bp: UserBreakpoint, enabled: bool) -> None:
        self.table.set_enabled(bp, enabled)

    def set_location_enabled(self, bp: UserBreakpoint, number: int, enabled: bool) -> None:
        """``enable``/``disable`` of location ``number`` (1-based, gdb's N.M) of a code breakpoint."""
        if bp.kind is not rec.Kind.BREAK or not 1 <= number <= len(bp.addresses):
            raise UsageError(f"Bad breakpoint location number '{number}'")
        self.table.set_location_enabled(bp, number, enabled)

    def set_priority(self, bp: UserBreakpoint, priority: int) -> None:
        self.table.set_priority(bp, priority)

    def set_condition(self, bp: UserBreakpoint, condition: Optional[str]) -> None:
        self.table.set_condition(bp, condition)

    def get_breakpoint(self, ident: Any) -> UserBreakpoint:
        return self.table.get(ident)

    @contextlib.contextmanager
    def _all_threads_stopped(self, inf: Inferior) -> Iterator[None]:
        """Changes need every thread stopped; if some run (a callback mid-run), stop them all
        now, and the run loop resumes them all afterwards."""
        if not inf.all_stopped:
            inf.stop_all()
            self._resume_all_after = True
        yield

    # ------------------------------------------------------------ memory, registers, symbols

    def read_memory(self, addr: int, size: int) -> bytes:
        return self.require_process().read_memory(addr, size)

    def write_memory(self, addr: int, data: bytes) -> None:
        """Writes target memory; watches over those bytes take them as their current value (so
        the next hit reports the right ``old``, and ``watch`` does not skip a real change)."""
        self.require_process().write_memory(addr, data)
        self.table.refresh_values(addr, len(data))

    def describe(self, pc: int) -> rec.Frame:
        return self.image.describe(pc)

    def backtrace(self, tid: int, limit: int = 64) -> tuple[rec.Frame, ...]:
        return self.image.backtrace(tid, limit)

    def set_register(self, name: str, value: int, tid: Optional[int] = None, keep_frame: bool = False) -> None:
        """Writes one register of a stopped thread. Moving the pc clears RF, so an execute
        breakpoint at the new pc is not skipped."""
        inf = self.require_stopped()
        tid = tid or self.current_tid or inf.pid
        regs = inf.get_regs(tid)
        name = self.arch.register_name(name)
        if name not in {f[0] for f in regs._fields_}:
            raise UsageError(f"unknown register ${name}")
        if name == "rip":
            self.arch.set_pc(regs, value)
        else:
            setattr(regs, name, value & (2**64 - 1))
        inf.set_regs(tid, regs)
        self.frames.changed() if keep_frame else self.frames.reset(stopped=True)

    def env(self, tid: Optional[int] = None) -> ExpressionEnv:
        """The expression environment of one thread (default: the current one), in its selected frame."""
        env = self.image.env(tid or self.current_tid)
        env.frame = lambda name=None: self.frames.selected(env.tid or self.require_process().pid, name)
        env.call_function = lambda callee, arguments, cast, name: self.calls.call(callee, arguments, cast, name,
                                                                                  env.tid, env)
        env.string_in_process = lambda data: self.calls.string_in_process(data, env.tid, env)
        return env

    def refresh_symbols(self) -> None:
        """Re-reads the memory map (after dlopen)."""
        self.image.refresh()
