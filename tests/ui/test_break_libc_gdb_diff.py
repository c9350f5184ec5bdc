"""Differential test: `break FUNCTION` on ~200 C library functions with its debug information
(libc6-dbg), against gdb 13: the same address, file and line. libc is optimised (gdb trusts its
units and stops at a function's first byte) and has functions in assembler (syscall-template.S).
Addresses are compared relative to the first function's (a gdb run has no address
randomisation). Left out: IFUNCs (gdb breaks on the resolver: "gnu-indirect-function
resolver at ..."), names gdb finds in several places by the symbol tables (a copy in ld.so, older
symbol versions, same-named static functions), and the few gdb gives several locations for
other reasons (copies inlined into other libc functions): at most one in ten."""
from __future__ import annotations

import collections
import re
import subprocess
from pathlib import Path
from typing import Optional

import pytest
from elftools.elf.elffile import ELFFile

from gdb_diff import gdb_outputs, hwdbg_outputs, needs_gdb

pytestmark = [pytest.mark.requires_ptrace, needs_gdb]

SAMPLE = 200
FUNCTION_TYPES = ("STT_FUNC", "STT_GNU_IFUNC", "STT_LOOS")  # pyelftools may name STT_GNU_IFUNC STT_LOOS


def _libraries(exe: Path) -> dict[str, Path]:
    """The shared objects ``exe`` loads (by soname prefix: libc, ld-linux), from ldd."""
    out = subprocess.run(["ldd", str(exe)], stdout=subprocess.PIPE, text=True, check=True).stdout
    found = {}
    for line in out.splitlines():
        path = next((w for w in line.split() if w.startswith("/")), None)
        if path is not None:
            found[Path(path).name.split(".so")[0]] = Path(path).resolve()
    return found


def _debug_file(library: Path) -> Optional[Path]:
    with open(library, "rb") as f:
        for section in ELFFile(f).iter_sections():
            if section["sh_type"] == "SHT_NOTE":
                for note in section.iter_notes():
                    if note["n_type"] == "NT_GNU_BUILD_ID":
                        build_id = note["n_desc"]
                        path = Path("/usr/lib/debug/.build-id") / build_id[:2] / f"{build_id[2:]}.debug"
                        return path if path.exists() else None
    return None


def _function_names(path: Path, section_name: str, types=FUNCTION_TYPES) -> list[str]:
    with open(path, "rb") as f:
        section = ELFFile(f).get_section_by_name(section_name)
        return [s.name for s in section.iter_symbols() if s["st_info"]["type"] in types
                and s["st_shndx"] != "SHN_UNDEF" and s.name] if section is not None else []


def sample(libc: Path, libc_debug: Path, ld_debug: Optional[Path]) -> list[str]:
    """Every n-th exported function of libc found in one place only."""
    exported = collections.Counter(name.partition("@")[0] for name in _function_names(libc, ".dynsym"))
    defined = collections.Counter(_function_names(libc_debug, ".symtab"))
    in_loader = set(_function_names(ld_debug, ".symtab")) if ld_debug is not None else set()
    ifuncs = {name.partition("@")[0] for name in _function_names(libc, ".dynsym", FUNCTION_TYPES[1:])}
    single = sorted(name for name, count in exported.items()
                    if count == 1 and defined[name] <= 1 and name not in in_loader | ifuncs)
    step = max(1, len(single) // SAMPLE)
    return single[::step][:SAMPLE]


def relative(outputs: list[str]) -> list[list[str]]:
    """Each output's breakpoint lines, numbers dropped, addresses made relative to the first."""
    base: Optional[int] = None
    result = []
    for output in outputs:
        lines = []
        for line in output.splitlines():
            if not line.startswith("Breakpoint "):
                continue
            line = re.sub(r"^Breakpoint \d+ ", "", line)
            found = re.search(r"^at (0x[0-9a-f]+)", line)
            if found:
                addr = int(found[1], 16)
                base = addr if base is None else base
                line = line.replace(found[1], f"{addr - base:+#x}")
            lines.append(line)
        result.append(lines)
    return result


def _libc_and_loader(exe: Path) -> tuple[Path, Path, Optional[Path]]:
    """libc, its debug file and the loader's (None without one); skips without libc's debug file."""
    libraries = _libraries(exe)
    libc = libraries.get("libc")
    libc_debug = _debug_file(libc) if libc is not None else None
    if libc is None or libc_debug is None:
        pytest.skip("no debug information for the C library (install libc6-dbg)")
    loader = next((p for name, p in libraries.items() if name.startswith("ld-linux")), None)
    return libc, libc_debug, _debug_file(loader) if loader is not None else None


def test_break_on_libc_functions_goes_where_gdb_puts_it(build_target):
    exe = build_target("steps")
    libc, libc_debug, ld_debug = _libc_and_loader(exe)
    names = sample(libc, libc_debug, ld_debug)
    commands = ["break main", "run"] + [f"break {name}" for name in names]
    expected = relative(gdb_outputs(exe, commands)[2:])
    got = relative(hwdbg_outputs(exe, commands)[2:])
    several = [c for c, e in zip(commands[2:], expected) if e and "locations)" in e[0]]
    assert len(several) <= len(names) // 10, several
    differ = [(c, e, g) for c, e, g in zip(commands[2:], expected, got) if e != g and c not in several]
    assert not differ, differ[:5]
    assert len(names) >= SAMPLE * 3 // 4
    assert sum(1 for e in expected if e and ": file " in e[0]) > len(names) // 2  # with debug info
    assert any(".S, line" in e[0] for e in expected if e)  # and some in assembler
