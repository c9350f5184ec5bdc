"""Starting, attaching to and letting go of the process (a part of Session).

Every way out (detach, kill, close after an error) clears debug registers, int3 bytes and
protected pages before the process runs on without us.
"""
from __future__ import annotations

import os
from typing import Any, Optional, Sequence

from .. import records as rec
from ..errors import HwdbgError, TargetError, UsageError
from ..linux import affinity, procfs
from ..process.control import Inferior
from .image import load_symbols
from .stops import exit_record


class Lifecycle:
    """Session's process lifecycle; the state it uses is set up by Session.__init__."""

    def spawn(self, argv: Optional[Sequence[str]] = None, *, kernel_writes: bool = False, **kwargs: Any) -> None:
        """Starts the program; under the kernel-write filter if ``kernel_writes`` or a --kernel watch exists."""
        if self.alive:
            raise TargetError(f"process {self.inferior.pid} is already being debugged; `kill` or `detach` it first")
        if argv is not None:
            self.load(argv)
        if not self.program:
            raise UsageError("no program to run: give one on the command line or to `run`")
        if self.pin:
            before = os.sched_getaffinity(0)
            affinity.pin_to_one_cpu()
            self._cpus = affinity.other_cpus(before)
        kwargs["kernel_filter"] = self.kernel.spawn_filter(kernel_writes)
        self.inferior = Inferior.spawn(self.program, **kwargs)
        self._started()

    def attach(self, pid: int) -> None:
        if self.alive:
            raise TargetError(f"process {self.inferior.pid} is already being debugged; `detach` it first")
        inferior = Inferior.attach(pid)
        self.inferior = inferior
        if self.pin:
            before = os.sched_getaffinity(0)
            self._saved_affinity = affinity.pin_with_target(pid, list(inferior.threads))
            self._cpus = affinity.other_cpus(before)
        try:
            exe = procfs.exe_path(pid)
            self.program = [exe]
            self.symbols = load_symbols(exe)
        except HwdbgError:
            self.symbols = None
        self._started()

    def adopt(self, pid: int, *, spawned: bool) -> None:
        """Takes over a forked child kept stopped by fork_events (the client follows the child)."""
        if self.alive:
            raise TargetError(f"process {self.inferior.pid} is already being debugged; `detach` it first")
        self.inferior = Inferior.adopt(pid, spawned=spawned)
        self._started()

    def _started(self) -> None:
        inf = self.inferior
        assert inf is not None
        self.strings.reset()
        self.soft.reset()
        self.ifuncs.reset()
        self.image.new_process()
        for bp in self.breakpoints.values():
            bp.writers.reset()  # info writers tells of the last run
        for tid in inf.threads:
            self.manager.add_thread(tid)
        self.current_tid = inf.pid
        self.thread_numbers.start(inf.threads, inf.pid)
        inf.fork_events = self.fork_events
        self.pages.reset()
        self.frames.reset(stopped=True)
        self.table.rearm("start")
        self.sites.watch_loader()

    def detach(self) -> None:
        """Clears every thread's debug registers, then lets the process go."""
        inf = self.require_process()
        self.kernel.check_detach(inf)
        inf.stop_all()
        for child in inf.kept_children():  # a vfork child sharing protected pages: to its exec or exit
            self.vforks.follow(inf, child)
        self.dummies.unwind_all(inf)  # a thread inside a called function runs on from before the call
        self.pages.disarm_all(inf)  # no page left protected
        self._disarm_all(inf)
        self.table.release_counters()  # perf events too, while nothing runs: their counts are exact
        inf.detach()
        for tid, cpus in self._saved_affinity.items():
            try:
                os.sched_setaffinity(tid, cpus)  # --pin moved the target's threads: give them back
            except OSError:
                pass
        self._saved_affinity = {}
        self._gone()

    def kill(self) -> Optional[rec.Exited | rec.Killed]:
        inf = self.require_process()
        event = inf.kill()
        self._gone()
        return exit_record(event, inf.pid) if event is not None else None

    def close(self) -> None:
        """Lets go of the target safely whatever state it is in: kill what we spawned, detach the rest."""
        inf = self.inferior
        if inf is None or not inf.alive:
            return
        try:
            if inf.spawned:
                self.kill()
            else:
                self.detach()
        except HwdbgError:
            if inf.alive:
                inf.kill() if inf.spawned else self._let_go(inf)

    def _let_go(self, inf: Inferior) -> None:
        """A detach that failed at cleanup: still clear the registers and let go (SIGCONT for
        a pending interrupt), rather than leave the process to stop at our SIGSTOP."""
        try:
            self.dummies.unwind_all(inf)
        except HwdbgError:
            pass
        try:
            self._disarm_all(inf)
            inf.detach()
        except HwdbgError:
            pass

    def _disarm_all(self, inf: Inferior) -> None:
        for tid in list(inf.threads):
            self.manager.clear_thread(tid)

    def _gone(self) -> None:
        self.table.release_counters()
        for tid in list(self.manager.threads):
            self.manager.remove_thread(tid)
        self.strings.reset()
        self.soft.reset()
        self.ifuncs.reset()
        self.kernel.reset()
        self.pages.reset()
        self.dummies.forget()
        self._stepping.clear()
        self.frames.reset(stopped=False, gone=True)
        self.inferior = None
