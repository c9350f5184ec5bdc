"""The inflated start of a compressed debug section, cached by build-id and file identity:
read back instead of inflated, and every fault (a damaged file, another copy of the program,
a read past the cached start, the cache turned off) gives the file's own bytes."""
from __future__ import annotations

import shutil
import weakref
from pathlib import Path

import pytest

from hwdbg.symbols import ElfImage
from hwdbg.symbols import index as name_index
from hwdbg.symbols import inflated
from hwdbg.symbols.dwarf import DwarfInfo


@pytest.fixture
def cache(monkeypatch, tmp_path):
    """The cache in a fresh directory, kept even for a small program's sections."""
    monkeypatch.setattr(name_index, "OPTIONS", name_index.Options(cache_dir=str(tmp_path / "cache")))
    monkeypatch.setattr(inflated, "MIN_BYTES", 0)
    monkeypatch.setattr(inflated, "_live", weakref.WeakSet())  # this test's readers only
    monkeypatch.delenv("HWDBG_NO_INDEX_CACHE", raising=False)
    return tmp_path / "cache"


def _dwarf(exe):
    image = ElfImage(exe)
    return DwarfInfo(image.elf, image.build_id())


def _info(dwarf):
    """(the .debug_info stream, its inflater after a first read of 64 bytes)."""
    stream = dwarf._dwarf.debug_info_sec.stream
    stream.seek(0)
    stream.read(64)
    return stream, stream._inflating


def _main_line(exe):
    dwarf = _dwarf(exe)
    main = ElfImage(exe).get_symbol("main")
    where = dwarf.line_at(main.value + 4)
    assert where is not None and where[1] > 0
    return dwarf, where


def test_inflated_start_is_read_back_not_inflated(build_target, cache):
    exe = build_target("sym_globals", cflags=("-gz",))
    expected = ElfImage(exe).elf.get_section_by_name(".debug_info").data()
    first, where = _main_line(exe)
    inflated.store_all()
    names = {p.name.partition(".")[2] for p in cache.glob("*.inflated")}
    assert {"debug_info.inflated", "debug_line.inflated", "debug_abbrev.inflated"} <= names
    second, again = _main_line(exe)
    assert again == where
    stream, inflater = _info(second)
    assert inflater.stored > 0 and inflater._have == 0  # nothing inflated: all from the cache
    assert stream.getvalue() == expected


def test_a_read_past_the_cached_start_inflates_from_the_beginning(build_target, cache, monkeypatch):
    from hwdbg.symbols import sections

    monkeypatch.setattr(sections, "INFLATE_STEP", 64)
    monkeypatch.setattr(inflated, "BLOCK", 64)
    exe = build_target("sym_globals", cflags=("-gz",))
    expected = ElfImage(exe).elf.get_section_by_name(".debug_info").data()
    _, inflater = _info(_dwarf(exe))
    short = inflater.known
    assert 64 <= short < len(expected)
    inflated.store_all()
    stream, inflater = _info(_dwarf(exe))
    assert inflater.stored == short and inflater._have == 0
    stream.seek(short - 10)
    assert stream.read(100) == expected[short - 10:short + 90]
    assert stream.getvalue() == expected
    inflated.store_all()  # now the whole section is kept
    stream, inflater = _info(_dwarf(exe))
    assert inflater.stored == len(expected) and stream.getvalue() == expected


def test_a_damaged_or_foreign_cache_file_is_not_used(build_target, cache, tmp_path):
    exe = build_target("sym_globals", cflags=("-gz",))
    expected = ElfImage(exe).elf.get_section_by_name(".debug_info").data()
    _, where = _main_line(exe)
    inflated.store_all()
    [path] = cache.glob("*.debug_info.inflated")
    data = path.read_bytes()
    path.write_bytes(data[:-7] + bytes([data[-7] ^ 0x40]) + data[-6:])  # one bit of the inflated bytes
    stream, inflater = _info(_dwarf(exe))
    assert inflater.stored == 0 and stream.getvalue() == expected
    assert _main_line(exe)[1] == where
    inflated.store_all()  # healed
    assert _info(_dwarf(exe))[1].stored > 0
    path.write_bytes(data[: len(data) // 2])  # truncated
    assert _info(_dwarf(exe))[1].stored == 0
    # Another file with the same build-id (a copy, then changed): its own bytes, never the cache's.
    inflated.store_all()
    copy = tmp_path / "copy"
    shutil.copy(exe, copy)
    stream, inflater = _info(_dwarf(copy))
    assert inflater.stored == 0 and stream.getvalue() == expected


def test_no_cache_when_turned_off(build_target, cache, monkeypatch):
    exe = build_target("sym_globals", cflags=("-gz",))
    monkeypatch.setenv("HWDBG_NO_INDEX_CACHE", "1")
    dwarf, _ = _main_line(exe)
    assert dwarf._dwarf.debug_info_sec.stream.__dict__.get("_inflating") is None
    inflated.store_all()
    assert not list(Path(cache).glob("*.inflated"))


def test_unwritable_cache_directory_is_one_notice(build_target, cache, tmp_path):
    seen: list[str] = []
    name_index.configure(notice=seen.append)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    name_index.configure(cache_dir=str(blocker / "hwdbg"))
    exe = build_target("sym_globals", cflags=("-gz",))
    _, where = _main_line(exe)
    inflated.store_all()
    assert len(seen) == 1 and "cannot write symbol index cache" in seen[0], seen
    assert _main_line(exe)[1] == where


def test_a_whole_cached_section_is_the_bytes_read_back_not_a_copy(build_target, cache):
    """The cached bytes become the stream's buffer: whole() views the very object read from the
    cache file (one read, no copy into the stream, none for the C scanner's view)."""
    exe = build_target("sym_globals", cflags=("-gz",))
    expected = ElfImage(exe).elf.get_section_by_name(".debug_info").data()
    stream, _ = _info(_dwarf(exe))
    assert stream.getvalue() == expected  # inflated to the end: kept whole at exit
    inflated.store_all()
    stream, inflater = _info(_dwarf(exe))
    assert inflater.stored == len(expected)
    view = stream.whole()
    assert view.obj is stream._data and type(view.obj) is bytes and view == expected
    stream.seek(7)
    assert stream.read(9) == expected[7:16]


def test_a_warm_read_far_into_a_section_reads_only_its_blocks(build_target, cache, monkeypatch):
    """The cache is read block by block: a read at the section's end takes the blocks it
    covers, and nothing before them is inflated or read."""
    monkeypatch.setattr(inflated, "BLOCK", 256)
    exe = build_target("sym_globals", cflags=("-gz",))
    expected = ElfImage(exe).elf.get_section_by_name(".debug_info").data()
    assert len(expected) > 4 * 256
    stream, _ = _info(_dwarf(exe))
    assert stream.getvalue() == expected
    inflated.store_all()
    stream, inflater = _info(_dwarf(exe))
    assert inflater.stored == len(expected) and set(inflater._blocks) == {0}
    at = len(expected) - 300  # in the last two blocks
    stream.seek(at)
    assert stream.read(1000) == expected[at:]
    last = (len(expected) - 1) // 256
    assert inflater._have == 0 and set(inflater._blocks) == {0, last - 1, last}
    stream.seek(-5, 2)
    assert stream.tell() == len(expected) - 5 and stream.read() == expected[-5:]
    buffer = bytearray(10)
    stream.seek(250)
    assert stream.readinto(buffer) == 10 and bytes(buffer) == expected[250:260]  # across two blocks
    assert inflater._have == 0


def test_a_damaged_block_is_inflated_instead_and_the_file_healed(build_target, cache, monkeypatch):
    monkeypatch.setattr(inflated, "BLOCK", 256)
    exe = build_target("sym_globals", cflags=("-gz",))
    expected = ElfImage(exe).elf.get_section_by_name(".debug_info").data()
    stream, _ = _info(_dwarf(exe))
    assert stream.getvalue() == expected
    inflated.store_all()
    [path] = cache.glob("*.debug_info.inflated")
    data = bytearray(path.read_bytes())
    at = len(data) - len(expected) + 3 * 256 + 17  # a byte of block 3 (the blocks end the file, in order)
    data[at] ^= 0x01
    path.write_bytes(bytes(data))
    stream, inflater = _info(_dwarf(exe))  # block 0 is sound
    assert inflater.stored == len(expected) and inflater._have == 0
    stream.seek(3 * 256)
    assert stream.read(256) == expected[3 * 256:4 * 256]  # not the damaged bytes: inflated
    assert inflater.stored == 0 and inflater._have >= 4 * 256
    inflated.store_all()
    stream, inflater = _info(_dwarf(exe))
    stream.seek(3 * 256)
    assert stream.read(256) == expected[3 * 256:4 * 256] and inflater._have == 0  # healed: from the cache


def test_a_cache_file_of_the_previous_format_is_not_used(build_target, cache):
    exe = build_target("sym_globals", cflags=("-gz",))
    expected = ElfImage(exe).elf.get_section_by_name(".debug_info").data()
    _main_line(exe)
    inflated.store_all()
    [path] = cache.glob("*.debug_info.inflated")
    data = bytearray(path.read_bytes())
    data[8:12] = (1).to_bytes(4, "little")  # format version 1: one run of bytes from the start
    path.write_bytes(bytes(data))
    stream, inflater = _info(_dwarf(exe))
    assert inflater.stored == 0 and stream.getvalue() == expected
