"""rep movs / rep stos stop once per element written into a watched range (CPU-dependent):
hwdbg reports each instruction's writes as one hit with the final value."""
from __future__ import annotations

import pytest

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
