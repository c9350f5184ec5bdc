"""split_range against GDB's own algorithm (gdb/nat/x86-dregs.c, x86_handle_nonaligned_watchpoint),
transcribed from /work/shared/notes/peers.md section 5."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hwdbg.hw.ranges import split_range

# size_try_array[8][8]: rows = trying size 1..8 (attempt = size - 1), columns = addr % max_wp_len.
SIZE_TRY_ARRAY = [
    [1, 1, 1, 1, 1, 1, 1, 1],  # len1
    [2, 1, 2, 1, 2, 1, 2, 1],  # len2
    [2, 1, 2, 1, 2, 1, 2, 1],  # len3
    [4, 1, 2, 1, 4, 1, 2, 1],  # len4
    [4, 1, 2, 1, 4, 1, 2, 1],  # len5
    [4, 1, 2, 1, 4, 1, 2, 1],  # len6
    [4, 1, 2, 1, 4, 1, 2, 1],  # len7
    [8, 1, 2, 1, 4, 1, 2, 1],  # len8
]


def gdb_split(addr: int, length: int, max_wp_len: int = 8) -> list[tuple[int, int]]:
    """The loop of x86_handle_nonaligned_watchpoint (WP_INSERT mode), literally."""
    out = []
    while length > 0:
        align = addr % max_wp_len
        attempt = max_wp_len - 1 if length > max_wp_len else length - 1
        size = SIZE_TRY_ARRAY[attempt][align]
        out.append((addr, size))
        addr += size
        length -= size
    return out


def test_matches_gdb_table_x86_64():
    mismatches = [(a, n) for a in range(64) for n in range(1, 70) if split_range(a, n) != gdb_split(a, n)]
    assert mismatches == []


def test_matches_gdb_table_i386():
    """max_wp_len = 4 on i386: same table, columns 0..3, rows 1..4."""
    mismatches = [(a, n) for a in range(64) for n in range(1, 70)
                  if split_range(a, n, (1, 2, 4)) != gdb_split(a, n, 4)]
    assert mismatches == []


def test_matches_gdb_at_high_addresses():
    for base in (0x404000, 0x7FFFFFFFE000):
        for a in range(base, base + 16):
            for n in range(1, 40):
                assert split_range(a, n) == gdb_split(a, n)


@pytest.mark.parametrize("addr, length, chunks", [
    (0x1003, 6, [(0x1003, 1), (0x1004, 4), (0x1008, 1)]),
    (0x1001, 8, [(0x1001, 1), (0x1002, 2), (0x1004, 4), (0x1008, 1)]),
    (0x1002, 4, [(0x1002, 2), (0x1004, 2)]),
    (0x1004, 16, [(0x1004, 4), (0x1008, 8), (0x1010, 4)]),
    (0x1000, 33, [(0x1000, 8), (0x1008, 8), (0x1010, 8), (0x1018, 8), (0x1020, 1)]),
    (0x1000, 8, [(0x1000, 8)]),
    (0x1000, 32, [(0x1000, 8), (0x1008, 8), (0x1010, 8), (0x1018, 8)]),
    (0x1007, 1, [(0x1007, 1)]),
    (0x1006, 2, [(0x1006, 2)]),
    (0x1007, 2, [(0x1007, 1), (0x1008, 1)]),
])
def test_examples_from_notes(addr, length, chunks):
    assert split_range(addr, length) == chunks
    assert gdb_split(addr, length) == chunks


@pytest.mark.parametrize("length", [0, -1, -8])
def test_non_positive_length(length):
    with pytest.raises(ValueError, match=f"length must be positive, got {length}"):
        split_range(0x1000, length)


def check_chunks(addr, length, chunks, allowed=(1, 2, 4, 8)):
    assert chunks, "never empty"
    assert chunks[0][0] == addr
    pos = addr
    for start, size in chunks:
        assert size in allowed
        assert start == pos, "contiguous, no gap, no overlap"
        assert start % size == 0, "naturally aligned"
        pos += size
    assert pos == addr + length, "covers exactly the range, never widened"
    assert sum(s for _, s in chunks) == length


@given(st.integers(0, 0x7FFFFFFFEFFF), st.integers(1, 200))
def test_chunks_aligned_contiguous_exact(addr, length):
    check_chunks(addr, length, split_range(addr, length))


@given(st.integers(0, 1 << 40), st.integers(1, 200))
def test_chunks_i386_lengths(addr, length):
    check_chunks(addr, length, split_range(addr, length, (1, 2, 4)), (1, 2, 4))


@given(st.integers(0, 1 << 40), st.integers(1, 200))
def test_fewest_chunks(addr, length):
    """Greedy is optimal: no chunk could be merged with its neighbour into one aligned chunk,
    and an aligned 8-byte-multiple range uses length // 8 chunks."""
    chunks = split_range(addr, length)
    for (a, s), (b, t) in zip(chunks, chunks[1:]):
        assert not (s == t and s < 8 and a % (2 * s) == 0), (hex(a), s, hex(b), t)
    if addr % 8 == 0 and length % 8 == 0:
        assert len(chunks) == length // 8


@given(st.integers(0, 1 << 40).map(lambda a: a * 8), st.sampled_from([1, 2, 4, 8]))
def test_aligned_request_is_one_chunk(addr, length):
    assert split_range(addr, length) == [(addr, length)]


def test_lengths_order_does_not_matter():
    for a in range(16):
        for n in range(1, 20):
            assert split_range(a, n, (8, 1, 4, 2)) == split_range(a, n)
