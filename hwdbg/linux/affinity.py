"""--pin: debugger and target on one CPU, where a ptrace stop costs several times less on VMs."""
from __future__ import annotations

import os

from . import procfs


def pin_to_one_cpu() -> None:
    """--pin: the debugger and the target share one CPU (the child inherits the mask)."""
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})


def pin_with_target(pid: int, tids: list[int]) -> dict[int, set[int]]:
    """--pin on attach: the debugger joins the CPU the target last ran on, and the target's
    threads stay there (they are given their old CPU sets back at detach)."""
    cpu = procfs.last_cpu(pid)
    if cpu is None:
        return {}
    try:
        saved = {tid: os.sched_getaffinity(tid) for tid in tids}
        for tid in tids:
            os.sched_setaffinity(tid, {cpu})
        os.sched_setaffinity(0, {cpu})
        return saved
    except OSError:
        return {}


def other_cpus(before: set[int]) -> set[int]:
    """Where the debugger's other threads (the hit publisher) run once --pin has pinned this
    one: the CPUs it had, except the trap path's, which is busy with every hit (all of them
    if there is no other)."""
    return (before - os.sched_getaffinity(0)) or before
