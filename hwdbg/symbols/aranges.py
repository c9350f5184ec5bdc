"""``.debug_aranges`` decoded by hand: which unit's code covers an address. Mirrors pyelftools'
ARanges.cu_offset_at_addr. Decoded and sorted in C (``hwdbg_aranges``, cext/aranges.c: libc's
2,083 ranges and python3.11d's at every attach, ~3 ms in Python); without the C build, by the
Python decoder here (struct.iter_unpack, not a construct per entry), which the tests hold
equal to it."""
from __future__ import annotations

import bisect
import struct
from typing import Optional

from hwdbg.errors import HwdbgError

Ranges = tuple[list[int], list[int], list[int]]  # starts, ends, unit offsets: sorted by start, end, unit


class AddressRanges:
    """Every range of the section, sorted, to bisect."""

    def __init__(self, data: bytes, little_endian: bool = True, use_c: bool = True) -> None:
        decoded = _decode_in_c(data, little_endian) if use_c else None
        self._starts, self._ends, self._units = decoded if decoded is not None else decode(data, little_endian)

    def __bool__(self) -> bool:
        return bool(self._starts)

    def unit_at(self, addr: int) -> Optional[int]:
        """Offset in .debug_info of the unit whose code covers ``addr``, or None."""
        i = bisect.bisect_right(self._starts, addr) - 1
        if i < 0:
            return None
        return self._units[i] if self._starts[i] <= addr < self._ends[i] else None

    def ranges(self) -> list[tuple[int, int, int]]:
        """(start, end, unit offset) of every range, sorted."""
        return list(zip(self._starts, self._ends, self._units))


def _decode_in_c(data: bytes, little_endian: bool) -> Optional[Ranges]:
    try:
        from hwdbg.linux.native import ffi, lib  # here: the symbols layer works without the C build
    except HwdbgError:
        return None
    most = len(data) // 8 + 1  # a tuple takes 8 bytes at least
    starts, ends, units = (ffi.new("unsigned long long[]", most) for _ in range(3))
    count = lib.hwdbg_aranges(data, len(data), int(little_endian), starts, ends, units, most)
    if count == -1:
        raise ValueError("unsupported .debug_aranges set (a segment selector, or an address size not 4 or 8)")
    if count < 0:
        return None
    return ffi.unpack(starts, count), ffi.unpack(ends, count), ffi.unpack(units, count)


def decode(data: bytes, little_endian: bool = True) -> Ranges:
    """The Python decoder (the C one's reference): a set of length 0 or past the section's end
    ends the walk; tuples are aligned to twice the address size from the section's start; a
    (0, 0) tuple ends its set."""
    order = "<" if little_endian else ">"
    word = struct.Struct(order + "I")
    header32 = struct.Struct(order + "IHIBB")  # unit_length, version, debug_info offset, sizes
    header64 = struct.Struct(order + "xxxxQHQBB")  # after 0xffffffff: the 64-bit format
    pairs = {4: struct.Struct(order + "II"), 8: struct.Struct(order + "QQ")}
    view = memoryview(data)
    ranges: list[tuple[int, int, int]] = []
    offset, size = 0, len(data)
    while offset + 16 <= size:
        if word.unpack_from(data, offset)[0] == 0xFFFFFFFF:
            if offset + header64.size > size:
                break
            length, _, info_offset, address_size, segment_size = header64.unpack_from(data, offset)
            pos, end = offset + header64.size, offset + 12 + length
        else:
            length, _, info_offset, address_size, segment_size = header32.unpack_from(data, offset)
            pos, end = offset + header32.size, offset + 4 + length
        if length == 0 or end > size or pos > end:
            break
        if segment_size != 0 or address_size not in (4, 8):
            raise ValueError(f"unsupported .debug_aranges set at {offset:#x}")
        pair = pairs[address_size]
        pos = -(-pos // pair.size) * pair.size  # tuples are aligned from the section start
        usable = max(end - pos, 0) // pair.size * pair.size
        for start, length in pair.iter_unpack(view[pos:pos + usable]):
            if start == 0 and length == 0:
                break
            ranges.append((start, (start + length) & (2**64 - 1), info_offset))
        offset = end
    ranges.sort()
    return [r[0] for r in ranges], [r[1] for r in ranges], [r[2] for r in ranges]
