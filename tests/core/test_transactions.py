"""Debug-register writes across threads are all or nothing, checked against the real registers."""
from __future__ import annotations

import pytest

import hwdbg
from hwdbg.hw import debugregs

pytestmark = pytest.mark.requires_hw_watchpoints


def real_registers(target):
    """Per thread: DR7 and the addresses of the enabled slots (what decides what traps)."""
    out = {}
    for tid in target.threads:
        regs = debugregs.read_all(tid)
        enabled = [i for i, s in enumerate(target.session.arch.decode_control(regs[7])) if s is not None]
        out[tid] = (regs[7], {i: regs[i] for i in enabled})
    return out


def test_failure_on_one_thread_rolls_back_every_thread(start, hold_slots):
    t = start("idle-threads")
    assert len(t.threads) == 4
    first = t.watch("g[0]")
    before = real_registers(t)
    victim = max(t.threads)
    with hold_slots(victim, t.address_of("counter")):
        with pytest.raises(hwdbg.SlotError) as info:
            t.watch("g[1]")
        message = str(info.value)
        assert f"thread {victim}" in message and "ENOSPC" in message and "perf or another tool" in message
        assert real_registers(t) == before  # every thread armed exactly as before
        assert [bp.id for bp in t.breakpoints] == [first.id]
    second = t.watch("g[1]")  # the slots are free again
    assert second.status == "INSTALLED" and first.status == "INSTALLED"


def test_shadow_matches_hardware_in_every_thread(start):
    t = start("idle-threads")
    bps = [t.watch(f"g[{i}]", priority=i % 3) for i in range(6)]
    arch = t.session.arch
    for tid, state in t.session.manager.threads.items():
        regs = debugregs.read_all(tid)
        assert regs[7] == arch.encode_control(state.slots)
        for slot, chunk in enumerate(state.slots):
            if chunk is not None:
                assert regs[slot] == chunk.addr
    assert sum(bp.status == "INSTALLED" for bp in bps) == 4
