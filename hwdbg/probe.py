"""Can this machine trace a process and trap on a hardware watchpoint? Finds out for real.

A forked child stops itself; we seize it, arm DR0 as a write watchpoint on an
8-byte buffer it is about to write, read the registers back, and let it run. The
verdict is one of: works, ptrace refused, debug-register writes ignored, no trap.
"""
from __future__ import annotations

import ctypes
import errno
import functools
import os
import signal
from typing import Optional

from .arch import BpType, Chunk
from .diagnose import HostFacts, explain_ignored_writes, explain_no_trap, explain_spawn_failure
from .errors import HwdbgError, PtraceError
from .recordtype import record

WORKS = "works"
REFUSED = "ptrace refused"
IGNORED = "debug-register writes ignored"
NO_TRAP = "no trap"
UNSUPPORTED = "unsupported"


@record(frozen=True)
class ProbeResult:
    verdict: str
    reason: str = ""

    @property
    def ptrace_ok(self) -> bool:
        return self.verdict in (WORKS, IGNORED, NO_TRAP)

    @property
    def hw_ok(self) -> bool:
        return self.verdict == WORKS

    def __str__(self) -> str:
        return self.verdict if not self.reason else f"{self.verdict}: {self.reason}"


@functools.lru_cache(maxsize=None)
def probe() -> ProbeResult:
    """The cached verdict for this machine (set HWDBG_PROBE_FORCE to simulate one, for tests)."""
    forced = os.environ.get("HWDBG_PROBE_FORCE")
    if forced:
        verdict, _, reason = forced.partition(":")
        verdict = verdict.strip()
        if verdict == WORKS:
            return ProbeResult(WORKS)
        return ProbeResult(verdict, reason.strip() or explain_probe_verdict(verdict))
    return run_probe()


def explain_probe_verdict(verdict: str, detail: str = "", host: Optional[HostFacts] = None) -> str:
    """The one-line reason for a probe verdict that is not ``works`` (used for forced verdicts too)."""
    if verdict == NO_TRAP:
        return explain_no_trap(detail, host)
    if verdict == IGNORED:
        return explain_ignored_writes(host=host, detail=detail)
    if verdict == REFUSED:
        return detail or str(explain_spawn_failure(errno.EPERM, host))
    if verdict == UNSUPPORTED:
        return detail or "hwdbg supports x86-64 Linux only"
    return detail or verdict


def run_probe() -> ProbeResult:
    # Imported here: on another architecture, or without the C build, the probe says so instead
    # of failing to import.
    try:
        from .arch import current
        arch = current()
        from .hw import debugregs
        from .linux import ptrace as sc
    except HwdbgError as exc:
        return ProbeResult(UNSUPPORTED, str(exc))
    cell = ctypes.c_uint64(0)
    addr = ctypes.addressof(cell)
    pid = os.fork()
    if pid == 0:
        try:
            os.kill(os.getpid(), signal.SIGSTOP)
            cell.value = 0x1234  # the write that must trap
        finally:
            os._exit(0)
    try:
        os.waitpid(pid, os.WUNTRACED)
        try:
            sc.seize(pid, sc.PTRACE_O_EXITKILL)
        except PtraceError as exc:
            return ProbeResult(REFUSED, str(explain_spawn_failure(exc.errno)))
        os.kill(pid, signal.SIGCONT)
        return _watch_child(pid, addr, arch, debugregs, sc)
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


def _watch_child(pid, addr, arch, debugregs, sc) -> ProbeResult:
    dr7 = arch.encode_control([Chunk(addr, 8, BpType.W)])
    armed = False
    while True:
        _, status = os.waitpid(pid, sc.WALL)
        if not os.WIFSTOPPED(status):
            if not armed:
                return ProbeResult(REFUSED, "the probe child exited before it could be traced")
            return ProbeResult(NO_TRAP, explain_no_trap())
        sig, event = os.WSTOPSIG(status), status >> 16
        if not armed:
            try:
                debugregs.write_set(pid, [addr, 0, 0, 0], dr7)
                back = (debugregs.read(pid, 0), debugregs.read(pid, 7))
            except PtraceError as exc:
                return ProbeResult(REFUSED, f"debug registers cannot be written: {exc}")
            if back != (addr, dr7):
                return ProbeResult(IGNORED, explain_ignored_writes((addr, dr7), back))
            armed = True
        elif sig == signal.SIGTRAP and event == 0:
            info = sc.getsiginfo(pid)
            status_reg = arch.decode_status(debugregs.read(pid, 6))
            if info.code != sc.TRAP_HWBKPT or 0 not in status_reg.slots:
                return ProbeResult(NO_TRAP, explain_no_trap(f"si_code {info.code}, DR6 slots {status_reg.slots}"))
            debugregs.write_set(pid, [0, 0, 0, 0], 0)
            return ProbeResult(WORKS)
        sc.cont(pid, 0)
