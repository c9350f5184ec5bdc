"""The stepping commands as a person sees them: gdb's text, one-line errors, JSON stops."""
from __future__ import annotations

import re

import pytest

from ui_helpers import as_args, run_hwdbg

pytestmark = pytest.mark.requires_ptrace


@pytest.fixture(scope="module")
def steps_exe(build_target):
    return build_target("steps")


def test_text_of_next_step_finish(steps_exe):
    run = run_hwdbg("--batch", *as_args(["break main", "run", "next", "next", "step", "finish"]), steps_exe)
    assert run.returncode == 0, run
    lines = run.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if re.match(r"Breakpoint 1, main \(argc=1, argv=0x[0-9a-f]+\) at "
                                                               r".*steps\.c:\d+$", line))
    assert lines[at + 1].split("\t")[1].strip() == "if (argc > 1 && !strcmp(argv[1], \"threads\"))"
    # the function changed: its frame line with the arguments, then the line
    assert re.fullmatch(r"make_pair \(a=3, b=4\) at .*steps\.c:22", lines[at + 4]), lines[at + 4]
    assert lines[at + 5] == "22\t    struct pair p = {a, b};"
    assert lines[at + 6] == "Run till exit from #0  " + lines[at + 4]
    assert re.fullmatch(r"0x[0-9a-f]{16} in main \(argc=1, argv=0x[0-9a-f]+\) at .*steps\.c:" +
                        lines[at + 8].split("\t")[0], lines[at + 7]), lines[at + 7]
    assert lines[at + 9] == "Value returned is $1 = {a = 3, b = 4}"


def test_bad_input_is_one_line_and_changes_nothing(steps_exe, context):
    run = run_hwdbg("--batch", *as_args(["next"]), steps_exe)
    assert run.stdout.strip() == "*** The program is not being run."
    ctx, out = context()
    for line in (f"file {steps_exe}", "break main", "run"):
        assert ctx.dispatch(line), out.getvalue()
    session = ctx.session
    pc = session.arch.get_pc(session.inferior.get_regs(session.inferior.pid))
    sites = dict(session.inferior.breaks.sites)
    for command, message in [("finish", '*** "finish" not meaningful in the outermost frame.'),
                             ("advance nowhere_at_all", "*** no symbol 'nowhere_at_all'"),
                             ("until steps.c:99999", "*** no code at steps.c:99999"),
                             ("next 0", "*** next N needs 1 <= N"),
                             ("set scheduler-locking sometimes", '*** Undefined item: "sometimes"')]:
        out.truncate(0)
        out.seek(0)
        assert not ctx.dispatch(command)
        assert out.getvalue().startswith(message) and out.getvalue().count("\n") == 1, out.getvalue()
        assert session.arch.get_pc(session.inferior.get_regs(session.inferior.pid)) == pc
        assert dict(session.inferior.breaks.sites) == sites  # no int3 added or left
    assert session.scheduler_locking == "replay"


def test_json_every_stop_is_one_stopped_event(steps_exe):
    run = run_hwdbg("--batch", "--json", *as_args(["break sum_pair", "run", "next", "finish", "until", "advance fact",
                                                     "show scheduler-locking"]), steps_exe)
    assert run.returncode == 0, run
    stops = run.of("stopped")
    assert [s["reason"] for s in stops] == ["breakpoint", "step", "finish", "step", "until"]
    assert all({"function", "file", "line"} <= set(s) for s in stops)
    assert stops[-1]["function"] == "fact"
    result = [r for r in run.of("result") if r["command"] == "finish"][0]
    assert result["value"] == "7" and result["type"] == "int" and result["history"] == 1
    assert [r for r in run.of("result") if r["command"] == "show scheduler-locking"][0]["mode"] == "replay"
