"""A system call that blocks while writing into page-watched memory (read() on an empty pipe)
keeps the pages protected: it is made into hwdbg's scratch memory and its bytes copied at its
exit (session/scratch.py), so another thread's writes meanwhile are hits at their own pc, and
the call is the kernel's write. The program sees its calls' own results and errno."""
from __future__ import annotations

import os
import subprocess
import time

import pytest

import hwdbg

pytestmark = pytest.mark.requires_ptrace
ROUNDS = 20


@pytest.fixture(scope="module")
def block_exe(build_target):
    return build_target("page_block")


def perms_of(pid: int) -> list[str]:
    with open(f"/proc/{pid}/maps") as f:
        return [" ".join(line.split()[:2]) for line in f if "[" not in line]


@pytest.mark.parametrize("mode", ["seccomp", "ptrace-syscall"])
def test_writes_during_a_blocked_read_are_hits(block_exe, mode, watched_run):
    run = watched_run([str(block_exe), str(ROUNDS)], mode)
    assert run.output.splitlines() == [
        "read=300", "badfd=-1 errno=9", "pread=-1 errno=29", "getrandom=64", "check=AN"]
    base, pid = run.base, run.pid
    program = [h for h in run.hits if not h.syscall]
    # every write of the main thread, made while the reader was blocked, at b_write's pc
    assert [(h.function, h.tid, h.changed, h.new) for h in program] == [
        ("b_write", pid, (base + 2048 + i, 1), i % 250 + 1) for i in range(ROUNDS)]
    assert len({h.pc for h in program}) == 1
    kernel = [(h.syscall, h.syscall_result, h.changed) for h in run.hits if h.syscall]
    assert kernel[0] == ("read", 300, (base + 100, 300))
    assert kernel[1][0] == "getrandom" and kernel[1][1] == 64 and kernel[1][2][0] >= base + 6000
    assert len(kernel) == 2
    assert [h.tid for h in run.hits if h.syscall == "read"] != [pid]  # the reader thread's
    assert run.redirected >= 3  # read, the EBADF read, getrandom


def _all_in_read(pid: int) -> bool:
    tasks = os.listdir(f"/proc/{pid}/task")
    try:
        return len(tasks) == 2 and all(open(f"/proc/{pid}/task/{t}/syscall").read().startswith("0 ") for t in tasks)
    except OSError:
        return False


def test_detach_while_a_read_blocks_in_scratch(block_exe):
    """Attached, the reader blocked in a read made into scratch memory: detach gives it back its
    own buffer (the read restarts there), unmaps the scratch area and the pages' protection."""
    proc = subprocess.Popen([str(block_exe), "3", "wait"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not _all_in_read(proc.pid):  # the reader in its read, the main thread in read(0)
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.01)
        before = perms_of(proc.pid)
        target = hwdbg.attach(proc.pid)
        target.watch("big", kernel=True)
        with pytest.raises(hwdbg.errors.TargetTimeout):
            target.cont(timeout=0.5)  # the reader's read restarts, into scratch, and blocks
        reader = max(target.session.inferior.threads)
        assert target.session.kernel.scratch.in_flight(reader)
        assert perms_of(proc.pid) != before  # protected pages, a scratch area
        target.detach()
        assert perms_of(proc.pid) == before
        out, _ = proc.communicate(b"g", timeout=60)
        assert out.decode().splitlines()[0] == "read=300" and out.decode().splitlines()[-1] == "check=AN"
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("kernel", [False, True], ids=["plain", "kernel"])
@pytest.mark.parametrize("mode", ["seccomp", "ptrace-syscall"])
def test_stepi_over_a_syscall_into_watched_pages(block_exe, mode, kernel):
    """stepi on the `syscall` instruction of read() into protected pages: the call succeeds
    (no EFAULT), its write is the kernel's hit, and the step ends after the instruction."""
    r, w = os.pipe()
    with hwdbg.spawn([str(block_exe), "stepi"], stdout=w, kernel_writes=mode == "seccomp") as target:
        os.close(w)
        target.run_to("ready")
        target.run_to("raw_read")
        bp = target.watch("big", kernel=kernel)
        assert target.session.breakpoints[bp.id].paged
        for _ in range(64):
            if target.read_memory(target.registers()["rip"], 2) == b"\x0f\x05":
                break
            target.stepi()
        at = target.registers()["rip"]
        assert target.read_memory(at, 2) == b"\x0f\x05"
        stop = target.stepi()
        regs = target.registers()
        # with --kernel the step ends on the kernel's hit, as gdb's stepi ends on a watchpoint
        assert (stop.reason, regs["rip"], regs["rax"]) == ("watchpoint" if kernel else "step", at + 2, 200)
        assert [h.syscall for h in stop.hits] == (["read"] if kernel else [])
        base = target.address_of("big")
        assert target.read_memory(base + 4000, 200) == bytes(200)
        assert [(h.syscall, h.syscall_result, h.changed, h.pc) for h in bp.hits if h.syscall] == (
            [("read", 200, (base + 4000, 200), at)] if kernel else [])
        assert isinstance(target.run_until_exit(timeout=120), hwdbg.records.Exited)
        with os.fdopen(r) as out:
            assert out.read() == "read=200\n"
