"""Fork, vfork and exec events, for a client that offers ``fork-events+``, ``vfork-events+`` and
``exec-events+`` with ``multiprocess+`` (gdb does): thread ids become ``pPID.TID``, a fork
stops with ``T05fork:pCHILD.CHILD;...`` and the child is kept stopped, clean of int3s
(process/forks.py), until the client detaches it (``D;PID``: follow-fork-mode parent) or
detaches the parent (follow-fork-mode child: the child becomes the process served). A vfork
ends with ``vforkdone:;``, an exec stops with ``exec:HEXPATH;``. The client's breakpoint
packets aimed at a kept child (``Hg pCHILD.CHILD`` then ``z``) change nothing: its copy was
cleaned when it was kept. A mixin of the Stub, like Queries.
"""
from __future__ import annotations

import os
from typing import Any, Optional

from .. import records as rec
from ..errors import PtraceError
from ..linux import procfs
from ..process.forks import release_child
from .queries import PacketError, hex_int
from .stopreply import thread_id


class Forks:
    """The fork-following state; the Stub provides session, points, g_thread and the rest."""

    session: Any
    points: Any
    multi: bool
    ended: bool
    last: Optional[bytes]
    last_end: Optional[bytes]
    g_thread: Optional[int]
    multiprocess = False
    forks: dict[int, bool]  # kept children (pid -> vfork), oldest first

    def negotiate(self, offered: set[bytes]) -> str:
        """Takes the client's qSupported features; returns the part of our reply they make."""
        self.multiprocess = b"multiprocess+" in offered
        follow = self.multiprocess and {b"fork-events+", b"vfork-events+"} <= offered
        self.session.fork_events = follow
        self.session.exec_events = self.multiprocess and b"exec-events+" in offered
        if self.session.alive:
            self.session.inferior.fork_events = follow
        return ((";multiprocess+" if self.multiprocess else "") + (";fork-events+;vfork-events+" if follow else "")
                + (";exec-events+" if self.session.exec_events else ""))

    def ident(self, tid: int) -> str:
        """A thread id as the client reads them."""
        inf = self.session.inferior
        return f"p{inf.pid:x}.{tid:x}" if self.multiprocess and inf is not None else thread_id(tid)

    def event_text(self, stop: rec.Stopped) -> str:
        """The stop reason of a fork, vfork, vforkdone or exec stop ("" for others)."""
        if stop.reason in ("fork", "vfork") and stop.child is not None:
            self.forks[stop.child] = stop.reason == "vfork"
            return f"{stop.reason}:p{stop.child:x}.{stop.child:x};"
        if stop.reason == "vforkdone":
            return "vforkdone:;"
        if stop.reason == "exec":
            self.points.clear()  # gdb forgets the old image's breakpoints without a z for each
            try:
                path = procfs.real_exe(self.session.inferior.pid)
            except OSError:
                path = ""
            return f"exec:{path.encode().hex()};"
        return ""

    def parked(self) -> bool:
        """The client's general thread is a kept child's."""
        return self.g_thread is not None and self.g_thread in self.forks

    def read_parked(self, addr: int, length: int) -> bytes:
        """Reads a kept child's memory (its copy: the parent's int3s are not in it)."""
        assert self.g_thread is not None
        try:
            fd = os.open(procfs.mem_path(self.g_thread), os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            raise PacketError() from None
        try:
            data = os.pread(fd, length, addr)
        except (OSError, OverflowError):
            data = b""
        finally:
            os.close(fd)
        if not data and length:
            raise PacketError()
        return data

    def _detach(self, args: bytes) -> bytes:
        """``D`` or ``D;PID``: a kept child is let go; the served process is detached, and a kept
        child, if any, is served from now on (gdb detaches the parent to follow the child)."""
        pid = hex_int(args[1:]) if args.startswith(b";") else None
        if pid is not None and pid in self.forks:
            del self.forks[pid]
            try:
                release_child(pid)
            except PtraceError:
                pass  # gone meanwhile
            if self.g_thread == pid:
                self.g_thread = None
            return b"OK"
        inf = self.session.require_stopped() if self.session.alive else None
        if inf is None or (pid is not None and pid != inf.pid):
            raise PacketError()
        self.points.clear()
        self.session.detach()
        self.last, self.last_end = None, None
        if self.forks:
            child = next(iter(self.forks))
            del self.forks[child]
            self.session.adopt(child, spawned=inf.spawned)
            return b"OK"
        self.ended = not self.multi
        return b"OK"

    def release_forks(self) -> None:
        """Lets every kept child go (the client went away or the stub ends)."""
        for pid in list(self.forks):
            del self.forks[pid]
            try:
                release_child(pid)
            except PtraceError:
                pass
