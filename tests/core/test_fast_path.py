"""The C hit loop must report exactly what the Python path reports, at C's syscall cost."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading

import pytest

import hwdbg

pytestmark = pytest.mark.requires_hw_watchpoints


def run_hits(core_exe, mode, n, fast, watches):
    with hwdbg.spawn([str(core_exe), mode, str(n)]) as t:
        t.session.fast_path = fast
        t.run_to("ready")
        bps = [t.watch(expr, access=access) for expr, access in watches]
        t.run_until_exit()
        hits = sum(bp.hit_count for bp in bps)
        assert t.session.fast_hits >= (hits - 3 if fast else 0) and (fast or t.session.fast_hits == 0)
        return [[(h.id, h.tid == t.pid, h.pc, h.old, h.new, h.function) for h in bp.hits] for bp in bps]


@pytest.mark.parametrize("watches", [
    [("g[0]", "w")],                                   # one slot: no DR6 read at all
    [("g[0]", "w"), ("g[3]", "rw"), ("g[5]", "r")],    # several slots: DR6 decides, rwatch filters
    [("g", "rw")],                                     # 64 bytes: too long for awatch, refused
])
def test_fast_and_python_paths_agree(core_exe, watches):
    if watches[0][0] == "g":  # (watch takes 64 bytes by page protection: tests/core/test_page_watch.py)
        with pytest.raises(hwdbg.ValidationError):
            run_hits(core_exe, "globals", 1, True, watches)
        return
    slow = run_hits(core_exe, "globals", 300, False, watches)
    fast = run_hits(core_exe, "globals", 300, True, watches)
    assert fast == slow
    assert [len(hits) for hits in fast] == [300, 300, 0][:len(watches)]  # rwatch: g[5] is only written


def test_gdb_style_watch_reports_only_changes_on_both_paths(core_exe):
    # each round writes g[i] = r*8+i+1: always a change; watch on a block re-written with the same bytes
    results = []
    for fast in (False, True):
        with hwdbg.spawn([str(core_exe), "strings", "3"]) as t:
            t.session.fast_path = fast
            t.run_to("ready")
            src = t.watch(t.address_of("big_src") + 8, length=8, changes_only=True)
            t.run_until_exit()
            results.append([(h.old, h.new) for h in src.hits])
    assert results[0] == results[1] and len(results[0]) == 1  # memset once, then never changed


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace is not installed")
def test_syscalls_per_hit(core_exe, tmp_path):
    """Per hit: wait4, PTRACE_GETSIGINFO, PTRACE_PEEKDATA of the watched word, PTRACE_CONT (the C
    reference tracer makes 4 too: cont, wait, peek DR6, poke DR6)."""
    script = textwrap.dedent(f'''
        import sys, hwdbg
        with hwdbg.spawn([{str(core_exe)!r}, "globals", sys.argv[1]]) as t:
            t.run_to("ready")
            bp = t.watch("g[0]")
            t.run_until_exit()
            assert bp.hit_count == int(sys.argv[1])
    ''')
    counts = {}
    for n in (0, 2000):
        out = tmp_path / f"strace-{n}.txt"
        subprocess.run(["strace", "-c", "-o", str(out), sys.executable, "-c", script, str(n)], check=True,
                       timeout=120)
        calls = {}
        for line in out.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 5 and fields[-1].isidentifier() and fields[3].isdigit():
                calls[fields[-1]] = int(fields[3])
        counts[n] = calls
    per_hit = {name: (counts[2000].get(name, 0) - counts[0].get(name, 0)) / 2000 for name in counts[2000]}
    relevant = {k: round(v, 2) for k, v in per_hit.items() if v >= 0.5 and k != "total"}
    assert relevant == {"ptrace": 3.0, "wait4": 1.0}, relevant


def test_kept_hits_are_all_there_when_a_timeout_ends_a_traced_run(build_target):
    """run_until_exit(timeout) ends while the C loop's bursts are being announced on the
    publisher thread: every hit is counted, the last `keep` are kept, in order, none missing."""
    exe = build_target("writer")
    for _ in range(5):
        with hwdbg.spawn([str(exe), "1000000000"]) as t:
            bp = t.watch("counter", keep=100)
            with pytest.raises(hwdbg.TargetTimeout):
                t.run_until_exit(timeout=0.3)
            kept = bp.hits
            assert t.session.fast_hits > 0  # the C loop took them
            assert bp.hit_count > 0 and len(kept) == min(100, bp.hit_count)
            assert [h.new for h in kept] == list(range(bp.hit_count - len(kept) + 1, bp.hit_count + 1))
            assert sum(w.count for w in t.writers(bp)) == bp.hit_count


def test_announcing_threads_take_turns_at_the_output(core_exe):
    """While the publisher thread announces the C loop's hits, the run loop's own flushes take
    the same lock: two threads writing one text stream at once tore a --json line (seen once in
    a million hits). Every listener and flusher call of an offloaded run holds the lock."""
    with hwdbg.spawn([str(core_exe), "globals", "20000"]) as t:
        lock = t.session.notrace.lock
        unlocked = []

        def check(*_args):
            if t.session.publisher.running and not lock._is_owned():
                unlocked.append(threading.current_thread().name)

        t.run_to("ready")
        t.session.listeners.append(check)
        t.session.flushers.append(check)
        bp = t.watch("g[0]")
        t.run_until_exit()
        assert bp.hit_count == 20000 and t.session.fast_hits > 0
        assert unlocked == []


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs")
def test_with_pin_the_publisher_leaves_the_trap_paths_cpu_to_the_trap_path(core_exe):
    """--pin: debugger and target share one CPU, busy with every hit; the thread announcing the
    C loop's hits runs on the debugger's other CPUs."""
    before = os.sched_getaffinity(0)
    script = f"""
import json, os, threading, hwdbg
with hwdbg.spawn([{str(core_exe)!r}, "globals", "3000"], pin=True) as t:
    seen = []
    t.session.listeners.append(lambda hit: threading.current_thread().name == "hwdbg-publisher"
                               and not seen and seen.append(os.sched_getaffinity(0)))
    t.run_to("ready")
    bp = t.watch("g[0]")
    t.run_until_exit()
    print(json.dumps([sorted(os.sched_getaffinity(0)), sorted(seen[0]), bp.hit_count, t.session.fast_hits > 0]))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    trap, publisher, hits, fast = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(trap) == 1 and hits == 3000 and fast
    assert set(publisher) == before - set(trap)
