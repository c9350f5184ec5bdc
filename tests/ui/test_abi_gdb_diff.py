"""Differential test of the SysV x86-64 calling convention against gdb over a generated set of
signatures (tests/ui/abi_signatures.py: every class of psABI 3.2.3, long double and complex
types, structs of floats, mixed eightbytes, MEMORY ones): the values of globals, calls with
those types as arguments and return values (``print make_T(5)``, ``print mix_T(1, g_T, 0.5,
g_T)``), and ``finish``'s "Value returned" out of each make_T that main calls. Each command's
output is compared whole with gdb's (preloaded with the XSAVE shim, see test_calls_gdb_diff.py)."""
from __future__ import annotations

import re

import pytest

from abi_signatures import TYPES, build
from gdb_diff import gdb_outputs, hwdbg_outputs, needs_gdb

pytestmark = [pytest.mark.requires_ptrace, needs_gdb]

TERMINAL_ONLY = re.compile(r"^(Starting program: |Run till exit from #)")  # gdb -batch says neither


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    return build(tmp_path_factory.mktemp("abi"))


def _compare(exe, commands, shim):
    expected = gdb_outputs(exe, commands, preload=shim)
    assert "Couldn't write" not in "".join(expected)
    got = ["\n".join(line for line in text.splitlines() if not TERMINAL_ONLY.match(line))
           for text in hwdbg_outputs(exe, commands)]
    return [(c, e, g) for c, e, g in zip(commands, expected, got) if e != g]


def test_calls_pass_and_return_every_class_as_in_gdb(build_target, program):
    shim = build_target("gdb_xstate_shim", shared=True)
    commands = ["break checkpoint", "run", "up"]
    for name in TYPES:
        commands += [f"print g_{name}", f"print make_{name}(5)", f"print sum_{name}(g_{name})",
                     f"print mix_{name}(1, g_{name}, 0.5, g_{name})", f"print mix_{name}(-2, make_{name}(3), 1e3, g_{name})",
                     f"whatis make_{name}(1)"]
    assert _compare(program, commands, shim)[1:] == []  # (gdb -batch does not say "Starting program")


def test_finish_shows_every_class_as_in_gdb(build_target, program):
    shim = build_target("gdb_xstate_shim", shared=True)
    commands = [f"break make_{name}" for name in TYPES] + ["run"]
    for _ in TYPES:
        commands += ["finish", "continue"]
    differences = _compare(program, commands[:-1], shim)
    assert [d for d in differences if d[0] != "run"] == []
