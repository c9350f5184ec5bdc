"""watch --kernel: writes the kernel makes into watched ranges during system calls, in both
ways of seeing them (the seccomp filter of a program hwdbg starts, PTRACE_SYSCALL otherwise),
with the program's system calls behaving exactly as without hwdbg."""
from __future__ import annotations

import os
import subprocess

import pytest

import hwdbg
from hwdbg.errors import TargetError, UsageError

DEVNULL = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
MODES = pytest.mark.parametrize("filtered", [True, False], ids=["seccomp", "ptrace-syscall"])
# name -> (length, the system call that writes it)
WATCHED = {"inbuf": (16, "read"), "rnd": (8, "getrandom"), "st": (16, "newfstatat"), "fds": (8, "pipe2"),
           "wstatus": (4, "wait4"), "ts": (16, "clock_gettime"), "untouched": (8, None)}


@pytest.fixture(scope="module")
def kernel_exe(build_target):
    return build_target("kernel_target")


def plain_output(exe, mode: str) -> str:
    return subprocess.run([str(exe), mode], capture_output=True, text=True, timeout=60, check=True).stdout


def run_watched(exe, mode: str, filtered: bool, names=WATCHED) -> tuple[dict, str, hwdbg.Target]:
    r, w = os.pipe()
    try:
        target = hwdbg.spawn([str(exe), mode], stdout=w, kernel_writes=filtered)
    finally:
        os.close(w)
    try:
        target.run_to("ready")
        assert target.session.inferior.filtered is filtered
        bps = {name: target.watch(name, kernel=True, length=names[name][0]) for name in names}
        result = target.run_until_exit(timeout=120)
        assert isinstance(result, hwdbg.records.Exited) and result.code == 0
    except BaseException:
        target.close()
        raise
    with os.fdopen(r) as out:
        output = out.read()
    return bps, output, target


@pytest.mark.requires_ptrace
@MODES
def test_each_writing_call_is_a_hit_at_its_syscall_instruction(kernel_exe, filtered):
    bps, output, target = run_watched(kernel_exe, "basic", filtered)
    with target:
        assert output == plain_output(kernel_exe, "basic")
        for name, (length, call) in WATCHED.items():
            hits = list(bps[name].hits)
            if call is None:
                assert hits == [], name
                continue
            assert [h.syscall for h in hits] == [call], name
            hit = hits[0]
            assert hit.old == 0 and hit.new != 0
            assert hit.syscall_result is not None and hit.syscall_result >= 0
        read = bps["inbuf"].hits[0]
        assert read.syscall_args["count"] == 16 and read.syscall_result == 14
        assert read.new == int.from_bytes(b"hello, kernel!\0\0", "little")
        assert bps["wstatus"].hits[0].new == 42 << 8  # exited with 42
        writers = target.writers(bps["inbuf"])
        assert [(w.syscall, w.count, w.pc) for w in writers] == [("read", 1, read.pc)]


@pytest.mark.requires_ptrace
@MODES
def test_the_hit_pc_is_the_syscall_instruction(kernel_exe, filtered):
    r, w = os.pipe()
    with hwdbg.spawn([str(kernel_exe), "basic"], stdout=w, kernel_writes=filtered) as target:
        os.close(w)
        target.run_to("ready")
        bp = target.watch("rnd", kernel=True)
        stop = target.cont(timeout=60)
        assert stop.reason == "watchpoint" and [h.syscall for h in stop.hits] == ["getrandom"]
        pc = stop.hits[0].pc
        assert target.read_memory(pc, 2) == b"\x0f\x05"  # syscall
        assert stop.pc == pc + 2  # stopped at the call's exit
        assert target.evaluate("rnd") == stop.hits[0].new
        assert isinstance(target.run_until_exit(timeout=60), hwdbg.records.Exited)
        assert len(bp.hits) == 1
    os.close(r)


@pytest.mark.requires_ptrace
@MODES
@pytest.mark.parametrize("mode,hits", [("eintr", 0), ("restart", 1)])
def test_a_signal_during_a_blocking_read_behaves_as_without_hwdbg(kernel_exe, filtered, mode, hits):
    bps, output, target = run_watched(kernel_exe, mode, filtered, names={"inbuf": (16, "read")})
    with target:
        assert output == plain_output(kernel_exe, mode)
        assert ("errno=4" in output) == (mode == "eintr")  # read failed with EINTR / was restarted
        assert [h.syscall for h in bps["inbuf"].hits] == ["read"] * hits


@pytest.mark.requires_ptrace
def test_the_filter_stops_only_the_calls_that_write(kernel_exe):
    counts = {}
    for filtered in (True, False):
        bps, output, target = run_watched(kernel_exe, "quiet", filtered, names={"inbuf": (16, "read")})
        with target:
            counts[filtered] = target.session.kernel.stops
    assert counts[True] < 20  # a few libc start-up and exit calls; none of the 2000 getppid/write
    assert counts[False] >= 4000  # entry and exit of every one


@pytest.mark.requires_ptrace
def test_a_filtered_program_cannot_be_detached(kernel_exe):
    with hwdbg.spawn([str(kernel_exe), "basic"], kernel_writes=True, stdout=DEVNULL) as target:
        target.run_to("ready")
        with pytest.raises(TargetError, match="ENOSYS"):
            target.detach()
        assert target.alive
        assert isinstance(target.run_until_exit(timeout=60), hwdbg.records.Exited)


@pytest.mark.requires_ptrace
def test_kernel_goes_with_watch_only(kernel_exe):
    with hwdbg.spawn([str(kernel_exe), "basic"], stdout=DEVNULL) as target:
        target.run_to("ready")
        for access in ("r", "rw"):
            with pytest.raises(UsageError, match="--kernel"):
                target.watch("inbuf", access=access, kernel=True)
        with pytest.raises(UsageError, match="--kernel"):
            target.watch("inbuf", count=True, kernel=True)
        assert target.session.breakpoints == {}


@pytest.mark.requires_ptrace
def test_an_attached_program_is_seen_through_ptrace_syscall(kernel_exe):
    proc = subprocess.Popen([str(kernel_exe), "wait"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "waiting"
        with hwdbg.attach(proc.pid) as target:
            bp = target.watch("inbuf", kernel=True, length=16)
            assert target.session.kernel.mode(target.session.inferior) == "ptrace-syscall"
            os.kill(proc.pid, 10)  # SIGUSR1: do the calls
            stop = target.cont(timeout=120)
            while not bp.hits and isinstance(stop, hwdbg.records.Stopped):
                stop = target.cont(timeout=120)  # the SIGUSR1 stop (gdb stops at signals too)
            assert [(h.syscall, h.syscall_result) for h in bp.hits] == [("read", 14)]
            target.detach()  # no filter was installed: detach is allowed
        assert proc.wait(timeout=60) == 0
        assert "result=14" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
