"""The exception tree. Each message is the one line the user sees.

Library code raises these and never prints; the user interface turns them into
``*** message`` (REPL) or ``{"event": "error", ...}`` (JSON).
"""
from __future__ import annotations

import errno as _errno
import os


class HwdbgError(Exception):
    """Base of every error hwdbg reports to its user."""


class UsageError(HwdbgError):
    """A malformed command, option or expression."""


class TargetError(HwdbgError):
    """The target process cannot do what was asked (gone, running, not started)."""


class AttachDenied(TargetError):
    """The kernel refused to let us trace a process; the message says why and how to fix it."""


class PtraceError(TargetError):
    """A ptrace request failed. Carries the request, the thread, the errno."""

    def __init__(self, request: str, tid: int, err: int, what: str = "", hint: str = "") -> None:
        self.request = request
        self.tid = tid
        self.errno = err
        self.what = what
        name = _errno.errorcode.get(err, str(err))
        target = f"{request} {what} on tid {tid}" if what else f"{request} on tid {tid}"
        message = f"{target} failed: {name} ({os.strerror(err)})"
        if hint:
            message += f"; {hint}"
        super().__init__(message)


class ValidationError(HwdbgError):
    """A breakpoint request the hardware cannot express; nothing was armed."""


class AlignmentError(ValidationError):
    """The address is not a multiple of the length."""


class LengthError(ValidationError):
    """The length is not one the hardware supports."""


class AddressError(ValidationError):
    """The address is outside user space (kernel, non-canonical, last user page)."""


class UnsupportedError(ValidationError):
    """The access type is not available on this architecture."""


class SlotError(HwdbgError):
    """No debug register is free (held by another breakpoint, by perf or another tool)."""


class SymbolError(HwdbgError):
    """An unknown symbol or an expression that does not name memory."""


class NotInMemory(UsageError):
    """An address asked of a variable held in a register (``register``: its DWARF number) or
    computed by the compiler (None)."""

    def __init__(self, message: str, register: "int | None" = None) -> None:
        super().__init__(message)
        self.register = register


class LibraryNotLoaded(SymbolError):
    """LIB:NAME where no loaded module is LIB (yet: a break on it waits for the library)."""


class TargetTimeout(TargetError):
    """The target did not stop within the requested time; it was interrupted."""


class EvaluationError(HwdbgError):
    """An expression that parses but has no value: gdb's own message, without a usage line."""


class OptimizedOut(SymbolError):
    """A local the compiler left no trace of at this pc (gdb's ``<optimized out>``)."""


class FrameError(HwdbgError):
    """No such frame: no stack, or up/down past either end (gdb's messages)."""


class CallStopped(TargetError):
    """A function called from the debugger stopped or ended before it returned (gdb's messages);
    ``stop``: that stop or exit record (announced to the session's listeners before)."""

    def __init__(self, message: str, stop: object = None) -> None:
        super().__init__(message)
        self.stop = stop
