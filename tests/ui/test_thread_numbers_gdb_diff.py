"""Differential test: gdb 13's thread numbers in the commands that take or show threads.
thread_numbers.c stops in main with two workers parked in a one-instruction loop; `info threads`,
`thread`, `thread N`, an unknown number, and `break LOC thread N` / `watch EXPR thread N` (their
`stop only in thread N` rows of info breakpoints) are compared line by line with gdb's, each
thread pointer and LWP replaced by its rank of appearance (gdb turns address randomization off,
hwdbg does not). The table's column widths depend on the widths of the LWPs, which differ between
the two runs: runs of spaces are compared as one, and hwdbg's own alignment is checked apart."""
from __future__ import annotations

import re
import shutil

import pytest

from hwdbg.ui.commands.threads import info_threads

from test_thread_stops_gdb_diff import gdb_and_hwdbg

pytestmark = [pytest.mark.requires_ptrace,
              pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")]

NUMBERED = re.compile(r"(?<=Thread )0x[0-9a-f]+|(?<=LWP )\d+")
# the lines this is about (the rest of info breakpoints is laid out otherwise in hwdbg)
COMPARED = re.compile(r"^(  Id |[* ] \d+ +Thread |\[Current thread |\[Switching to thread |#0  |\d+\t|"
                      r'\tstop only in thread |Unknown thread |Thread \d+ "[^"]+" hit )')
SCRIPT = ["break ready", "run", "info threads", "thread", "thread 2", "thread", "info threads", "thread 3",
          "break park thread 2", "watch parked thread 3", "info breakpoints", "thread 1", "thread 7"]


def normalised(text: str) -> list[str]:
    seen: dict[str, str] = {}

    def rank(match: re.Match) -> str:
        return seen.setdefault(match.group(0), f"<{len(seen) + 1}>")

    lines = [line.removeprefix("*** ") for line in text.splitlines()]
    return [re.sub(r"(?<=\S) {2,}", " ", NUMBERED.sub(rank, line)) for line in lines if COMPARED.match(line)]


def test_thread_commands_take_and_show_gdbs_numbers(build_target):
    exe = build_target("thread_numbers")
    gdb, run = gdb_and_hwdbg(exe, SCRIPT)
    expected = normalised(gdb)
    assert normalised(run.stdout + run.stderr) == expected, run
    # the lines this is about are there (not two empty outputs)
    assert expected.count("  Id Target Id Frame ") == 2
    assert sum(line.startswith("[Switching to thread ") for line in expected) == 3
    assert "\tstop only in thread 3" in expected and "Unknown thread 7." in expected
    # info breakpoints' What column ends with "thread N" too, for the watch and the break alike
    ending = re.compile(r"^(\d+) .*?(\S+ thread \d+)$", re.M)
    rows = ending.findall(gdb)
    assert ending.findall(run.stdout) == rows and [n for n, _ in rows] == ["2", "3"], run
    assert rows[0][1].endswith(" thread 2") and rows[1][1] == "parked thread 3"

    # hwdbg's table is aligned as gdb's: the target id column as wide as its widest cell (17 at least)
    table = run.stdout.splitlines()
    start = table.index(next(line for line in table if line.startswith("  Id ")))
    rows = table[start + 1:start + 4]
    names = [re.match(r"[* ] \d+ +(Thread .*?\"thread_numbers\")", row)[1] for row in rows]
    width = max(17, *map(len, names))
    assert table[start] == f"  Id   {'Target Id':<{width}} Frame "
    assert all(row[7:7 + width + 1] == f"{name:<{width}} " for row, name in zip(rows, names))


def test_a_tid_still_selects_its_thread_and_json_has_the_number(build_target, context):
    """A number that is no thread number but a TID of the process selects that thread (what
    `thread TID` took before gdb's numbers), for break ... thread too; info threads' JSON rows
    carry both."""
    exe = build_target("thread_numbers")
    ctx, out = context()
    ctx.session.load([str(exe)])
    assert ctx.dispatch("break ready") and ctx.dispatch("run")
    rows = info_threads(ctx, None).data["threads"]
    assert [row["number"] for row in rows] == [1, 2, 3], rows
    third = rows[2]
    assert third["target_id"].endswith(f"(LWP {third['tid']})") and third["function"] == "park", rows
    assert {"tid", "current", "state", "pc", "function", "file", "line"} <= set(third)
    assert third["tid"] > 3  # a TID, not a number
    start = len(out.getvalue())
    assert ctx.dispatch(f"thread {third['tid']}")
    assert ctx.dispatch("thread")
    assert ctx.dispatch(f"break park thread {third['tid']}")
    assert ctx.dispatch("info breakpoints")
    text = out.getvalue()[start:]
    assert f"[Switching to thread 3 ({third['target_id']})]\n#0  park (n=2) at " in text, text
    assert f"[Current thread is 3 ({third['target_id']})]" in text, text
    assert "\tstop only in thread 3" in text, text
    assert not ctx.dispatch("thread 4")  # neither a number nor a TID of the process
