"""`watch *p@100000` (gdb's @ on a pointer) and `watch buf` of 64 KB from the command line, on
an attached program: page protection takes both, each write is a hit at its writer with the
exact bytes that changed, and after quit or detach no page is left read-only (the program
then writes every byte of both ranges and exits 0)."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from ui_helpers import ROOT

pytestmark = pytest.mark.requires_ptrace


@pytest.fixture(scope="module")
def ranges_exe(build_target):
    return build_target("page_ranges")


def perms_of(pid: int) -> list[str]:
    with open(f"/proc/{pid}/maps") as f:
        return [" ".join(line.split()[:2]) for line in f]


@pytest.mark.parametrize("leave", ["quit", "detach"])
def test_pointer_at_and_64k_array_by_pages(ranges_exe, leave):
    proc = subprocess.Popen([str(ranges_exe)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "ready\n"
        time.sleep(0.05)  # in its usleep loop
        before = perms_of(proc.pid)
        cmds = ["watch *p@100000 --trace", "watch buf --trace", "break done", "set var go = 1", "continue",
                "print p", "print &buf", leave]
        run = subprocess.run([sys.executable, "-m", "hwdbg", "--batch", "--json", "-p", str(proc.pid)]
                             + [a for c in cmds for a in ("-ex", c)],
                             capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert "Traceback" not in run.stderr, run.stderr
        events = [json.loads(line) for line in run.stdout.splitlines() if line.strip()]
        watches = [e for e in events if e["event"] == "result" and e.get("command") == "watch"]
        assert [(w["breakpoint"]["backend"], w["breakpoint"]["length"]) for w in watches] == \
            [("pages", 100000), ("pages", 65536)]
        p, buf = (int(e["value"], 16) if isinstance(e["value"], str) else e["value"]
                  for e in events if e["event"] == "result" and e.get("command") == "print")
        wp, wb = watches[0]["breakpoint"]["id"], watches[1]["breakpoint"]["id"]
        hits = [e for e in events if e["event"] == "hit" and e["id"] in (wp, wb)]
        got = [(h["id"], h["function"], h["changed"]["address"], h["changed"]["length"], h["old"], h["new"])
               for h in hits]
        assert got == [(wp, "put_p", p, 1, 0, 1), (wp, "put_p", p + 99999, 1, 0, 2), (wp, "put_p", p + 50000, 1, 0, 3),
                       (wp, "put_p_long", p + 1000, 2, 0, 0x0102),
                       (wb, "put_buf", buf, 1, 0, 4), (wb, "put_buf", buf + 65535, 1, 0, 5)]
        assert len({h["pc"] for h in hits if h["function"] == "put_p"}) == 1  # one writing instruction
        assert perms_of(proc.pid) == before  # every page back to its own protection
        out, _ = proc.communicate("end\n", timeout=60)
        assert (out, proc.returncode) == ("ok\n", 0)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
