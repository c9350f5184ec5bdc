"""--batch after a failing command, side by side with `gdb -nx -batch`: the next command runs, a -x
file stops at its own first failing line, and the exit status is 1 only when the last command failed."""
from __future__ import annotations

import re
import subprocess

import pytest

from gdb_diff import needs_gdb
from ui_helpers import run_hwdbg

pytestmark = [needs_gdb, pytest.mark.requires_ptrace]

FILE = ["print 10", "print nosuch", "print 12"]  # stops at line 2: 12 is never printed
SCRIPTS = {
    "middle fails": [("ex", "print 1"), ("ex", "print nosuch"), ("ex", "print 2")],
    "last fails": [("ex", "print 1"), ("ex", "print nosuch")],
    "first fails": [("ex", "print 1 +"), ("ex", "output 3")],
    "file then ex": [("x", "FILE"), ("ex", "print 3")],
    "ex then file": [("ex", "print 3"), ("x", "FILE")],
    "source then ex": [("ex", "source FILE"), ("ex", "print 4")],
    "program runs on": [("ex", "break sum_pair"), ("ex", "run"), ("ex", "print nosuch"), ("ex", "print p->a"),
                        ("ex", "print $nonsense + 1 +"), ("ex", "continue")],
    "not running": [("ex", "continue"), ("ex", "print 5"), ("ex", "next")],
}
_VALUE = re.compile(r"^\$\d+ = .*|^\d+$")


def _argv(script, command_file) -> list[str]:
    argv = []
    for kind, value in script:
        argv += [f"-{kind}", value.replace("FILE", str(command_file))]
    return argv


def _values(text: str) -> list[str]:
    """The printed values, in order (`output 3` prints a bare 3)."""
    return [line for line in text.splitlines() if _VALUE.match(line)]


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_batch_goes_on_after_a_failing_command_as_gdb(build_target, tmp_path, name):
    exe = build_target("steps")
    command_file = tmp_path / "cmds.gdb"
    command_file.write_text("\n".join(FILE) + "\n")
    argv = _argv(SCRIPTS[name], command_file)
    gdb = subprocess.run(["gdb", "-nx", "-batch", *argv, str(exe)], capture_output=True, text=True, timeout=120,
                         stdin=subprocess.DEVNULL)
    hw = run_hwdbg("--batch", *argv, exe)
    gdb_errors = [line for line in gdb.stderr.splitlines() if "Error in sourced command file" not in line]
    hw_errors = [line for line in hw.stdout.splitlines() if line.startswith("*** ")]
    assert _values(hw.stdout) == _values(gdb.stdout), (gdb.stdout, hw.stdout)
    assert len(hw_errors) == len(gdb_errors), (gdb_errors, hw_errors)
    assert hw.returncode == gdb.returncode, (gdb.returncode, hw)
    if name == "program runs on":  # the breakpoint's commands after the error ran, then the program ended
        assert "exited normally]" in hw.stdout and "exited normally]" in gdb.stdout


def test_every_command_gives_its_result_or_error_event_in_json(build_target, tmp_path):
    exe = build_target("steps")
    command_file = tmp_path / "cmds.gdb"
    command_file.write_text("\n".join(FILE) + "\n")
    run = run_hwdbg("--batch", "--json", "-ex", "print 1", "-ex", "print nosuch", "-x", command_file,
                    "-ex", "frobnicate", "-ex", "print 2", exe)
    shown = [(e["event"], e.get("text", e.get("kind"))) for e in run.events]
    assert shown == [("result", "1"), ("error", "SymbolError"), ("result", "10"), ("error", "SymbolError"),
                     ("error", "UsageError"), ("result", "2")], run
    assert run.returncode == 0
    run = run_hwdbg("--batch", "--json", "-ex", "print 2", "-ex", "frobnicate", exe)
    assert [e["event"] for e in run.events] == ["result", "error"] and run.returncode == 1


def test_a_program_that_cannot_be_loaded_fails_like_a_first_command(tmp_path):
    alone = run_hwdbg("--batch", tmp_path / "nope")
    assert alone.returncode == 1 and alone.stdout.startswith("*** ")
    then = run_hwdbg("--batch", "-ex", "print 6 * 7", tmp_path / "nope")
    assert then.returncode == 0 and then.stdout.splitlines()[1:] == ["$1 = 42"], then


def test_commands_from_a_pipe_go_on_after_a_failing_one(build_target):
    exe = build_target("steps")
    run = run_hwdbg(exe, input="print 1 +\nprint 2\n# a comment\n\n")
    assert run.stdout.splitlines()[1:] == ["$1 = 2"] and run.returncode == 0, run
    run = run_hwdbg(exe, input="print 2\nprint 1 +\n")
    assert run.returncode == 1, run
