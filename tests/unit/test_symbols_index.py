"""The DWARF name index: the C scanner agrees with pyelftools, the cache by build-id, and
every fault (corrupt cache, unwritable or full cache directory, corrupt or truncated debug
file, a debug file of another build) gives one clear line and a working fallback.

Broken files are made here, at test time, from freshly compiled targets.
"""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest

from hwdbg.symbols import ElfImage, SymbolTable
from hwdbg.symbols import index as name_index
from hwdbg.symbols.dwarf import DwarfInfo
from hwdbg.ui import progress

from test_symbols import DWARF_VARIANTS as VARIANTS  # tests/unit is on sys.path (no __init__.py)


@pytest.fixture
def notices(monkeypatch, tmp_path):
    """Collected notices; the cache in a fresh directory, used even for small files."""
    seen: list[str] = []
    monkeypatch.setattr(name_index, "OPTIONS", name_index.Options(cache_dir=str(tmp_path / "cache")))
    name_index.configure(notice=seen.append)
    monkeypatch.setattr(name_index, "CACHE_MIN_INFO", 0)
    monkeypatch.delenv("HWDBG_NO_INDEX_CACHE", raising=False)
    return seen


def _plain(index: name_index.NameIndex, dwarf: DwarfInfo):
    """An index with every DIE reference as (unit offset, DIE offset), to compare two indexes."""

    def ref(r):
        die = dwarf._die(r)
        return die.cu.cu_offset, die.offset

    return (
        {n: [(a, ref(r)) for a, r in e] for n, e in index.variables.items()},
        {n: [(lo, hi, ref(r)) for lo, hi, r in e] for n, e in index.functions.items()},
        {n: ref(r) for n, r in index.types.items()},
    )


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_scanner_agrees_with_pyelftools(build_target, variant):
    exe = build_target("sym_globals", cflags=VARIANTS[variant])
    dwarf = DwarfInfo(ElfImage(exe).elf)
    fast = name_index.scan(dwarf._dwarf, str(exe))
    slow = dwarf._names_slowly()
    assert fast.variables and fast.functions and fast.types
    assert _plain(fast, dwarf) == _plain(slow, dwarf)


def test_cache_is_written_once_and_read_back(build_target, notices):
    exe = build_target("sym_globals")
    image = ElfImage(exe)
    build_id = image.build_id()
    assert build_id
    first = SymbolTable(exe).lookup("config")
    path = Path(name_index.cache_dir()) / f"{build_id}.index"
    assert path.is_file()
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    # The second run reads the file and scans nothing.
    dwarf = DwarfInfo(ElfImage(exe).elf, build_id)
    dwarf._dwarf  # noqa: B018 - parse the sections before scan is replaced
    original = name_index.scan
    name_index.scan = lambda *a: pytest.fail("scanned despite a cached index")
    try:
        found = dwarf.variable("config")
    finally:
        name_index.scan = original
    assert found is not None and found[1] == first.ctype
    assert notices == []
    # Every table reads back as it was built.
    cached = name_index.load_cached(build_id, dwarf._dwarf.debug_info_sec.size)
    built = name_index.scan(dwarf._dwarf, str(exe))
    assert (cached.variables, cached.functions, cached.types) == (built.variables, built.functions, built.types)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "flipped", "stale", "old-version"])
def test_unusable_cache_is_rebuilt_with_one_notice(build_target, notices, damage):
    exe = build_target("sym_globals")
    expected = SymbolTable(exe).lookup("config")
    path = Path(name_index.cache_dir()) / f"{ElfImage(exe).build_id()}.index"
    data = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"\x00not an index at all" * 10)
    elif damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "flipped":
        path.write_bytes(data[:-5] + bytes([data[-5] ^ 0xFF]) + data[-4:])
    elif damage == "old-version":  # an intact file of the previous format (hwdbg was upgraded)
        payload = data[name_index.HEADER.size:]
        path.write_bytes(name_index.HEADER.pack(name_index.MAGIC, name_index.FORMAT_VERSION - 1,
                                                zlib.crc32(payload), len(payload)) + payload)
    else:  # an index of other debug info under this build-id
        index = name_index._decode(data, ElfImage(exe).build_id(), DwarfInfo(ElfImage(exe).elf)._dwarf.debug_info_sec.size)
        path.write_bytes(name_index._encode(index, ElfImage(exe).build_id(), 12345))
    var = SymbolTable(exe).lookup("config")
    assert var == expected
    assert len(notices) == 1 and "rebuilding it" in notices[0] and str(path) in notices[0]
    # Healed: the next run is silent and reads a good file.
    notices.clear()
    assert SymbolTable(exe).lookup("config") == expected
    assert notices == []


def test_unwritable_cache_directory(build_target, notices, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache directory should be")
    name_index.configure(cache_dir=str(blocker / "hwdbg"))
    exe = build_target("sym_globals")
    var = SymbolTable(exe).lookup("config")
    assert var.ctype is not None and var.ctype.name == "struct config"
    assert len(notices) == 1 and "cannot write symbol index cache" in notices[0]


_READ_ONLY_LOOKUP = """
import sys
from hwdbg.symbols import SymbolTable
from hwdbg.symbols import index
seen = []
index.configure(notice=seen.append, cache_dir=sys.argv[2])
index.CACHE_MIN_INFO = 0
print(SymbolTable(sys.argv[1]).lookup("config").ctype.name)
print(seen)
"""


def test_read_only_cache_directory(build_target, tmp_path):
    """The cache on a read-only file system (a tmpfs mounted read-only in a mount namespace of
    its own, so root's permissions cannot write it either): one notice, the lookup works."""
    import sys

    if shutil.which("unshare") is None:
        pytest.skip("no unshare(1)")
    exe = build_target("sym_globals")
    mount_point = tmp_path / "ro"
    mount_point.mkdir()
    p = subprocess.run(["unshare", "-m", "sh", "-c", 'mount -t tmpfs -o ro none "$1" || exit 77; shift; exec "$@"',
                        "sh", str(mount_point), sys.executable, "-c", _READ_ONLY_LOOKUP, str(exe),
                        str(mount_point / "hwdbg")], capture_output=True, text=True, timeout=120)
    if p.returncode == 77 or "unshare failed" in p.stderr:
        pytest.skip(f"cannot mount a read-only file system here: {p.stderr.strip()}")
    assert p.returncode == 0, p.stderr
    type_name, notices = p.stdout.splitlines()
    assert type_name == "struct config"
    assert "cannot write symbol index cache" in notices and "Read-only file system" in notices, notices
    assert notices.count("cannot write") == 1


def test_full_cache_directory(build_target, notices, monkeypatch):
    def full(*args, **kwargs):
        return os.open("/dev/full", os.O_WRONLY), os.path.join(name_index.cache_dir(), ".x.tmp")

    import tempfile  # hwdbg.symbols.index imports it where it writes

    monkeypatch.setattr(tempfile, "mkstemp", full)
    exe = build_target("sym_globals")
    var = SymbolTable(exe).lookup("config")
    assert var.ctype is not None and var.ctype.name == "struct config"
    assert len(notices) == 1 and "No space left on device" in notices[0]
    assert not list(Path(name_index.cache_dir()).glob("*.index"))


def test_no_index_cache(build_target, notices, monkeypatch):
    exe = build_target("sym_globals")
    monkeypatch.setenv("HWDBG_NO_INDEX_CACHE", "1")
    assert SymbolTable(exe).lookup("config").ctype is not None
    monkeypatch.delenv("HWDBG_NO_INDEX_CACHE")
    name_index.configure(cache=False)
    assert SymbolTable(exe).lookup("config").ctype is not None
    assert not Path(name_index.cache_dir()).exists()


def _section_range(path: Path, name: str) -> tuple[int, int]:
    section = ElfImage(path).elf.get_section_by_name(name)
    return section["sh_offset"], section["sh_size"]


def test_corrupt_debug_info_falls_back(build_target, notices, tmp_path):
    broken = tmp_path / "broken"
    shutil.copy(build_target("sym_globals", cflags=("-gdwarf-5",)), broken)
    offset, size = _section_range(broken, ".debug_info")
    with open(broken, "r+b") as f:  # the second half of .debug_info is noise
        f.seek(offset + size // 2)
        f.write(b"\xff" * (size - size // 2))
    table = SymbolTable(broken)
    var = table.lookup("counter")  # from .symtab, whatever DWARF says
    assert var.kind == "object" and var.addr
    assert any("unreadable DWARF unit" in n and "slow way" in n for n in notices)


def _split(exe: Path, where: Path) -> tuple[Path, Path]:
    """A stripped copy of ``exe`` and its separate debug file, linked by .gnu_debuglink."""
    debug, prog = where / "prog.debug", where / "prog"
    subprocess.run(["objcopy", "--only-keep-debug", str(exe), str(debug)], check=True)
    shutil.copy(exe, prog)
    subprocess.run(["strip", "--strip-debug", str(prog)], check=True)
    subprocess.run(["objcopy", "--add-gnu-debuglink=prog.debug", str(prog)], check=True, cwd=where)
    return prog, debug


def test_truncated_separate_debug_file(build_target, notices, tmp_path):
    prog, debug = _split(build_target("sym_globals"), tmp_path)
    debug.write_bytes(debug.read_bytes()[:40])
    var = SymbolTable(prog).lookup("counter")
    assert var.kind == "object" and var.ctype is None
    assert len(notices) == 1 and str(debug) in notices[0] and "symbols of" in notices[0]


def test_debug_file_of_another_build_is_ignored(build_target, notices, tmp_path):
    prog, debug = _split(build_target("sym_globals"), tmp_path)
    other = build_target("sym_globals", cflags=("-O1",))
    subprocess.run(["objcopy", "--only-keep-debug", str(other), str(debug)], check=True)
    assert ElfImage(debug).build_id() != ElfImage(prog).build_id()
    var = SymbolTable(prog).lookup("counter")
    assert var.kind == "object" and var.ctype is None  # no types from the wrong DWARF
    assert len(notices) == 1 and "build-id" in notices[0] and "ignoring" in notices[0]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class _Output:
    def __init__(self) -> None:
        self.notices: list = []

    def notice(self, notice) -> None:
        self.notices.append(notice)


def test_progress_bar_on_a_terminal_only():
    tty = _Terminal()
    reporter = progress.SymbolReporter(_Output(), quiet=False, json=False, stream=tty)
    for fraction in (0.0, 0.05, 0.5, 1.0):
        reporter.progress("/usr/bin/python3.11d", fraction)
    text = tty.getvalue()
    assert text.startswith("Reading symbols from python3.11d...\n")
    assert "]  50%" in text and text.endswith("100%\n")
    for quiet, json in ((True, False), (False, False)):
        pipe = io.StringIO()
        output = _Output()
        progress.SymbolReporter(output, quiet=quiet, json=json, stream=pipe).progress("x", 1.0)
        assert pipe.getvalue() == "" and output.notices == []
    output = _Output()
    progress.SymbolReporter(output, quiet=False, json=True, stream=tty).progress("x", 1.0)
    assert [(n.what, n.data["done"]) for n in output.notices] == [("progress", 1.0)]


def test_cli_flag_turns_the_cache_off(monkeypatch):
    from hwdbg.ui import cli

    monkeypatch.setattr(name_index, "OPTIONS", name_index.Options())
    assert cli.build_parser().parse_args(["--no-index-cache", "prog"]).no_index_cache
    progress.install(_Output(), quiet=True, json=False, cache=False)
    assert not name_index.cache_enabled()


@pytest.mark.parametrize("variant", ["dwarf4", "dwarf5"])
def test_one_unit_scan_agrees_with_pyelftools(build_target, variant):
    exe = build_target("sym_globals", cflags=VARIANTS[variant])
    dwarf = DwarfInfo(ElfImage(exe).elf)
    for cu in dwarf._units():
        fast = name_index.scan(dwarf._dwarf, str(exe), cu.cu_offset, cu.cu_offset + cu.size)
        assert _plain(fast, dwarf) == _plain(dwarf._unit_names_slowly(cu), dwarf)


def test_address_ranges_agree_with_pyelftools(build_target):
    from hwdbg.symbols.aranges import AddressRanges

    exe = build_target("sym_globals")
    dwarf = DwarfInfo(ElfImage(exe).elf)._dwarf
    ours = AddressRanges(bytes(name_index.section_bytes(dwarf.debug_aranges_sec)))
    theirs = dwarf.get_aranges()
    for entry in theirs.entries:
        for addr in (entry.begin_addr, entry.begin_addr + entry.length - 1, entry.begin_addr + entry.length):
            assert ours.unit_at(addr) == theirs.cu_offset_at_addr(addr)
    assert ours.unit_at(0) is None


@pytest.mark.parametrize("variant", ["dwarf5", "compressed"])
def test_debug_sections_are_read_on_first_use(build_target, variant):
    from hwdbg.symbols import sections

    exe = build_target("sym_globals", cflags=VARIANTS[variant])
    elf = ElfImage(exe).elf
    dwarf = sections.dwarf_info(elf)
    stream = dwarf.debug_line_sec.stream
    assert stream._section is not None  # nothing read yet
    expected = elf.get_section_by_name(".debug_line").data()
    assert stream.getvalue() == expected and dwarf.debug_line_sec.size == len(expected)
    stream.seek(3)
    assert stream.read(5) == expected[3:8]


def test_compressed_section_is_inflated_as_far_as_reads_reach(build_target, monkeypatch):
    """Seeks and reads anywhere in a -gz section give its bytes, decompressing step by step
    (a step of 64 bytes here, so that every read crosses steps); the lines of every function
    are those of the uncompressed build."""
    import random

    from hwdbg.symbols import sections

    monkeypatch.setattr(sections, "INFLATE_STEP", 64)
    exe = build_target("sym_globals", cflags=VARIANTS["compressed"])
    elf = ElfImage(exe).elf
    expected = elf.get_section_by_name(".debug_info").data()
    stream = sections.dwarf_info(elf).debug_info_sec.stream
    stream.seek(100)
    assert stream.read(10) == expected[100:110]
    assert stream.tell() == 110
    assert len(io.BytesIO.getvalue(stream)) < len(expected)  # only the part read so far
    rng = random.Random(15)
    for _ in range(200):
        pos, size = rng.randrange(len(expected) + 10), rng.randrange(1, 300)
        stream.seek(pos)
        assert stream.read(size) == expected[pos:pos + size]
    buffer = bytearray(16)
    stream.seek(len(expected) - 8)
    assert stream.readinto(buffer) == 8 and bytes(buffer[:8]) == expected[-8:]
    assert stream.getvalue() == expected

    plain = SymbolTable(build_target("sym_globals", cflags=("-gdwarf-5",)))
    packed = SymbolTable(exe)
    for name in ("bump", "sum_table", "main"):
        ours, theirs = packed.lookup(name), plain.lookup(name)
        for offset in range(0, ours.size, 3):
            a, b = packed.describe(ours.addr + offset), plain.describe(theirs.addr + offset)
            assert (a.function, a.file, a.line) == (b.function, b.file, b.line)


def test_corrupt_compressed_debug_info_gives_a_clear_line(build_target, notices, tmp_path):
    broken = tmp_path / "broken"
    shutil.copy(build_target("sym_globals", cflags=VARIANTS["compressed"]), broken)
    offset, size = _section_range(broken, ".debug_info")
    with open(broken, "r+b") as f:  # zlib noise after the compression header
        f.seek(offset + 40)
        f.write(b"\x55" * (size - 40))
    table = SymbolTable(broken)
    var = table.lookup("counter")  # from .symtab, whatever DWARF says
    assert var.kind == "object" and var.addr
    assert any("corrupt compressed section .debug_info" in n for n in notices), notices
    main = table.lookup("main")
    assert table.describe(main.addr + 1).function == "main"


@pytest.mark.parametrize("path", ["sym_globals", "/usr/bin/python3.11d", "/lib/x86_64-linux-gnu/libc.so.6"])
def test_abbreviation_tables_agree_with_pyelftools(build_target, path):
    """Every abbreviation table of the file, decoded by hwdbg.symbols.abbrev, holds what
    pyelftools' construct-based decoder makes of it: codes, tags, children, attribute specs."""
    from elftools.dwarf.abbrevtable import AbbrevTable

    from hwdbg.symbols import abbrev
    from hwdbg.symbols.resolver import _dwarf_for

    if not path.startswith("/"):
        path = str(build_target(path, cflags=("-gdwarf-5",)))
    elif not Path(path).exists():
        pytest.skip(f"no {path} here")
    dwarf_info = _dwarf_for(ElfImage(path))
    if dwarf_info is None:
        pytest.skip(f"no DWARF for {path}")
    dwarf = dwarf_info._dwarf
    section = dwarf.debug_abbrev_sec
    offsets = sorted({cu["debug_abbrev_offset"] for cu in dwarf.iter_CUs()})
    data = section.stream.getvalue()
    for offset in offsets[:300]:
        ours = abbrev.parse_table(data, offset)
        theirs = AbbrevTable(dwarf.structs, section.stream, offset)._abbrev_map
        assert ours.keys() == theirs.keys()
        for code, decl in theirs.items():
            mine = ours[code]
            assert (mine["tag"], mine.has_children()) == (decl["tag"], decl.has_children())
            assert [(s.name, s.form, s.get("value") if s.form == "DW_FORM_implicit_const" else None)
                    for s in decl["attr_spec"]] == [(s.name, s.form, s.value) for s in mine["attr_spec"]]
    assert dwarf.get_abbrev_table(offsets[0])._abbrev_map.keys() == abbrev.parse_table(data, offsets[0]).keys()


UNIT = """static int hidden_{n} = {n};
int shared_{n}[{n} + 1];
struct rec_{n} {{ long a; char name[8]; }} record_{n};
static int helper_{n}(int x) {{ return x + hidden_{n}; }}
int entry_{n}(int x) {{ return helper_{n}(x) + shared_{n}[0] + (int)record_{n}.a; }}
"""


@pytest.mark.parametrize("compress", [False, True])
def test_a_unit_far_into_the_section_is_scanned_from_its_own_bytes(tmp_path, compress, monkeypatch):
    """A later unit's names, read from that unit's bytes alone (a window on .debug_info), are those
    the whole section's scan finds in it; of a compressed section, from the cached blocks alone."""
    from hwdbg.symbols import inflated

    monkeypatch.setattr(name_index, "OPTIONS", name_index.Options(cache_dir=str(tmp_path / "cache")))
    monkeypatch.setattr(inflated, "MIN_BYTES", 0)
    monkeypatch.setattr(inflated, "BLOCK", 512)
    monkeypatch.delenv("HWDBG_NO_INDEX_CACHE", raising=False)
    sources = []
    for n in range(6):
        sources.append(tmp_path / f"u{n}.c")
        sources[-1].write_text(UNIT.format(n=n))
    (tmp_path / "main.c").write_text("int entry_0(int);\nint main(void) { return entry_0(1); }\n")
    exe = tmp_path / "units"
    subprocess.run(["gcc", "-g", "-O0", *(["-gz"] if compress else []), "-o", str(exe), str(tmp_path / "main.c"),
                    *map(str, sources)], check=True)
    whole_dwarf = DwarfInfo(ElfImage(exe), ElfImage(exe).build_id())
    whole = name_index.scan(whole_dwarf._dwarf, str(exe))
    by_unit: dict[int, set] = {}
    for table in ("variables", "functions"):
        for name, entries in getattr(whole, table).items():
            for entry in entries:
                by_unit.setdefault(whole_dwarf._die(entry[-1]).cu.cu_offset, set()).add((table, name, entry[:-1]))
    inflated.store_all()  # a compressed section's blocks, all known now, kept
    dwarf = DwarfInfo(ElfImage(exe), ElfImage(exe).build_id())
    units = dwarf._units()
    assert len(units) == 7 and units[-1].cu_offset > 2 * inflated.BLOCK
    for cu in reversed(units):
        one = name_index.scan(dwarf._dwarf, str(exe), cu.cu_offset, cu.cu_offset + cu.size)
        found = {(table, name, entry[:-1]) for table in ("variables", "functions")
                 for name, entries in getattr(one, table).items() for entry in entries}
        assert found == by_unit.get(cu.cu_offset, set()), cu.cu_offset
        assert _plain(one, dwarf) == _plain(dwarf._unit_names_slowly(cu), dwarf)
    if compress:
        assert dwarf._dwarf.debug_info_sec.stream._inflating._have == 0  # nothing inflated


def test_address_ranges_of_libcs_debug_file_agree_with_pyelftools():
    """2,000 ranges of as many units (libc6-dbg): every start, end and last byte finds the unit pyelftools finds."""
    from hwdbg.symbols.aranges import AddressRanges
    from test_symbols import LIBC

    debug = ElfImage(LIBC).separate_debug_path() if Path(LIBC).exists() else None
    if debug is None:
        pytest.skip("libc's debug file is not installed (libc6-dbg)")
    dwarf = DwarfInfo(ElfImage(debug))._dwarf
    data = bytes(name_index.section_bytes(dwarf.debug_aranges_sec))
    ours, python = AddressRanges(data), AddressRanges(data, use_c=False)
    assert ours.ranges() == python.ranges()
    theirs = dwarf.get_aranges()
    assert len(theirs.entries) > 1000
    for entry in theirs.entries:
        for addr in (entry.begin_addr, entry.begin_addr + entry.length - 1, entry.begin_addr + entry.length):
            assert ours.unit_at(addr) == theirs.cu_offset_at_addr(addr), hex(addr)


@pytest.mark.parametrize("variant", ["dwarf4", "dwarf5", "compressed", "libc-debug"])
def test_dwarf_from_the_section_headers_is_pyelftools_dwarf(build_target, variant):
    """The DWARFInfo of an ElfImage is made from hwdbg's own section headers, with no ELFFile (an
    attach need not import pyelftools' ELF side): every section pyelftools' get_dwarf_info()
    gives, with the same bytes, size, address and offset."""
    from hwdbg.symbols import sections
    from test_symbols import LIBC

    if variant == "libc-debug":
        path = ElfImage(LIBC).separate_debug_path() if Path(LIBC).exists() else None
        if path is None:
            pytest.skip("libc's debug file is not installed (libc6-dbg)")
    else:
        path = build_target("sym_globals", cflags=VARIANTS[variant])
    image = ElfImage(path)
    ours = sections.dwarf_info(image)
    assert image._elf is None
    theirs = ElfImage(path).elf.get_dwarf_info()
    for key in sections.DWARF_SECTIONS:
        mine, reference = getattr(ours, key), getattr(theirs, key)
        header = image.headers.section(sections.DWARF_SECTIONS[key])
        if header is not None and header.type == 8:  # SHT_NOBITS (a debug file's .eh_frame): no bytes to read
            reference = None
        assert (mine is None) == (reference is None), key
        if mine is not None and (variant != "libc-debug" or mine.size < 1 << 20):
            assert (mine.name, mine.size, mine.address, mine.global_offset) == (
                reference.name, reference.size, reference.address, reference.global_offset), key
            assert bytes(mine.stream.whole()) == reference.stream.getvalue(), key
    assert ours.config.machine_arch == theirs.config.machine_arch
    assert ours.config.default_address_size == theirs.config.default_address_size


def test_a_relocatable_object_keeps_pyelftools_dwarf(tmp_path):
    source = tmp_path / "unit.c"
    source.write_text("int shared = 3;\nint get(void) { return shared; }\n")
    subprocess.run(["gcc", "-g", "-c", "-o", str(tmp_path / "unit.o"), str(source)], check=True)
    dwarf = DwarfInfo(ElfImage(tmp_path / "unit.o"))
    assert [cu.get_top_DIE().get_full_path().endswith("unit.c") for cu in dwarf._units()] == [True]
