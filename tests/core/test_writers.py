"""The writers summary through the API: exact counts per writing instruction, checked against the
program's own (fixed) write counts and against gdb's watchpoint on the same program."""
from __future__ import annotations

import collections
import shutil
import subprocess

import pytest

import hwdbg
from hwdbg import records as rec
from hwdbg.session.writers import TIMELINE_BINS, WriterTable

ROUNDS = 300  # bump_a: ROUNDS writes, set_c: 2 * ROUNDS, bump_b: ROUNDS in each of two threads
GDB_SCRIPT = '''
import gdb
counts = {}
class Counting(gdb.Breakpoint):
    def stop(self):
        name = gdb.selected_frame().name() or "??"
        counts[name] = counts.get(name, 0) + 1
        return False
gdb.execute("set pagination off")
gdb.execute("break main")
gdb.execute("run")
Counting("*(long *)&box.watched", gdb.BP_WATCHPOINT)
gdb.execute("continue")
print("COUNTS", repr(counts))
'''


@pytest.fixture(scope="module")
def writers_exe(build_target):
    return build_target("writers_target", cflags=("-fno-builtin",))  # memset and memcpy stay libc's


def by_function(rows: list[rec.Writer]) -> collections.Counter:
    counts: collections.Counter = collections.Counter()
    for w in rows:
        counts[w.function] += w.count
    return counts


@pytest.mark.requires_hw_watchpoints
def test_counts_are_exact_with_keep_10_and_the_c_loop(writers_exe):
    with hwdbg.spawn([str(writers_exe), str(ROUNDS)]) as target:
        bp = target.watch("box.watched", keep=10)
        pid = target.pid
        target.run_until_exit()
        rows = target.writers(bp)
        assert target.session.fast_hits > 0  # the C loop took hits: they were aggregated too
    assert len(bp.hits) == 10
    assert sum(w.count for w in rows) == bp.hit_count
    mine = {w.function: w for w in rows if w.function in ("bump_a", "bump_b", "set_c")}
    assert {f: w.count for f, w in mine.items()} == {"bump_a": ROUNDS, "set_c": 2 * ROUNDS, "bump_b": 2 * ROUNDS}
    assert len(mine["bump_b"].threads) == 2 and pid not in mine["bump_b"].threads
    assert mine["bump_a"].threads == (pid,)
    assert mine["bump_a"].first == (0, 1) and mine["bump_a"].last == (ROUNDS - 1, ROUNDS)
    assert mine["set_c"].last == (-2 * ROUNDS + 1, -2 * ROUNDS)
    assert all(w.file and w.file.endswith("writers_target.c") and w.line for w in mine.values())
    libc = [w for w in rows if w.function not in mine]
    assert any("memset" in (w.function or "") for w in libc) and any("memcpy" in (w.function or "") or
                                                                      "memmove" in (w.function or "") for w in libc)
    assert [w.count for w in rows] == sorted((w.count for w in rows), reverse=True)
    for w in rows:
        assert sum(w.timeline) == w.count and len(w.timeline) == TIMELINE_BINS
    # one sample backtrace per writer, taken at its first write (no --backtrace asked: none per hit)
    assert [f.function for f in mine["bump_a"].backtrace[:2]] == ["bump_a", "main"]
    assert all(w.backtrace[0].function == f for f, w in mine.items())
    assert all(h.backtrace is None for h in bp.hits)


@pytest.mark.requires_hw_watchpoints
@pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")
def test_counts_per_function_match_gdb(writers_exe, tmp_path):
    script = tmp_path / "count.py"
    script.write_text(GDB_SCRIPT)
    done = subprocess.run(["gdb", "-q", "-nx", "-batch", "-x", str(script), "--args", str(writers_exe), "5"],
                          capture_output=True, text=True, timeout=120)
    line = next((x for x in done.stdout.splitlines() if x.startswith("COUNTS ")), None)
    assert line, done.stdout + done.stderr
    expected = eval(line[len("COUNTS "):], {})  # gdb's watch reports changes only, hence changes_only below
    with hwdbg.spawn([str(writers_exe), "5"]) as target:
        bp = target.watch("box.watched", changes_only=True, keep=10)
        target.run_until_exit()
        assert dict(by_function(target.writers(bp))) == expected


@pytest.mark.requires_hw_watchpoints
def test_backtrace_watch_keeps_one_sample_per_writer(writers_exe):
    with hwdbg.spawn([str(writers_exe), "3"]) as target:
        bp = target.watch("box.watched", backtrace=True, keep=1)
        target.run_until_exit()
        all_rows = target.writers()
    rows = {w.function: w for w in all_rows}
    assert [f.function for f in rows["bump_a"].backtrace[:2]] == ["bump_a", "main"]
    assert rows["bump_b"].backtrace[0].function == "bump_b"
    assert rows["bump_a"].count == 3 and bp.hit_count == sum(w.count for w in all_rows)


def test_json_shape():
    table = WriterTable()
    frame = rec.Frame(pc=0x401136, function="bump", offset=6, file="/src/c.c", line=12)
    table.add(0x401137, 7, 0, 1, frame, None)
    table.add(0x401137, 8, 1, 2, frame, None)
    (row,) = table.writers(3)
    assert row.to_json() == {"id": 3, "pc": 0x401137, "function": "bump", "offset": 6, "file": "/src/c.c",
                             "line": 12, "count": 2, "threads": [7, 8], "first": {"old": 0, "new": 1},
                             "last": {"old": 1, "new": 2}, "syscall": None, "backtrace": None,
                             "timeline": [1, 1] + [0] * (TIMELINE_BINS - 2), "hits_per_bin": 1}


def test_timeline_widens_and_stays_exact():
    table = WriterTable()
    frame = rec.Frame(pc=1)
    for i in range(1000):
        table.add(0x10 if i % 3 else 0x20, 1, i, i + 1, frame, None)
    rows = {w.pc: w for w in table.writers(1)}
    assert rows[0x10].count == 666 and rows[0x20].count == 334
    assert rows[0x10].hits_per_bin == 16 and sum(rows[0x10].timeline) == 666
    assert [a + b for a, b in zip(rows[0x10].timeline, rows[0x20].timeline)][:62] == [16] * 62
    table.reset()
    assert table.writers(1) == []
