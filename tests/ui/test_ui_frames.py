"""frame/up/down/info locals/info args: bad input is one clean line (gdb's words) and changes
nothing; JSON results; the selected frame and its reset at every stop; watch --length and -l."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from ui_helpers import make_context, run_hwdbg

from hwdbg.session import scoped

pytestmark = pytest.mark.requires_ptrace

INNER = "frames_target.c:20"


def gdb_says(exe, commands: list[str], bad: str) -> str:
    """gdb's error for ``bad`` after ``commands`` (the last line it writes to stderr)."""
    argv = ["gdb", "-q", "-nx", "-batch"]
    for line in commands + [bad]:
        argv += ["-ex", line]
    out = subprocess.run(argv + [str(exe)], capture_output=True, text=True, timeout=120,
                         stdin=subprocess.DEVNULL)
    return out.stderr.strip().splitlines()[-1]


def stopped_in_sum_pair(build_target, **kwargs):
    exe = build_target("frames_target")
    ctx, out = make_context(**kwargs)
    ctx.session.load([str(exe)])
    assert ctx.dispatch(f"break {INNER}") and ctx.dispatch("run")
    return exe, ctx, out


BAD = [
    (["up"], "up"),  # sum_pair's caller is main, the outermost frame shown
    ([], "down"),
    (["up", "down 5"], "down"),  # down N goes all the way down; a plain down at 0 is the error
    (["up 9"], "up"),
    ([], "print pr"),  # a local of main, not visible in sum_pair
    (["up"], "print scale"),  # an argument of sum_pair, not visible in main
    ([], "frame 7"),
]


@pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")
@pytest.mark.parametrize("before,bad", BAD, ids=[" ; ".join(b + [c]) for b, c in BAD])
def test_bad_frame_input_is_gdbs_one_line_and_changes_nothing(build_target, before, bad):
    exe, ctx, out = stopped_in_sum_pair(build_target)
    for line in before:
        assert ctx.dispatch(line)
    assert ctx.dispatch("frame")
    where = out.getvalue().splitlines()[-2:]
    out.truncate(0), out.seek(0)
    assert not ctx.dispatch(bad)
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("*** "), lines
    assert lines[0][4:] == gdb_says(exe, [f"break {INNER}", "run"] + before, bad)
    out.truncate(0), out.seek(0)
    assert ctx.dispatch("frame") and out.getvalue().splitlines()[-2:] == where  # the selection is as it was
    ctx.close()


def test_no_process_messages_are_gdbs():
    ctx, out = make_context()
    for command, message in [("bt", "No stack."), ("up", "No stack."), ("down", "No stack."),
                             ("frame", "No stack."), ("frame 1", "No stack."), ("info frame", "No stack."),
                             ("info locals", "No frame selected."), ("info args", "No frame selected.")]:
        out.truncate(0), out.seek(0)
        assert not ctx.dispatch(command)
        assert out.getvalue().strip() == f"*** {message}", command


def test_selection_resets_to_frame_zero_at_every_stop(build_target):
    _exe, ctx, out = stopped_in_sum_pair(build_target)
    assert ctx.dispatch("up") and ctx.dispatch("print result")
    assert out.getvalue().splitlines()[-1] == "$1 = 0"
    assert ctx.dispatch("continue")  # the same line, next iteration: frame 0 again
    out.truncate(0), out.seek(0)
    assert ctx.dispatch("frame")
    assert out.getvalue().startswith("#0  sum_pair (p=")
    assert not ctx.dispatch("print pr")
    ctx.close()


def test_json_results_name_the_frame_and_list_variables(build_target):
    exe = build_target("frames_target")
    run = run_hwdbg("--batch", "--json", "-ex", f"break {INNER}", "-ex", "run", "-ex", "info locals", "-ex",
                    "info args", "-ex", "up", "-ex", "down", "-ex", "bt", exe, timeout=180)
    assert run.returncode == 0, run
    results = {r["command"]: r for r in run.of("result")}
    assert [v["name"] for v in results["info locals"]["variables"]] == ["s", "t", "i", "s"]
    assert results["info locals"]["variables"][2]["value"] == "0"  # i, the first iteration
    assert [(v["name"], v["value"]) for v in results["info args"]["variables"]][1] == ("scale", "2")
    assert results["up"]["frame"]["function"] == "main" and results["up"]["frame"]["level"] == 1
    assert results["down"]["frame"]["level"] == 0 and results["down"]["frame"]["line"] == 20
    frames = results["backtrace"]["frames"]
    assert [f["function"] for f in frames] == ["sum_pair", "main"]
    assert frames[0]["args"][1] == {"name": "scale", "value": "2"} and frames[1]["cfa"] > frames[0]["cfa"]
    stops = run.of("stopped")
    assert len(stops) == 1  # selecting a frame is not a stop


def test_watch_length_and_location_options(build_target):
    _exe, ctx, out = stopped_in_sum_pair(build_target)
    assert ctx.dispatch("watch s --length 8")
    assert ctx.dispatch("watch -l t") and ctx.dispatch("watch -location i")
    bps = sorted(ctx.session.breakpoints.values(), key=lambda bp: bp.id)[1:]
    assert [(bp.expr, bp.length, bp.scope is not None) for bp in bps] == [
        ("s", 8, True), ("-location t", 8, False), ("-location i", 4, False)]
    assert not ctx.dispatch("watch s --length 0")
    assert not ctx.dispatch("watch s -l 4")  # -l is -location now: "s 4" is no expression
    assert len(ctx.session.breakpoints) == 4
    ctx.close()


def test_scoped_watch_deleted_by_user_leaves_no_guard(build_target):
    _exe, ctx, _out = stopped_in_sum_pair(build_target)
    assert ctx.dispatch("up") and ctx.dispatch("watch result")
    bp = max(ctx.session.breakpoints.values(), key=lambda bp: bp.id)
    inf = ctx.session.inferior
    assert scoped.guard_owner(bp.id) in inf.breaks.owners(bp.scope.return_address)
    assert ctx.dispatch(f"delete {bp.id}")
    assert not inf.breaks.owners(bp.scope.return_address)
    assert ctx.dispatch("delete") and ctx.dispatch("continue")  # runs to the end: no stray int3
    assert ctx.last_exit is not None and ctx.last_exit.code == 0


def test_repl_completes_the_selected_frames_locals(build_target):
    from hwdbg.ui.repl import HwdbgCompleter

    _exe, ctx, _out = stopped_in_sum_pair(build_target)

    def complete(text: str) -> set[str]:
        return {word for word, _ in HwdbgCompleter(ctx)._complete(text)}

    assert {"scale", "s"} <= complete("print s") and "counter" in complete("print cou")
    assert ctx.dispatch("up")
    assert "result" in complete("watch res") and "scale" not in complete("print s")
    ctx.close()
