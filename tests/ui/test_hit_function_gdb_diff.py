"""Differential test: a JSON `hit` names the function as a stop does: DWARF's innermost function
at the accessing instruction (an inlined one in inlined code, not the ELF symbol around it),
with its file and line. gdb's Python API says the same of each address (the innermost block
with a function, find_pc_line). inline_target.c at -O2: scale is inlined into work and main."""
from __future__ import annotations

import json
import subprocess

import pytest

from gdb_diff import needs_gdb
from ui_helpers import run_hwdbg

pytestmark = [pytest.mark.requires_hw_watchpoints, needs_gdb]

ORACLE = """\
python
import sys
for addr in [int(a) for a in sys.argv_pcs]:
    block = gdb.block_for_pc(addr)
    while block is not None and block.function is None:
        block = block.superblock
    sal = gdb.find_pc_line(addr)
    print("PLACE", addr, block.function.name if block is not None else None, sal.symtab.filename, sal.line)
end
"""


def gdb_places(exe, pcs, tmp_path):
    script = tmp_path / "oracle.gdb"
    script.write_text(ORACLE.replace("sys.argv_pcs", repr([str(pc) for pc in pcs])))
    out = subprocess.run(["gdb", "-nx", "-batch", "-x", str(script), str(exe)], capture_output=True, text=True,
                         timeout=180, stdin=subprocess.DEVNULL).stdout
    places = {}
    for line in out.splitlines():
        if line.startswith("PLACE "):
            _, addr, function, rest = line.split(" ", 3)  # the file's path may hold spaces
            file, number = rest.rsplit(" ", 1)
            places[int(addr)] = (function, file.rsplit("/", 1)[-1], int(number))
    return places


@pytest.mark.parametrize("dwarf", ["-gdwarf-4", "-gdwarf-5"])
def test_hits_name_the_inlined_function_and_line(build_target, tmp_path, dwarf):
    exe = build_target("inline_target", cflags=("-O2", dwarf))
    run = run_hwdbg("--batch", "--json", "-ex", "start", "-ex", "watch total --trace", "-ex", "continue", exe, "3",
                    timeout=180)
    events = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    hits = [e for e in events if e["event"] == "hit" and e["kind"] == "watch"]
    assert len(hits) == 6, run  # 3 iterations x 2 scale calls in work, 1 in main; the first adds 0
    # A data trap comes after the write: pc - 1 lies in the writing instruction.
    places = gdb_places(exe, sorted({h["pc"] - 1 for h in hits}), tmp_path)
    got = [(h["function"], h["file"].rsplit("/", 1)[-1], h["line"]) for h in hits]
    assert got == [places[h["pc"] - 1] for h in hits]
    assert {function for function, _, _ in got} == {"scale"}  # not work or main, the ELF symbols
