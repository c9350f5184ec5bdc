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
            if length == 0 or end > size:
                break
            if segment_size != 0 or address_size not in (4, 8):
                raise ValueError(f"unsupported .debug_aranges set at {offset:#x}")
            pair = pairs[address_size]
            pos = -(-pos // pair.size) * pair.size  # tuples are aligned from the section start
            usable = (end - pos) // pair.size * pair.size
            for start, length in pair.iter_unpack(view[pos:pos + usable]):
                if start == 0 and length == 0:
                    break
                ranges.append((start, start + length, info_offset))
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
