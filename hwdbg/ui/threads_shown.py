"""Which thread a stop message names, as gdb words it: ``Thread 2 "prog" received signal ...``
once the process has had several threads, and ``[Switching to Thread 0x... (LWP N)]`` when the
stop is in another thread than the one current when the target was resumed."""
from __future__ import annotations

from typing import Any, Optional

from ..errors import HwdbgError
from ..session.thread_numbers import target_id


def stop_thread(session: Any, tid: int, resumed_from: Optional[int]) -> tuple[Optional[str], Optional[str]]:
    """(who: ``Thread 2 "prog"`` or None for "Program"; the switch's target id, or None)."""
    inf = session.inferior
    if inf is None:
        return None, None
    label = session.thread_numbers.label(inf.pid, tid)
    if resumed_from is None or resumed_from == tid or tid not in inf.threads:
        return label, None
    try:
        thread_pointer: Optional[int] = session.env(tid).register("fs_base")
    except HwdbgError:
        thread_pointer = None
    return label, target_id(tid, thread_pointer)
