"""watch --count: exact counts from perf breakpoints, without a single stop."""
from __future__ import annotations

import pytest

import hwdbg

pytestmark = pytest.mark.requires_hw_watchpoints


def test_count_is_exact_and_never_stops(start):
    n = 20_000
    t = start("globals", n)
    counted = t.watch("g[2]", count=True)
    trapped = t.watch("g[0]")
    assert counted.status == "COUNTING" and trapped.status == "INSTALLED"
    assert all(slot < 3 for slots in trapped.slots.values() for slot in slots)  # the top slot is perf's
    t.run_until_exit()
    assert counted.hit_count == n and counted.hits == []
    assert trapped.hit_count == n


def test_count_follows_new_threads(start):
    n = 5_000
    t = start("threads", n)
    counted = t.watch("shared", count=True)
    assert t.run_until_exit().code == 0
    assert counted.hit_count == 8 * n


def test_count_and_trap_the_same_variable(start):
    t = start("globals", 100)
    counted = t.watch("g[1]", count=True)
    trapped = t.watch("g[1]")
    t.run_until_exit()
    assert counted.hit_count == trapped.hit_count == 100


def test_count_refuses_what_it_cannot_do(start):
    t = start("globals", 1)
    with pytest.raises(hwdbg.UsageError):
        t.watch("g[1]", access="r", count=True)
    with pytest.raises(hwdbg.UsageError):
        t.watch("g[1]", count=True, condition="new > 3")
    # run_to("ready") wrote DR0 for its temporary breakpoint: the kernel keeps that slot for
    # ptrace from then on, so three counters fit, and the fourth is refused cleanly.
    for i in range(3):
        t.watch(f"g[{i}]", count=True)
    with pytest.raises(hwdbg.SlotError, match="add --count watches first"):
        t.watch("g[5]", count=True)
    assert len(t.breakpoints) == 3
    assert t.run_until_exit().code == 0


def test_cli_watch_count(core_exe):
    import json
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "hwdbg", "--batch", "--json", "-ex", "start", "-ex",
                          "watch g[2] --count", "-ex", "continue", "-ex", "info breakpoints", str(core_exe),
                          "globals", "5000"], capture_output=True, text=True, timeout=60)
    events = [json.loads(line) for line in out.stdout.splitlines()]
    assert out.returncode == 0 and "Traceback" not in out.stderr
    assert not [e for e in events if e["event"] == "hit" and e["expr"] == "g[2]"]  # counting never stops
    info = [e for e in events if e.get("command") == "info breakpoints"][-1]
    counted = [bp for bp in info["breakpoints"] if bp["expr"] == "g[2]"]
    assert counted and counted[0]["hits"] == 5000
