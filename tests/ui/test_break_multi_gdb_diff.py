"""Differential tests against gdb 13: `break NAME` where NAME is not one simple function
(symbols/function_sites.py, session/ifunc_stops.py).

- multi_defs: static helper() in two units of the executable and in a library, twice() in the
  executable and the library: one breakpoint, one location each, the library's added when it
  loads (set before `run`); the stops name the location hit (1.3).
- The C library (libc6-dbg): memcpy (its IFUNC's resolver, an older version's function, ld.so's
  copy), strlen (resolver and ld.so's copy), strrchr (an IFUNC alone: "gnu-indirect-function
  resolver", type "STT_GNU_IFUNC resolver", counted without a stop while glibc's selector is
  inlined at the resolver's first byte, as gdb 13 does).
- ifunc_target: an IFUNC of our own library bound lazily: the resolver's hit counts, the
  breakpoint moves to the function it chose and stops there; once the GOT holds the choice, a
  new `break` goes there at once (and with -z now from the start).

gdb runs without address randomisation, hwdbg with it: a library's addresses are compared by
their offset in the page."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from gdb_diff import gdb_outputs, hwdbg_outputs, needs_gdb

pytestmark = [pytest.mark.requires_ptrace, needs_gdb]

TARGETS = Path(__file__).resolve().parents[1] / "targets"
MAIN_ROW = re.compile(r"^(\d+)\s+(breakpoint|STT_GNU_IFUNC resolver)\s+keep\s+(y|n)\s+.*?(<MULTIPLE>|0x[0-9a-f]+)(.*)$",
                      re.M)
LOCATION_ROW = re.compile(r"^(\d+\.\d+)\s+(y-?|n)\s+(0x[0-9a-f]+)\s+(?:in (\S+) at (.+):(\d+)|<(\S+)>)$", re.M)
HITS = re.compile(r"breakpoint already hit (\d+) times?")


def _address(text: str) -> int:
    addr = int(text, 16)
    return addr if addr < 1 << 40 else addr & 0xFFF  # a library's: its offset in the page


def table(text: str) -> tuple:
    """An info breakpoints table, field by field (hwdbg's has more columns than gdb's)."""
    mains = [(n, kind, e, w if w == "<MULTIPLE>" else _address(w), re.findall(r"<\S+>", rest))
             for n, kind, e, w, rest in MAIN_ROW.findall(text)]
    rows = [(n, e, _address(a), f, Path(p).name if p else "", line, label)
            for n, e, a, f, p, line, label in LOCATION_ROW.findall(text)]
    return mains, rows, HITS.findall(text)


def said(text: str) -> str:
    """A command's breakpoint and stop lines, addresses as _address makes them, source lines
    left out (gdb and hwdbg spell a missing source file differently)."""
    lines = [line for line in text.splitlines() if line.startswith(("Breakpoint ", "Temporary breakpoint "))]
    return re.sub(r"0x[0-9a-f]+", lambda m: hex(_address(m[0])), "\n".join(lines))


def compare(exe: Path, script: list[str]) -> list[str]:
    expected, got = gdb_outputs(exe, script), hwdbg_outputs(exe, script)
    differ = []
    for command, e, g in zip(script, expected, got):
        if command == "start":
            continue  # its temporary breakpoint's file is spelled by `start`'s own code
        same = table(e) == table(g) if command == "info breakpoints" else said(e) == said(g)
        if not same:
            differ.append(f"--- {command}\n[gdb]\n{e}\n[hwdbg]\n{g}")
    return differ


def multi_defs(build_target) -> Path:
    return build_target("multi_defs", cflags=(str(TARGETS / "multi_unit.c"), "-Wl,--no-as-needed"),
                        libs=("multi_lib",))


def test_names_defined_in_several_units_and_a_library_get_a_location_each(build_target):
    exe = multi_defs(build_target)
    script = ["break helper", "break twice", "info breakpoints", "run", "info breakpoints", "continue", "continue",
              "continue", "continue", "info breakpoints", "kill"]
    expected = gdb_outputs(exe, script)
    assert "(2 locations)" in expected[0] and "1.3" in expected[4] and "2.2" in expected[4]  # the scenario holds
    assert "Breakpoint 1.3," in expected[6]
    assert not compare(exe, script), "\n\n".join(compare(exe, script))


def test_a_breakpoint_set_after_start_has_every_location_at_once(build_target):
    exe = multi_defs(build_target)
    script = ["start", "break helper", "break twice", "break lib_call", "info breakpoints", "continue", "continue",
              "continue", "kill"]
    differ = compare(exe, script)
    assert not differ, "\n\n".join(differ)


def _libc_debug_installed(exe: Path) -> bool:
    out = subprocess.run(["ldd", str(exe)], stdout=subprocess.PIPE, text=True).stdout
    libc = next((w for line in out.splitlines() if "libc.so" in line for w in line.split() if w.startswith("/")), None)
    if libc is None:
        return False
    notes = subprocess.run(["readelf", "-n", libc], stdout=subprocess.PIPE, text=True).stdout
    found = re.search(r"Build ID: ([0-9a-f]+)", notes)
    return found is not None and Path(f"/usr/lib/debug/.build-id/{found[1][:2]}/{found[1][2:]}.debug").exists()


def test_c_library_names_with_copies_versions_and_ifuncs_as_gdb(build_target):
    exe = multi_defs(build_target)
    if not _libc_debug_installed(exe):
        pytest.skip("no debug information for the C library (install libc6-dbg)")
    script = ["start", "break memcpy", "break strlen", "break strrchr", "info breakpoints", "continue", "continue",
              "continue", "info breakpoints", "kill"]
    expected = gdb_outputs(exe, script)
    assert "gnu-indirect-function resolver" in expected[3], expected[3]
    differ = compare(exe, script)
    assert not differ, "\n\n".join(differ)


@pytest.mark.parametrize("binding", ("lazy", "now"))
def test_an_ifunc_breakpoint_moves_to_the_function_its_resolver_chose(build_target, binding):
    exe = build_target("ifunc_target", cflags=("-Wl,-z,now",) if binding == "now" else (), libs=("ifunc_lib",))
    script = ["start", "break add_one", "info breakpoints", "continue", "info breakpoints", "continue",
              "break add_one", "info breakpoints", "kill"]
    expected = gdb_outputs(exe, script)
    resolved_at_once = binding == "now"
    assert ("gnu-indirect-function resolver" in expected[1]) != resolved_at_once, expected[1]
    assert "add_fast" in expected[3] and "ifunc_lib.c" in expected[6]
    differ = compare(exe, script)
    assert not differ, "\n\n".join(differ)


def test_a_version_or_missing_name_is_one_clean_line_and_changes_nothing(build_target):
    exe = multi_defs(build_target)
    script = ["start", "break helper", "break memcpy@GLIBC_2.2.5", "break no_such_function", "info breakpoints", "kill"]
    got = hwdbg_outputs(exe, script)
    for text in got[2:4]:
        assert len(text.splitlines()) == 1 and "Traceback" not in text, text
    assert table(got[4]) == table(hwdbg_outputs(exe, ["start", "break helper", "info breakpoints", "kill"])[2])


VDSO_FUNCTIONS = {"clock_gettime", "clock_getres", "gettimeofday", "time", "getcpu"}  # gdb also breaks in the vDSO


def test_c_library_names_found_in_several_places_as_gdb(build_target):
    """A sample of the C library's exported functions that gdb finds in more than one place
    (IFUNCs, ld.so's copies, older versions, several definitions): announcements and rows as
    gdb's, but for the copies inlined into other functions (no line, `<f+N>`: not this part)."""
    from test_break_libc_gdb_diff import FUNCTION_TYPES, _debug_file, _function_names, _libraries

    exe = build_target("steps")
    libraries = _libraries(exe)
    libc = libraries.get("libc")
    libc_debug = _debug_file(libc) if libc is not None else None
    loader = next((p for name, p in libraries.items() if name.startswith("ld-linux")), None)
    loader_debug = _debug_file(loader) if loader is not None else None
    if libc_debug is None or loader_debug is None:
        pytest.skip("no debug information for the C library (install libc6-dbg)")
    exported = {n.partition("@")[0] for n in _function_names(libc, ".dynsym")}
    versions = [n.partition("@")[0] for n in _function_names(libc, ".dynsym")]
    defined = [n.partition("@")[0] for n in _function_names(libc_debug, ".symtab")]
    in_loader = {n.partition("@")[0] for n in _function_names(loader_debug, ".symtab")}
    ifuncs = {n.partition("@")[0] for n in _function_names(libc, ".dynsym", FUNCTION_TYPES[1:])}
    several = sorted(n for n in exported - VDSO_FUNCTIONS
                     if versions.count(n) > 1 or defined.count(n) > 1 or n in in_loader | ifuncs)
    names = several[::max(1, len(several) // 80)]
    commands = ["break main", "run"] + [f"break {name}" for name in names] + ["info breakpoints", "kill"]
    expected, got = gdb_outputs(exe, commands), hwdbg_outputs(exe, commands)
    rows_e, rows_g = table(expected[-2]), table(got[-2])
    inlined = {row[0].split(".")[0] for row in rows_e[1] if "+" in row[6]}  # `<f+N>`: a copy inlined elsewhere
    assert len(inlined) <= len(names) // 20, inlined
    number = {c: str(i) for i, c in enumerate(commands[2:-2], 2)}
    differ = [(c, e, g) for c, e, g in zip(commands[2:-2], expected[2:-2], got[2:-2])
              if said(e) != said(g) and number[c] not in inlined]
    assert not differ, differ[:5]
    for kind in (0, 1):  # the table's breakpoint rows, then its location rows
        assert [r for r in rows_g[kind] if r[0].split(".")[0] not in inlined] == \
            [r for r in rows_e[kind] if r[0].split(".")[0] not in inlined]
    assert sum(1 for e in expected[2:-2] if "locations)" in e) > len(names) // 4  # they are several
    assert sum(1 for e in expected[2:-2] if "gnu-indirect-function" in e) >= 3
