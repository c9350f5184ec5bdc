"""Helpers for producing ptrace refusals for real: other users, seccomp, namespaces, zombies.

Every experiment that attaches or spawns runs in ``_diag_child.py``, a subprocess:
hwdbg's wait loop would reap the other children of pytest's own process.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

from hwdbg.linux import procfs

CHILD = Path(__file__).with_name("_diag_child.py")
NOBODY = 65534
OTHER_UID = 1000


def one_or_two_lines(message: str) -> bool:
    """A refusal explains itself in at most two lines, none of them a paragraph."""
    lines = message.splitlines()
    return 1 <= len(lines) <= 2 and all(len(line) <= 360 for line in lines)


def as_user(uid: int, *, keep_caps: bool = False) -> list[str]:
    """A setpriv prefix running a command as ``uid`` (group too); without keep_caps, no capability at all."""
    cmd = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    if not keep_caps:
        cmd += ["--inh-caps=-all", "--bounding-set=-all"]
    return cmd


def can_switch_users() -> bool:
    return os.geteuid() == 0 and shutil.which("setpriv") is not None


class Processes:
    """Background processes of one test, killed and reaped at teardown."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, argv: Sequence[str], *, ready_line: bool = False, **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE if ready_line else None, text=True, **kwargs)
        self.procs.append(proc)
        proc.ready = ""
        if ready_line:
            proc.ready = proc.stdout.readline()
            assert proc.ready, f"{argv} exited before it was ready"
        return proc

    def close(self) -> None:
        # Newest first: a tracer must go before its tracee, whose exit it would otherwise have to reap.
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            if proc.stdout:
                proc.stdout.close()


def run_child(*args: str, prefix: Sequence[str] = (), user: Optional[int] = None, copy=None, seccomp: bool = False,
              timeout: float = 30) -> dict:
    """Runs one experiment of _diag_child.py; its last JSON line. ``user``: as that uid, with no
    capability, from ``copy`` (the ``readable_copy`` fixture: that user may not read the checkout)."""
    python, child, cwd, env = sys.executable, str(CHILD), str(CHILD.parent), dict(os.environ)
    if user is not None:
        assert copy is not None, "another user runs the readable copy"
        python, child, cwd, env = copy.python, copy.file("_diag_child.py"), str(copy.root), copy.env()
        prefix = [*prefix, *as_user(user)]
    argv = [*prefix, python, child, *(["--seccomp"] if seccomp else []), *args]
    env.pop("HWDBG_PROBE_FORCE", None)  # the real probe, always
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd, env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    assert lines, f"{argv} printed nothing (rc {done.returncode}): {done.stderr}"
    return json.loads(lines[-1])


def wait_for(predicate, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "condition not reached in time"
        time.sleep(0.02)


def proc_status(pid: int, field: str) -> Optional[str]:
    return procfs.status_text(pid, field)


# Holding a thread's debug-register slots with perf_event_open breakpoints, as perf or another tool would
# (the same technique as tests/core/conftest.py's slots_held).

SYS_PERF_EVENT_OPEN = 298  # x86-64
PERF_TYPE_BREAKPOINT = 5
HW_BREAKPOINT_W = 2
PERF_ATTR_SIZE = 72
EXCLUDE_KERNEL_HV = (1 << 5) | (1 << 6)


def perf_breakpoint(tid: int, addr: int) -> int:
    import ctypes

    attr = bytearray(PERF_ATTR_SIZE)
    attr[0:4] = PERF_TYPE_BREAKPOINT.to_bytes(4, "little")
    attr[4:8] = PERF_ATTR_SIZE.to_bytes(4, "little")
    attr[40:48] = EXCLUDE_KERNEL_HV.to_bytes(8, "little")
    attr[52:56] = HW_BREAKPOINT_W.to_bytes(4, "little")
    attr[56:64] = addr.to_bytes(8, "little")
    attr[64:72] = (8).to_bytes(8, "little")
    libc = ctypes.CDLL(None, use_errno=True)
    buf = (ctypes.c_char * PERF_ATTR_SIZE).from_buffer(attr)
    fd = libc.syscall(SYS_PERF_EVENT_OPEN, buf, tid, -1, -1, 0)
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return fd


def hold_all_slots(tid: int, addr: int) -> list[int]:
    """Opens perf breakpoints on ``tid`` until the kernel says ENOSPC; the caller closes the fds."""
    fds: list[int] = []
    while True:
        try:
            fds.append(perf_breakpoint(tid, addr))
        except OSError:
            return fds
