"""Differential test: `info source` as gdb 13 says it: no current file before a stop or a list;
after one, the name the file was compiled as, its compilation directory, where it is, how many
lines it has, its language, its producer, its DWARF version and its macro information; and the
stop line of a file that is not on disk ("No such file or directory." by that name)."""
from __future__ import annotations

import subprocess

import pytest

from gdb_diff import gdb_outputs, hwdbg_outputs, needs_gdb

pytestmark = [pytest.mark.requires_ptrace, needs_gdb]

SOURCE = """#define LIMIT 3
int total;

int add(int x)
{
    total += x;
    return total;
}

int main(void)
{
    for (int i = 0; i < LIMIT; i++)
        add(i);
    return total == 3 ? 0 : 1;
}
"""


@pytest.fixture(params=[("-gdwarf-5",), ("-gdwarf-4", "-g3")], ids=["dwarf5", "dwarf4-macros"])
def built(tmp_path, request):
    (tmp_path / "src").mkdir()
    (tmp_path / "build").mkdir()
    (tmp_path / "src" / "calc.c").write_text(SOURCE)
    subprocess.run(["gcc", "-O0", *request.param, "-o", "calc", "../src/calc.c"], cwd=tmp_path / "build", check=True)
    return tmp_path


def test_info_source_as_gdb_says_it(built):
    exe = built / "build" / "calc"
    commands = ["info source", "list add", "info source", "break add", "run", "info source"]
    expected = gdb_outputs(exe, commands)
    got = hwdbg_outputs(exe, commands)
    assert expected[0].strip() == got[0].strip() == "No current source file."
    for index in (2, 5):
        theirs = [line for line in expected[index].splitlines() if line.strip()]
        assert theirs[0] == "Current source file is ../src/calc.c", expected[index]
        assert [line for line in got[index].splitlines() if line.strip()] == theirs


def test_a_missing_source_is_named_as_compiled(built):
    exe = built / "build" / "calc"
    (built / "src" / "calc.c").unlink()
    commands = ["break add", "run", "info source"]
    expected, got = gdb_outputs(exe, commands), hwdbg_outputs(exe, commands)
    missing = [line for line in expected[1].splitlines() if "No such file" in line]
    assert missing == ["6\t../src/calc.c: No such file or directory."], expected[1]
    assert [line for line in got[1].splitlines() if "No such file" in line] == missing
    theirs = [line for line in expected[2].splitlines() if line.strip()]
    assert not any(line.startswith(("Located in", "Contains")) for line in theirs)
    assert [line for line in got[2].splitlines() if line.strip()] == theirs
