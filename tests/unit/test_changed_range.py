"""pagewatch.changed_range: the bytes a page-watch hit reports (blocks compared, then the ends
found from the XOR of two blocks) are exactly the first to the last differing byte."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hwdbg.session.pagewatch import changed_range


@given(st.binary(min_size=1, max_size=2000), st.lists(st.tuples(st.integers(0, 1999), st.integers(0, 255)),
                                                      max_size=4), st.sampled_from([1, 7, 256]))
def test_changed_range_is_first_to_last_difference(before, edits, block):
    now = bytearray(before)
    for i, v in edits:
        now[i % len(now)] = v
    diff = [i for i in range(len(now)) if before[i] != now[i]]
    assert changed_range(before, bytes(now), block) == ((diff[0], diff[-1] + 1) if diff else None)


def test_no_previous_value_or_other_length_is_the_whole_range():
    assert changed_range(None, b"abc") == (0, 3)
    assert changed_range(b"ab", b"abc") == (0, 3)
