"""Displays whose locals are out of scope, and the values finish returns in the value history,
command by command against gdb on steps.c."""
from __future__ import annotations

import re

import pytest

from gdb_diff import gdb_outputs, hwdbg_outputs, needs_gdb

pytestmark = [needs_gdb, pytest.mark.requires_ptrace]

_ADDRESSES = re.compile(r"0x[0-9a-f]{6,}")  # stack addresses (argv=...) differ between the two runs

DISPLAYS = [
    "break fact", "run", "display n", "display/x n * 2", "display shared", "info display",
    "continue",  # fact(4): the same function, the displays show
    "delete 1", "break square", "continue",  # in square: n is nowhere, only shared shows
    "info display", "display", "up", "display", "info display",  # apply's frame: n still out of scope
    "finish",  # back in apply
    "finish",  # back in main
    "break loop", "continue", "display t", "next", "next", "display i", "info display",
    "next", "next", "next", "next", "next", "next", "next", "next", "info display", "undisplay 1", "info display",
]

HISTORY = [
    "break make_pair", "break make_mixed", "break make_big", "break nothing", "run",
    "finish", "p $", "p $1.b", "p $1.a + $1.b", "p &$1", "p &$1.a", "ptype $1", "p/x $1", "output $1",
    "continue", "finish", "p $.x", "p $6.n * 2",  # $6: the struct mixed returned in xmm0 and rax
    "continue", "finish", "p $", "p $.v[2]", "p $$2", "p $9.v", "p sizeof($9)", "whatis $9", "p $9.v[4]",
    "continue", "finish", "p $", "p $1",  # nothing() is void: no value, the history is unchanged
]


def _shown(text: str) -> str:
    """Stack addresses masked; gdb -batch does not say "Starting program" or "Run till exit"
    (said only to a terminal; hwdbg always says them)."""
    lines = [line for line in text.splitlines() if not line.startswith(("Starting program: ", "Run till exit from "))]
    return _ADDRESSES.sub("0x...", "\n".join(lines))


@pytest.mark.parametrize("commands", [DISPLAYS, HISTORY], ids=["display-scope", "finish-history"])
def test_matches_gdb_command_by_command(build_target, commands):
    exe = build_target("steps")
    expected = [_shown(out) for out in gdb_outputs(exe, commands)]
    got = [_shown(out) for out in hwdbg_outputs(exe, commands)]
    differ = [(c, e, g) for c, e, g in zip(commands, expected, got) if e != g]
    assert not differ, differ


def test_info_display_in_json_says_what_is_out_of_context(build_target):
    from ui_helpers import make_context
    exe = build_target("steps")
    ctx, stream = make_context(json_output=True, reraise=False)
    try:
        ctx.session.load([str(exe)])
        for command in ("break fact", "run", "display n", "display shared", "delete 1", "break square", "continue"):
            assert ctx.dispatch(command), stream.getvalue()
        stream.truncate(0)
        stream.seek(0)
        assert ctx.dispatch("info display")
    finally:
        ctx.close()
    import json
    [event] = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [(d["expr"], d["in_context"]) for d in event["displays"]] == [("n", False), ("shared", True)]
