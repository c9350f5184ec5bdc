"""Shared fixtures: C targets compiled at test time, symbol addresses read from them."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

TARGETS = Path(__file__).parent / "targets"


@pytest.fixture(scope="session")
def build_target(tmp_path_factory):
    """build_target("name", pie=False, strip=False, cflags=(), libs=()) -> path of the executable.

    Compiles tests/targets/NAME.c once per session and flag set. ``libs`` names other
    targets built as shared libraries (lib<NAME>.so) and linked in with an rpath.
    """
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler (gcc) to build the test targets")
    out = tmp_path_factory.mktemp("targets")
    cache: dict[tuple, Path] = {}

    def build(name: str, *, pie: bool = False, strip: bool = False, cflags=(), libs=(), shared=False) -> Path:
        key = (name, pie, strip, tuple(cflags), tuple(libs), shared)
        if key in cache:
            return cache[key]
        suffix = "-pie" if pie else ""
        suffix += "-stripped" if strip else ""
        suffix += f"-{abs(hash(tuple(cflags))) % 10**6}" if cflags else ""
        exe = out / (f"lib{name}.so" if shared else f"{name}{suffix}")
        cmd = [cc, "-g", "-O0", "-o", str(exe), str(TARGETS / f"{name}.c"), "-pthread", *cflags]
        if shared:
            cmd += ["-shared", "-fPIC"]
        else:
            cmd += ["-fPIE", "-pie"] if pie else ["-no-pie"]
        for lib in libs:
            libpath = build(lib, shared=True)
            cmd += [str(libpath), f"-Wl,-rpath,{libpath.parent}"]
        subprocess.run(cmd, check=True)
        if strip:
            subprocess.run(["strip", "--strip-all", str(exe)], check=True)
        cache[key] = exe
        return exe

    return build


def symbol_address(exe: Path, name: str) -> int:
    """Link-time address of a symbol from .symtab (or .dynsym), straight from the ELF file."""
    with open(exe, "rb") as f:
        elf = ELFFile(f)
        for section_name in (".symtab", ".dynsym"):
            section = elf.get_section_by_name(section_name)
            if section is None:
                continue
            for sym in section.get_symbol_by_name(name) or []:
                return sym["st_value"]
    raise KeyError(f"{name} not in {exe}")
