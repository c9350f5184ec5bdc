"""Per-hit cost of HitSemantics.publish, the step every hit goes through (the C loop's too).

    .venv/bin/python bench/publish_cost.py                      # this checkout
    PYTHONPATH=/path/to/other/checkout .venv/bin/python bench/publish_cost.py   # another, to compare

No process is traced: publish gets a constant frame, so what is timed is hwdbg's bookkeeping
(counting, keeping, the writers aggregation) and nothing of the kernel's.
"""
from __future__ import annotations

import time
from collections import deque

from hwdbg import records as rec
from hwdbg.records import Kind
from hwdbg.session.hits import HitSemantics
from hwdbg.session.model import UserBreakpoint

N, REPS = 400_000, 7


def main() -> None:
    frame = rec.Frame(pc=0x401136, function="bump", offset=6, file="c.c", line=12)
    hits = HitSemantics(read_memory=None, describe=lambda pc: frame, backtrace=None, env=None,  # type: ignore[arg-type]
                        emit=lambda event: None, tracing=lambda: True, current=lambda bp_id: True)
    bp = UserBreakpoint(id=1, kind=Kind.WATCH, expr="x", addr=0x404000, length=8, hits=deque(maxlen=10))
    pcs = [0x401136, 0x401150, 0x401170, 0x401190]  # four writers, two threads
    best = float("inf")
    for _ in range(REPS):
        start = time.perf_counter()
        for i in range(N):
            hits.publish(bp, 100 + (i & 1), pcs[i & 3], i, i + 1)
        best = min(best, (time.perf_counter() - start) / N * 1e9)
    print(f"publish: {best:.0f} ns per hit (best of {REPS} x {N})")


if __name__ == "__main__":
    main()
