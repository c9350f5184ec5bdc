"""Differential test: scripts of break/next/step/finish/until/advance/stepi/nexti stop at the same
(function, line) in gdb and hwdbg, and finish returns the same values (gdb -nx -batch, parsed)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess

from pathlib import Path

import pytest

from ui_helpers import run_hwdbg

TARGETS = Path(__file__).resolve().parents[1] / "targets"

pytestmark = [pytest.mark.requires_ptrace,
              pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")]

# gdb's frame line ("Breakpoint 1, main (argc=1) at steps.c:108", "0x... in main (...) at steps.c:109")
FRAME = re.compile(r"^(?:(?:Temporary b|B)reakpoint \d+, )?(?:0x[0-9a-f]+ in )?([\w.]+) \(.*\) at (\S+):(\d+)$")
SOURCE = re.compile(r"^(?:0x[0-9a-f]+\t)?(\d+)\t")  # a source line, maybe after the pc (stepi mid-line)
VALUE = re.compile(r"^Value returned is \$\d+ = (.*)$")

SCRIPTS = {
    "next-step-finish": ["break main", "run", "next", "next", "next", "step", "finish", "step", "step", "finish", "next", "next",
                         "step", "step", "step", "next", "next", "next", "next", "next"],
    "recursion": ["break fact", "run", "next", "next", "step", "step", "next", "next", "next", "next", "next",
                  "next", "next"],
    "recursion-finish": ["break fact", "run", "continue", "continue", "finish", "finish", "next", "next"],
    "loop-until": ["break loop", "run", "next", "next", "next", "next", "until", "until", "next", "finish",
                   "advance {strlen}", "until {ret}"],
    "pointer": ["break apply", "run", "step", "next", "next", "step", "step", "next"],
    "values": ["break make_pair", "break make_mixed", "break make_big", "break half", "break third",
               "break grade", "break is_even", "break name_of", "break big_unsigned", "break negative",
               "break nothing", "break square", "break loop", "run"] + ["finish", "continue"] * 13,
    "advance": ["break main", "run", "advance sum_pair", "finish", "advance {fact}", "step", "advance fact",
                "until", "until", "next"],
    "instructions": ["break sum_pair", "run", "stepi", "stepi", "nexti", "stepi 3", "next", "nexti", "nexti",
                     "nexti", "nexti", "nexti"],
    "libc": ["break {printf}", "run", "step", "next", "next", "next", "next", "next", "next"],
}
# Lines named by their text, so that editing steps.c does not break the scripts.
LINES = {"printf": "printf(\"%d %g", "strlen": "size_t len = strlen(n);", "ret": "return len == 3",
         "fact": "long f = fact(5);"}


def script(name):
    source = (TARGETS / "steps.c").read_text().splitlines()
    numbers = {key: next(n for n, text in enumerate(source, 1) if marker in text) for key, marker in LINES.items()}
    return [line.format(**numbers) for line in SCRIPTS[name]]


def where(function, file, line):
    """A stop as compared: in the program itself by function and line; in libc by file and line
    (gdb names libc functions from DWARF, __printf, where hwdbg has the ELF symbol printf)."""
    name = os.path.basename(file)
    return (function if name == "steps.c" else None, name, int(line))


def gdb_run(exe, commands):
    argv = ["gdb", "-q", "-nx", "-batch", "-ex", "set pagination off", "-ex", "set confirm off"]
    for line in commands:
        argv += ["-ex", line]
    # One stream: gdb reports a missing source file ("28\t./stdio-common/printf.c: No such file...") on stderr.
    proc = subprocess.run(argv + [str(exe)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=180, stdin=subprocess.DEVNULL)
    stops, values, function, file = [], [], None, None
    for text in proc.stdout.splitlines():
        frame, source, value = FRAME.match(text), SOURCE.match(text), VALUE.match(text)
        if frame:
            function, file = frame[1], frame[2]
        elif source and file is not None:
            stops.append(where(function, file, source[1]))
        elif value:
            values.append(value[1])
    assert stops, f"gdb did not stop: {proc.stdout[-600:]}"  # the script or the parse is wrong
    return stops, values


def hwdbg_run(exe, commands):
    argv = ["--batch", "--json"]
    for line in commands:
        argv += ["-ex", line]
    run = run_hwdbg(*argv, exe, timeout=300)
    assert not run.of("error"), run
    stops = [where(s["function"], s["file"] or "?", s["line"] or 0) for s in run.of("stopped")]
    values = [r["value"] for r in run.of("result") if r["command"] == "finish"]
    return stops, values, run


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_same_stops_and_values_as_gdb(build_target, name):
    exe = build_target("steps")
    commands = script(name)
    expected_stops, expected_values = gdb_run(exe, commands)
    stops, values, run = hwdbg_run(exe, commands)
    assert stops == expected_stops, run
    assert values == expected_values, run
