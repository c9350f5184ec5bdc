"""Page-watch faults taken by the C hit loop (session/pagefast.py, cext/pagehit.c) give the same
hits as Python's path: the same count, pcs, changed bytes, old and new values, in the same
order; writes beside the watch and same-value writes are no hits; the threads' writes are exact
while the program has several; a timer signal and our interrupts falling inside the
trampoline's run lose nothing; after SIGTERM of hwdbg or detach nothing stays protected. Each
both under the seccomp filter and with every system call stopping (PTRACE_SYSCALL), where the
C loop also passes on the calls that cannot write user memory."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import hwdbg
from hwdbg.errors import TargetTimeout
from hwdbg.process.events import Interrupted, Signal

pytestmark = pytest.mark.requires_ptrace
DEVNULL = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
ROUNDS = 60
# how the target is started: under the kernel-write filter, or with every system call stopping
FILTERED = pytest.mark.parametrize("filtered", [True, False], ids=["seccomp", "ptrace-syscall"])


@pytest.fixture(scope="module")
def exe(build_target):
    return build_target("page_fast")


def hits_of(exe, *, fast: bool, signals: bool, filtered: bool):
    argv = [str(exe), str(ROUNDS)] + (["signals"] if signals else [])
    with hwdbg.spawn(argv, stdout=DEVNULL, kernel_writes=filtered) as target:
        target.run_to("ready")
        pid = target.pid
        target.session.pagefast.enabled = fast
        arr, cross = target.watch("blk.arr"), target.watch("cross")
        assert target.session.breakpoints[arr.id].paged and target.session.breakpoints[cross.id].paged
        assert isinstance(target.run_until_exit(timeout=300), hwdbg.records.Exited)
        main = [(h.id == arr.id, h.function, h.pc, h.changed, h.old, h.new) for h in arr.hits + cross.hits
                if h.tid == pid]
        workers: dict[int, list] = {}
        for h in arr.hits:
            if h.tid != pid:
                workers.setdefault(h.tid, []).append((h.function, h.pc, h.changed, h.old, h.new))
        return main, sorted(workers.values()), target.session.pagefast.taken, arr.address


@FILTERED
@pytest.mark.parametrize("signals", [False, True], ids=["quiet", "sigalrm-1ms"])
def test_c_loop_hits_equal_python_hits(exe, signals, filtered):
    main_c, workers_c, taken_c, base = hits_of(exe, fast=True, signals=signals, filtered=filtered)
    main_py, workers_py, taken_py, _ = hits_of(exe, fast=False, signals=signals, filtered=filtered)
    assert taken_py == 0 and taken_c > 0  # the two paths were the ones compared
    assert main_c == main_py
    assert workers_c == workers_py
    functions = [f for _, f, *_ in main_c]
    # each round: one new byte, one 8-byte store across arr's page boundary, one across cross's
    assert functions.count("put_byte") == 2 * ROUNDS and functions.count("put_long") == 2 * ROUNDS
    assert functions.count("put_cross") == 2 * ROUNDS and "neighbours" not in functions
    bytes_put = [(changed, new) for _, f, _, changed, _, new in main_c if f == "put_byte"]
    assert bytes_put == [((base + r, 1), r + 1) for r in range(2 * ROUNDS)]
    # the two threads' 50 writes each, exact, each at its own offsets
    assert [[(c[0] - base, c[1], new) for _, _, c, _, new in w] for w in workers_c] == [
        [(start + r, 1, r + 7) for r in range(50)] for start in (1000, 3000)]


@FILTERED
@pytest.mark.parametrize("signals", [False, True], ids=["quiet", "sigalrm-1ms"])
@pytest.mark.parametrize("fast", [True, False])
def test_interrupts_inside_the_c_loop_lose_nothing(exe, fast, signals, filtered):
    """Short timeouts interrupt the single thread again and again, often inside a trampoline
    run the C loop started: every byte written is a hit exactly once, and the program ends
    normally. One thread: the C loop's case. With the 1 ms timer, one trampoline run often
    holds both a SIGALRM and our interrupt for the thread: handling the first must not resume
    it while the second is still queued (it was: PTRACE_GETREGS ESRCH at the timeout's stop)."""
    rounds = 1500
    argv = [str(exe), str(rounds), "signals" if signals else "quiet", "solo"]
    for _ in range(3 if signals else 1):  # the race is likely, not certain, in one run
        with hwdbg.spawn(argv, stdout=DEVNULL, kernel_writes=filtered) as target:
            target.run_to("ready")
            pid = target.pid
            target.session.pagefast.enabled = fast
            arr = target.watch("blk.arr")
            base = arr.address
            for _ in range(100000):  # bounded only to catch a hang
                try:
                    end = target.run_until_exit(timeout=0.02)
                    break
                except TargetTimeout:
                    pass
            assert isinstance(end, hwdbg.records.Exited) and end.code == 0
            assert (target.session.pagefast.taken > 0) == fast
            puts = [(h.changed, h.old, h.new) for h in arr.hits if h.function == "put_byte" and h.tid == pid]
            # index k gets k + 1 (a byte): a hit unless that is the 0 it held already
            assert puts == [((base + k, 1), 0, (k + 1) & 0xFF) for k in range(2 * rounds) if (k + 1) & 0xFF]


def calls_run(exe, *, fast: bool):
    rounds = 200
    r, w = os.pipe()
    with hwdbg.spawn([str(exe), str(rounds), "calls"], stdout=w) as target:
        os.close(w)
        target.run_to("ready")
        session = target.session
        session.pagefast.enabled = fast
        arr = target.watch("blk.arr")
        assert session.kernel.mode(session.inferior) == "ptrace-syscall"
        stops = session.kernel.stops
        assert isinstance(target.run_until_exit(timeout=300), hwdbg.records.Exited)
        with os.fdopen(r) as out:
            assert out.read() == "done bad=0\n"  # every read(2) into the protected page landed
        puts = [(h.function, h.changed[0] - arr.address, h.old, h.new) for h in arr.hits]
        assert puts == [("put_byte", k, 0, k + 1) for k in range(rounds)]
        return rounds, session.kernel.stops - stops, session.pagefast


def test_c_loop_passes_on_calls_that_write_no_user_memory(exe):
    """Every call stopping (PTRACE_SYSCALL): per round the program makes getppid and write(2),
    which write no user memory, and read(2) into a protected page. Python handles only the
    read's stops (a few more: the first round's, before the C loop takes over), the C loop
    passes on the other two calls' entry and exit stops, as the filter would. Hits and reads
    are those of Python's path, which sees every stop."""
    rounds, python_stops, fast = calls_run(exe, fast=True)
    assert python_stops <= 2 * rounds + 20
    assert fast.taken >= rounds - 1 and fast.passed >= 4 * (rounds - 1)
    rounds, python_stops, slow = calls_run(exe, fast=False)
    assert slow.taken == slow.passed == 0 and python_stops >= 6 * rounds


def test_a_thread_with_two_queued_stops_stays_stopped_until_both_are_read(exe):
    """The bookkeeping under the race above, without the race: a trampoline run hands back a
    SIGALRM and our interrupt for one thread; reading the first leaves the thread held, and
    the dispatch's resume after passing the signal on leaves it in its ptrace stop."""
    with hwdbg.spawn([str(exe), "1", "quiet", "solo"], stdout=DEVNULL) as target:
        target.run_to("ready")
        session, inf, tid = target.session, target.session.inferior, target.pid
        inf.requeue(Interrupted(tid))
        inf.requeue(Signal(tid, signal.SIGALRM, None))
        assert isinstance(inf.wait_event(), Signal) and inf.threads[tid].held
        session._resume(inf, tid)  # what the dispatch does with a signal it passes on
        assert not inf.threads[tid].running
        assert isinstance(inf.wait_event(), Interrupted) and not inf.threads[tid].held
        assert inf.get_regs(tid).rip  # still stopped: GETREGS works
        assert isinstance(target.run_until_exit(timeout=300), hwdbg.records.Exited)


LET_GO = textwrap.dedent('''
    import faulthandler, sys, hwdbg
    faulthandler.dump_traceback_later(90, exit=True)  # a hang shows where it waits
    from hwdbg.errors import TargetTimeout
    pid, how = int(sys.argv[1]), sys.argv[2]
    target = hwdbg.attach(pid)
    bp = target.watch("blk.arr", keep=10)
    print("armed", flush=True)
    if how == "sigterm":
        target.run_until_exit()  # the test SIGTERMs this debugger while the C loop takes faults
    for _ in range(200):  # until the C loop has taken faults (the timeout only paces: a loaded machine
        try:              # once gave it none in 0.3 s)
            target.run_until_exit(timeout=0.3)
        except TargetTimeout:
            pass
        if target.session.pagefast.taken > 0 and bp.hit_count > 0:
            break
    assert target.session.pagefast.taken > 0 and bp.hit_count > 0, (target.session.pagefast.taken, bp.hit_count)
    target.detach()
    print("detached", flush=True)
''')


def state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


@pytest.mark.parametrize("how", ["sigterm", "detach"])
def test_letting_go_while_the_c_loop_takes_faults(exe, how):
    """An attached single-threaded program (every system call stops) writing the watch in a
    tight loop: after SIGTERM of hwdbg, or detach, nothing stays protected (the program's next
    write would kill it) and no SIGSEGV or SIGSTOP of ours reaches it: it ends normally at SIGUSR1."""
    for _ in range(3):
        proc = subprocess.Popen([str(exe), "forever"], stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline().strip() == "looping"
            debugger = subprocess.Popen([sys.executable, "-c", LET_GO, str(proc.pid), how], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
            assert debugger.stdout.readline().strip() == "armed", debugger.stderr.read()
            if how == "sigterm":
                while state(proc.pid) in ("t", "T"):
                    time.sleep(0.001)
                time.sleep(0.05)  # the C loop takes faults
                debugger.send_signal(signal.SIGTERM)
            out, err = debugger.communicate(timeout=120)
            assert debugger.returncode == (128 + signal.SIGTERM if how == "sigterm" else 0), err
            assert "Traceback" not in err
            os.kill(proc.pid, signal.SIGUSR1)
            assert proc.wait(timeout=60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
