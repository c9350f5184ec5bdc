"""Differential tests against gdb: frames, locals and arguments, and watches on locals.

The same script runs in gdb and in hwdbg on frames_target.c built at -O0 and -O2 with DWARF 4
and 5. Each command's output is cut out between `echo` markers and compared as text, addresses
aside (the two runs have different stacks): info locals, info args, bt, up, down, frame N,
info frame and print of locals, in nested blocks (shadowing), in recursion, with struct
arguments, register and location-list variables, entry values (p@entry) and optimized-out
ones. Watches on locals must give the same stops, values and scope-exit point as gdb's.
"""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from ui_helpers import run_hwdbg

pytestmark = [pytest.mark.requires_ptrace,
              pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")]

FLAVOURS = [("-O0", "-gdwarf-4"), ("-O0", "-gdwarf-5"), ("-O2", "-gdwarf-4"), ("-O2", "-gdwarf-5")]
INNER = "frames_target.c:20"  # the block where an inner `s` shadows the outer one
AFTER_RECURSION = "frames_target.c:31"
ACCUMULATED = "frames_target.c:48"

STOPS = [
    ["info args", "info locals", "print s", "print i", "print t", "print *p", "print scale", "bt", "up",
     "info locals", "print pr", "print result", "set var result = 7", "print result + 1", "x/2dg &pr",
     "print pr.a * 10", "down", "frame", "print p->b"],
    ["info args", "info locals", "print n", "print r", "bt", "up", "print n", "print r", "up 2", "down",
     "info args", "frame 0", "frame 3", "info locals", "down 7", "frame 2", "info frame"],
    ["info args", "info locals", "print pr", "print d", "print c", "print calls", "print pr.b", "bt", "up",
     "info locals"],
    ["info args", "info locals", "print total", "print n", "bt", "frame 1", "print result", "print pr"],
]


def setup(opt: str) -> list[str]:
    # At -O2 line 31 is reached only for n <= 1: stop at fact's entry instead.
    recursion = f"break {AFTER_RECURSION} if n == 2" if opt == "-O0" else "break fact if n == 2"
    return [f"tbreak {INNER}", recursion, "break by_value", f"break {ACCUMULATED}"]


def script(opt: str) -> list[str]:
    lines = setup(opt) + ["run"]
    for commands in STOPS:
        for command in commands:
            if opt != "-O0" and command.startswith("set var"):
                continue  # at -O2 main's result is a value the compiler computes, not an lvalue
            lines += [f"echo @@{command}\\n", command, "echo @@end\\n"]
        lines.append("continue")
    return lines


def as_ex(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        out += ["-ex", line]
    return out


def run_gdb(exe, lines: list[str]) -> str:
    proc = subprocess.run(["gdb", "-q", "-nx", "-batch", "-ex", "set pagination off", "-ex", "set confirm off",
                           *as_ex(lines), str(exe)], capture_output=True, text=True, timeout=180,
                          stdin=subprocess.DEVNULL)
    return proc.stdout


def sections(text: str) -> list[tuple[str, str]]:
    """(command, its output) for every marked command."""
    found, command, lines = [], None, []
    for line in text.splitlines():
        if line.startswith("@@end"):
            found.append((command, "\n".join(lines)))
            command, lines = None, []
        elif line.startswith("@@"):
            command, lines = line[2:], []
        elif command is not None:
            lines.append(line)
    return found


def normal(text: str) -> str:
    """Addresses differ between the runs (stack, environment); history numbers too."""
    return re.sub(r"0x[0-9a-f]+", "0xADDR", re.sub(r"\$\d+ = ", "$N = ", text))


STOP = re.compile(r"^(?:Temporary b|B)reakpoint \d+(?:\.\d+)?, .*$", re.M)


def stop_lines(text: str) -> list[str]:
    """The stop lines, whole but for addresses; gdb numbers a location of a breakpoint with two
    (-O2 duplicates a block) "1.1" where hwdbg, with one location, says "1"."""
    return [normal(re.sub(r"^(\D+ \d+)\.\d+,", r"\1,", line)) for line in STOP.findall(text)]


@pytest.mark.parametrize("opt,dwarf", FLAVOURS)
def test_frames_locals_and_args_as_gdb(build_target, opt, dwarf):
    exe = build_target("frames_target", cflags=(opt, dwarf))
    lines = script(opt)
    gdb_text = run_gdb(exe, lines)
    expected = sections(gdb_text)
    assert len(expected) == sum(line.startswith("echo @@end") for line in lines), "gdb did not run it all"
    run = run_hwdbg("--batch", *as_ex(lines), exe, timeout=180)
    assert run.returncode == 0, run
    got = sections(run.stdout)
    assert [c for c, _ in got] == [c for c, _ in expected]
    different = [(c, g, h) for (c, g), (_, h) in zip(expected, got) if normal(g) != normal(h)]
    assert not different, "\n\n".join(f"--- {c}\n[gdb]\n{g}\n[hwdbg]\n{h}" for c, g, h in different)
    # the stops themselves: `Breakpoint 3, by_value (pr=..., d=2.5, c=120 'x') at ...`, whole
    assert stop_lines(run.stdout) == stop_lines(gdb_text), run.stdout
    assert "<optimized out>" in run.stdout or opt == "-O0"  # -O2 does exercise it
    assert "@entry=" in run.stdout or opt == "-O0"


# ------------------------------------------------------------------ watches on locals

GDB_HIT = re.compile(r"^Hardware watchpoint \d+: (?P<expr>.+)\n\nOld value = .*\nNew value = (?P<new>.*)\n"
                     r"(?:0x[0-9a-f]+ in )?(?P<function>\w+) \(.*\) at .+:(?P<line>\d+)$", re.M)
GDB_SCOPE = re.compile(r"^Watchpoint \d+ deleted because the program has left the block in\n"
                       r"which its expression is valid\.\n(?:0x[0-9a-f]+ in )?(?P<function>\w+) \(.*\)"
                       r"(?: at .+:(?P<line>\d+))?", re.M)

WATCHES = {
    # recursion: the watch on fact(2)'s r ends when fact(2) returns into fact(3), not before
    "recursion": ["break fact if n == 2", "run", "watch r", "delete 1"],
    # a loop: every change of total, then its scope ends back in main
    "loop": ["break accumulate", "run", "watch total", "delete 1"],
    # main's local: its scope ends in the C library
    "main": ["break frames_target.c:57", "run", "watch result", "delete 1"],
    # a watch set in the frame `up` selected: main's result, from inside sum_pair
    "up": ["break sum_pair", "run", "up", "watch result", "delete 1"],
    # -location: the same stack slot watched on after fact(2) returned (never scoped)
    "location": ["break fact if n == 2", "run", "watch -location r", "delete 1"],
}


def gdb_watch_events(exe, commands: list[str]) -> list[tuple]:
    text = run_gdb(exe, commands + ["continue"] * 12)
    events = []
    for match in sorted([*GDB_HIT.finditer(text), *GDB_SCOPE.finditer(text)], key=lambda m: m.start()):
        if "new" in match.groupdict():
            events.append(("hit", match["function"], int(match["line"]), match["new"]))
        else:
            events.append(("scope", match["function"], int(match["line"]) if match["line"] else None))
    return events


def hwdbg_watch_events(exe, commands: list[str], count: int) -> list[tuple]:
    run = run_hwdbg("--batch", "--json", *as_ex(commands + ["continue"] * count), exe, timeout=180)
    assert run.returncode == 0, run
    events, last_hit = [], None
    for event in run.events:
        if event["event"] == "hit" and event["kind"] == "watch":
            last_hit = event
        elif event["event"] == "stopped" and event["reason"] == "watchpoint" and last_hit is not None:
            events.append(("hit", event["function"], event["line"], str(last_hit["new"])))
            last_hit = None
        elif event["event"] == "stopped" and event["reason"] == "watchpoint-scope":
            events.append(("scope", event["function"], event["line"]))
    return events


@pytest.mark.parametrize("dwarf", ["-gdwarf-4", "-gdwarf-5"])
@pytest.mark.parametrize("case", sorted(WATCHES))
def test_watches_on_locals_as_gdb(build_target, case, dwarf):
    exe = build_target("frames_target", cflags=("-O0", dwarf))
    expected = gdb_watch_events(exe, WATCHES[case])
    assert expected, "gdb reported no watch event"  # the script or the parse is wrong
    if case == "location":
        assert all(kind == "hit" for kind, *_ in expected)
    else:
        assert expected[-1][0] == "scope"
    got = hwdbg_watch_events(exe, WATCHES[case], len(expected))
    assert [mine(e) for e in got] == [mine(e) for e in expected]


OWN = {"main", "sum_pair", "fact", "by_value", "accumulate"}


def mine(event: tuple) -> tuple:
    """Values written by the C library are addresses, which differ between the runs."""
    return event if event[1] in OWN else event[:3]
