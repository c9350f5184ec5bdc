"""The copies of inlined functions (symbols/inlines.py): the C scanner agrees with pyelftools
(every DWARF version, the C library's units with their range lists, clones and linkage names),
and the copies are cached by build-id beside the name index (``BUILD-ID.inlines``), rebuilt when
the file is damaged, never written with the cache off."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from hwdbg.symbols import ElfImage
from hwdbg.symbols import index as name_index
from hwdbg.symbols import inlines
from hwdbg.symbols.dwarf import DwarfInfo
from hwdbg.symbols.resolver import _Images

from test_symbols import DWARF_VARIANTS as VARIANTS  # tests/unit is on sys.path (no __init__.py)
from test_symbols_index import notices  # noqa: F401 - the fixture: a fresh cache directory

LIBC = "/lib/x86_64-linux-gnu/libc.so.6"


def _plain(table, dwarf, units=None) -> dict:
    """name -> sorted (entry, end, unit offset, DIE offset), from either form of the table."""
    out = {}
    for name, entries in table.items():
        rows = []
        for entry, end, ref in entries:
            cu, die = ref if isinstance(ref, tuple) else (ref.cu.cu_offset, ref.offset)
            if units is None or cu in units:
                rows.append((entry, end, cu, die))
        if rows:
            out[name] = sorted(rows)
    return out


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("level", ["-O2", "-O3"])
def test_scanner_agrees_with_pyelftools(build_target, variant, level):
    exe = build_target("inline_target", cflags=(level, *VARIANTS[variant]))
    dwarf = DwarfInfo(ElfImage(exe).elf)
    fast = name_index.scan(dwarf._dwarf, str(exe), inlines=True).inlines
    slow = inlines._collect(dwarf)
    assert "scale" in fast and "twice_scaled" in fast
    assert _plain(fast, dwarf) == _plain(slow, dwarf)


def test_scanner_agrees_with_pyelftools_on_the_c_library():
    found = _Images().get(LIBC)
    if found is None or found[1] is None:
        pytest.skip("no debug information for the C library (install libc6-dbg)")
    dwarf = found[1]
    fast = name_index.scan(dwarf._dwarf, LIBC, inlines=True).inlines
    units = dwarf._units()[::10]  # every 10th unit (pyelftools is slow)
    slow = inlines._collect(dwarf, units)
    offsets = {u.cu_offset for u in units}
    expected, got = _plain(slow, dwarf), _plain(fast, dwarf, offsets)
    assert got == expected
    rows = [row for entries in got.values() for row in entries]
    assert sum(1 for row in rows if row[1]) > 10 and sum(1 for row in rows if not row[1]) > 50  # clones, inlined
    assert any(name.startswith("__GI_") for name in got)  # named by DW_AT_linkage_name


def test_copies_are_cached_once_and_read_back(build_target, notices):  # noqa: F811
    exe = build_target("inline_target", cflags=("-O2",))
    build_id = ElfImage(exe).build_id()
    first = inlines.inline_sites(DwarfInfo(ElfImage(exe).elf, build_id), "scale")
    assert len(first) >= 2
    path = Path(name_index.cache_dir()) / f"{build_id}.inlines"
    assert path.is_file() and not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    dwarf = DwarfInfo(ElfImage(exe).elf, build_id)
    dwarf._dwarf  # noqa: B018 - parse the sections before scan is replaced
    original = name_index.scan
    name_index.scan = lambda *a, **k: pytest.fail("scanned despite cached copies")
    try:
        assert inlines.inline_sites(dwarf, "scale") == first
    finally:
        name_index.scan = original
    path.write_bytes(path.read_bytes()[:100])  # damaged: rebuilt, with one notice
    assert inlines.inline_sites(DwarfInfo(ElfImage(exe).elf, build_id), "scale") == first
    assert len(notices) == 1 and "rebuilding it" in notices[0] and str(path) in notices[0]


def test_no_index_cache_writes_no_copies(build_target, notices, monkeypatch):  # noqa: F811
    monkeypatch.setenv("HWDBG_NO_INDEX_CACHE", "1")
    exe = build_target("inline_target", cflags=("-O2",))
    assert len(inlines.inline_sites(DwarfInfo(ElfImage(exe).elf, ElfImage(exe).build_id()), "scale")) >= 2
    assert not os.path.exists(name_index.cache_dir()) or not os.listdir(name_index.cache_dir())
