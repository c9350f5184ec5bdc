"""hwdbg: a Linux debugger built around the CPU's hardware breakpoints and watchpoints."""
from __future__ import annotations

from .api import Breakpoint, Target, attach, spawn
from .arch import (HW_BREAKPOINT_LEN_1, HW_BREAKPOINT_LEN_2, HW_BREAKPOINT_LEN_4, HW_BREAKPOINT_LEN_8,
                   HW_BREAKPOINT_R, HW_BREAKPOINT_RW, HW_BREAKPOINT_W, HW_BREAKPOINT_X, BpType)
from .errors import (AddressError, AlignmentError, AttachDenied, HwdbgError, LengthError, PtraceError, SlotError,
                     SymbolError, TargetError, TargetTimeout, UnsupportedError, UsageError, ValidationError)
from .probe import probe
from .records import Exited, Frame, Hit, Killed, Notice, Stopped
from .version import __version__

__all__ = [
    "spawn", "attach", "Target", "Breakpoint", "BpType", "probe", "__version__",
    "Hit", "Stopped", "Exited", "Killed", "Notice", "Frame",
    "HW_BREAKPOINT_R", "HW_BREAKPOINT_W", "HW_BREAKPOINT_RW", "HW_BREAKPOINT_X",
    "HW_BREAKPOINT_LEN_1", "HW_BREAKPOINT_LEN_2", "HW_BREAKPOINT_LEN_4", "HW_BREAKPOINT_LEN_8",
    "HwdbgError", "UsageError", "TargetError", "AttachDenied", "PtraceError", "ValidationError",
    "AlignmentError", "LengthError", "AddressError", "UnsupportedError", "SlotError", "SymbolError",
    "TargetTimeout",
]
