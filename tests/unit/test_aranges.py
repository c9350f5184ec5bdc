"""The .debug_aranges decoders: the C one (cext/aranges.c) and the Python one (its reference, used
without the C build) give the same sorted ranges for any section, well formed or cut short,
32- or 64-bit DWARF, 4- or 8-byte addresses, either byte order; a set they cannot read is an error."""
from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hwdbg.symbols.aranges import AddressRanges, decode

addresses = st.integers(0, 2**32 - 1)
sets = st.lists(st.tuples(
    st.sampled_from([4, 8]),  # address size
    st.booleans(),  # 64-bit DWARF
    st.integers(0, 2**32 - 1),  # the unit's offset
    st.lists(st.tuples(addresses, st.integers(0, 2**16)), max_size=6),
    st.booleans(),  # a (0, 0) terminator
    st.integers(0, 3),  # extra words of padding after the tuples
), max_size=8)


def section(spec, little: bool) -> bytes:
    order = "<" if little else ">"
    out = b""
    for address_size, wide, unit, tuples, terminated, padding in spec:
        pair = {4: "II", 8: "QQ"}[address_size]
        body = struct.pack(order + ("HQBB" if wide else "HIBB"), 2, unit, address_size, 0)
        start = len(out) + (12 if wide else 4)
        aligned = -(-(start + len(body)) // (2 * address_size)) * (2 * address_size)
        body += bytes(aligned - start - len(body))
        for low, size in tuples + ([(0, 0)] if terminated else []):
            body += struct.pack(order + pair, low, size)
        body += bytes(4 * padding)
        out += (struct.pack(order + "IQ", 0xFFFFFFFF, len(body)) if wide else struct.pack(order + "I", len(body))) + body
    return out


@given(sets, st.booleans(), st.integers(0, 64))
def test_c_and_python_decoders_agree(spec, little, cut):
    data = section(spec, little)
    for sample in (data, data[:max(len(data) - cut, 0)]):  # whole, and cut short
        python = decode(sample, little)
        ours = AddressRanges(sample, little)
        assert (ours._starts, ours._ends, ours._units) == python
        assert python[0] == sorted(python[0])


def test_an_address_finds_its_unit_and_gaps_find_none():
    data = section([(8, False, 0x40, [(0x1000, 0x10), (0x2000, 0x8)], True, 0),
                    (8, True, 0x90, [(0x1010, 0x10)], False, 1)], True)
    for use_c in (True, False):
        ranges = AddressRanges(data, True, use_c=use_c)
        assert [ranges.unit_at(a) for a in (0xfff, 0x1000, 0x100f, 0x1010, 0x101f, 0x1020, 0x2007, 0x2008)] == [
            None, 0x40, 0x40, 0x90, 0x90, None, 0x40, None]
        assert ranges.ranges() == [(0x1000, 0x1010, 0x40), (0x1010, 0x1020, 0x90), (0x2000, 0x2008, 0x40)]


@pytest.mark.parametrize("use_c", [True, False])
def test_a_segment_selector_or_odd_address_size_is_an_error(use_c):
    for address_size, segment in ((8, 4), (2, 0)):
        body = struct.pack("<HIBB", 2, 0, address_size, segment) + bytes(32)
        with pytest.raises(ValueError, match="unsupported .debug_aranges set"):
            AddressRanges(struct.pack("<I", len(body)) + body, True, use_c=use_c)
