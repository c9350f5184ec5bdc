"""Differential test: a program compiled from a build directory names its sources relative to it
(`gcc ../src/calc.c`, as Debian builds python3.11d: `../Objects/object.c`). gdb finds a file by
that name, by its path's tail and by its base name, and announces it by that name; so must hwdbg,
for `break`, `tbreak` and `start`. A line without code moves to the next line with code silently."""
from __future__ import annotations

import subprocess

import pytest

from gdb_diff import gdb_outputs, hwdbg_outputs, needs_gdb

pytestmark = [pytest.mark.requires_ptrace, needs_gdb]

SOURCE = """int total;

static int add(int x)
{

    total += x;
    return total;
}

int main(void)
{
    for (int i = 0; i < 3; i++)
        add(i);
    return total == 3 ? 0 : 1;
}
"""


@pytest.fixture
def built(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "build").mkdir()
    (tmp_path / "src" / "calc.c").write_text(SOURCE)
    exe = tmp_path / "build" / "calc"
    subprocess.run(["gcc", "-g", "-O0", "-o", "calc", "../src/calc.c"], cwd=tmp_path / "build", check=True)
    return exe


def test_a_file_named_as_compiled_from_a_build_directory(built):
    commands = ["break ../src/calc.c:6", "break src/calc.c:7", "break calc.c:5", "tbreak ../src/calc.c:13",
                "break ../src/nosuch.c:3", "start"]
    expected = gdb_outputs(built, commands)
    got = hwdbg_outputs(built, commands)
    for command, theirs, ours in zip(commands, expected, got):
        if "nosuch" in command:  # gdb asks about a pending breakpoint; both refuse it
            assert "No source file named ../src/nosuch.c" in theirs and "nosuch.c" in ours
            continue
        announced = [line for line in theirs.splitlines() if "reakpoint" in line and " at 0x" in line]
        assert announced and announced == [line for line in ours.splitlines() if "reakpoint" in line and " at 0x" in line], (
            command, theirs, ours)
        assert "has no code" not in ours
