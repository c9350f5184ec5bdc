"""Differential test: gdb 13's stop and thread lines in a multi-threaded program. Once the process
has had a second thread, a breakpoint or watchpoint stop names the thread that hit it
('Thread 2 "helper" hit Breakpoint 1, ...', temporary breakpoints and watchpoints too), and a
stop in another thread than the one resumed is announced ('[Switching to Thread 0x... (LWP N)]');
threads that appear and exit are named by their pthread_t and LWP ('[New Thread 0x... (LWP N)]',
'[Thread 0x... (LWP N) exited]'). thread_stops.c stops in main, then in two workers one after
the other, then in main again; every line of both debuggers is compared, in order, with each
thread pointer, LWP and pid replaced by its rank of appearance (gdb turns address randomization
off, hwdbg does not)."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from ui_helpers import run_hwdbg

pytestmark = [pytest.mark.requires_ptrace,
              pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")]

# gdb's libthread_db banner; hwdbg's "Starting program" (gdb -batch prints none) and "Run till
# exit" (gdb prints it only for a command typed at a terminal)
DROPPED = re.compile(r"^(\[Thread debugging using|Using host libthread_db|Starting program: |Run till exit from )")
NUMBERED = re.compile(r"(?<=Thread )0x[0-9a-f]+|(?<=LWP )\d+|(?<=process )\d+")

SCRIPTS = {
    "break-tbreak-watch": ["break work", "tbreak make_pair", "run", "continue", "tbreak make_pair", "continue",
                           "watch total"] + ["continue"] * 7,
    "awatch": ["break main", "run", "awatch total"] + ["continue"] * 8,
    "finish-in-a-thread": ["break make_pair", "run", "continue", "finish", "continue", "continue"],
    "next-into-a-hit": ["break worker", "run", "break work", "next", "next", "next", "continue", "continue"],
}


def normalised(text: str) -> list[str]:
    """The lines, noise dropped, thread pointers, LWPs and pids numbered in order of appearance."""
    seen: dict[str, str] = {}

    def rank(match: re.Match) -> str:
        return seen.setdefault(match.group(0), f"<{len(seen) + 1}>")

    return [NUMBERED.sub(rank, line) for line in text.splitlines() if not DROPPED.match(line)]


def gdb_and_hwdbg(exe, commands: list[str]):
    """gdb's output of commands on exe (-batch), and hwdbg's --batch run of them."""
    argv = ["gdb", "-nx", "-batch"]
    hw_argv = ["--batch"]
    for line in commands:
        argv += ["-ex", line]
        hw_argv += ["-ex", line]
    gdb = subprocess.run([*argv, str(exe)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         timeout=180, stdin=subprocess.DEVNULL)
    return gdb.stdout, run_hwdbg(*hw_argv, exe, timeout=180)


def both(exe, commands: list[str]) -> tuple[list[str], list[str]]:
    gdb, run = gdb_and_hwdbg(exe, commands)
    return normalised(gdb), normalised(run.stdout + run.stderr)


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_thread_stop_lines_are_gdbs(build_target, script):
    exe = build_target("thread_stops")
    expected, got = both(exe, SCRIPTS[script])
    assert got == expected
    # the lines this is about are there (not two empty outputs)
    assert any(line.startswith("[Switching to Thread <") for line in expected)
    assert any(re.match(r'Thread 3 "helper" hit ', line) for line in expected)
    assert any(re.match(r"\[Thread <\d+> \(LWP <\d+>\) exited\]", line) for line in expected)


def test_new_thread_names_its_pthread_t(build_target):
    """The address in [New Thread 0x... (LWP N)] is the thread's pthread_t: its fs_base when it
    stops, and what pthread_self() returns in it."""
    exe = build_target("thread_stops")
    run = run_hwdbg("--batch", "-ex", "break work", "-ex", "run", "-ex", "continue", "-ex", "p/x $fs_base",
                    "-ex", "p $tid", "-ex", "p/x (unsigned long)pthread_self()", exe, timeout=180)
    new = re.search(r"^\[New Thread (0x[0-9a-f]+) \(LWP (\d+)\)\]$", run.stdout, re.M)
    assert new, run
    values = re.findall(r"^\$\d+ = (\S+)$", run.stdout, re.M)
    assert values == [new[1], new[2], new[1]], run


def test_json_thread_events_keep_their_keys(build_target):
    exe = build_target("thread_stops")
    run = run_hwdbg("--batch", "--json", "-ex", "run", exe, timeout=180)
    created, exited = run.of("thread-created"), run.of("thread-exited")
    assert len(created) == len(exited) == 2, run
    for event in created + exited:
        assert set(event) == {"event", "message", "tid"}, event


def test_attach_names_the_other_threads_as_gdb_does(build_target):
    """Attached, gdb says "[New LWP N]" for each thread besides the main one; so does hwdbg, for
    the same process (its worker ticks until a line arrives on its standard input)."""
    exe = build_target("ui_wait")
    proc = subprocess.Popen([str(exe), "100000", "thread-input"], stdout=subprocess.PIPE, stdin=subprocess.PIPE,
                            text=True)
    try:
        ready = proc.stdout.readline().split()
        assert ready[0] == "ready", ready
        gdb = subprocess.run(["gdb", "-nx", "-batch", "-p", str(proc.pid), "-ex", "detach"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, timeout=180, stdin=subprocess.DEVNULL)
        run = run_hwdbg("--batch", "-p", proc.pid, "-ex", "detach", timeout=180)
        expected = [line for line in gdb.stdout.splitlines() if line.startswith("[New ")]
        assert expected == [f"[New LWP {ready[2]}]"], gdb.stdout
        assert [line for line in run.stdout.splitlines() if line.startswith("[New ")] == expected, run
        proc.stdin.write("stop\n")
        proc.stdin.flush()
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0 and out.startswith("done"), out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_silent_breakpoint_still_switches(build_target, tmp_path):
    """A breakpoint whose commands begin with silent shows no hit, but gdb still announces the
    switch to the thread that stopped."""
    script = tmp_path / "silent.gdb"
    script.write_text("break work\ncommands\nsilent\nprint n\nend\nrun\ncontinue\ncontinue\ncontinue\n")
    exe = build_target("thread_stops")
    gdb = subprocess.run(["gdb", "-nx", "-batch", "-x", str(script), str(exe)], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, timeout=180, stdin=subprocess.DEVNULL)
    run = run_hwdbg("--batch", "-x", script, exe, timeout=180)
    expected = normalised(gdb.stdout)
    assert normalised(run.stdout) == expected
    assert sum(line.startswith("[Switching to Thread") for line in expected) == 3
