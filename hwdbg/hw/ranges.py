"""Splitting a byte range into the fewest naturally aligned chunks that cover it exactly.

GDB's rule (gdb/nat/x86-dregs.c, x86_handle_nonaligned_watchpoint) in closed form: each
step takes the largest allowed power of two that is not longer than what remains and
to which the current address is aligned. Nothing is widened, so there are no false hits.
"""
from __future__ import annotations

from typing import Sequence


def split_range(addr: int, length: int, lengths: Sequence[int] = (1, 2, 4, 8)) -> list[tuple[int, int]]:
    if length <= 0:
        raise ValueError(f"length must be positive, got {length}")
    sizes = sorted(lengths, reverse=True)
    chunks = []
    while length > 0:
        size = next(s for s in sizes if s <= length and addr % s == 0)
        chunks.append((addr, size))
        addr += size
        length -= size
    return chunks
