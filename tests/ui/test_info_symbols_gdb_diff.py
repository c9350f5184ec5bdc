"""info line, info symbol, info address, info sharedlibrary, info registers, list continuation
(list, list -), x/8xb, arr[1]@3, &struct, *ptr, ptype struct: command by command against gdb on
formats.c. Library addresses are masked: gdb turns address randomization off, hwdbg does not."""
from __future__ import annotations

import re

import pytest

from gdb_diff import gdb_outputs, hwdbg_outputs, needs_gdb

pytestmark = [needs_gdb, pytest.mark.requires_ptrace]

BEFORE_RUN = ["info symbol fn", "info line fn", "info address fn", "info address val", "info sharedlibrary",
              "list fn", "list -", "list -", "list", "list -", "list 10,12", "list -", "list", "list", "list"]
STOPPED = [
    "break fn", "run", "info line", "info line fn", "info line formats.c:14", "info line 13",
    "info line *((char *)fn + 9)", "info symbol fn", "info symbol &arr[2]", "info symbol 0",
    "info symbol (char *)fn + 3", "info address fn", "info address val", "info address x", "info address nosuch",
    "info sharedlibrary", "info sharedlibrary libc", "info registers rip", "info registers rax eflags",
    "info all-registers rip", "x/8xb &val", "x/8xb &arr", "p arr[1]@3", "p &sv", "p *sp", "p &arr", "p *arr@2",
    "p sp->c", "ptype struct S", "ptype sp", "whatis *sp", "ptype fn", "ptype arr", "list", "list", "list -",
]
_RANDOM = re.compile(r"0x0*7f[0-9a-f]{10}")  # library and stack addresses


def _shown(text: str) -> str:
    lines = [line for line in text.splitlines() if not line.startswith("Starting program: ")]
    return _RANDOM.sub("0x7f...", "\n".join(lines))


@pytest.mark.parametrize("commands", [BEFORE_RUN, STOPPED], ids=["before-run", "stopped"])
def test_matches_gdb_command_by_command(build_target, commands):
    exe = build_target("formats")
    expected = [_shown(out) for out in gdb_outputs(exe, commands)]
    got = [_shown(out) for out in hwdbg_outputs(exe, commands)]
    differ = [(c, e, g) for c, e, g in zip(commands, expected, got) if e != g]
    assert not differ, differ
    if commands is STOPPED:  # the libraries are there, under the loader's names
        shared = expected[commands.index("info sharedlibrary")]
        assert "/ld-linux-x86-64.so.2" in shared.splitlines()[1] and "libc.so.6" in shared
