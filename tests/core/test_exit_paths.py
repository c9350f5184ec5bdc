"""Never a time bomb: whichever way the debugger lets go, the target runs on and exits 0.

The target keeps writing the watched variable (or calling the function with a software
breakpoint) after the debugger is gone; if a debug register were still armed, or an int3
still in its code, the kernel would kill it with SIGTRAP there.
"""
from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import textwrap
import time

import pytest

pytestmark = pytest.mark.requires_hw_watchpoints

DEBUGGER = textwrap.dedent('''
    import os, signal, sys, hwdbg
    pid, how, kind = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    # SIGINT as from a terminal: started from a script's background job (`cmd &`) it is ignored,
    # and hwdbg rightly leaves an ignored signal ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    seen = []

    def boom(hit):
        seen.append(hit)
        if len(seen) > 1:
            raise RuntimeError("a bug in a user callback")

    target = hwdbg.attach(pid)
    arm = target.watch if kind == "watch" else target.break_at
    bp = arm("counter" if kind == "watch" else "add", on_hit=boom if how == "callback" else None)
    if how != "idle":
        assert isinstance(target.cont(timeout=10), hwdbg.Stopped)
    print("armed", bp.address, flush=True)
    if how == "detach":
        target.detach()
        print("detached", flush=True)
        sys.stdin.readline()
    elif how == "close":
        with target:
            pass
    elif how == "callback":
        with target:
            target.cont(timeout=10)
    elif how in ("signal", "sigkill", "idle"):
        target.run_until_exit()  # killed from outside while the target runs
    elif how == "exit":
        sys.exit(0)  # interpreter exit with the target attached and armed
''')


@contextlib.contextmanager
def running(exe, *args):
    """A test target that prints its pid first; killed if the test left it running."""
    proc = subprocess.Popen([str(exe), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert int(proc.stdout.readline()) == proc.pid
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _watched_or_broken(request, core_exe, build_target, *args):
    """The target for a `watch` (core target) or a `break` (sw_target) debugger, as the param says."""
    exe = core_exe if request.param == "watch" else build_target("sw_target")
    with running(exe, *args) as proc:
        proc.kind = request.param
        yield proc


@pytest.fixture(params=["watch", "break"])
def forever(request, core_exe, build_target):
    """A target that writes `counter` (or calls add) every 10 ms for 3 s from when the debugger
    attached (starting hwdbg can take longer than that on a loaded machine), then exits 0."""
    yield from _watched_or_broken(request, core_exe, build_target, "forever", "3")


def run_debugger(target, how, send=None):
    pid = target.pid
    debugger = subprocess.Popen([sys.executable, "-c", DEBUGGER, str(pid), how, target.kind], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = debugger.stdout.readline().split()
    assert line and line[0] == "armed", debugger.stderr.read()
    if how == "detach":
        assert debugger.stdout.readline().strip() == "detached"
        if target.kind == "break":
            with open(f"/proc/{pid}/mem", "rb") as mem:  # read after detach: the original byte is back
                mem.seek(int(line[1]))
                assert mem.read(1) != b"\xcc"
        debugger.stdin.write("\n")
        debugger.stdin.flush()
    if send is not None:
        debugger.send_signal(send)
    out, err = debugger.communicate(timeout=120)  # catches a hang, with room for a loaded machine
    return debugger.returncode, err


@pytest.mark.parametrize("how", ["detach", "close", "exit"])
def test_clean_exits(forever, how):
    code, err = run_debugger(forever, how)
    assert code == 0, err
    assert forever.wait(timeout=30) == 0


def test_exception_in_user_callback(forever):
    code, err = run_debugger(forever, "callback")
    assert code == 1 and "a bug in a user callback" in err
    assert forever.wait(timeout=30) == 0


@pytest.mark.parametrize("signo", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_signals_to_the_debugger(forever, signo):
    code, err = run_debugger(forever, "signal", send=signo)
    assert code != 0
    assert "Traceback" not in err or signo == signal.SIGINT  # KeyboardInterrupt may print one
    assert forever.wait(timeout=30) == 0


@pytest.fixture(params=["watch", "break"])
def sleeper(request, core_exe, build_target):
    """A target that hits only after a line on stdin."""
    yield from _watched_or_broken(request, core_exe, build_target, "oninput")


def _blocked_in_read(pid):
    """/proc/PID/syscall names the call a sleeping thread is blocked in (0: read) and says
    "running" otherwise; a thread in a ptrace stop also shows its last call, so the stat state
    must be S too."""
    with open(f"/proc/{pid}/stat") as f:
        state = f.read().rsplit(")", 1)[1].split()[0]
    with open(f"/proc/{pid}/syscall") as f:
        return state == "S" and f.read().split()[0] == "0"


def test_sigkill_of_the_debugger_is_the_documented_exception(sleeper):
    """SIGKILL cannot be caught: the kernel keeps the registers armed (the int3 stays) and the
    target dies with SIGTRAP at its next write or call. The debugger is killed while the target
    waits for input, before its first hit (killed in the middle of a hit, the pc or the int3
    would be caught half-way: the man page says so)."""
    pid = sleeper.pid
    debugger = subprocess.Popen([sys.executable, "-c", DEBUGGER, str(pid), "idle", sleeper.kind],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = debugger.stdout.readline().split()
    assert line and line[0] == "armed", debugger.stderr.read()
    while not _blocked_in_read(pid):  # the debugger has armed and resumed it
        time.sleep(0.01)
    debugger.kill()
    assert debugger.wait(timeout=120) == -signal.SIGKILL
    sleeper.stdin.write("\n")
    sleeper.stdin.close()
    assert sleeper.wait(timeout=30) == -signal.SIGTRAP


@pytest.mark.parametrize("signo", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
@pytest.mark.parametrize("when", ["during", "after"])
def test_signals_while_the_c_loop_takes_a_burst_of_hits(core_exe, signo, when):
    """The C hit loop takes a burst of 2000 hits; the signal comes in the middle of it (1000
    writes still to come) or after the last one, and then the target blocks reading stdin. The
    debugger must act on it at once (not at a next hit that never comes): exit with the
    signal's status, the registers cleared (the target's next write does not kill it) and no
    SIGTRAP of a hit it had just made left queued for it (that would kill it too)."""
    n = 2000
    at = n // 2 if when == "during" else n
    with running(core_exe, "burst", str(n), str(at)) as target:
        debugger = subprocess.Popen([sys.executable, "-c", DEBUGGER, str(target.pid), "idle", "watch"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = debugger.stdout.readline().split()
        assert line and line[0] == "armed", debugger.stderr.read()
        target.stdin.write("\n")  # armed and running: the burst may begin
        target.stdin.flush()
        assert int(target.stdout.readline()) == at
        debugger.send_signal(signo)
        _out, err = debugger.communicate(timeout=120)  # catches a hang, with room for a loaded machine
        assert debugger.returncode == (-signo if signo == signal.SIGINT else 128 + signo), err
        assert "Traceback" not in err or signo == signal.SIGINT  # KeyboardInterrupt prints one
        target.stdin.write("\n")
        target.stdin.close()
        assert target.wait(timeout=30) == 0


def test_the_programs_own_pending_sigtrap_is_handed_back_at_detach(core_exe):
    """Detach takes the SIGTRAPs still queued for a stopped thread (a hit's would kill it once
    untraced), but one the program was sent is its own: it gets it, as after gdb's detach (no
    handler in this mode: it dies of it)."""
    import ctypes
    import hwdbg
    with running(core_exe, "oninput") as proc:
        with hwdbg.attach(proc.pid) as target:
            target.watch("counter")
            tgkill = ctypes.CDLL(None, use_errno=True).tgkill
            assert tgkill(proc.pid, proc.pid, signal.SIGTRAP) == 0  # queued for the stopped thread
            target.detach()
        assert proc.wait(timeout=30) == -signal.SIGTRAP  # at once, still waiting for its input


def test_a_debug_exceptions_trap_queued_behind_a_stop_is_taken_at_detach(core_exe):
    """A thread stopped by our interrupt just after a hit still has the hit's SIGTRAP pending (the
    kernel reports the interrupt first); once detached it would die of it. Made here at will: a
    thread of the program queues itself such a SIGTRAP (si_code TRAP_HWBKPT), blocked, and parks;
    with it stopped, the test unblocks it (PTRACE_SETSIGMASK). The detach must take it, and the
    program runs on and exits 0. (CI saw it in the C loop's burst test: the interrupt that detach
    sent right after resuming the thread to take its trap won every time.)"""
    import ctypes
    import hwdbg
    from hwdbg.linux import procfs
    ptrace = ctypes.CDLL(None, use_errno=True).ptrace
    ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    trap = 1 << (signal.SIGTRAP - 1)
    proc = subprocess.Popen([str(core_exe), "queued-trap"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        pid, parked = map(int, proc.stdout.readline().split())
        with hwdbg.attach(pid) as target:
            mask = ctypes.c_uint64(procfs.status_int(parked, "SigBlk", 0, 16) & ~trap)
            assert ptrace(0x420b, parked, ctypes.sizeof(mask), ctypes.byref(mask)) == 0  # PTRACE_SETSIGMASK
            assert procfs.status_int(parked, "SigPnd", 0, 16) & ~procfs.status_int(parked, "SigBlk", 0, 16) & trap
            target.detach()
        proc.stdin.write("\n")
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
