"""Per-architecture debug-register descriptions; ``current()`` is the running machine's."""
from __future__ import annotations

import os

from ..errors import UnsupportedError
from .base import (HW_BREAKPOINT_LEN_1, HW_BREAKPOINT_LEN_2, HW_BREAKPOINT_LEN_4, HW_BREAKPOINT_LEN_8,
                   HW_BREAKPOINT_R, HW_BREAKPOINT_RW, HW_BREAKPOINT_W, HW_BREAKPOINT_X, ArchSpec, BpType,
                   Chunk, DebugStatus)

__all__ = ["ArchSpec", "BpType", "Chunk", "DebugStatus", "current",
           "HW_BREAKPOINT_R", "HW_BREAKPOINT_W", "HW_BREAKPOINT_RW", "HW_BREAKPOINT_X",
           "HW_BREAKPOINT_LEN_1", "HW_BREAKPOINT_LEN_2", "HW_BREAKPOINT_LEN_4", "HW_BREAKPOINT_LEN_8"]


def current() -> ArchSpec:
    machine = os.uname().machine  # what platform.machine() returns, without importing platform
    if machine in ("x86_64", "amd64"):
        from .x86_64 import X86_64
        return X86_64()
    raise UnsupportedError(f"hwdbg has no debug-register backend for {machine} yet (x86-64 only)")
