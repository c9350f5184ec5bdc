"""The slot allocator: which chunks each thread's debug registers should hold. No I/O.

Like the kernel's hw_breakpoint accounting, but virtualised: any number of logical
breakpoints may be registered; per thread the highest priorities win (ties go to the
earlier registration), a breakpoint is installed only with all of its chunks, and
identical chunks of different breakpoints share one slot.
"""
from __future__ import annotations

from typing import Iterable, Optional, Sequence

from ..arch import ArchSpec, Chunk
from ..recordtype import record

Slots = tuple[Optional[Chunk], ...]


@record(frozen=True)
class SlotRequest:
    key: int
    priority: int
    seq: int  # registration order, for ties
    chunks: tuple[Chunk, ...]


@record(frozen=True)
class Allocation:
    slots: Slots
    installed: frozenset[int]  # keys of the requests that got every chunk


def allocate(requests: Iterable[SlotRequest], nslots: int, current: Sequence[Optional[Chunk]] = ()) -> Allocation:
    """The slots one thread should hold. Chunks already in a slot stay there (fewer writes)."""
    chosen: list[Chunk] = []
    installed = set()
    for req in sorted(requests, key=lambda r: (-r.priority, r.seq)):
        needed = [c for c in dict.fromkeys(req.chunks) if c not in chosen]
        if len(chosen) + len(needed) <= nslots:
            chosen.extend(needed)
            installed.add(req.key)
    slots: list[Optional[Chunk]] = [None] * nslots
    placed = set()
    for index, chunk in enumerate(list(current)[:nslots]):
        if chunk is not None and chunk in chosen and chunk not in placed:
            slots[index] = chunk
            placed.add(chunk)
    free = (i for i in range(nslots) if slots[i] is None)
    for chunk in chosen:
        if chunk not in placed:
            slots[next(free)] = chunk
    return Allocation(tuple(slots), frozenset(installed))


@record
class ThreadRegisters:
    """What one thread's debug registers hold right now (the shadow copy)."""

    addrs: list[int]
    slots: list[Optional[Chunk]]

    @classmethod
    def clear(cls, nslots: int) -> "ThreadRegisters":
        return cls([0] * nslots, [None] * nslots)

    def copy(self) -> "ThreadRegisters":
        return ThreadRegisters(list(self.addrs), list(self.slots))


def plan_writes(arch: ArchSpec, old: ThreadRegisters, new_slots: Sequence[Optional[Chunk]]) -> list[tuple[int, int]]:
    """(register, value) writes that take a thread from ``old`` to ``new_slots``, in the safe order.

    A slot that gets a new address is first disabled in the control register (an armed
    slot whose address write failed would stay armed at the old address), then the
    addresses are written, then the final control value. Nothing changed: no writes.
    """
    n = arch.nslots
    new_slots = list(new_slots)
    old_control = arch.encode_control(old.slots)
    new_control = arch.encode_control(new_slots)
    moved = [i for i in range(n) if new_slots[i] is not None and new_slots[i].addr != old.addrs[i]]
    writes: list[tuple[int, int]] = []
    control = old_control
    if any(old.slots[i] is not None for i in moved):
        interim = [None if i in moved else old.slots[i] for i in range(n)]
        control = arch.encode_control(interim)
        writes.append((arch.control_register, control))
    writes.extend((i, new_slots[i].addr) for i in moved)
    if new_control != control:
        writes.append((arch.control_register, new_control))
    return writes


def state_after(arch: ArchSpec, state: ThreadRegisters, writes: Sequence[tuple[int, int]]) -> ThreadRegisters:
    """The shadow after ``writes`` (or a prefix of them) reached the hardware."""
    result = state.copy()
    for reg, value in writes:
        if reg == arch.control_register:
            result.slots = [None if decoded is None else Chunk(result.addrs[i], decoded[1], decoded[0])
                            for i, decoded in enumerate(arch.decode_control(value))]
        else:
            result.addrs[reg] = value
    return result
