"""Differential test: scripts of break/next/step/finish/until/advance/stepi/nexti print the same
stop lines in gdb and hwdbg: every frame line whole (function, arguments, file, line, the pc when
it is inside a line), every source line, finish's `Run till exit from #0 ...` and the values it
returns (gdb -nx -batch; pointers into the stack differ between the two runs and are masked)."""
from __future__ import annotations

import re
import shutil
import subprocess

from pathlib import Path

import pytest

from ui_helpers import run_hwdbg

TARGETS = Path(__file__).resolve().parents[1] / "targets"

pytestmark = [pytest.mark.requires_ptrace,
              pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")]

# The lines a stop prints: a frame line ("Breakpoint 1, main (argc=1, argv=0x7ffe...) at steps.c:108",
# "0x... in main (...) at steps.c:109"), a source line (maybe after the pc: stepi mid-line),
# finish's "Run till exit from #0  ..." and "Value returned is $1 = ...".
STOP_LINE = re.compile(r"^(?:(?:(?:Temporary b|B)reakpoint \d+, )?(?:0x[0-9a-f]+ in )?[\w.]+ \(.*\)"
                       r"(?: at .+:\d+| from .+)?|(?:0x[0-9a-f]+\t)?\d+\t.*|Run till exit from #0  .*"
                       r"|Value returned is \$\d+ = .*)$")
POINTER = re.compile(r"(=|@entry=)0x[0-9a-f]+")
PATH = re.compile(r"(?:\.?/)?(?:[\w.-]+/)+([\w.-]+\.c)\b")

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


def stop_lines(text):
    """The stop lines of a transcript; argument values that are addresses masked (the two runs
    have different stacks: gdb turns off address randomization)."""
    return [PATH.sub(_libc_file, POINTER.sub(r"\g<1>0xADDR", line)) for line in text.splitlines()
            if STOP_LINE.match(line)]


def _libc_file(match):
    """A known difference outside the stop lines' arguments: gdb names libc's files as its line
    table's directory entry does (./stdio-common/printf.c), hwdbg without the './' or the
    directory; those are compared by file name. steps.c keeps its whole path."""
    return match[0] if match[1] == "steps.c" else match[1]


def gdb_run(exe, commands):
    argv = ["gdb", "-q", "-nx", "-batch", "-ex", "set pagination off", "-ex", "set confirm off"]
    for line in commands:
        # finish says "Run till exit from ..." only when typed (from_tty), as in hwdbg
        argv += ["-ex", 'python gdb.execute("finish", from_tty=True)' if line == "finish" else line]
    # One stream: gdb reports a missing source file ("28\t./stdio-common/printf.c: No such file...") on stderr.
    proc = subprocess.run(argv + [str(exe)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=180, stdin=subprocess.DEVNULL)
    lines = stop_lines(proc.stdout)
    assert any(line.startswith("Breakpoint") for line in lines), f"gdb did not stop: {proc.stdout[-600:]}"
    return lines


def hwdbg_run(exe, commands):
    argv = ["--batch"]
    for line in commands:
        argv += ["-ex", line]
    run = run_hwdbg(*argv, exe, timeout=300)
    assert run.returncode == 0 and "***" not in run.stdout, run
    return stop_lines(run.stdout), run


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_same_stop_lines_and_values_as_gdb(build_target, name):
    exe = build_target("steps")
    commands = script(name)
    expected = gdb_run(exe, commands)
    got, run = hwdbg_run(exe, commands)
    assert got == expected, run
