"""Differential test: gdb 13's signal table. A program sends itself SIGUSR1, SIGALRM, SIGCHLD (a
child's exit) or SIGTERM, each with a handler (signals_target.c): with `run` and `continue`, the
stop lines ("Program received signal SIGUSR1, User defined signal 1.") and the program's output
and exit are the same as in gdb, and the same as without a debugger; `info signals` rows too."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from ui_helpers import run_hwdbg

pytestmark = [pytest.mark.requires_ptrace,
              pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")]

# What is compared: the signal reports, the exit (pid masked), and the program's own lines.
KEPT = re.compile(r"^(Program received signal .*|Program terminated with signal .*"
                  r"|\[Inferior 1 \(process \d+\) exited.*|Thread \d+ .*received signal .*|\[Switching to .*)$")
# The program writes its lines straight to the pipe, and a debugger's output can be cut around
# one: gdb was seen writing "[", then the program's line, then "Thread 0x... exited]". So they are
# taken out wherever they are, in their order, before the debugger's lines are split.
PROGRAM_LINE = re.compile(r"(?:got signal \d+, \d+ time\(s\)|child exited with \d+)\n")
MODES = ["usr1", "alrm", "chld", "term"]
SCRIPTS = {
    "default": ["run", "continue", "continue"],
    "nostop-print": ["handle SIGUSR1 nostop print", "handle SIGTERM nostop", "run", "continue"],
    "stop-alarm": ["handle SIGALRM stop print", "handle SIGCHLD stop", "run", "continue", "continue"],
    "nopass": ["handle SIGUSR1 nopass", "handle SIGTERM nopass", "run", "continue"],
}


def kept(text: str) -> list[str]:
    """The lines compared, pids and thread pointers masked (gdb turns address randomization off):
    the debugger's, then the program's."""
    debugger = [re.sub(r"process \d+", "process N", re.sub(r"Thread 0x[0-9a-f]+ \(LWP \d+\)", "Thread P (LWP N)", line))
                for line in PROGRAM_LINE.sub("", text).splitlines() if KEPT.match(line)]
    return debugger + [line.rstrip("\n") for line in PROGRAM_LINE.findall(text)]


def gdb_run(exe, commands, mode):
    argv = ["gdb", "-q", "-nx", "-batch", "-ex", "set pagination off"]
    for line in commands:
        argv += ["-ex", line]
    proc = subprocess.run([*argv, "--args", str(exe), mode], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=180, stdin=subprocess.DEVNULL)
    return kept(proc.stdout)


def same_as_gdb(build_target, commands: list[str], mode: str) -> list[str]:
    """Runs commands in gdb and in hwdbg --batch on signals_target MODE; their kept lines must be
    the same. Returns gdb's."""
    exe = build_target("signals_target")
    expected = gdb_run(exe, commands, mode)
    argv = ["--batch"]
    for line in commands:
        argv += ["-ex", line]
    run = run_hwdbg(*argv, exe, mode, timeout=180)
    assert kept(run.stdout) == expected, run
    return expected


@pytest.mark.parametrize("script", sorted(SCRIPTS))
@pytest.mark.parametrize("mode", MODES)
def test_signal_reports_and_program_output_are_gdbs(build_target, mode, script):
    expected = same_as_gdb(build_target, SCRIPTS[script], mode)
    assert any(line.startswith("[Inferior 1") for line in expected)  # both ran the program to its end


@pytest.mark.parametrize("mode", MODES)
def test_default_table_leaves_output_and_exit_status_as_without_a_debugger(build_target, mode):
    exe = build_target("signals_target")
    alone = subprocess.run([str(exe), mode], capture_output=True, text=True, timeout=60)
    resume = ["-ex", "continue"] if mode in ("usr1", "term") else []  # once past the signal's stop
    run = run_hwdbg("--batch", "-ex", "run", *resume, exe, mode, timeout=180)
    assert alone.stdout.splitlines()[-1] in run.stdout.splitlines()
    assert run.returncode == alone.returncode == {"usr1": 10, "alrm": 14, "chld": 17, "term": 15}[mode]


def test_info_signals_rows_are_gdbs(build_target):
    names = ["SIGHUP", "SIGINT", "SIGQUIT", "SIGTRAP", "SIGFPE", "SIGSEGV", "SIGPIPE", "SIGALRM", "SIGTERM",
             "SIGURG", "SIGTSTP", "SIGCHLD", "SIGIO", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGUSR1", "SIGUSR2",
             "SIGPWR", "SIGSYS", "SIG34", "SIG64"]
    exe = build_target("signals_target")
    commands = [f"info signals {name}" for name in names]
    argv = ["gdb", "-q", "-nx", "-batch"]
    for line in commands:
        argv += ["-ex", line]
    gdb = subprocess.run([*argv, str(exe)], capture_output=True, text=True, timeout=120).stdout
    hw_argv = ["--batch"]
    for line in commands:
        hw_argv += ["-ex", line]
    run = run_hwdbg(*hw_argv, exe)
    assert run.stdout.splitlines() == gdb.splitlines() and len(gdb.splitlines()) == 2 * len(names), run


def test_whole_info_signals_table_is_gdbs_linux_rows(build_target):
    """Every row hwdbg prints is gdb's row for that signal (gdb also lists other systems' signals)."""
    exe = build_target("signals_target")
    gdb = subprocess.run(["gdb", "-q", "-nx", "-batch", "-ex", "info signals", str(exe)], capture_output=True,
                         text=True, timeout=120).stdout.splitlines()
    run = run_hwdbg("--batch", "-ex", "info signals", exe)
    rows = run.stdout.splitlines()
    assert rows[0] == gdb[0] and rows[-1] == gdb[-1]
    # gdb has no SIGSTKFLT (Linux's 16)
    table = [row for row in rows if re.match(r"^SIG\w+ +(Yes|No)\t", row) and not row.startswith("SIGSTKFLT")]
    assert len(table) > 55 and not [row for row in table if row not in gdb]
    assert table == sorted(table, key=gdb.index)  # gdb's order


THREADED = {
    "default": ["run", "continue"],
    "nostop-print": ["handle SIGUSR1 nostop print", "run"],
}


@pytest.mark.parametrize("script", sorted(THREADED))
@pytest.mark.parametrize("mode", ["thread", "joined"])
def test_thread_received_signal_and_switching_lines_are_gdbs(build_target, mode, script):
    """Thread 2 "signals_target" received signal SIGUSR1, ...; [Switching to Thread 0x... (LWP N)]
    when the stop is in another thread; Thread 1 once a thread has come and gone."""
    expected = same_as_gdb(build_target, THREADED[script], mode)
    number = "2" if mode == "thread" else "1"
    assert any(line.startswith(f'Thread {number} "signals_target" received signal SIGUSR1') for line in expected)


def test_switching_names_the_threads_pthread_t(build_target):
    """The address in [Switching to Thread 0x... (LWP N)] is the thread's pthread_t (its fs_base),
    the LWP its tid, as gdb's libthread_db says."""
    exe = build_target("signals_target")
    run = run_hwdbg("--batch", "-ex", "run", "-ex", "p/x $fs_base", "-ex", "p $tid", exe, "thread", timeout=180)
    switch = re.search(r"^\[Switching to Thread (0x[0-9a-f]+) \(LWP (\d+)\)\]$", run.stdout, re.M)
    assert switch, run
    values = re.findall(r"^\$\d+ = (\S+)$", run.stdout, re.M)
    assert values == [switch[1], switch[2]], run
