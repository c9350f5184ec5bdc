"""The client's breakpoints and watchpoints (``Z``/``z``) on the session's table.

gdb removes every breakpoint at each stop and inserts them all again at each resume
(``breakpoint always-inserted off``). So ``Z``/``z`` only edit the set the client wants; the
session's table follows it once, at resume (``sync``): a stop where the client put back what
it had costs no table change and no debug-register write. Capacity is checked at ``Z`` time,
so "out of slots" is the reply to the insertion that overflows, never a refusal at resume:
the distinct hardware chunks of the wanted set (identical chunks share a slot) must fit
into the CPU's slots, as a breakpoint waiting for a slot would never trigger.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Optional

from ..errors import HwdbgError, SlotError, UsageError
from ..records import Kind
from ..session import Session, UserBreakpoint
from ..session.model import ACCESS

KINDS = {0: Kind.BREAK, 1: Kind.HBREAK, 2: Kind.WATCH, 3: Kind.RWATCH, 4: Kind.AWATCH}


class Key(NamedTuple):
    type: int  # 0..4 as in Z0..Z4
    addr: int
    length: int  # gdb's "kind": bytes for watchpoints, the breakpoint length for code


class ClientPoints:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.wanted: dict[Key, None] = {}
        self.placed: dict[Key, UserBreakpoint] = {}
        self._by_id: dict[int, Key] = {}

    def insert(self, key: Key) -> None:
        """Adds key to the wanted set, or raises (ValidationError, SlotError, TargetError)."""
        if key.type not in KINDS:
            raise UsageError(f"breakpoint type {key.type} is not one of 0-4")
        if key in self.wanted:
            return  # insertions are idempotent (the manual requires it)
        if key in self.placed:  # put back at a stop after its z (gdb does it at every resume): known good
            self.wanted[key] = None
            return
        kind = KINDS[key.type]
        if kind is Kind.BREAK:
            self.session.read_memory(key.addr, 1)  # raises for an address with no code to patch
        else:
            wanted = self._chunks(self.wanted) | self._chunks([key])
            slots = self.session.arch.nslots - self.session.manager.reserved
            if len(wanted) > slots:
                raise SlotError(f"all {slots} debug registers would be needed by {len(wanted)} chunks")
        self.wanted[key] = None

    def remove(self, key: Key) -> None:
        self.wanted.pop(key, None)

    def _chunks(self, keys: Any) -> set:
        manager = self.session.manager
        out: set = set()
        for key in keys:
            kind = KINDS[key.type]
            if kind is Kind.BREAK:
                continue
            length = self.session.arch.exec_length if kind is Kind.HBREAK else key.length
            out.update(manager.make_chunks(key.addr, length, ACCESS[kind]))
        return out

    def sync(self) -> None:
        """Makes the session's table hold exactly the wanted set (called before each resume)."""
        for key in [k for k in self.placed if k not in self.wanted]:
            self._delete(key)
        for key in [k for k in self.wanted if k not in self.placed]:
            kind = KINDS[key.type]
            try:
                bp = self.session.add_breakpoint(kind, key.addr, key.length, expr=f"*{key.addr:#x}", keep=1)
            except HwdbgError:
                self.wanted.pop(key, None)  # the memory went away since Z: the client sees no hit
                continue
            self.placed[key] = bp
            self._by_id[bp.id] = key

    def _delete(self, key: Key) -> None:
        bp = self.placed.pop(key)
        self._by_id.pop(bp.id, None)
        if bp.id in self.session.breakpoints:
            self.session.delete(bp)

    def clear(self) -> None:
        """Forgets every breakpoint (before detach, and when the process is gone)."""
        self.wanted.clear()
        for key in list(self.placed):
            self._delete(key)

    def address_of(self, hit: Any) -> Optional[int]:
        """The address the client set the breakpoint hit by ``hit`` at, or None if not one of its."""
        key = self._by_id.get(hit.id)
        return None if key is None else key.addr

    def breakpoint(self, number: int) -> Optional[UserBreakpoint]:
        return next((bp for bp in self.placed.values() if bp.id == number), None)
