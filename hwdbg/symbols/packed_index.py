"""The name index as the C packer leaves it (cext/dwarfindex.c), read in place.

Entries of 48 bytes (value, high, unit offset, DIE offset, key offset and length, table,
file order) sorted by table, then name bytes, then file order, and the names in one blob.
Each table is read like the dict it stands for (``get``, ``in``, iteration, ``items``): a
lookup bisects the entries, so neither building the index nor loading it from the cache
makes a Python object per name (python3.11d has 60,000 top-level DIEs, a generated program
of 100,000 functions 300,000).
"""
from __future__ import annotations

import struct
from typing import Any, Iterator

ENTRY = struct.Struct("=QQQQIIiI")  # struct hwdbg_index_entry
VARIABLES, FUNCTIONS, TYPES, TLS, INLINES = range(5)
TABLE_NAMES = ("variables", "functions", "types", "tls", "inlines")
_MISSING = object()


class PackedTable:
    """One table (variables, functions, types, thread-locals or inlined copies): name -> its entries.

    Values have the shapes of the dict tables: variables and thread-locals [(address, ref)],
    copies of a function [(entry, end, ref)] (end 0 for an inlined copy),
    functions [(low, high, ref)], types ref (the first definition), with ref = (unit offset,
    DIE offset)."""

    def __init__(self, entries: memoryview, keys: memoryview, table: int, lo: int, hi: int) -> None:
        self._entries, self._keys, self._table, self._lo, self._hi = entries, keys, table, lo, hi

    def _key(self, i: int) -> bytes:
        _, _, _, _, off, size, _, _ = ENTRY.unpack_from(self._entries, i * ENTRY.size)
        return bytes(self._keys[off:off + size])

    def _bound(self, key: bytes, upper: bool) -> int:
        lo, hi = self._lo, self._hi
        while lo < hi:
            mid = (lo + hi) // 2
            k = self._key(mid)
            if k < key or (upper and k == key):
                lo = mid + 1
            else:
                hi = mid
        return lo

    def _value(self, i: int) -> Any:
        value, high, cu_offset, offset, _, _, _, _ = ENTRY.unpack_from(self._entries, i * ENTRY.size)
        ref = (cu_offset, offset)
        if self._table in (FUNCTIONS, INLINES):
            return (value, high, ref)
        return ref if self._table == TYPES else (value, ref)

    def get(self, name: str, default: Any = None) -> Any:
        key = name.encode("utf-8", errors="surrogateescape")
        lo = self._bound(key, False)
        if lo >= self._hi or self._key(lo) != key:
            return default
        if self._table == TYPES:
            return self._value(lo)
        return [self._value(i) for i in range(lo, self._bound(key, True))]

    def __getitem__(self, name: str) -> Any:
        found = self.get(name, _MISSING)
        if found is _MISSING:
            raise KeyError(name)
        return found

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name, _MISSING) is not _MISSING

    def _groups(self) -> Iterator[tuple[bytes, int, int]]:
        """(key, first, end) of each distinct name, in order."""
        i = self._lo
        while i < self._hi:
            key = self._key(i)
            end = i + 1
            while end < self._hi and self._key(end) == key:
                end += 1
            yield key, i, end
            i = end

    def __iter__(self) -> Iterator[str]:
        return (key.decode("utf-8", errors="replace") for key, _, _ in self._groups())

    def __len__(self) -> int:
        return sum(1 for _ in self._groups())

    def keys(self) -> list[str]:
        return list(self)

    def items(self) -> Iterator[tuple[str, Any]]:
        for key, first, end in self._groups():
            values = [self._value(i) for i in range(first, end)]
            yield key.decode("utf-8", errors="replace"), values[0] if self._table == TYPES else values

    def flat_values(self) -> list[Any]:
        """Every entry's value in iteration order (``items()``' lists joined), names unread."""
        return [self._value(i) for i in range(self._lo, self._hi)]

    def values(self) -> Iterator[Any]:
        return (value for _, value in self.items())

    def __eq__(self, other: object) -> bool:  # equal to a table (or dict) with the same items
        items = getattr(other, "items", None)
        return items is not None and dict(self.items()) == dict(items())

    __hash__ = None  # type: ignore[assignment]


class PackedIndex:
    """A whole name index in packed form, with the tables of ``NameIndex``."""

    def __init__(self, entries, keys) -> None:
        self.entries, self.keys = memoryview(entries).cast("B"), memoryview(keys).cast("B")
        if len(self.entries) % ENTRY.size:
            raise ValueError("entries are not whole")
        count = len(self.entries) // ENTRY.size
        bounds = [self._first_of(t, count) for t in range(len(TABLE_NAMES) + 1)]
        for table, name in enumerate(TABLE_NAMES):
            setattr(self, name, PackedTable(self.entries, self.keys, table, bounds[table], bounds[table + 1]))

    def _first_of(self, table: int, count: int) -> int:
        """The first entry of ``table`` or a later one (entries are sorted by table)."""
        lo, hi = 0, count
        while lo < hi:
            mid = (lo + hi) // 2
            if ENTRY.unpack_from(self.entries, mid * ENTRY.size)[6] < table:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def unpacked(self) -> Any:
        """The same index as dicts (what merging type units into it needs)."""
        from hwdbg.symbols.index import NameIndex  # the dict form lives there

        index = NameIndex()
        for name in TABLE_NAMES:
            getattr(index, name).update(getattr(self, name).items())
        return index
