"""Watches larger than the debug registers, by page protection: every change is a hit at the
exact writing pc with the bytes that changed; other data on the pages is stepped over; system
calls writing there do not fail; nothing stays protected; bad ranges are refused whole. gdb's
software watchpoint is the reference for the hits of a 200-byte struct."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import hwdbg
from hwdbg.errors import AddressError, LengthError

pytestmark = pytest.mark.requires_ptrace
DEVNULL = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)


@pytest.fixture(scope="module")
def page_exe(build_target):
    return build_target("page_target")


def perms_of(pid: int) -> list[str]:
    with open(f"/proc/{pid}/maps") as f:
        return [" ".join(line.split()[:2]) for line in f]


def use_path(target, path: str) -> None:
    """"trampoline": a fault runs its write in hwdbg's trampoline (one stop); "step": the write is
    single-stepped between two injected mprotects (the way taken when the trampoline cannot be)."""
    if path == "step":
        target.session.pages.stub = None


def check_path(target, path: str) -> None:
    stub = target.session.pages.stub
    assert (stub.used > 0) if path == "trampoline" else stub is None


@pytest.mark.parametrize("path", ["trampoline", "step"])
def test_a_64k_array_every_change_at_its_pc(page_exe, path):
    with hwdbg.spawn([str(page_exe), "basic", "3"]) as target:
        target.run_to("ready")
        use_path(target, path)
        before = perms_of(target.pid)
        bp = target.watch("big")
        assert bp.length == 65536 and target.session.breakpoints[bp.id].paged and bp.status == "INSTALLED"
        assert perms_of(target.pid) != before  # its pages are read-only now
        base = target.address_of("big")
        assert isinstance(target.run_until_exit(timeout=120), hwdbg.records.Exited)
        hits = bp.hits
        # put() writes one new byte per page per round; same() rewrites it: no hit; neighbour: no hit
        assert [(h.function, h.changed, h.old, h.new) for h in hits] == [
            ("put", (base + page + r, 1), 0, r + 1) for r in range(3) for page in range(0, 65536, 4096)]
        assert len({h.pc for h in hits}) == 1
        rows = target.writers(bp)
        assert [(w.function, w.count) for w in rows] == [("put", 48)]
        check_path(target, path)


def test_delete_gives_the_pages_back(page_exe):
    with hwdbg.spawn([str(page_exe), "basic", "1"]) as target:
        target.run_to("ready")
        before = perms_of(target.pid)
        bp = target.watch("big")
        bp.delete()
        assert perms_of(target.pid) == before
        assert isinstance(target.run_until_exit(timeout=60), hwdbg.records.Exited)


@pytest.mark.parametrize("kernel", [False, True], ids=["plain", "kernel"])
def test_read_into_protected_pages_does_not_fail(page_exe, kernel):
    r, w = os.pipe()
    with hwdbg.spawn([str(page_exe), "read"], stdout=w, kernel_writes=kernel) as target:
        os.close(w)
        target.run_to("ready")
        bp = target.watch("big", kernel=kernel)
        assert isinstance(target.run_until_exit(timeout=120), hwdbg.records.Exited)
        with os.fdopen(r) as out:
            assert out.read() == "read=200\n"  # not -1 (EFAULT)
        base = target.address_of("big")
        kernel_hits = [h for h in bp.hits if h.syscall]
        if kernel:
            assert [(h.syscall, h.syscall_result, h.changed) for h in kernel_hits] == [("read", 200, (base + 4000, 200))]
        else:
            assert kernel_hits == []
        assert len([h for h in bp.hits if not h.syscall]) == 8192  # memset: rep stosb, one hit per byte


@pytest.mark.parametrize("path", ["trampoline", "step"])
@pytest.mark.parametrize("gap", [30000, 2000], ids=["other-pages", "same-page"])
def test_threads_each_write_is_a_hit_in_its_thread(page_exe, gap, path):
    """Two threads write concurrently; while one writes with the page lifted the other is
    stopped: no write is lost."""
    rounds = 150
    with hwdbg.spawn([str(page_exe), "threads", str(rounds), str(gap)]) as target:
        target.run_to("ready")
        use_path(target, path)
        bp = target.watch("big")
        assert isinstance(target.run_until_exit(timeout=300), hwdbg.records.Exited)
        base = target.address_of("big")
        by_thread: dict[int, list] = {}
        for h in bp.hits:
            by_thread.setdefault(h.tid, []).append(h.changed[0] - base)
        assert sorted(by_thread.values()) == [list(range(0, rounds)), list(range(gap, gap + rounds))]
        assert target.pid not in by_thread
        check_path(target, path)


def test_bad_ranges_are_refused_and_nothing_is_protected(page_exe):
    with hwdbg.spawn([str(page_exe), "basic", "1"]) as target:
        target.run_to("ready")
        before = perms_of(target.pid)
        big = target.address_of("big")
        with pytest.raises(LengthError, match="1 GiB"):
            target.watch(big, length=(1 << 30) + 1)
        with pytest.raises(hwdbg.errors.HwdbgError, match="length"):
            target.watch(big, length=0)
        with pytest.raises(AddressError, match="not mapped"):
            target.watch(big, length=1 << 29)  # runs past the end of the mapping
        with pytest.raises(AddressError, match="not writable"):
            target.watch(target.address_of("main"), length=4096)
        rsp = target.registers()["rsp"]
        with pytest.raises(AddressError, match="stack of thread"):
            target.watch(rsp - 256, length=1024)
        assert perms_of(target.pid) == before
        assert target.session.breakpoints == {} or all(
            not b.armed_pages for b in target.session.breakpoints.values())
        assert isinstance(target.run_until_exit(timeout=60), hwdbg.records.Exited)



def test_other_threads_stacks_and_hwdbgs_own_pages_are_refused(page_exe):
    """Another thread's stack (page protection), and hwdbg's trampoline pages in the target (any
    watch, debug registers too): one clear error each; nothing protected or armed."""
    with hwdbg.spawn([str(page_exe), "hammer"], stdout=DEVNULL) as target:
        target.run_to("ready")
        bp = target.watch("big", on_hit=lambda hit: None)
        target.session.breakpoints[bp.id].trace = True  # the threads fault: the trampoline pages appear
        for _ in range(240):  # until both threads run and have faulted (the timeout only paces the loop)
            with pytest.raises(hwdbg.TargetTimeout):
                target.cont(timeout=0.5)
            inf = target.session.inferior
            if len(inf.threads) == 3 and target.session.pages.stub.area is not None:
                break
        assert len(inf.threads) == 3
        before, count = perms_of(target.pid), len(target.session.breakpoints)
        for tid in inf.threads:
            rsp = inf.get_regs(tid).rsp
            with pytest.raises(AddressError, match=f"stack of thread {tid}"):
                target.watch(rsp - 256, length=1024)
        area = target.session.pages.stub.area
        for addr, length in ((area, 8192), (area, 8), (area + 4096, 64), (area - 4096, 8192)):
            with pytest.raises(AddressError, match="hwdbg's own scratch memory"):
                target.watch(addr, length=length)
        assert perms_of(target.pid) == before and len(target.session.breakpoints) == count
        os.kill(target.pid, signal.SIGUSR1)
        assert isinstance(target.run_until_exit(timeout=120), hwdbg.records.Exited)


DEBUGGER = textwrap.dedent('''
    import sys, hwdbg
    pid, how = int(sys.argv[1]), sys.argv[2]
    target = hwdbg.attach(pid)
    target.watch("big")
    print("armed", flush=True)
    if how == "detach":
        target.detach()
    else:
        target.cont()  # the test kills this debugger with SIGKILL while the target runs
''')


def state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


@pytest.mark.parametrize("how", ["detach", "sigterm", "sigkill"])
def test_attached_target_after_detach_and_after_sigkill(page_exe, how):
    """Detach, or SIGTERM of hwdbg: the pages are given back, the target runs on and exits 0.
    SIGKILL of hwdbg: its pages stay read-only, and it dies of SIGSEGV at its next write there
    (what the man page says)."""
    proc = subprocess.Popen([str(page_exe), "forever"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "looping"
        debugger = subprocess.Popen([sys.executable, "-c", DEBUGGER, str(proc.pid), how], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
        assert debugger.stdout.readline().strip() == "armed"
        if how != "detach":
            while state(proc.pid) in ("t", "T"):  # until the debugger has resumed it
                time.sleep(0.01)
            debugger.send_signal(signal.SIGKILL if how == "sigkill" else signal.SIGTERM)
        code = debugger.wait(timeout=120)
        assert code == (-9 if how == "sigkill" else code), debugger.stderr.read()
        assert "Traceback" not in debugger.stderr.read()
        os.kill(proc.pid, signal.SIGUSR1)  # stop looping, write big, exit 0
        assert proc.wait(timeout=60) == (-signal.SIGSEGV if how == "sigkill" else 0)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


GDB_SCRIPT = '''
import gdb
pcs = []
class Counting(gdb.Breakpoint):
    def stop(self):
        pcs.append(int(gdb.selected_frame().pc()))
        return False
gdb.execute("set pagination off")
gdb.execute("break ready")
gdb.execute("run")
Counting("rec", gdb.BP_WATCHPOINT)
gdb.execute("continue")
print("PCS", repr(pcs))
'''


@pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")
def test_struct_hits_match_gdbs_software_watchpoint(page_exe, tmp_path):
    script = tmp_path / "count.py"
    script.write_text(GDB_SCRIPT)
    out = subprocess.run(["gdb", "-nx", "-batch", "-x", str(script), "--args", str(page_exe), "struct", "30"],
                         capture_output=True, text=True, timeout=600)
    line = next(l for l in out.stdout.splitlines() if l.startswith("PCS"))
    gdb_pcs = eval(line[4:])  # noqa: S307 - our own script's repr of a list of ints
    assert "Software watchpoint" in out.stdout + out.stderr or "Watchpoint" in out.stdout
    with hwdbg.spawn([str(page_exe), "struct", "30"]) as target:
        target.run_to("ready")
        bp = target.watch("rec")
        assert target.session.breakpoints[bp.id].paged
        target.run_until_exit(timeout=120)
        mine = [h.pc for h in bp.hits]
        assert target.session.pages.stub.used >= len(mine)  # the trampoline's pcs are the program's
    assert len(mine) == 30 + 30 + 1  # set_id (once per round: the second writes the same), name_char, set_tail
    assert mine == gdb_pcs
