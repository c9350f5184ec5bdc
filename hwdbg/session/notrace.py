"""``--no-stop`` breakpoints: perf rings instead of ptrace stops, and the thread that reads them.

A --no-stop breakpoint never stops the target: the kernel writes a record per access into a
ring per thread (``hw/perftrace.py``). While the session's run loop waits for the target, a
reader thread wakes when a ring is a quarter full (or every ``POLL_MS``) and publishes the
records as hits; whenever the loop returns (a stop, the exit) every ring is drained first, so
the counts are exact at every prompt. Publishing happens under ``lock``: the run loop takes
it to handle events and announce records of its own (see ``Session.guard``).

A record has no value (nothing reads memory while the target runs): its hit has ``old`` and
``new`` None and a ``note`` saying why, and ``watch``'s rule (only changes) cannot apply;
every access is reported. Records the kernel could not write (a full ring) are counted
exactly per breakpoint (``lost``) and announced as a ``lost`` notice.
"""
from __future__ import annotations

import contextlib
import os
import select
import threading
from typing import Any, Callable, Iterable, Optional

from .. import records as rec
from ..errors import SlotError, UsageError
from ..hw.breakpoint import BreakpointManager
from ..hw.perftrace import PerfSlotsBusy, Sample, TraceEvents
from ..records import Kind
from .cleanup import leave_fatal_signals_to_the_main_thread
from .model import UserBreakpoint

POLL_MS = 50  # the reader's longest sleep: records of a slow writer show up within it
NOTE = "no-stop: the target did not stop, so no value was read"


def check_options(kind: Kind, *, condition: Optional[str], on_hit: Any, count: bool) -> None:
    if kind is Kind.RWATCH:
        raise UsageError("rwatch --no-stop is not possible: x86-64 traps reads only together with writes, and "
                         "without stopping there is no value to tell them apart; use awatch --no-stop")
    if kind is Kind.BREAK:
        raise UsageError("--no-stop needs a debug register; use hbreak --no-stop")
    if condition or count:
        raise UsageError("--no-stop never stops the target: it cannot test a condition (nothing can be read "
                         "at the hit) and is not --count")
    del on_hit  # a callback is fine: it runs on the reader thread, after the access


class NoStopTraces:
    def __init__(self, manager: BreakpointManager, *, publish: Callable[..., Any], publish_records: Callable[..., Any],
                 describe: Callable[[int], rec.Frame], emit: Callable[[Any], None], flush: Callable[[], None],
                 holders: Callable[[], str]) -> None:
        self.manager = manager
        self._publish_records = publish_records
        self._publish, self._describe, self._emit, self._holders = publish, describe, emit, holders
        self._flush = flush
        self.lock = threading.RLock()
        self.bps: dict[int, UserBreakpoint] = {}  # those with events open
        self._reader: Optional[threading.Thread] = None
        self._wake_r, self._wake_w = -1, -1

    @property
    def active(self) -> bool:
        return bool(self.bps)

    reading = False  # a second thread announces (this reader, the publisher): whoever announces takes ``lock``
    _sharers = 0

    def share(self, delta: int) -> None:
        """Another thread (the session's publisher) announces while the run loop runs."""
        self._sharers += delta
        self.reading = self._sharers > 0

    def guard(self) -> Any:
        """The announce lock while another thread announces (the reader or the publisher: both
        write the same output), else nothing to wait for."""
        return self.lock if self.reading else contextlib.nullcontext()

    # ------------------------------------------------------------ events on and off

    def install(self, bp: UserBreakpoint, tids: Iterable[int]) -> None:
        """Opens bp's events on every thread, its slots taken from ptrace's top ones: all or nothing."""
        chunks = self.manager.make_chunks(bp.addr, bp.length, bp.access)
        free = self.manager.arch.nslots - self.manager.reserved
        if len(chunks) > free:
            raise SlotError(f"--no-stop needs {len(chunks)} debug register(s) per thread and {free} of "
                            f"{self.manager.arch.nslots} are left: {self._holders()}; delete or disable one")
        tracer = TraceEvents(chunks, callchain=bp.backtrace)
        self.manager.reserved += len(chunks)
        try:
            self.manager.sync()  # moves ptrace breakpoints out of the reserved slots first
            with self.lock:
                for tid in tids:
                    tracer.add_thread(tid)
        except BaseException as exc:
            tracer.close()
            self.manager.reserved -= len(chunks)
            self.manager.sync()
            if isinstance(exc, PerfSlotsBusy):
                raise SlotError(f"no free debug register in thread {exc.tid} for --no-stop: {self._holders()}, "
                                "and the rest by ptrace slots once written (the kernel keeps them until exec) "
                                "or another tool (perf record -e mem:...); nothing was changed") from None
            raise
        bp.tracer = tracer
        self.bps[bp.id] = bp

    def release(self, bp: UserBreakpoint) -> None:
        """Publishes bp's last records and closes its events (delete, disable, exit, exec)."""
        tracer = bp.tracer
        if tracer is None:
            return
        with self.lock:
            self._announce(bp, tracer.close())
            self._account_lost(bp)
        bp.tracer = None
        self.bps.pop(bp.id, None)
        self.manager.reserved -= len(tracer.chunks)

    def thread_created(self, tid: int, applies: Callable[[UserBreakpoint], bool]) -> None:
        """Before the new thread runs its first instruction (its clone stop)."""
        with self.lock:
            for bp in self.bps.values():
                if bp.tracer is not None and applies(bp):
                    bp.tracer.add_thread(tid)

    def thread_exited(self, tid: int) -> None:
        with self.lock:
            for bp in self.bps.values():
                if bp.tracer is not None:
                    self._announce(bp, bp.tracer.remove_thread(tid))
                    self._account_lost(bp)

    # ------------------------------------------------------------ records to hits

    def drain(self) -> None:
        """Publishes every record in every ring (the target is stopped or gone: that is all of them)."""
        with self.lock:
            for bp in list(self.bps.values()):
                if bp.tracer is not None:
                    self._announce(bp, bp.tracer.drain())
                    self._account_lost(bp)

    def _announce(self, bp: UserBreakpoint, samples: list[Sample]) -> None:
        if not bp.backtrace and bp.ignore_count == 0:  # the common case, in one call per batch
            self._publish_records(bp, [(s.tid, s.pc, s.time) for s in samples], NOTE)
            return
        for sample in samples:
            if bp.ignore_count > 0:
                bp.ignore_count -= 1
                continue
            frames = None
            if sample.callchain is not None:
                # Return addresses point after their call: describe the call (gdb's pc - 1 rule).
                frames = tuple(self._frame(pc, pc if i == 0 else pc - 1) for i, pc in enumerate(sample.callchain))
            self._publish(bp, sample.tid, sample.pc, None, None, backtrace=frames, note=NOTE, time=sample.time)

    def _frame(self, pc: int, where: int) -> rec.Frame:
        frame = self._describe(where)
        return rec.Frame(pc=pc, function=frame.function, offset=pc - (where - frame.offset), file=frame.file,
                         line=frame.line, module=frame.module)

    def _account_lost(self, bp: UserBreakpoint) -> None:
        tracer = bp.tracer
        if tracer is not None and tracer.lost > bp.lost:
            new = tracer.lost - bp.lost
            bp.lost = tracer.lost
            self._emit(rec.Notice("lost", f"breakpoint {bp.id}: the kernel dropped {new} record(s) (ring full; "
                                  f"{bp.lost} in all)", data={"id": bp.id, "lost": new, "total": bp.lost}))

    # ------------------------------------------------------------ the reader thread

    def start_reader(self) -> None:
        """While the run loop waits for the target, records are published as they come."""
        if not self.active or self._reader is not None:
            return
        self._wake_r, self._wake_w = os.pipe()
        self._reader = threading.Thread(target=self._read_loop, name="hwdbg-no-stop", daemon=True)
        self.share(1)
        self._reader.start()

    def stop_reader(self) -> None:
        """Ends the reader (before the run loop returns), then drains what is left."""
        reader = self._reader
        if reader is not None:
            os.write(self._wake_w, b"x")
            reader.join()
            os.close(self._wake_r)
            os.close(self._wake_w)
            self._reader = None
            self.share(-1)
        self.drain()

    def _read_loop(self) -> None:
        leave_fatal_signals_to_the_main_thread()
        poller = select.poll
        while True:
            with self.lock:
                fds = [fd for bp in self.bps.values() if bp.tracer is not None for fd in bp.tracer.fds()]
            p = poller()
            p.register(self._wake_r, select.POLLIN)
            for fd in fds:
                p.register(fd, select.POLLIN)
            ready = p.poll(POLL_MS)
            if any(fd == self._wake_r for fd, _ in ready):
                return
            try:
                with self.lock:
                    self.drain()
                    self._flush()
            except Exception as exc:  # a listener failed: say so once, the run loop goes on
                self._emit(rec.Notice("error", f"while reporting --no-stop hits: {exc}"))


def slot_holders(breakpoints: Iterable[UserBreakpoint]) -> str:
    """Who holds the slots perf takes from the top: ``watch 1 --no-stop, watch 3 --count``."""
    held = [f"{bp.kind} {bp.id} {'--no-stop' if bp.tracer is not None else '--count'}" for bp in breakpoints
            if bp.tracer is not None or bp.counter is not None]
    return "held by " + ", ".join(held) if held else "none held by hwdbg's perf breakpoints"
