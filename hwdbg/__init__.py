"""hwdbg: a Linux debugger built around the CPU's hardware breakpoints and watchpoints.

The pure parts (errors, records, ``hwdbg.arch``, ``hwdbg.expr``, ``hwdbg.hw.slots``) import on
any machine; the API (``spawn``, ``attach``, ``Target``, ``Breakpoint``) needs the C module
and is imported on first use (PEP 562), so a missing build is one clear error where it matters.
"""
from __future__ import annotations

import importlib
from typing import Any

from .arch import (HW_BREAKPOINT_LEN_1, HW_BREAKPOINT_LEN_2, HW_BREAKPOINT_LEN_4, HW_BREAKPOINT_LEN_8,
                   HW_BREAKPOINT_R, HW_BREAKPOINT_RW, HW_BREAKPOINT_W, HW_BREAKPOINT_X, BpType)
from .errors import (AddressError, AlignmentError, AttachDenied, CallStopped, HwdbgError, LengthError, PtraceError,
                     SlotError, SymbolError, TargetError, TargetTimeout, UnsupportedError, UsageError, ValidationError)
from .records import Exited, Frame, Hit, Killed, Kind, Notice, Stopped, Writer
from .version import __version__

_LAZY = {"spawn": "api", "attach": "api", "Target": "api", "Breakpoint": "api", "probe": "probe"}

__all__ = [
    "spawn", "attach", "Target", "Breakpoint", "BpType", "probe", "__version__",
    "Hit", "Writer", "Stopped", "Exited", "Killed", "Notice", "Frame", "Kind",
    "HW_BREAKPOINT_R", "HW_BREAKPOINT_W", "HW_BREAKPOINT_RW", "HW_BREAKPOINT_X",
    "HW_BREAKPOINT_LEN_1", "HW_BREAKPOINT_LEN_2", "HW_BREAKPOINT_LEN_4", "HW_BREAKPOINT_LEN_8",
    "HwdbgError", "UsageError", "TargetError", "AttachDenied", "PtraceError", "ValidationError",
    "AlignmentError", "LengthError", "AddressError", "UnsupportedError", "SlotError", "SymbolError",
    "TargetTimeout", "CallStopped",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hwdbg' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
