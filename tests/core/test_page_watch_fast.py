"""Page-watch faults taken by the C hit loop (session/pagefast.py, cext/pagehit.c) give the same
hits as Python's path: the same count, pcs, changed bytes, old and new values, in the same
order; writes beside the watch and same-value writes are no hits; the threads' writes are exact
while the program has several; a timer signal and our interrupts falling inside the
trampoline's run lose nothing."""
from __future__ import annotations

import os

import pytest

import hwdbg
from hwdbg.errors import TargetTimeout

pytestmark = pytest.mark.requires_ptrace
DEVNULL = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
ROUNDS = 60


@pytest.fixture(scope="module")
def exe(build_target):
    return build_target("page_fast")


def hits_of(exe, *, fast: bool, signals: bool):
    argv = [str(exe), str(ROUNDS)] + (["signals"] if signals else [])
    with hwdbg.spawn(argv, stdout=DEVNULL) as target:
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


@pytest.mark.parametrize("signals", [False, True], ids=["quiet", "sigalrm-1ms"])
def test_c_loop_hits_equal_python_hits(exe, signals):
    main_c, workers_c, taken_c, base = hits_of(exe, fast=True, signals=signals)
    main_py, workers_py, taken_py, _ = hits_of(exe, fast=False, signals=signals)
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


@pytest.mark.parametrize("fast", [True, False])
def test_interrupts_inside_the_c_loop_lose_nothing(exe, fast):
    """Short timeouts interrupt the single thread again and again, often inside a trampoline
    run the C loop started: every byte written is a hit exactly once, and the program ends
    normally. One thread: the C loop's case."""
    rounds = 1500
    # (no timer signal here: with one, a timeout's stop can name a thread that is not stopped,
    # PTRACE_GETREGS ESRCH, on the Python path as well: seen on main, left to the signal work)
    with hwdbg.spawn([str(exe), str(rounds), "quiet", "solo"], stdout=DEVNULL) as target:
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
