"""``.debug_aranges`` decoded by hand (struct.iter_unpack, not a construct per entry): which
unit's code covers an address. Mirrors pyelftools' ARanges.cu_offset_at_addr."""
from __future__ import annotations

import bisect
import struct
from typing import Optional


class AddressRanges:
    """Sorted (start, end, unit offset) of every range in the section."""

    def __init__(self, data: bytes, little_endian: bool = True) -> None:
        order = "<" if little_endian else ">"
        ranges: list[tuple[int, int, int]] = []
        offset = 0
        while offset + 16 <= len(data):
            (length,) = struct.unpack_from(order + "I", data, offset)
            pos, offset_size = offset + 4, 4
            if length == 0xFFFFFFFF:
                (length,) = struct.unpack_from(order + "Q", data, pos)
                pos, offset_size = pos + 8, 8
            end = pos + length
            if length == 0 or end > len(data):
                break
            (info_offset,) = struct.unpack_from(order + ("I" if offset_size == 4 else "Q"), data, pos + 2)
            pos += 2 + offset_size
            address_size, segment_size = data[pos], data[pos + 1]
            pos += 2
            if segment_size != 0 or address_size not in (4, 8):
                raise ValueError(f"unsupported .debug_aranges set at {offset:#x}")
            tuple_size = 2 * address_size
            pos = -(-pos // tuple_size) * tuple_size  # tuples are aligned from the section start
            fmt = order + ("II" if address_size == 4 else "QQ")
            usable = (end - pos) // tuple_size * tuple_size
            for start, size in struct.iter_unpack(fmt, data[pos:pos + usable]):
                if start == 0 and size == 0:
                    break
                ranges.append((start, start + size, info_offset))
            offset = end
        ranges.sort()
        self._starts = [r[0] for r in ranges]
        self._ranges = ranges

    def __bool__(self) -> bool:
        return bool(self._ranges)

    def unit_at(self, addr: int) -> Optional[int]:
        """Offset in .debug_info of the unit whose code covers ``addr``, or None."""
        i = bisect.bisect_right(self._starts, addr) - 1
        if i < 0:
            return None
        start, end, unit = self._ranges[i]
        return unit if start <= addr < end else None
