"""Shared fixtures: C targets compiled at test time, symbol addresses read from them."""
from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile
from hypothesis import HealthCheck, settings

# No test asserts on wall time: hypothesis' per-example deadline (200 ms) and its too-slow health
# check are wall-time checks, and a loaded 2-CPU machine missed the deadline once (test_x87).
settings.register_profile("hwdbg", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("hwdbg")

TARGETS = Path(__file__).parent / "targets"
TESTS = Path(__file__).parent


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


@dataclass(frozen=True)
class ReadableCopy:
    """hwdbg, its runtime dependencies and some test helpers in a directory every user can read."""

    root: Path
    python: str  # the base interpreter: a venv inside the checkout may be unreadable too

    def file(self, name: str) -> str:
        return str(self.root / name)

    def add(self, program: Path) -> str:
        """A copy of ``program`` (a test target in pytest's 0700 temporary directory) here."""
        dest = self.root / "bin" / program.name
        dest.parent.mkdir(mode=0o755, exist_ok=True)
        shutil.copy2(program, dest)
        dest.chmod(0o755)
        return str(dest)

    def env(self, **extra: str) -> dict[str, str]:
        return dict(os.environ, PYTHONPATH=str(self.root), PYTHONDONTWRITEBYTECODE="1", **extra)


def _runtime_distributions(name: str) -> set[str]:
    """``name`` and every distribution it needs at run time (extras left out), by metadata."""
    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = [name]
    while todo:
        dist = importlib.metadata.distribution(todo.pop())
        key = dist.metadata["Name"].lower()
        if key in seen:
            continue
        seen.add(key)
        for text in dist.requires or ():
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return seen


@pytest.fixture(scope="session")
def readable_copy():
    """Tests that run code as another user (setpriv) cannot rely on the checkout being readable by
    that user (a clone in a 0700 ``mktemp -d`` directory is not): they run this copy instead."""
    import hwdbg

    root = Path(tempfile.mkdtemp(prefix="hwdbg-readable-"))
    try:
        shutil.copytree(Path(hwdbg.__file__).parent, root / "hwdbg", ignore=shutil.ignore_patterns("__pycache__"))
        for dist_name in _runtime_distributions("hwdbg") - {"hwdbg"}:
            for file in importlib.metadata.distribution(dist_name).files or ():
                source = Path(file.locate())
                if ".." in file.parts or "__pycache__" in file.parts or not source.is_file():
                    continue  # scripts in bin/, byte code
                (root / file).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, root / file)
        shutil.copy2(TESTS / "diagnostics" / "_diag_child.py", root / "_diag_child.py")
        for path in [root, *root.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        yield ReadableCopy(root, getattr(sys, "_base_executable", sys.executable))
    finally:
        shutil.rmtree(root, ignore_errors=True)
