"""One debugging session: a process, its breakpoints and the loop that runs it.

``core.Session`` orchestrates; each collaborator has one job and gets callables, never the
session: ``model`` (the user's breakpoints), ``table`` (their life on the hw layer), ``hits``
(what a hit means), ``fastplan`` (what the C hit loop may take), ``image`` and ``env`` (the
program's symbols and the expression environment), ``cleanup`` (exit and signal safety).
"""
from .cleanup import install_signal_cleanup
from .core import Session
from .stops import signal_name
from .model import KEPT_HITS, UserBreakpoint
from .writers import writers_of

__all__ = ["KEPT_HITS", "Session", "UserBreakpoint", "install_signal_cleanup", "signal_name", "writers_of"]
