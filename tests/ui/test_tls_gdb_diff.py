"""Thread-locals against gdb: each thread's instance of a __thread variable of the executable,
of a linked library, of a dlopen()ed library (dynamic TLS) and libc's errno; watch on them."""
from __future__ import annotations

import re
import subprocess

import pytest

from gdb_diff import gdb_outputs, needs_gdb
from ui_helpers import ROOT, make_context, run_hwdbg

pytestmark = [needs_gdb, pytest.mark.requires_ptrace]

SOURCE = ROOT / "tests" / "targets" / "tls_target.c"
VALUES = ["checkpoint_id", "tcount", "tarr", "tname", "lib_tls", "lib_tls_arr", "dyn_tls", "errno", "sizeof(tcount)"]


@pytest.fixture(scope="module")
def tls_exe(build_target):
    return build_target("tls_target", libs=["tls_lib"])


@pytest.fixture(scope="module")
def dyn_lib(build_target):
    return build_target("tls_dyn", shared=True)


def _checkpoint_line() -> int:
    """The line after at_checkpoint() stored its argument (so checkpoint_id names the thread)."""
    lines = SOURCE.read_text().splitlines()
    return next(n for n, text in enumerate(lines, 1) if "checkpoint_id = id;" in text) + 1


def _by_checkpoint(outputs: list[str]) -> dict[str, list[str]]:
    """The printed values at each stop, keyed by the checkpoint id ($N = numbers dropped)."""
    stops: dict[str, list[str]] = {}
    for i in range(0, len(outputs), len(VALUES)):
        values = [re.sub(r"^\$\d+ = ", "", text) for text in outputs[i:i + len(VALUES)]]
        stops[values[0]] = values[1:]
    return stops


def test_each_thread_sees_its_own_thread_locals_as_in_gdb(tls_exe, dyn_lib):
    """Five stops (main, three threads, main again): tcount, an array, a static char array,
    two library thread-locals (static TLS and dynamic TLS) and errno, as gdb prints them."""
    stops = 5
    commands = [f"break tls_target.c:{_checkpoint_line()}", "run"]
    for n in range(stops):
        commands += [f"print {v}" for v in VALUES] + (["continue"] if n < stops - 1 else [])
    expected = gdb_outputs(tls_exe, commands, [str(dyn_lib)])
    ctx, stream = make_context(reraise=False)
    got = []
    try:
        ctx.session.load([str(tls_exe), str(dyn_lib)])
        for command in commands:
            ctx.dispatch(command)
            got.append(stream.getvalue().strip())
            stream.truncate(0)
            stream.seek(0)
    finally:
        ctx.close()
    printed = [i for i, c in enumerate(commands) if c.startswith("print")]
    ours, theirs = _by_checkpoint([got[i] for i in printed]), _by_checkpoint([expected[i] for i in printed])
    assert set(theirs) == {"0", "1", "2", "3", "9"}, expected
    assert ours == theirs
    assert theirs["2"][:2] == ["6", "{1, 2, 20, 4}"]  # the values do depend on the thread


def gdb_watch_hits(exe, names: list[str], tmp_path) -> list[tuple[str, int, int]]:
    script = ["set pagination off", "break main", "run"]
    for name in names:
        script += [f"watch {name}", "commands", "silent", f'printf "HIT {name} %lx %ld\\n", $pc, (long){name}',
                   "continue", "end"]
    script.append("continue")
    path = tmp_path / "watch.gdb"
    path.write_text("\n".join(script) + "\n")
    proc = subprocess.run(["gdb", "-nx", "-batch", "-x", str(path), str(exe)], capture_output=True, text=True,
                          timeout=180, stdin=subprocess.DEVNULL)
    return [(m[1], int(m[2], 16), int(m[3])) for m in re.finditer(r"^HIT (\w+) ([0-9a-f]+) (-?\d+)$", proc.stdout, re.M)]


def hwdbg_watch_hits(exe, names: list[str]) -> list[tuple[str, int, int]]:
    args = ["-ex", "break main", "-ex", "run"]
    for name in names:
        args += ["-ex", f"watch {name}", "-ex", "commands", "-ex", "silent", "-ex", "continue", "-ex", "end"]
    run = run_hwdbg("--batch", "--json", *args, "-ex", "continue", exe, timeout=180)
    assert run.returncode not in (1,), run
    return [(h["expr"], h["pc"], h["new"]) for h in run.of("hit") if h["kind"] == "watch"]


@pytest.mark.requires_hw_watchpoints
def test_watch_on_thread_locals_hits_as_in_gdb(tls_exe, tmp_path):
    """watch tcount / watch errno in the main thread: only the main thread's writes hit (three
    worker threads write their own instances meanwhile), the same hits as gdb's."""
    names = ["tcount", "errno"]
    expected = gdb_watch_hits(tls_exe, names, tmp_path)
    assert [(n, v) for n, _, v in expected if n == "tcount"] == [("tcount", 5), ("tcount", 7)], expected
    assert hwdbg_watch_hits(tls_exe, names) == expected


def test_thread_local_bad_input(tls_exe):
    """Before the program runs a thread-local has no instance: one line, nothing changed."""
    ctx, stream = make_context(reraise=False)
    try:
        ctx.session.load([str(tls_exe)])
        assert not ctx.dispatch("print tcount")
        out = [line for line in stream.getvalue().splitlines() if line]
        assert len(out) == 1 and out[0].startswith("*** "), out
        assert ctx.values == []
        assert ctx.dispatch("whatis tcount") and ctx.dispatch("print sizeof(tarr)")
        assert stream.getvalue().splitlines()[-2:] == ["type = long", "$1 = 16"]
    finally:
        ctx.close()


def test_static_executable_places_its_tls_block_as_the_loader_does(build_target):
    """No link_map to read (gdb 13 cannot read these at all): the block is placed as glibc
    places the first module's; the program's own &tcount and &tsmall agree with hwdbg's."""
    exe = build_target("tls_static", cflags=("-static",))
    ctx, stream = make_context(reraise=False)
    try:
        ctx.session.load([str(exe)])
        for command in ("break stop", "run"):
            assert ctx.dispatch(command), stream.getvalue()
        values = []
        for text in ("tcount", "tsmall", "tpad[1]", "where == &tcount", "small_at == &tsmall", "sizeof(tpad)"):
            values.append(ctx.evaluate(text).value)
        assert values == [5, 11, 2, 1, 1, 40]
    finally:
        ctx.close()


@pytest.mark.requires_hw_watchpoints
def test_watch_set_in_a_worker_thread_watches_that_threads_instance(tls_exe):
    """`watch tcount` while a worker is current: its three writes hit, from that thread only,
    while two other workers write their own tcount. (gdb 13 moves such a watch to whichever
    thread stops next, and so reports a mix of threads' writes; hwdbg keeps the instance.)"""
    lines = SOURCE.read_text().splitlines()
    loop = next(n for n, text in enumerate(lines, 1) if "tcount += id;" in text) - 1  # the for line
    run = run_hwdbg("--batch", "--json", "-ex", f"break tls_target.c:{loop}", "-ex", "run", "-ex", "delete 1",
                    "-ex", "watch tcount", "-ex", "commands", "-ex", "silent", "-ex", "continue", "-ex", "end",
                    "-ex", "continue", tls_exe, timeout=180)
    stop = run.of("stopped")[0]
    hits = [h for h in run.of("hit") if h["kind"] == "watch"]
    assert len(hits) == 3, run
    step = hits[0]["new"]
    assert step in (1, 2, 3) and [h["new"] for h in hits] == [step, 2 * step, 3 * step]
    pid = next(r["pid"] for r in run.of("result") if r["command"] == "run")
    assert {h["tid"] for h in hits} == {stop["tid"]} and stop["tid"] != pid  # a worker's, every one
