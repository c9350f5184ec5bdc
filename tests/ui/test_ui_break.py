"""break/tbreak in the CLI: messages, info breakpoints, JSON stops, thread syntax, bad input."""
from __future__ import annotations

import re

import pytest

from hwdbg.ui.commands.breakpoints import break_split
from ui_helpers import as_args, make_context, run_hwdbg

pytestmark = pytest.mark.requires_ptrace


@pytest.fixture(scope="module")
def sw_exe(build_target):
    return build_target("sw_target")


def test_break_info_and_stops_in_text(sw_exe):
    run = run_hwdbg("--batch", *as_args(["break add", "tbreak twice", "break sw_target.c:24", "info breakpoints",
                                         "run", "x/1xb $pc", "continue", "info breakpoints"]), sw_exe, "calls", "1")
    assert run.returncode == 0, run
    out = run.stdout
    assert re.search(r"^Breakpoint 3 at 0x[0-9a-f]+: file .*sw_target\.c, line 25\.$", out, re.M), out
    assert "has no code" not in out  # gdb 13 says nothing more: the line announced is the one with code
    rows = [line.split() for line in out.splitlines() if line[:1].isdigit() and "breakpoint" in line]
    assert rows[0][:4] == ["1", "breakpoint", "keep", "y"] and rows[1][:4] == ["2", "breakpoint", "del", "y"]
    assert re.search(r"^Temporary breakpoint 2, twice \(x=\d+\) at .*sw_target\.c:23$", out, re.M), out
    after = out.split("Temporary breakpoint 2, twice")[1].splitlines()
    assert after[1].startswith("23\t")  # the source line, as gdb shows it
    assert "0xcc" not in after[2]  # x shows the original
    assert re.search(r"^Breakpoint 1, add \(a=\d+, b=\d+\) at .*sw_target\.c:16$", out, re.M), out
    final = out.split("Breakpoint 1, add (")[1]
    assert "\n2    " not in final and "breakpoint already hit 1 time" in final  # tbreak 2 is gone


def test_json_stopped_event_names_the_place(sw_exe):
    run = run_hwdbg("--batch", "--json", *as_args(["break add", "run", "continue"]), sw_exe, "calls", "1")
    assert run.returncode == 0, run
    stop = run.of("stopped")[0]
    assert stop["reason"] == "breakpoint" and stop["function"] == "add" and stop["line"] == 16
    assert stop["file"].endswith("sw_target.c") and run.of("exited")[0]["code"] == 0
    assert run.of("result")[0]["breakpoint"]["kind"] == "break"


def test_break_thread_tid_and_condition_syntax():
    assert break_split("add thread 42 if total == 0") == ["add", "--thread", "42", "--if=total == 0"]
    assert break_split("sw_target.c:16 thread 7") == ["sw_target.c:16", "--thread", "7"]
    assert break_split("add if x > 1") == ["add", "--if=x > 1"]


@pytest.mark.parametrize("location, message", [
    ("table", "'table' is a data symbol, not a function"), ("nosuch", "no symbol 'nosuch'"),
    ("missing.c:3", "no source file 'missing.c'"),
])
def test_bad_input_is_one_line_and_changes_nothing(sw_exe, location, message):
    run = run_hwdbg("--batch", *as_args([f"break {location}"]), sw_exe)
    assert run.returncode != 0
    errors = [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("***")]
    assert len(errors) == 1 and message in errors[0]
    ctx, stream = make_context(reraise=False)
    ctx.session.load([str(sw_exe)])
    ctx.dispatch(f"break {location}")
    assert not ctx.session.breakpoints and stream.getvalue().count("\n") == 1
