"""return (pops frames, no code run; return EXPR sets the value), jump LINE, run while the program
runs (gdb starts it again and counts hits anew), and $pc's type, command by command against gdb."""
from __future__ import annotations

import re

import pytest

from gdb_diff import gdb_outputs, hwdbg_outputs, needs_gdb
from ui_helpers import ROOT

pytestmark = [needs_gdb, pytest.mark.requires_ptrace]

_STACK = re.compile(r"0x0*7ff[0-9a-f]{9}|(?<=process )\d+")  # stack addresses (gdb turns randomization off), pids


def _line(text: str) -> int:
    source = (ROOT / "tests" / "targets" / "steps.c").read_text().splitlines()
    return next(n for n, line in enumerate(source, 1) if text in line)


def _shown(text: str) -> str:
    lines = [line for line in text.splitlines() if not line.startswith(("Starting program: ", "Run till exit from "))]
    return _STACK.sub("X", "\n".join(lines))


def test_return_jump_and_run_again_as_gdb(build_target):
    exe = build_target("steps")
    printf_line = _line('printf("%d %g %ld')
    commands = [
        "break square", "run", "p $pc", "whatis $pc", "p $sp", "return 7", "bt", "p x", "finish",
        f"break {printf_line}", f"jump {printf_line}", "p a", "p l == 0 || l != 6",
        "run", "info frame", "up", "return", "bt", "next", "p a", "kill", "return", "jump 1",
    ]
    expected = [_shown(out) for out in gdb_outputs(exe, commands)]
    got = [_shown(out) for out in hwdbg_outputs(exe, commands)]
    differ = [(c, e, g) for c, e, g in zip(commands, expected, got) if e != g]
    assert not differ, differ
    assert "Value returned is $4 = 7" in expected[commands.index("finish")]  # return 7's value, not 36
    last_bt = expected[len(commands) - 1 - commands[::-1].index("bt")]
    assert last_bt.startswith("#0  0x") and " in main (" in last_bt  # return popped square and apply


def test_run_again_at_the_prompt_is_refused_and_changes_nothing(build_target):
    from ui_helpers import make_context
    exe = build_target("steps")
    ctx, stream = make_context(reraise=False, interactive=True)
    try:
        ctx.session.load([str(exe)])
        assert ctx.dispatch("break square") and ctx.dispatch("run")
        pid = ctx.session.inferior.pid
        for again in ("run", "start"):
            assert not ctx.dispatch(again)
            assert ctx.session.inferior.pid == pid and ctx.session.alive
        assert stream.getvalue().splitlines()[-1].startswith(f"*** process {pid} is already being debugged")
    finally:
        ctx.close()
