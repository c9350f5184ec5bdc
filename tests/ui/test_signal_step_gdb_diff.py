"""Differential test: signals that arrive during next and step. A signal that does not stop
(SIGALRM by default, SIGUSR1 after handle SIGUSR1 nostop noprint) runs its handler and the
step goes on in the original frame; handle SIGUSR1 stop print ends the step with gdb's report.
sigstep.c raises SIGUSR1 in one line and spins in another until a 1 ms timer's SIGALRM came
twice, so the second one arrives while that line is single-stepped. Every stop line the same as
gdb's (gdb -nx -batch, the same program)."""
from __future__ import annotations

import re

import pytest

from test_ui_step_gdb_diff import STOP_LINE, gdb_run, hwdbg_run

pytestmark = [pytest.mark.requires_ptrace, pytest.mark.skipif(gdb_run is None, reason="no gdb")]

QUIET = ["handle SIGUSR1 nostop noprint", "break main", "run"] + ["next"] * 12 + ["p alarms", "p hits"]
# step at the lines without calls into the C library (gdb and hwdbg name its functions differently)
STEP_IN = ["handle SIGUSR1 nostop noprint", "break main", "run"] + ["next"] * 9 + ["step"] * 3 + ["p alarms", "p hits"]
STOPPING = ["handle SIGUSR1 stop print", "break main", "run", "next", "next", "next", "next", "bt 1", "p hits"]
REPORT = re.compile(r"^Program received signal .*$|^\$\d+ = .*$")


def _head(line):
    if re.match(r"\d+\t.*: No such file or directory\.$", line):
        return line.split("\t")[0]  # a C library source: gdb names it by its directory entry
    return line.split(" (", 1)[0] if not line.startswith(("Program", "$", "Value")) else line


def lines(text):
    return [line for line in text.splitlines() if STOP_LINE.match(line) or REPORT.match(line)]


@pytest.mark.parametrize("script", [QUIET, STEP_IN], ids=["next", "step"])
def test_a_signal_that_does_not_stop_leaves_the_step_in_its_frame(build_target, script):
    exe = build_target("sigstep")
    expected = gdb_run(exe, script)
    got, run = hwdbg_run(exe, script)
    assert got == expected, run
    assert "on_signal (" not in run.stdout  # the handler ran unseen


def test_handle_stop_print_ends_the_step_at_the_signal(build_target):
    exe = build_target("sigstep")
    import subprocess
    argv = ["gdb", "-q", "-nx", "-batch", "-ex", "set pagination off"]
    for line in STOPPING:
        argv += ["-ex", line]
    gdb = subprocess.run(argv + [str(exe)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         timeout=180, stdin=subprocess.DEVNULL).stdout
    got, run = hwdbg_run(exe, STOPPING)
    # Compared: each line up to a frame's arguments (the C library's frames: gdb resolves more
    # entry values, and names the files by their directory entries).
    expected = [_head(line) for line in lines(gdb) if not line.startswith("#")]
    assert [_head(line) for line in lines(run.stdout) if not line.startswith("#")] == expected, (gdb, run)
    assert "Program received signal SIGUSR1, User defined signal 1." in run.stdout
