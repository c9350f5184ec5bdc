"""The pure slot allocator (hw/slots.py), without a process: who gets the slots, where they go,
and the register writes that get a thread there."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hwdbg.arch import BpType, Chunk
from hwdbg.arch.x86_64 import X86_64
from hwdbg.hw.slots import SlotRequest, ThreadRegisters, allocate, plan_writes, state_after

ARCH = X86_64()
CHUNKS = [Chunk(0x601000 + 8 * i, 8, BpType.W) for i in range(6)] + [Chunk(0x601000, 8, BpType.RW)]


def model(requests, nslots):
    """Highest priority first, ties to the earlier registration; a request needs all its chunks."""
    chosen, installed = set(), set()
    for req in sorted(requests, key=lambda r: (-r.priority, r.seq)):
        new = set(req.chunks) - chosen
        if len(chosen) + len(new) <= nslots:
            chosen |= new
            installed.add(req.key)
    return installed, chosen


requests_st = st.lists(st.tuples(st.integers(0, 3), st.lists(st.sampled_from(CHUNKS), min_size=1, max_size=3)),
                       max_size=8).map(lambda items: [SlotRequest(i, prio, i, tuple(chunks))
                                                      for i, (prio, chunks) in enumerate(items)])
slots_st = st.lists(st.one_of(st.none(), st.sampled_from(CHUNKS)), min_size=4, max_size=4)


@given(requests_st, slots_st)
def test_the_installed_set_is_the_models_and_every_chunk_has_one_slot(requests, current):
    alloc = allocate(requests, 4, current)
    installed, chosen = model(requests, 4)
    assert alloc.installed == installed
    placed = [c for c in alloc.slots if c is not None]
    assert sorted(placed, key=repr) == sorted(chosen, key=repr)  # shared chunks take one slot
    for index, chunk in enumerate(current):
        if chunk is not None and chunk in chosen and current.index(chunk) == index:
            assert alloc.slots[index] == chunk  # what stays armed does not move


@given(requests_st, slots_st)
def test_allocating_again_from_the_result_changes_nothing(requests, current):
    first = allocate(requests, 4, current)
    assert allocate(requests, 4, first.slots) == first


@given(slots_st, slots_st)
def test_planned_writes_reach_the_target_state_in_a_safe_order(old_slots, new_slots):
    old = ThreadRegisters([c.addr if c else 0 for c in old_slots], list(old_slots))
    writes = plan_writes(ARCH, old, new_slots)
    after = state_after(ARCH, old, writes)
    assert after.slots == list(new_slots)
    for i, chunk in enumerate(new_slots):
        if chunk is not None:
            assert after.addrs[i] == chunk.addr
    # An address is never written while the old DR7 still arms that slot.
    control = ARCH.encode_control(old.slots)
    for reg, value in writes:
        if reg == ARCH.control_register:
            control = value
        else:
            assert ARCH.decode_control(control)[reg] is None
    if old.slots == list(new_slots):
        assert writes == []


def test_nothing_to_do_costs_no_write():
    state = ThreadRegisters([CHUNKS[0].addr, 0, 0, 0], [CHUNKS[0], None, None, None])
    assert plan_writes(ARCH, state, state.slots) == []
