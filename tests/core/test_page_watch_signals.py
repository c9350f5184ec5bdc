"""A signal delivered while a thread's write runs in the page-watch trampoline (an interval
timer every 300 µs, two writing threads): its handler runs after the write, and the handler's
own write to the watched range is a hit too. Every write of the threads and of the handler is
a hit at its own function; the program's output is that of a run without hwdbg."""
from __future__ import annotations

import os
import re
import subprocess

import pytest

import hwdbg

pytestmark = pytest.mark.requires_ptrace
ROUNDS = 1500


def test_signal_during_trampoline_writes(build_target):
    exe = build_target("page_signal")
    alone = subprocess.run([str(exe), str(ROUNDS)], capture_output=True, text=True, timeout=60)
    assert alone.returncode == 0, alone.stderr
    r, w = os.pipe()
    er, ew = os.pipe()
    with hwdbg.spawn([str(exe), str(ROUNDS)], stdout=w, stderr=ew) as target:
        os.close(w)
        os.close(ew)
        target.run_to("ready")
        bp = target.watch("big", keep=None)
        assert target.session.breakpoints[bp.id].paged
        assert isinstance(target.run_until_exit(timeout=300), hwdbg.records.Exited)
        with os.fdopen(r) as out:
            assert out.read() == alone.stdout
        with os.fdopen(er) as err:
            handled = int(re.search(r"handled=(\d+)", err.read()).group(1))
        by_function: dict[str, int] = {}
        for h in bp.hits:
            by_function[h.function] = by_function.get(h.function, 0) + 1
        assert handled > 0
        assert by_function == {"loop_write": 2 * ROUNDS, "h_write": handled}
