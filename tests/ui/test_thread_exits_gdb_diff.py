"""Differential test: how gdb 13 reports the lives and deaths of threads. thread_exits.c orders
every event by joins, pipes and /proc, never by time:
- a thread that exits just before another stops (it is joined by the thread that then stops) is
  reported before the stop's lines (gdb reaps it while stopping the other threads);
- a main thread that ends with pthread_exit while a worker runs on is reported exited (before the
  worker's next stop), is gone from `info threads`, `thread 1` says it has terminated (then, once
  gdb has pruned its list, that it is unknown); the worker's watchpoint still hits, and the process's
  end comes as "[New process N]" and its exit code;
- `break LOC thread N` and `watch EXPR thread N` are deleted with their thread, in gdb's words;
- a thread renamed with pthread_setname_np, and one created during `next`.
Each debugger's whole output is compared line by line, thread pointers, LWPs and pids replaced by
their rank of appearance (gdb turns address randomization off, hwdbg does not). The program's own
line ("total = N") shares the pipe and is taken out wherever it is; `info threads` rows of a thread parked in
libc are left out (how gdb names and shows libc frames is not this test's subject)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from test_thread_stops_gdb_diff import normalised
from ui_helpers import ROOT, run_hwdbg

pytestmark = [pytest.mark.requires_ptrace,
              pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")]

# gdb may write its line around the program's ("[", "total = 614", "Thread ... exited]"): taken
# out wherever it is
PROGRAM = re.compile(r"total = \d+\n")
LIBC_ROW = re.compile(r"^[* ] \d+ +Thread .* at \.?\./(sysdeps|nptl)/")
# info threads sizes its columns to the LWPs' digits, which differ between the runs (hwdbg's
# alignment is checked in test_thread_numbers_gdb_diff.py)
SPACES = re.compile(r"(?<=\S) {2,}")
ARGV = re.compile(r"argv=0x[0-9a-f]+")  # on the stack: gdb turns address randomization off
WATCH = ["break work", "run", "watch total"]
EXITED = re.compile(r"^\[Thread <\d+> \(LWP <\d+>\) exited\]$")

SCRIPTS = {
    # the second worker's exit, then the first's (joined by main), each just before a stop
    "join": ("join", WATCH + ["continue"] * 7),
    # main ends alone: the worker's watchpoint after it, info threads, thread, the exit code
    "main-exits": ("mainexit", WATCH + ["continue", "continue", "info threads", "thread", "continue",
                                        "info threads", "continue", "continue"]),
    "main-terminated": ("mainexit", WATCH + ["continue", "continue", "thread 1"]),
    "main-pruned": ("mainexit", WATCH + ["continue", "continue", "continue", "thread 1"]),
    # the selected thread exits: terminated until info threads prunes it; one not selected: unknown
    "selected-terminated": ("join", WATCH + ["continue"] * 5 + ["thread 2"]),
    "info-threads-prunes": ("join", WATCH + ["continue"] * 5 + ["info threads", "thread 2"]),
    "not-selected-unknown": ("join", WATCH + ["continue"] * 5 + ["thread 3"]),
    "thread-specific": ("specific", ["break spawned", "run", "break work thread 2", "watch total thread 2"]
                        + ["continue"] * 5 + ["info threads", "continue"]),
    "renamed": ("rename", ["break spawned", "run", "break work", "continue", "info threads", "continue",
                           "info threads", "continue", "continue"]),
}


def run_both(exe, mode: str, commands: list[str]) -> tuple[list[str], list[str]]:
    argv = ["gdb", "-nx", "-batch"]
    hw_argv = ["--batch"]
    for line in commands:
        argv += ["-ex", line]
        hw_argv += ["-ex", line]
    gdb = subprocess.run([*argv, "--args", str(exe), mode], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, timeout=180, stdin=subprocess.DEVNULL)
    run = run_hwdbg(*hw_argv, exe, mode, timeout=180)

    def lines(text: str) -> list[str]:
        kept = [ARGV.sub("argv=<argv>", line.removeprefix("*** ")) for line in PROGRAM.sub("", text).splitlines()
                if not LIBC_ROW.match(line)]
        return [SPACES.sub(" ", line) for line in normalised("\n".join(kept))]

    return lines(gdb.stdout), lines(run.stdout + run.stderr)


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_thread_lives_and_deaths_are_reported_as_gdb_does(build_target, script):
    exe = build_target("thread_exits")
    mode, commands = SCRIPTS[script]
    expected, got = run_both(exe, mode, commands)
    assert got == expected
    if script == "join":  # each exit comes just before the switch to the thread that stopped
        exits = [i for i, line in enumerate(expected) if EXITED.match(line)]
        assert len(exits) == 2 and all(expected[i + 1].startswith("[Switching to Thread <") for i in exits)
    if script == "main-exits":
        # main (the worker is <1>, <2>): its own pointer, and its LWP is the process's id
        assert "[Thread <3> (LWP <4>) exited]" in expected
        assert expected[-2:] == ["[New process <4>]", "[Inferior 1 (process <4>) exited with code 03]"]
    if script == "main-terminated":
        assert expected[-1] == "Thread ID 1 has terminated."
    if script in ("main-pruned", "info-threads-prunes", "not-selected-unknown"):
        assert re.fullmatch(r"Unknown thread \d\.", expected[-1])
    if script == "thread-specific":
        assert expected.count("Thread-specific breakpoint 3 deleted - thread 2 no longer in the thread list.") == 1
    if script == "renamed":
        assert any(line.startswith('Thread 2 "renamed" hit Breakpoint 2') for line in expected)


def test_a_thread_created_during_next_is_reported_before_the_next_line(build_target):
    """gdb reports a new thread at its clone, so before the line `next` stops at."""
    exe = build_target("thread_exits")
    text = (ROOT / "tests" / "targets" / "thread_exits.c").read_text()
    line = next(n for n, code in enumerate(text.splitlines(), 1) if "pthread_create(&thread, NULL, held" in code)
    expected, got = run_both(exe, "specific", [f"break {line}", "run", "next", "next", "continue"])
    assert got == expected
    new = next(i for i, text in enumerate(expected) if text.startswith("[New Thread <"))
    assert expected[new + 1].startswith(f"{line + 1}\t")


def test_json_reports_a_thread_specific_breakpoint_deleted_with_its_thread(build_target):
    exe = build_target("thread_exits")
    run = run_hwdbg("--batch", "--json", "-ex", "break spawned", "-ex", "run", "-ex", "break work thread 2",
                    "-ex", "watch total thread 2", *["-ex", "continue"] * 6, exe, "specific", timeout=180)
    events = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    deleted = [event for event in events if event["event"] == "breakpoint-deleted"]
    assert [(event["id"], event["thread"]) for event in deleted] == [(2, 2), (3, 2)], run
    assert all(set(event) == {"event", "message", "tid", "id", "thread"} for event in deleted)
    exited = [event["tid"] for event in events if event["event"] == "thread-exited"]
    assert exited and all(event["tid"] == exited[0] for event in deleted)
    assert deleted[0]["message"] == "Thread-specific breakpoint 2 deleted - thread 2 no longer in the thread list."


def test_info_breakpoints_names_the_thread_in_the_what_column(build_target):
    """gdb's What column ends with "thread N" for a thread-specific breakpoint or watchpoint (the
    rest of hwdbg's table has columns of its own, and names the file by its base name: only the
    rows' ends are compared)."""
    exe = build_target("thread_exits")
    expected, got = run_both(exe, "specific", ["break spawned", "run", "break work thread 2", "watch total thread 2",
                                               "info breakpoints"])

    def ends(lines: list[str]) -> list[str]:
        # the directories go first: a checkout's path may hold spaces
        return [" ".join(re.sub(r" at .*/", " at ", line).split()[-4 if line.startswith("2 ") else -3:])
                for line in lines if re.match(r"[23] ", line)]

    assert ends(got) == ends(expected)
    assert re.fullmatch(r"at thread_exits\.c:\d+ thread 2", ends(expected)[0]) and ends(expected)[1] == "total thread 2"


@pytest.mark.parametrize("stop_first", [False, True])
def test_a_process_ending_with_threads_alive_is_no_main_thread_ending_alone(build_target, stop_first):
    """main returns while a worker waits: the whole process ends (exit_group), which is not
    main's pthread_exit: no "[Thread ... exited]" for main, no "[New process N]" (gdb itself
    may print them here, racing with the worker's death: no differential test)."""
    exe = build_target("thread_exits")
    commands = ["break work", "run", "continue"] if stop_first else ["run"]
    run = run_hwdbg("--batch", *[arg for command in commands for arg in ("-ex", command)], exe, "abandon",
                    timeout=180)
    pid = re.search(r"\[Inferior 1 \(process (\d+)\) exited with code 02\]$", run.stdout.strip())
    assert pid, run
    assert f"(LWP {pid[1]}) exited]" not in run.stdout and "[New process" not in run.stdout, run
    assert len(re.findall(r"^\[Thread 0x[0-9a-f]+ \(LWP \d+\) exited\]$", run.stdout, re.M)) == 1, run
