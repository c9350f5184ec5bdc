"""Symbols of live processes: PIE load bias, shared libraries, memory read back through types.

Each target runs with "wait": it prints its own addresses, then blocks on stdin. Expected
runtime addresses are computed independently (nm value + the file's mapping start from a
hand parse of /proc/PID/maps) and checked against what the program itself printed.
"""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from hwdbg.errors import SymbolError, TargetError
from hwdbg.symbols import SymbolTable, read_maps
from hwdbg.linux.procfs import parse_maps_line


@pytest.fixture
def spawn():
    """spawn(exe) -> (pid, facts printed before "ready"); every process is killed afterwards."""
    procs: list[subprocess.Popen] = []

    def run(exe: Path) -> tuple[int, dict[str, int]]:
        proc = subprocess.Popen([str(exe), "wait"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        procs.append(proc)
        facts = {}
        for line in proc.stdout:
            if line.strip() == "ready":
                return proc.pid, facts
            match = re.fullmatch(r"addr (\w+)=(0x[0-9a-f]+)", line.strip())
            if match:
                facts[match[1]] = int(match[2], 16)
        raise AssertionError(f"{exe} exited with {proc.wait()} before it was ready")

    yield run
    for proc in procs:
        proc.kill()
        proc.wait()
        proc.stdin.close()
        proc.stdout.close()


def nm_value(path: str, name: str) -> int:
    for line in subprocess.run(["nm", "--defined-only", path], capture_output=True, text=True, check=True).stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name:
            return int(parts[0], 16)
    raise KeyError(name)


def runtime_address(pid: int, path: str, name: str) -> int:
    """nm value relocated by the file's mapping at offset 0, from a hand parse of the maps."""
    with open(f"/proc/{pid}/maps") as f:
        starts = [int(line.split("-")[0], 16) for line in f
                  if line.split()[-1] == path and int(line.split()[2], 16) == 0]
    with open(path, "rb") as f:
        lowest = min(seg["p_vaddr"] for seg in ELFFile(f).iter_segments() if seg["p_type"] == "PT_LOAD")
    return starts[0] + nm_value(path, name) - (lowest & ~0xFFF)


def addr2line(path: str, link_addr: int) -> tuple[str, str, int]:
    out = subprocess.run(["addr2line", "-f", "-e", path, f"{link_addr:#x}"],
                         capture_output=True, text=True, check=True).stdout.splitlines()
    file, line = out[1].split(" (")[0].rsplit(":", 1)
    return out[0], Path(file).name, int(line)


def read_memory(pid: int, addr: int, size: int) -> bytes:
    with open(f"/proc/{pid}/mem", "rb") as mem:
        mem.seek(addr)
        return mem.read(size)


def read_field(pid: int, base: int, field) -> int:
    raw = int.from_bytes(read_memory(pid, base + field.offset, field.ctype.size), "little")
    if field.bit_size is None:
        return raw
    value = (raw >> field.bit_offset) & ((1 << field.bit_size) - 1)
    if field.ctype.signed and value >> (field.bit_size - 1):
        value -= 1 << field.bit_size
    return value


# -- maps ------------------------------------------------------------------------


def test_parse_maps_lines():
    text = parse_maps_line("7f12a000-7f12b000 r-xp 00002000 08:01 1234   /opt/my lib/libx.so (deleted)\n")
    assert (text.start, text.end, text.perms, text.offset, text.inode) == (0x7F12A000, 0x7F12B000, "r-xp", 0x2000, 1234)
    assert text.path == "/opt/my lib/libx.so (deleted)"
    assert text.deleted and text.file_path == "/opt/my lib/libx.so" and text.is_file
    anon = parse_maps_line("7ffd000-7ffe000 rw-p 00000000 00:00 0")
    assert anon.path == "" and not anon.is_file
    vdso = parse_maps_line("7ffd000-7ffe000 r-xp 00000000 00:00 0                          [vdso]")
    assert vdso.path == "[vdso]" and not vdso.is_file and vdso.contains(0x7FFD000) and not vdso.contains(0x7FFE000)


def test_read_maps_of_a_live_process(spawn, build_target):
    exe = build_target("sym_globals")
    pid, _ = spawn(exe)
    maps = read_maps(pid)
    assert [m.start for m in maps] == sorted(m.start for m in maps)
    mine = [m for m in maps if m.path == str(exe)]
    assert mine and mine[0].offset == 0 and "r" in mine[0].perms
    assert any(m.path == "[stack]" for m in maps)
    with pytest.raises(TargetError, match="does not exist"):
        read_maps(2**22 + 12345)


# -- PIE ------------------------------------------------------------------------------


def test_a_pie_before_it_runs_has_its_link_time_addresses(build_target):
    """As gdb shows them before `run`; a break or watch set then is resolved again at start."""
    exe = build_target("sym_globals", pie=True)
    table = SymbolTable(exe)
    assert table.executable.image.is_pie and not table.resolved and table.executable.bias == 0
    for name in ("counter", "bump"):
        assert table.lookup(name).addr == nm_value(str(exe), name), name
    link_addr = table.address_of_line("sym_globals.c", 60)
    assert addr2line(str(exe), link_addr)[1:] == ("sym_globals.c", 60)
    with pytest.raises(SymbolError, match="no symbol 'countr'; did you mean 'counter'"):
        table.lookup("countr")


def test_pie_after_refresh(spawn, build_target):
    exe = build_target("sym_globals", pie=True)
    pid, printed = spawn(exe)
    table = SymbolTable(exe)
    table.refresh(pid)
    assert table.resolved and table.executable.bias != 0
    for name in ("counter", "config", "table", "cache", "the_cache", "file_static", "bump"):
        var = table.lookup(name)
        assert var.addr == printed[name] == runtime_address(pid, str(exe), name), name
    bump = table.lookup("bump")
    location = table.describe(bump.addr + 4)
    assert (location.function, location.offset, location.module) == ("bump", 4, exe.name)
    assert (Path(location.file).name, location.line) == addr2line(str(exe), nm_value(str(exe), "bump") + 4)[1:]
    line = location.line
    assert table.describe(table.address_of_line("sym_globals.c", line)).line == line


def test_memory_read_through_types(spawn, build_target):
    """Addresses, offsets and bitfield positions together give back the values main stored."""
    exe = build_target("sym_globals", pie=True)
    pid, printed = spawn(exe)
    table = SymbolTable(exe)
    table.refresh(pid)
    config = table.lookup("config")
    fields = {f.name: f for f in config.ctype.fields}
    values = {name: read_field(pid, config.addr, fields[name]) for name in ("id", "enabled", "mode", "level")}
    assert values == {"id": 7, "enabled": 1, "mode": 5, "level": -3}
    origin = fields["origin"]
    assert read_field(pid, config.addr + origin.offset, origin.ctype.field_named("y")) == 2
    assert read_memory(pid, config.addr + fields["name"].offset, 8) == b"default\0"
    array = table.lookup("table")
    data = read_memory(pid, array.addr, array.size)
    assert [int.from_bytes(data[i:i + 4], "little") for i in range(0, 32, 4)] == [i * i for i in range(8)]
    cache = table.lookup("cache")
    the_cache = int.from_bytes(read_memory(pid, cache.addr, cache.size), "little")
    assert the_cache == table.lookup("the_cache").addr == printed["the_cache"]
    struct = cache.ctype.target
    assert read_field(pid, the_cache, struct.field_named("next")) == the_cache
    assert read_field(pid, the_cache, struct.field_named("hits")) == sum(i * i for i in range(8))
    assert read_field(pid, table.lookup("counter").addr, _whole(table.lookup("counter"))) == 6


def _whole(var):
    from hwdbg.symbols.types import Field

    return Field(var.name, 0, var.ctype)


# -- shared libraries ----------------------------------------------------------------


@pytest.fixture(params=["system-debug-info", "no-debug-info"])
def uselib(request, build_target, spawn, monkeypatch, tmp_path):
    """(exe, pid, printed, table, lib module); libc with its debug package if installed, and without."""
    if request.param == "no-debug-info":
        monkeypatch.setattr("hwdbg.symbols.elf.DEBUG_ROOT", str(tmp_path))
    exe = build_target("sym_uselib", libs=("sym_lib",))
    pid, printed = spawn(exe)
    table = SymbolTable(exe)
    table.refresh(pid)
    lib = next(m for m in table.modules if m.name == "libsym_lib.so")
    return exe, pid, printed, table, lib


def test_library_global_resolved_at_runtime(uselib):
    exe, pid, printed, table, lib = uselib
    var = table.lookup("lib_counter")
    assert var.addr == printed["lib_counter"] == runtime_address(pid, lib.path, "lib_counter")
    assert (var.module, var.kind, var.size, var.ctype.name) == ("libsym_lib.so", "object", 4, "int")
    assert int.from_bytes(read_memory(pid, var.addr, 4), "little") == 7
    func = table.lookup("lib_bump")
    assert func.addr == printed["lib_bump"] == runtime_address(pid, lib.path, "lib_bump")
    assert (func.kind, func.ctype.name) == ("func", "int (int)")
    assert table.ctype_of(var) is var.ctype
    assert table.module_for(func.addr) is lib and lib.contains(var.addr)
    state = table.lookup("lib_state").ctype
    assert [f.name for f in state.fields] == ["calls", "total"]
    assert read_field(pid, table.lookup("lib_state").addr, state.field_named("calls")) == 1


def test_executable_first_then_libraries(uselib):
    exe, pid, printed, table, lib = uselib
    assert table.modules[0].name == exe.name
    assert table.lookup("shared_name").addr == printed["shared_name"]
    from_lib = table.lookup("shared_name", lib="libsym_lib")
    assert from_lib.addr == runtime_address(pid, lib.path, "shared_name") != printed["shared_name"]
    assert table.lookup("lib_counter", lib="libsym_lib.so") == table.lookup("lib_counter")
    libc = table.lookup("printf")
    assert libc.module.startswith("libc") and libc.kind == "func"
    assert table.describe(libc.addr).function in ("printf", "_IO_printf")


def test_library_errors_and_names(uselib):
    _, _, _, table, _ = uselib
    with pytest.raises(SymbolError, match=r"no loaded module matches 'libnope' \(loaded: sym_uselib, .*libsym_lib.so"):
        table.lookup("lib_counter", lib="libnope")
    with pytest.raises(SymbolError, match=r"no symbol 'lib_countr'; did you mean 'lib_counter'"):
        table.lookup("lib_countr")
    with pytest.raises(SymbolError, match=r"no symbol 'main' in libsym_lib.so"):
        table.lookup("main", lib="libsym_lib")
    assert {"lib_bump", "lib_counter", "lib_report", "lib_state"} <= set(table.names("lib_"))


def test_library_describe_and_lines(uselib):
    _, _, _, table, lib = uselib
    bump = table.lookup("lib_bump")
    location = table.describe(bump.addr + 8)
    expected = addr2line(lib.path, bump.addr + 8 - lib.bias)
    assert (location.function, location.offset, location.module) == ("lib_bump", 8, "libsym_lib.so")
    assert (Path(location.file).name, location.line) == expected[1:]
    addr = table.address_of_line("sym_lib.c", location.line)
    assert table.describe(addr).line == location.line and lib.contains(addr)


def test_refresh_reuses_parsed_files(uselib):
    _, pid, _, table, lib = uselib
    before = {m.path: m.image for m in table.modules}
    table.refresh(pid)
    assert {m.path: m.image for m in table.modules} == before
    assert next(m for m in table.modules if m.path == lib.path).image is lib.image


def test_library_unknown_before_start(build_target):
    table = SymbolTable(build_target("sym_uselib", libs=("sym_lib",)))
    with pytest.raises(SymbolError, match="no symbol 'lib_counter'"):
        table.lookup("lib_counter")
    with pytest.raises(SymbolError, match="once the program runs"):
        table.lookup("lib_counter", lib="libsym_lib")


def test_default_symbol_version_wins(uselib):
    """realpath@@GLIBC_2.3 is what a program calls; realpath@GLIBC_2.2.5 only keeps old binaries working."""
    _, _, _, table, _ = uselib
    libc = next(m for m in table.modules if m.name.startswith("libc."))
    versions = {}
    for line in subprocess.run(["nm", "-D", "--defined-only", libc.path], capture_output=True, text=True).stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2].startswith("realpath@"):
            versions[parts[2].split("@", 1)[1]] = int(parts[0], 16)
    default = next((value for version, value in versions.items() if version.startswith("@")), None)
    if default is None or len(versions) < 2:
        pytest.skip("this libc has a single version of realpath")
    var = table.lookup("realpath", lib="libc")
    assert var.addr == default + libc.bias and var.kind == "func"
    for value in versions.values():
        assert table.describe(value + libc.bias).function == "realpath"


def test_refresh_after_dlopen(build_target):
    exe = build_target("sym_dlopen")
    library = build_target("sym_lib", shared=True)
    proc = subprocess.Popen([str(exe), str(library)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        table = SymbolTable(exe)
        table.refresh(proc.pid)
        exe_image = table.executable.image
        with pytest.raises(SymbolError, match="no symbol 'lib_counter'"):
            table.lookup("lib_counter")
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "loaded"
        table.refresh(proc.pid)
        var = table.lookup("lib_counter")
        assert var.module == library.name
        assert var.addr == runtime_address(proc.pid, str(library), "lib_counter")
        assert int.from_bytes(read_memory(proc.pid, var.addr, 4), "little") == 3
        assert table.executable.image is exe_image  # unchanged files are not parsed again
    finally:
        proc.kill()
        proc.wait()
        proc.stdin.close()
        proc.stdout.close()


def test_big_library_types_on_request(build_target, spawn, monkeypatch):
    """Library DWARF over the size limit is not scanned for data types until asked."""
    monkeypatch.setattr("hwdbg.symbols.dwarf.SMALL_DEBUG_INFO", 0)
    exe = build_target("sym_uselib", libs=("sym_lib",))
    pid, printed = spawn(exe)
    table = SymbolTable(exe)
    table.refresh(pid)
    state = table.lookup("lib_state")
    assert state.ctype is None and state.size == 16
    assert [f.name for f in table.ctype_of(state).fields] == ["calls", "total"]
    assert table.lookup("lib_bump").ctype.name == "int (int)"  # functions are found by address
    assert table.lookup("shared_name").ctype.name == "int"  # the executable is always indexed
