"""Symbols without a process: ELF symbol tables, DWARF types and lines, error messages.

Expected values come from the target itself (it prints sizeof/offsetof/addresses),
from nm and addr2line, never from constants written here.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hwdbg.errors import SymbolError
from hwdbg.symbols import ElfImage, SymbolTable
from hwdbg.symbols.dwarf import DwarfInfo, file_matches
from hwdbg.symbols.elf import suggest

TARGETS = Path(__file__).parent.parent / "targets"
SOURCE = TARGETS / "sym_globals.c"
# DWARF 3 and 4 place bitfields with DW_AT_bit_offset, 5 with DW_AT_data_bit_offset;
# type units move structs out of the compilation unit; -gz compresses the sections.
DWARF_VARIANTS = {
    "dwarf3": ("-gdwarf-3",),
    "dwarf4": ("-gdwarf-4",),
    "dwarf5": ("-gdwarf-5",),
    "type-units": ("-gdwarf-4", "-fdebug-types-section"),
    "compressed": ("-gz",),
}


def layout(exe: Path) -> dict[str, int]:
    """The 'addr X=..', 'sizeof X=..', 'offsetof X=..' lines the target prints about itself."""
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True, timeout=10).stdout
    facts = {}
    for line in out.splitlines():
        match = re.fullmatch(r"(addr|sizeof|offsetof) (.+)=(\S+)", line)
        if match:
            facts[f"{match[1]} {match[2]}"] = int(match[3], 0)
    return facts


def nm_symbols(exe: Path, dynamic: bool = False) -> dict[str, tuple[int, int]]:
    """name -> (value, size) of defined symbols, per binutils."""
    cmd = ["nm", "-S", "--defined-only"] + (["-D"] if dynamic else []) + [str(exe)]
    symbols = {}
    for line in subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.splitlines():
        parts = line.split()
        if len(parts) == 4:
            symbols.setdefault(parts[3], (int(parts[0], 16), int(parts[1], 16)))
    return symbols


def addr2line(exe: Path, link_addr: int) -> tuple[str, str, int]:
    """(function, file basename, line) per binutils."""
    out = subprocess.run(
        ["addr2line", "-f", "-e", str(exe), f"{link_addr:#x}"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    place = out[1].split(" (")[0]
    file, line = place.rsplit(":", 1)
    return out[0], Path(file).name, int(line)


def marker_line(tag: str) -> int:
    for number, text in enumerate(SOURCE.read_text().splitlines(), 1):
        if f"LINE:{tag}" in text:
            return number
    raise KeyError(tag)


@pytest.fixture(scope="module")
def exe(build_target):
    return build_target("sym_globals")


@pytest.fixture(scope="module")
def table(exe):
    return SymbolTable(exe)


@pytest.fixture(scope="module")
def facts(exe):
    return layout(exe)


@pytest.fixture(scope="module", params=sorted(DWARF_VARIANTS))
def versioned(request, build_target):
    """(exe, SymbolTable, facts) for each DWARF flavour."""
    exe = build_target("sym_globals", cflags=DWARF_VARIANTS[request.param])
    return exe, SymbolTable(exe), layout(exe)


# -- ELF symbols ---------------------------------------------------------------


def test_elf_image_symbols_match_nm(exe):
    image = ElfImage(exe)
    expected = nm_symbols(exe)
    assert not image.is_pie
    assert image.has_dwarf()
    for name in ("counter", "config", "table", "cache", "file_static", "bump", "sum_table", "main"):
        sym = image.get_symbol(name)
        assert (sym.value, sym.size) == expected[name], name
    assert image.get_symbol("bump").kind == "func"
    assert image.get_symbol("counter").kind == "object"
    assert image.find_symbol("no_such_thing") is None
    assert {"counter", "bump", "g_short"} <= set(image.names())
    assert image.names() == sorted(image.names())
    assert any(s.name == "main" for s in image.iter_symbols())


def test_elf_image_load_base_is_lowest_load_segment(exe, build_target):
    assert ElfImage(exe).load_base_vaddr == min(ElfImage(exe).load_ranges())[0] & ~0xFFF
    assert ElfImage(exe).load_base_vaddr != 0  # non-PIE links at a fixed address
    assert ElfImage(build_target("sym_globals", pie=True)).load_base_vaddr == 0


@pytest.mark.parametrize("cflags", [(), ("-gz",), ("-gdwarf-4", "-fdebug-types-section")])
def test_section_name_map_is_pyelftools_own(build_target, cflags):
    # ElfImage fills pyelftools' name -> index map from its struct-read headers; it must be the
    # map pyelftools would build itself, from an object per section, for every file it reads.
    from elftools.elf.elffile import ELFFile
    exe = build_target("sym_globals", cflags=cflags)
    libc = next((p for p in ("/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib64/libc.so.6") if Path(p).exists()), None)
    for path in filter(None, (exe, libc)):
        image = ElfImage(path)
        assert image.headers.complete
        with open(path, "rb") as f:
            own = {section.name: i for i, section in enumerate(ELFFile(f).iter_sections())}
        assert image.elf._section_name_map == own
        assert image.elf.has_section(".debug_info") == (".debug_info" in own)
        image.close()


def test_function_at_and_object_at(exe):
    image = ElfImage(exe)
    for name in ("bump", "sum_table", "main"):
        value, size = nm_symbols(exe)[name]
        assert image.function_at(value) == (image.get_symbol(name), 0)
        sym, offset = image.function_at(value + size - 1)
        assert (sym.name, offset) == (name, size - 1)
    value, size = nm_symbols(exe)["config"]
    sym, offset = image.object_at(value + 12)
    assert (sym.name, offset) == ("config", 12)
    assert image.function_at(0x10) is None


def test_get_symbol_suggests_close_matches(exe):
    with pytest.raises(SymbolError, match=r"no symbol 'countr' in .*sym_globals; did you mean 'counter'\?"):
        ElfImage(exe).get_symbol("countr")
    with pytest.raises(SymbolError) as info:
        ElfImage(exe).get_symbol("zzzzzz")
    assert "did you mean" not in str(info.value)
    assert suggest("tabel", ["table", "cache"]) == "; did you mean 'table'?"


def test_not_an_elf_file(tmp_path):
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello")
    with pytest.raises(SymbolError, match="not an ELF file"):
        ElfImage(bogus)
    with pytest.raises(SymbolError, match="cannot open"):
        ElfImage(tmp_path / "missing")
    with pytest.raises(SymbolError):
        SymbolTable(bogus)


LIBC = "/lib/x86_64-linux-gnu/libc.so.6"


@pytest.mark.parametrize("which", ["exe", "libc-dynsym", "libc-debug-symtab", "stripped"])
def test_table_less_queries_agree_with_the_built_table(exe, build_target, monkeypatch, which):
    """find_symbol, function_at and object_at answered by one C pass over the raw symbol table
    (what a debugger that attaches and watches one variable does) give what the whole table,
    built in Python, gives: for every name and versioned name, every symbol's first, middle and
    last byte, the byte past it, and names and addresses that are not there."""
    import random

    from hwdbg.symbols import elf as elf_module
    from hwdbg.symbols.resolver import _dwarf_for

    if which == "exe":
        path = exe
    elif which == "stripped":
        path = build_target("sym_globals", strip=True, cflags=("-rdynamic",))
    elif not Path(LIBC).exists():
        pytest.skip(f"no {LIBC} here")
    else:
        path = LIBC

    def image():
        made = ElfImage(path)
        if which == "libc-debug-symtab":
            _dwarf_for(made)  # adopts the debug file's full .symtab when libc6-dbg is installed
        return made

    whole, scanned = image(), image()
    if which == "libc-debug-symtab" and whole._symbol_file is None:
        pytest.skip("no separate debug file for libc (libc6-dbg)")
    names = [sym.name for sym in whole._raw_symbols()]
    raw_names = sorted({n.partition("@")[0] for n in names} | {"no_such_symbol", "", "memcpy@"})
    symbols = list(whole.iter_symbols())
    addresses = sorted({a for s in symbols for a in (s.value, s.value + s.size // 2, s.value + max(s.size, 1) - 1,
                                                      s.value + max(s.size, 1), s.value - 1)} | {0, 2**64 - 1})
    random.Random(15).shuffle(addresses)
    monkeypatch.setattr(elf_module, "LAZY_QUERIES", 10**9)
    assert len(raw_names) > 10
    for name in raw_names:
        assert scanned.find_symbol(name) == whole.find_symbol(name), name
    for addr in addresses[:20000]:
        assert scanned.function_at(addr) == whole.function_at(addr), hex(addr)
        assert scanned.object_at(addr) == whole.object_at(addr), hex(addr)
    assert scanned._by_name is None  # answered without building the table


def test_table_less_queries_stop_when_the_table_pays(exe, monkeypatch):
    from hwdbg.symbols import elf as elf_module

    monkeypatch.setattr(elf_module, "LAZY_QUERIES", 3)
    image = ElfImage(exe)
    for _ in range(3):
        assert image.find_symbol("counter").kind == "object"
    assert image._by_name is None
    assert image.function_at(image.find_symbol("bump").value) == (image.get_symbol("bump"), 0)
    assert image._by_name is not None


def test_stripped_binary_uses_dynamic_symbols(build_target):
    exe = build_target("sym_globals", strip=True, cflags=("-rdynamic",))
    image = ElfImage(exe)
    assert image.elf.get_section_by_name(".symtab") is None
    assert not image.has_dwarf()
    dynamic = nm_symbols(exe, dynamic=True)
    table = SymbolTable(exe)
    for name, kind in (("counter", "object"), ("config", "object"), ("bump", "func")):
        var = table.lookup(name)
        assert (var.addr, var.size, var.kind, var.ctype) == (*dynamic[name], kind, None)
    sym, offset = image.function_at(dynamic["bump"][0] + 3)
    assert (sym.name, offset) == ("bump", 3)
    # Static functions are not exported, so they are gone with .symtab.
    with pytest.raises(SymbolError, match="no symbol 'sum_table'"):
        table.lookup("sum_table")
    location = table.describe(dynamic["bump"][0] + 3)
    assert (location.function, location.offset, location.file, location.line) == ("bump", 3, None, None)


def test_separate_debug_file_via_debuglink(exe, tmp_path):
    debug = tmp_path / "prog.debug"
    prog = tmp_path / "prog"
    subprocess.run(["objcopy", "--only-keep-debug", str(exe), str(debug)], check=True)
    shutil.copy(exe, prog)
    subprocess.run(["strip", "--strip-debug", str(prog)], check=True)
    subprocess.run(["objcopy", f"--add-gnu-debuglink={debug}", str(prog)], check=True, cwd=tmp_path)
    assert not ElfImage(prog).has_dwarf()
    assert ElfImage(prog).separate_debug_path() == str(debug)
    var = SymbolTable(prog).lookup("config")
    assert var.ctype is not None and var.ctype.name == "struct config"


# -- SymbolTable before a process exists --------------------------------------


def test_lookup_globals_of_each_width(table, exe, facts):
    expected = nm_symbols(exe)
    widths = {"g_char": ("char", 1, True), "g_short": ("int", 2, True), "counter": ("int", 4, True),
              "g_long": ("int", 8, True), "g_uchar": ("char", 1, False), "g_flag": ("bool", 1, False),
              "g_ratio": ("float", 8, True)}
    for name, (kind, size, signed) in widths.items():
        var = table.lookup(name)
        assert (var.addr, var.size) == expected[name], name
        assert (var.ctype.kind, var.ctype.size, var.ctype.signed) == (kind, size, signed), name
        assert (var.kind, var.module) == ("object", exe.name)
    assert table.lookup("counter").addr == facts["addr counter"]


def test_file_static_and_function(table, exe, facts):
    static = table.lookup("file_static")
    assert static.addr == facts["addr file_static"]
    assert static.ctype.name == "int"
    bump = table.lookup("bump")
    assert (bump.addr, bump.size) == (facts["addr bump"], nm_symbols(exe)["bump"][1])
    assert (bump.kind, bump.ctype.kind, bump.ctype.name) == ("func", "func", "int (int)")
    assert table.lookup("sum_table").ctype.name == "long (void)"


def test_non_pie_is_resolved_without_a_process(table):
    assert table.resolved
    assert table.executable.bias == 0
    assert table.module_for(table.lookup("bump").addr) is table.executable


def test_unknown_symbol_suggests(table):
    with pytest.raises(SymbolError, match=r"no symbol 'countr'; did you mean 'counter'\?"):
        table.lookup("countr")
    with pytest.raises(SymbolError, match=r"did you mean 'config'\?"):
        table.lookup("confg")


def test_unknown_lib_before_start(table):
    with pytest.raises(SymbolError, match=r"no loaded module matches 'libnope'.*once the program runs"):
        table.lookup("counter", lib="libnope")
    assert table.lookup("counter", lib="sym_glob").addr == table.lookup("counter").addr


def test_names_for_completion(table):
    assert table.names("g_") == ["g_char", "g_flag", "g_long", "g_ratio", "g_short", "g_uchar"]
    everything = table.names()
    assert everything == sorted(set(everything))
    assert {"bump", "counter", "main", "the_cache"} <= set(everything)


# -- DWARF types -----------------------------------------------------------------


def test_struct_layout_matches_offsetof(versioned):
    _, table, facts = versioned
    config = table.lookup("config").ctype
    assert (config.kind, config.name, config.size) == ("struct", "struct config", facts["sizeof struct config"])
    for member in ("id", "origin", "name", "color", "u", "ratio"):
        assert config.field_named(member).offset == facts[f"offsetof struct config.{member}"], member
    origin = config.field_named("origin")
    assert origin.ctype.name == "struct point" and origin.ctype.size == facts["sizeof struct point"]
    assert origin.offset + origin.ctype.field_named("y").offset == facts["offsetof struct config.origin.y"]
    name = config.field_named("name").ctype
    assert (name.kind, name.count, name.target.kind, name.size) == ("array", 16, "char", 16)
    union = config.field_named("u").ctype
    assert union.kind == "union" and [f.offset for f in union.fields] == [0, 0]
    assert [f.ctype.kind for f in union.fields] == ["int", "float"]
    assert config.field_named("ratio").ctype.kind == "float"


def test_a_members_type_is_decoded_when_first_used(versioned):
    """Finding one member of a struct decodes that member's type only (python3.11d's
    interpreter state has 80); each type, once decoded, is the one a full decode gives."""
    exe, _, _ = versioned
    table = SymbolTable(exe)  # its own: the module's table may have decoded them already
    config = table.lookup("config").ctype
    members = {f.name: f for f in config.fields}
    waiting = {name for name, f in members.items() if "_load_ctype" in vars(f)}
    assert {"origin", "name", "color", "u", "ratio"} <= waiting
    origin = config.field_named("origin")
    assert origin.ctype.name == "struct point" and "_load_ctype" not in vars(origin)
    assert "_load_ctype" in vars(members["ratio"])
    assert members["ratio"].ctype.kind == "float" and members["color"].ctype.name == "enum color"
    assert config.fields == SymbolTable(exe).lookup("config").ctype.fields  # equal, member by member, with the types


def test_enum(versioned):
    _, table, facts = versioned
    color = table.lookup("config").ctype.field_named("color").ctype
    assert (color.kind, color.name, color.size) == ("enum", "enum color", facts["sizeof enum color"])
    assert dict(color.enumerators) == {"RED": 0, "GREEN": 5, "BLUE": -1}
    assert color.signed


def test_bitfields_same_in_every_dwarf_version(build_target):
    fields = []
    for flags in DWARF_VARIANTS.values():
        config = SymbolTable(build_target("sym_globals", cflags=flags)).lookup("config").ctype
        fields.append([config.field_named(n) for n in ("enabled", "mode", "level")])
    assert all(f == fields[0] for f in fields)
    enabled, mode, level = fields[0]
    assert [f.bit_size for f in fields[0]] == [1, 3, 5]
    assert enabled.offset == mode.offset == level.offset  # one storage unit
    assert enabled.bit_offset < mode.bit_offset < level.bit_offset
    assert (mode.ctype.signed, level.ctype.signed) == (False, True)


def test_arrays(versioned):
    _, table, _ = versioned
    array = table.lookup("table").ctype
    assert (array.kind, array.count, array.size, array.name) == ("array", 8, 32, "int [8]")
    assert (array.target.kind, array.target.size) == ("int", 4)
    matrix = table.lookup("matrix").ctype
    assert (matrix.count, matrix.size, matrix.name) == (3, 48, "int [3][4]")
    assert (matrix.target.kind, matrix.target.count, matrix.target.size) == ("array", 4, 16)


def test_pointer_to_self_referencing_struct(versioned):
    _, table, facts = versioned
    pointer = table.lookup("cache").ctype
    assert (pointer.kind, pointer.size, pointer.name) == ("pointer", 8, "struct cache *")
    cache = pointer.target
    assert cache.size == facts["sizeof struct cache"]
    assert cache.field_named("hits").offset == facts["offsetof struct cache.hits"]
    assert cache.field_named("misses").offset == facts["offsetof struct cache.misses"]
    # next is a cache_t *: the typedef keeps its name and still has the fields.
    following = cache.field_named("next").ctype.target
    assert following.name == "cache_t"
    assert [f.name for f in following.fields] == ["next", "hits", "misses"]
    assert table.lookup("the_cache").ctype.name == "struct cache"


def test_typedef_qualifiers_and_function_pointer(versioned):
    _, table, _ = versioned
    typed = table.lookup("typed_counter").ctype
    assert (typed.kind, typed.name, typed.size, typed.signed) == ("int", "counter_t", 8, False)
    cv_int = table.lookup("cv_int").ctype
    assert (cv_int.kind, cv_int.name, cv_int.size) == ("int", "const volatile int", 4)  # as gdb spells it
    callback = table.lookup("callback").ctype
    assert (callback.kind, callback.name, callback.target.kind) == ("pointer", "int (*)(int)", "func")


def test_named_types_and_function_range(versioned):
    exe, table, _ = versioned
    dwarf = table.executable.dwarf
    assert dwarf.type_named("struct config") == table.lookup("config").ctype
    assert dwarf.type_named("counter_t").size == 8
    assert dwarf.type_named("struct nope") is None
    value, size = nm_symbols(exe)["bump"]
    assert dwarf.function_range("bump") == (value, value + size)
    assert dwarf.function_range("nope") is None
    assert dwarf.variable("nope") is None


# -- DWARF lines --------------------------------------------------------------------


def test_line_round_trip(versioned):
    exe, table, _ = versioned
    line = marker_line("bump_body")
    addr = table.address_of_line("sym_globals.c", line)
    assert table.describe(addr).line == line
    assert table.executable.dwarf.line_at(addr)[1] == line
    assert addr2line(exe, addr)[1:] == ("sym_globals.c", line)
    assert table.describe(addr).function == "bump"
    # The same line by a longer suffix and by full path.
    assert table.address_of_line("targets/sym_globals.c", line) == addr
    assert table.address_of_line(str(SOURCE), line) == addr


def test_describe_matches_addr2line(exe, table):
    for name in ("bump", "sum_table", "main"):
        value, size = nm_symbols(exe)[name]
        for offset in (0, size // 2):
            location = table.describe(value + offset)
            function, file, line = addr2line(exe, value + offset)
            assert (location.function, location.offset) == (function, offset)
            assert (Path(location.file).name, location.line) == (file, line)
            assert location.module == exe.name


def test_describe_is_cached_and_handles_unknown_addresses(table):
    addr = table.lookup("main").addr + 4
    assert table.describe(addr) is table.describe(addr)
    line = table.describe(addr).line
    assert str(table.describe(addr)) == f"{addr:#x} <main+4> at sym_globals.c:{line}"
    nowhere = table.describe(0x10)
    assert (nowhere.function, nowhere.file, nowhere.line, nowhere.module) == (None, None, None, None)
    data = table.describe(table.lookup("config").addr + 8)
    assert (data.function, data.offset, data.line) == ("config", 8, None)


def test_line_errors(table):
    with pytest.raises(SymbolError, match=r"no code at sym_globals.c:1; nearest lines with code: \d+"):
        table.address_of_line("sym_globals.c", 1)
    with pytest.raises(SymbolError, match="no source file 'other.c'"):
        table.address_of_line("other.c", 3)


def test_file_matching():
    assert file_matches("/src/a/b.c", "b.c")
    assert file_matches("/src/a/b.c", "a/b.c")
    assert file_matches("/src/a/b.c", "./a/b.c")
    assert not file_matches("/src/a/xb.c", "b.c")


def test_dwarf_is_lazy(exe):
    dwarf = DwarfInfo(ElfImage(exe).elf)
    assert dwarf.small and not dwarf.indexed
    assert dwarf.variable("counter")[1].name == "int"
    assert dwarf.indexed and not dwarf._unit_lines  # names did not need the line table
    assert dwarf.line_at(ElfImage(exe).get_symbol("bump").value) is not None
    assert len(dwarf._unit_lines) == 1


@pytest.mark.parametrize("path", ["exe", "pie", "stripped", LIBC, "/usr/bin/python3.11d", "/usr/lib/debug"])
def test_struct_read_headers_agree_with_pyelftools(exe, build_target, path):
    """Load segments, TLS, the dynamic segment, build-id and which debug sections exist, read
    from the headers with struct (symbols/elfheaders.py), are what pyelftools reads."""
    from hwdbg.symbols.elfheaders import Headers, file_header

    if path == "exe":
        path = str(exe)
    elif path == "pie":
        path = str(build_target("sym_globals", pie=True))
    elif path == "stripped":
        path = str(build_target("sym_globals", strip=True, cflags=("-rdynamic",)))
    elif path == "/usr/lib/debug":  # a separate debug file: NOBITS code, compressed DWARF
        path = ElfImage(LIBC).separate_debug_path() if Path(LIBC).exists() else None
    if path is None or not Path(path).exists():
        pytest.skip("not installed here")
    image = ElfImage(path)
    elf = image.elf
    header = file_header(elf.stream)
    from elftools.elf.enums import ENUM_E_TYPE
    assert (header.little_endian, header.elfclass, header.e_type, header.e_entry) == (
        elf.little_endian, elf.elfclass, ENUM_E_TYPE[elf.header["e_type"]], elf.header["e_entry"])
    headers = Headers(header, elf.stream)
    segments = [(s["p_type"], s["p_offset"], s["p_vaddr"], s["p_filesz"], s["p_memsz"], s["p_align"])
                for s in elf.iter_segments()]
    from elftools.elf.enums import ENUM_P_TYPE_BASE
    types = {v: k for k, v in ENUM_P_TYPE_BASE.items()}
    assert [(types.get(s.type, s.type), s.offset, s.vaddr, s.filesz, s.memsz, s.align) for s in headers.segments] == segments
    for section in elf.iter_sections():
        ours = headers.section(section.name)
        assert (ours.addr, ours.offset, ours.size, ours.link, ours.flags) == (
            section["sh_addr"], section["sh_offset"], section["sh_size"], section["sh_link"], section["sh_flags"])
        assert elf.get_section(ours.index).name == section.name
    expected_id = next((n["n_desc"] for s in elf.iter_sections("SHT_NOTE") for n in s.iter_notes()
                        if n["n_type"] == "NT_GNU_BUILD_ID"), None)
    assert image.build_id() == expected_id
    has = any(elf.get_section_by_name(n) is not None and elf.get_section_by_name(n)["sh_type"] != "SHT_NOBITS"
              and elf.get_section_by_name(n)["sh_size"] > 0 for n in (".debug_info", ".zdebug_info"))
    assert image.has_dwarf() == has
    loads = [s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"]
    assert image.load_ranges() == [(s["p_vaddr"], s["p_vaddr"] + s["p_memsz"]) for s in loads]


def test_layout_build_id_and_debug_file_need_no_pyelftools_file(build_target):
    """An attach opens every file the process maps; pyelftools' ELFFile (~0.4 ms, its construct
    structs) is made only for a file whose DWARF or symbol table is read."""
    exe = build_target("sym_globals")
    image = ElfImage(exe)
    assert image.load_ranges() and image.build_id() and image.has_dwarf() and image.has_symtab()
    image.separate_debug_path()
    image.read_bytes(image.load_ranges()[0][0], 4)
    assert image._elf is None
    assert image.get_symbol("main") is not None
    assert image.elf.header["e_type"] in ("ET_EXEC", "ET_DYN")


def test_a_file_that_is_not_elf_is_one_clear_error(tmp_path):
    for body in (b"", b"\x7fEL", b"#!/bin/sh\necho hi\n", b"\x7fELF\x09\x01" + bytes(58)):
        path = tmp_path / "not-elf"
        path.write_bytes(body)
        with pytest.raises(SymbolError, match="is not an ELF file"):
            ElfImage(path)
