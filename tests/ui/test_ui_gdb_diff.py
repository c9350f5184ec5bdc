"""Differential test: `watch counter` in gdb and in hwdbg report the same (pc, new value) sequence."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from ui_helpers import run_hwdbg

pytestmark = [pytest.mark.requires_hw_watchpoints,
              pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")]

GDB_SCRIPT = """\
set pagination off
set confirm off
break main
run
watch {var}
commands
silent
printf "HIT %lx %ld\\n", $pc, {var}
continue
end
continue
"""


def gdb_hits(exe, var: str, args: list[str], tmp_path) -> list[tuple[int, int]]:
    script = tmp_path / "gdb.cmds"
    script.write_text(GDB_SCRIPT.format(var=var))
    proc = subprocess.run(["gdb", "-q", "-nx", "-batch", "-x", str(script), "--args", str(exe), *args],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    hits = [(int(m[1], 16), int(m[2])) for m in re.finditer(r"^HIT ([0-9a-f]+) (-?\d+)$", proc.stdout, re.M)]
    if not hits:
        pytest.skip(f"gdb reported no watchpoint hit here: {proc.stdout[-500:]} {proc.stderr[-500:]}")
    return hits


def hwdbg_hits(exe, var: str, args: list[str]) -> list[tuple[int, int]]:
    run = run_hwdbg("--batch", "--json", "-ex", "start", "-ex", f"watch {var}", "-ex", "commands", "-ex", "silent",
                    "-ex", "continue", "-ex", "end", "-ex", "continue", exe, *args)
    assert run.returncode == 0, run
    return [(h["pc"], h["new"]) for h in run.of("hit") if h["kind"] == "watch"]


@pytest.mark.parametrize("target, var, args", [("ui_counter", "counter", ["6"]), ("ui_threads", "total", [])])
def test_same_hits_as_gdb(build_target, tmp_path, target, var, args):
    exe = build_target(target)
    expected = gdb_hits(exe, var, args, tmp_path)
    assert hwdbg_hits(exe, var, args) == expected
