"""The one waitpid(-1, __WALL) of this debugger process: every wait status goes to the
Inferior that owns its tid (``inbox``), or waits for its owner (a new thread's first stop can
beat its parent's clone event)."""
from __future__ import annotations

import os
from collections import defaultdict
from typing import Any

from ..errors import TargetError
from ..linux import ptrace as sc


class _Reaper:
    """The one waitpid(-1, __WALL) of this debugger process, routing statuses by tid."""

    def __init__(self) -> None:
        self.owners: dict[int, Any] = {}
        self.unclaimed: dict[int, list[int]] = defaultdict(list)

    def next_status(self, inferior: Any) -> tuple[int, int]:
        if inferior.inbox:
            return inferior.inbox.popleft()
        while True:
            try:
                tid, status = os.waitpid(-1, sc.WALL)
            except ChildProcessError:
                raise TargetError(f"process {inferior.pid} is not traced any more (no child to wait for)") from None
            if self.route(inferior, tid, status):
                return tid, status

    def route(self, inferior: Any, tid: int, status: int) -> bool:
        """True if the status is ``inferior``'s; otherwise it is kept for its owner."""
        owner = self.owners.get(tid)
        if owner is inferior:
            return True
        if owner is not None:
            absorb = getattr(owner, "absorb", None)  # a passed-through child (passthrough.py)
            if absorb is not None:
                absorb(tid, status)
            else:
                owner.inbox.append((tid, status))
        elif os.WIFSTOPPED(status):
            # Usually a new thread whose initial stop beat its parent's clone event.
            self.unclaimed[tid].append(status)
        return False

    def claim(self, tid: int, inferior: Any) -> list[int]:
        self.owners[tid] = inferior
        return self.unclaimed.pop(tid, [])

    def release(self, tid: int) -> None:
        self.owners.pop(tid, None)


REAPER = _Reaper()
