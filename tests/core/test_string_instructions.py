"""rep movs / rep stos stop once per element written into a watched range (CPU-dependent):
hwdbg reports each instruction's writes as one hit with the final value."""
from __future__ import annotations

import pytest

from hwdbg.arch import BpType, Chunk
from hwdbg.hw import debugregs

pytestmark = pytest.mark.requires_hw_watchpoints

ROUNDS = 4


@pytest.mark.parametrize("offset", [0, 96, 1024, 4088])
def test_one_hit_per_string_instruction(start, offset):
    t = start("strings", ROUNDS)
    dst = t.address_of("big_dst")
    bp = t.watch(dst + offset, length=8)
    assert t.run_until_exit().code == 0
    hits = bp.hits
    # per round: memcpy (0x5a...), memset (round+1 ...), inline rep movsb (0x5a... again)
    expected = []
    for r in range(ROUNDS):
        src = bytearray(b"\x5a" * 4096)
        src[0] = r  # the target changes its first source byte every round
        copied = int.from_bytes(src[offset:offset + 8], "little")
        expected += [copied, int.from_bytes(bytes([r + 1]) * 8, "little"), copied]
    assert [h.new for h in hits] == expected
    assert {h.function for h in hits} <= {"main", "memcpy", "memset"} | {h.function for h in hits if h.function
                                                                            and h.function.startswith("__mem")}


def test_memset_watch_has_exact_old_and_new(start):
    t = start("strings", 2)
    dst = t.address_of("big_dst")
    bp = t.watch(dst + 8, length=8)
    t.run_until_exit()
    pairs = [(h.old, h.new) for h in bp.hits]
    for (old, new), (next_old, _) in zip(pairs, pairs[1:]):
        assert new == next_old  # no intermediate, half-written values leak out


def test_a_lent_slot_survives_every_change_until_the_loan_ends(start):
    """While a thread finishes a string instruction its watch's slot is lent to an execute
    breakpoint: a change made meanwhile (a new watch synced into every thread) must keep the
    loan and keep the lender out of that thread, or the instruction would fire it again."""
    t = start("idle-threads")
    manager, arch = t.session.manager, t.session.arch
    g = t.address_of("g")
    watched = t.watch(g, length=8)
    tid, others = t.threads[0], t.threads[1:]
    slot = watched.slots[tid][0]
    loan = Chunk(t.address_of("ready"), arch.exec_length, BpType.X)
    manager.lend_slot(tid, slot, loan, lenders=(watched.id,))
    added = t.watch(g + 8, length=8)

    def armed(thread):
        regs = debugregs.read_all(thread)
        return {(regs[i], d[1], d[0]) for i, d in enumerate(arch.decode_control(regs[7])) if d is not None}

    mine = {(g, 8, BpType.W), (g + 8, 8, BpType.W)}
    assert armed(tid) == {(loan.addr, loan.length, BpType.X), (g + 8, 8, BpType.W)}
    assert debugregs.read_all(tid)[slot] == loan.addr
    assert all(armed(other) == mine for other in others)
    added.delete()
    assert armed(tid) == {(loan.addr, loan.length, BpType.X)}
    manager.end_loan(tid)
    assert armed(tid) == {(g, 8, BpType.W)} and tid not in manager.loans
    assert t.run_until_exit().code == 0
