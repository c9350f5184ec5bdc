"""vfork children over page-watched memory (session/vforkchild.py). A vfork child shares the
parent's memory, so its protected pages: it must not die of them, and its writes there are real
writes into the watched memory, hits whose writer is the child (its pid, its pc). A forked child
(its own copy) gets its pages back before it runs. posix_spawn (clone(CLONE_VM|CLONE_VFORK)) is
a vfork too. Every case: the program prints what it prints without hwdbg."""
from __future__ import annotations

import os
import re
import subprocess

import pytest

import hwdbg

pytestmark = pytest.mark.requires_ptrace

MODES = ["write_exit", "write_exec", "exec", "spawn", "fork", "threads"]


@pytest.fixture(scope="module")
def vfork_exe(build_target):
    return build_target("page_vfork")


def without_pid(text: str) -> str:
    return re.sub(r"child \d+", "child N", text)


def child_pid(text: str) -> int:
    return int(re.search(r"child (\d+)", text).group(1))


def run_watched(exe, mode: str, kernel: bool, *, stop: bool = False):
    """Runs mode with big watched; returns (the program's output, hits, stops seen, target)."""
    r, w = os.pipe()
    stops = []
    with hwdbg.spawn([str(exe), mode], stdout=w, kernel_writes=kernel) as target:
        os.close(w)
        target.run_to("ready")
        bp = target.watch("big", kernel=kernel)
        assert target.session.breakpoints[bp.id].paged
        if stop:
            while True:
                event = target.cont(timeout=120)
                if not isinstance(event, hwdbg.records.Stopped):
                    break
                stops.append(event)
        else:
            event = target.run_until_exit(timeout=120)
        assert isinstance(event, hwdbg.records.Exited) and event.code == 0
        hits = list(bp.hits)
        writers = target.writers(bp)
        followed = target.session.vforks.writes
    with os.fdopen(r) as out:
        return out.read(), hits, stops, writers, followed


@pytest.mark.parametrize("kernel", [False, True], ids=["ptrace-syscall", "seccomp"])
@pytest.mark.parametrize("mode", MODES)
def test_children_live_and_their_writes_are_hits(vfork_exe, mode, kernel):
    alone = subprocess.run([str(vfork_exe), mode], capture_output=True, text=True, timeout=60)
    assert alone.returncode == 0
    out, hits, _, writers, followed = run_watched(vfork_exe, mode, kernel)
    assert without_pid(out) == without_pid(alone.stdout)  # the child ended as it does alone
    child = child_pid(out)
    mine = [(h.function, h.old, h.new) for h in hits if h.tid == child]
    if mode in ("write_exit", "write_exec", "threads"):
        assert mine == [("child_put", 0, ord("c"))]
        assert followed == 1
        assert any(w.function == "child_put" and w.threads == (child,) for w in writers)
    else:  # exec only, posix_spawn: nothing written; fork: its own copy, not the watched memory
        assert mine == [] and followed == 0
    parent = [(h.function, h.new) for h in hits if h.tid != child and h.function == "put"]
    assert parent[0] == ("put", ord("p")) and parent[-1] == ("put", ord("q"))
    if mode == "threads":  # the other thread's 2,000 writes, none lost while the child was followed
        assert len(parent) == 2 + 2000


def test_a_childs_write_stops_the_thread_that_vforked(vfork_exe):
    """A watch that stops: the child's hit is reported as a stop of the vforking thread, after
    the child ended (it cannot be inspected: it is not a thread of the program)."""
    out, hits, stops, _, _ = run_watched(vfork_exe, "write_exec", False, stop=True)
    child = child_pid(out)
    assert [[(h.tid == child, h.function, h.new) for h in s.hits] for s in stops] == [
        [(False, "put", ord("p"))], [(True, "child_put", ord("c"))], [(False, "put", ord("q"))]]
    assert stops[1].tid != child



def test_detach_with_a_kept_childs_event_unread(vfork_exe):
    """The vfork stop can be queued unread when hwdbg stops (another thread's stop, Ctrl-C):
    detach then follows the child first (else it and the thread that vforked would wait for
    each other forever), and gives every page back; both end as they do alone."""
    alone = subprocess.run([str(vfork_exe), "write_exit"], capture_output=True, text=True, timeout=60)
    r, w = os.pipe()
    target = hwdbg.spawn([str(vfork_exe), "write_exit"], stdout=w)
    os.close(w)
    target.run_to("ready")
    target.watch("big")
    session, inf = target.session, target.session.inferior
    inf.resume(target.pid)
    while True:  # the program's own write first (a fault handled as the run loop would), then vfork
        event = inf.wait_event()
        if isinstance(event, hwdbg.process.events.Forked):
            break
        assert session._handle(inf, event) is not None  # the watch's stop at put(1, 'p')
        inf.resume(target.pid)
    inf.requeue(event)  # unread, as stop_all leaves it
    target.detach()
    assert session.vforks.writes == 1
    _, status = os.waitpid(target.pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    with os.fdopen(r) as out:
        assert without_pid(out.read()) == without_pid(alone.stdout)
