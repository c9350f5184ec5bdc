"""gdb 13's "STT_GNU_IFUNC resolver" breakpoints: ``break NAME`` whose only location is the
resolver of an IFUNC not resolved yet (symbols/function_sites.py). A hit there counts but does
not stop; gdb then runs the resolver to its return (an internal breakpoint at the return
address, for that thread and frame), reads the function it chose and moves the breakpoint
there, after its prologue: its type becomes "breakpoint" again, and the call that follows stops
in the chosen function.

gdb 13 finds the resolver's caller as the caller of the innermost frame: where an inlined
function starts at the resolver's first byte (glibc's selectors, with libc6-dbg), that caller
is the resolver itself at the same pc, so the return is never seen and the breakpoint stays on
the resolver, counting its hits without stopping. Modelled so (Site.inline_at_entry).
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from ..process.control import Inferior
from ..symbols.function_sites import Site, resolved_site

RETURN = -(1 << 62)  # owner of the internal int3 at a resolver's return address (below scoped.GUARD_BASE)


def only_resolver(bp: Any, addr: int) -> Optional[Site]:
    """The resolver site at ``addr`` when it is the breakpoint's only location, else None."""
    sites = getattr(bp, "sites", ())
    if bp is None or bp.more or len(sites) != 1 or not sites[0].resolver or sites[0].addr != addr:
        return None
    return sites[0]


class IfuncResolvers:
    def __init__(self, arch: Any, *, breakpoints: Callable[[], dict], symbols: Callable[[], Any],
                 move: Callable[[Any, Site], None]) -> None:
        self.arch, self._breakpoints, self._symbols, self._move = arch, breakpoints, symbols, move
        self.waiting: dict[int, list[tuple[int, int, int]]] = {}  # return address -> [(tid, sp there, bp id)]

    def reset(self) -> None:
        self.waiting.clear()

    def at_trap(self, inf: Inferior, tid: int, addr: int, owners: set[int]) -> set[int]:
        """Handles the resolver breakpoints and resolver returns of one int3 trap; returns the
        owners left to decide whether the thread stops."""
        left = set(owners)
        if RETURN in left:
            left.discard(RETURN)
            self._returned(inf, tid, addr)
        for bp_id in sorted(owner for owner in left if owner > 0):
            bp = self._breakpoints().get(bp_id)
            site = only_resolver(bp, addr)
            if site is None or not bp.enabled or (bp.thread is not None and bp.thread != tid):
                continue
            left.discard(bp_id)
            bp.hit_count += 1  # gdb counts the hit, and does not stop
            if not site.inline_at_entry:
                self._await_return(inf, tid, bp_id)
        return left

    def _await_return(self, inf: Inferior, tid: int, bp_id: int) -> None:
        sp = self.arch.get_sp(inf.get_regs(tid))
        ret = int.from_bytes(inf.read_memory(sp, 8), "little")
        inf.breaks.insert(ret, RETURN)
        self.waiting.setdefault(ret, []).append((tid, sp + 8, bp_id))

    def _returned(self, inf: Inferior, tid: int, addr: int) -> None:
        regs = inf.get_regs(tid)
        sp, waiting = self.arch.get_sp(regs), self.waiting.get(addr, [])
        done = [entry for entry in waiting if entry[0] == tid and entry[1] == sp]
        if not done:
            return  # another call passing the same return address
        self.waiting[addr] = [entry for entry in waiting if entry not in done]
        if not self.waiting[addr]:
            del self.waiting[addr]
            inf.breaks.remove(addr, RETURN)
        site = resolved_site(self._symbols(), int(regs.rax))
        for _, _, bp_id in done:
            bp = self._breakpoints().get(bp_id)
            if site is not None and bp is not None and only_resolver(bp, bp.addr) is not None:
                self._move(bp, site)
