"""Generates man/hwdbg.1 (mdoc) from the command registry, the option parser and the
expression grammar: ``python -m hwdbg.ui.manpage > man/hwdbg.1``.

A test regenerates the page and fails when the committed one differs.
"""
from __future__ import annotations

import argparse
import re
import sys
from typing import Iterable

from .. import expr
from ..version import __version__
from .commands import Category, Command, load_all

DATE = "November 26, 2026"  # change with the text, not with the calendar: the page must be reproducible

_CAPS = re.compile(r"^[A-Z][A-Z0-9_]*(\.\.\.)?$")


def escape(text: str) -> str:
    """Plain text for a roff line: backslashes, and a leading dot or quote."""
    text = text.replace("\\", "\\e")
    if text.startswith((".", "'")):
        text = "\\&" + text
    return text


def _arg(word: str) -> str:
    """An argument of a macro line: quoted when it holds spaces, escaped otherwise."""
    word = word.replace("\\", "\\e")
    if word in ("Ns", "Oo", "Oc", "Ar", "Fl", "Cm", "Ic", "Li", "Op", "No", "Pf", "Ql", "Sy", "Em", "Ev", "Pa"):
        return "\\&" + word
    return f'"{word}"' if " " in word else word


def usage_macros(usage: str) -> str:
    """``watch EXPR [-l N] [if CONDITION]`` -> ``Ic watch Ar EXPR Oo Fl l Ar N Oc Oo Cm if Ar CONDITION Oc``."""
    tokens = re.findall(r"\[|\]|[^\s\[\]]+", usage)
    out: list[str] = []
    first = True
    for token in tokens:
        if token == "[":
            out.append("Oo")
        elif token == "]":
            out.append("Oc")
        elif first:
            out += ["Ic", _arg(token)]
            first = False
            continue
        elif token.startswith("-") and len(token) > 1:
            out += ["Fl", _arg(token[1:]).replace("-", "\\-")]
        elif token == "...":
            out += ["No", "\\&..."]
        elif _CAPS.match(token):
            if token.endswith("..."):
                out += ["Ar", token[:-3], "No", "\\&..."]
            else:
                out += ["Ar", token]
        elif token.startswith("/"):
            out += ["Li", _arg(token)]
        else:
            out += ["Cm", _arg(token)]
        first = False
    return " ".join(out)


def _text_block(text: str) -> list[str]:
    """Help text: paragraphs become .Pp-separated lines."""
    lines: list[str] = []
    for n, paragraph in enumerate(p for p in text.split("\n\n") if p.strip()):
        if n:
            lines.append(".Pp")
        text = " ".join(line.strip() for line in paragraph.splitlines() if line.strip())
        for sentence in re.split(r"(?<=[.!?;])\s+", text):  # mdoc: one sentence per line
            lines.append(escape(sentence))
    return lines


def _command_entries(cmds: Iterable[Command]) -> list[str]:
    lines: list[str] = []
    for cmd in cmds:
        lines.append(f".It {usage_macros(cmd.usage)}")
        lines += _text_block(cmd.help)
        if cmd.aliases:
            prefix = f"{cmd.group} " if cmd.group else ""
            lines += [".Pp", "Aliases: " + ", ".join(prefix + a for a in cmd.aliases) + "."]
    return lines


def commands_section() -> list[str]:
    registry = load_all()
    lines = [".Sh COMMANDS",
             "Commands are typed at the",
             ".Ql (hwdbg)",
             "prompt, given with",
             ".Fl ex ,",
             "or read from a file given with",
             ".Fl x",
             "or from standard input when it is not a terminal.",
             "Their names may be abbreviated to any unique prefix.",
             "Numbers may be decimal, 0x hexadecimal, 0o octal or 0b binary.",
             "In the REPL an empty line repeats",
             ".Ic continue , stepi",
             "and",
             ".Ic x ."]
    for category in Category:
        cmds = [c for c in registry if c.category is category]
        cmds += [s for c in registry if c.subcommands is not None for s in c.subcommands if s.category is category]
        if not cmds:
            continue
        lines += [f".Ss {category.title}", ".Bl -tag -width Ds"]
        lines += _command_entries(sorted(cmds, key=lambda c: c.full_name))
        lines.append(".El")
    return lines


def options_section() -> list[str]:
    from .cli import build_parser
    parser = build_parser()
    lines = [".Sh OPTIONS", ".Bl -tag -width Ds"]
    for action in parser._actions:
        if not action.option_strings or action.help in (None, argparse.SUPPRESS):
            continue
        if isinstance(action, argparse._HelpAction):
            help_text = "Print a summary of the options and exit."
        else:
            help_text = action.help[0].upper() + action.help[1:] + "."
        parts = []
        for option in action.option_strings:
            flag = "Fl " + _arg(option[1:]).replace("-", "\\-")
            if action.nargs != 0 and action.metavar:
                flag += f" Ar {action.metavar}"
            parts.append(flag)
        lines.append(".It " + " , ".join(parts))
        lines.append(escape(help_text.replace(" (see below)", " (see CAVEATS)")))
    lines.append(".El")
    return lines


def grammar() -> list[str]:
    """The grammar block of hwdbg.expr's docstring (its literal block after '::')."""
    doc = expr.__doc__ or ""
    head, sep, tail = doc.partition("::\n")
    if not sep:
        return []
    block = []
    for line in tail.splitlines()[1:]:
        if line and not line.startswith(" "):
            break
        block.append(line)
    while block and not block[-1].strip():
        block.pop()
    indent = min(len(l) - len(l.lstrip()) for l in block if l.strip())
    return [escape(l[indent:]) if l.strip() else "" for l in block]


SYNOPSIS = r""".Sh SYNOPSIS
.Nm
.Op Fl ex Ar command
.Op Fl x Ar file
.Op Fl \-batch
.Op Fl \-json
.Op Fl q
.Op Fl \-pin
.Op Fl \-no\-exitkill
.Op Fl \-debug
.Op Fl \-
.Ar program
.Op Ar arg ...
.Nm
.Op Ar options
.Fl p Ar pid
.Nm
.Fl \-probe | \-version"""

DESCRIPTION = r""".Sh DESCRIPTION
.Nm
is a Linux debugger built around the debug registers of the CPU: the four
hardware slots of x86-64 that make the processor itself stop a program when an
address is written, read or executed.
It watches a variable, a structure field, an array element or a raw address
for writes
.Pq Ic watch ,
reads
.Pq Ic rwatch
or any access
.Pq Ic awatch ,
and breaks on code without modifying it
.Pq Ic hbreak ,
at full speed and in every thread, including threads created later.
.Pp
The commands follow
.Xr gdb 1 .
Each breakpoint has a number of its own, independent of the slot that holds
it; when more breakpoints are registered than the CPU has slots, the ones with
the highest priority are installed and the others wait
.Pq status REGISTERED
until a slot is free.
Writes that do not change the value are not reported by
.Ic watch ,
as in gdb.
.Pp
.Nm
loads
.Ar program
and its symbols (ELF symbol tables and DWARF debug information, of the
executable and of every shared library it maps), or attaches to the running
process
.Ar pid
and all its threads.
Without
.Fl \-batch
and with a terminal on standard input it then reads commands at the
.Ql (hwdbg)
prompt, with history, completion of commands, options and symbol names, and a
status line.
Ctrl-C while the program runs stops it and returns to the prompt; Ctrl-C at the
prompt clears the line; Ctrl-D leaves.
When standard input is not a terminal, commands are read from it one per line,
as with
.Fl \-batch .
On leaving, a program
.Nm
started is killed and a process it attached to is detached, in both cases
with its debug registers cleared first."""

EXPRESSIONS_HEAD = r""".Sh EXPRESSIONS
Watch expressions, conditions,
.Ic print ,
.Ic x
and
.Ic set var
share one small expression language with C syntax.
It is parsed by
.Nm
itself and never evaluated by Python.
It knows the program's globals and static variables (with their DWARF types),
.Ar lib Ns \&: Ns Ar name
for a symbol of one shared library,
registers as
.Li $rip , $rsp , $pc , $sp , $fp
(and
.Li $tid ) ,
and the value history
.Li $1 , $2 , $ .
In a breakpoint condition,
.Li new
and
.Li old
are the watched value after and before the access.
Grammar, lowest precedence first:
.Bd -literal -offset indent"""

EXPRESSIONS_TAIL = r""".Ed
.Pp
Integers are decimal, 0x hexadecimal, 0o octal or 0b binary; characters are
written
.Li 'a'
with C escapes.
Arithmetic follows C on a 64-bit target: results wrap to 64 bits, division
truncates toward zero, pointer arithmetic scales by the size of the pointee.
A symbol without debug information reads as an 8-byte signed
.Vt long ;
dereferencing an integer reads a 4-byte
.Vt int ,
as in gdb.
Watch locations are
.Ar variable ,
.Ar variable.field ,
.Ar array Ns \&[ Ns Ar i Ns \&] ,
.Ar pointer Ns -> Ns Ar field ,
.Li * Ns Ar address ,
.Ar symbol Ns + Ns Ar offset
and
.Ar lib Ns \&: Ns Ar symbol ;
the length comes from the type unless
.Fl l
gives it.
Code locations for
.Ic hbreak
are
.Ar function ,
.Ar function Ns + Ns Ar offset ,
.Ar file Ns \&: Ns Ar line ,
.Li * Ns Ar address
and
.Ar lib Ns \&: Ns Ar function .
Examples:
.Bd -literal -offset indent
watch counter if new > 100
watch config.flags -l 1
awatch table[3] --thread 4242
hbreak counter.c:12 if $tid == 4242
condition 2 new - old != 1
print/x config.flags & 0x4
set var counter = 0
.Ed"""

JSON_SECTION = r""".Sh JSON OUTPUT
With
.Fl \-json ,
.Nm
writes one JSON object per line on standard output for every event and every
command result, and nothing else; the program's own standard output is sent to
standard error.
Integers, addresses included, are JSON numbers.
Every object has an
.Li event
key:
.Bl -tag -width Ds
.It Li hit
A breakpoint was hit:
.Li id , kind
.Pq watch, rwatch, awatch, hbreak ,
.Li expr , address , length , tid , pc , old , new
.Pq null for hbreak ,
.Li function , file , line
.Pq null when unknown ,
and
.Li backtrace
(a list of frames) for breakpoints set with
.Fl \-backtrace .
Every hit is reported, including those of
.Fl \-trace
breakpoints that do not stop the program.
.It Li stopped
The program stopped:
.Li reason
.Pq breakpoint, step, signal, interrupted, int3, timeout ,
.Li tid , pc ,
.Li signal
(for signals),
.Li function , file , line .
Hits that caused the stop come first, as
.Li hit
objects.
.It Li exited
The program ended:
.Li code , pid .
.It Li killed
A signal killed the program:
.Li signal
(its name, e.g. SIGSEGV),
.Li pid , core .
.It Li error
A command failed:
.Li kind
(the error class: UsageError, SymbolError, TargetError, AlignmentError,
AddressError, LengthError, SlotError, PtraceError, ...; InternalError for a bug),
.Li message .
.It Li result
A command succeeded:
.Li command
(its full name, e.g. watch, info breakpoints, print) and its data:
.Li breakpoint
(an object as in
.Ic info breakpoints )
for watch, rwatch, awatch and hbreak;
.Li breakpoints
(a list) for info breakpoints;
.Li ids
for delete, enable, disable, commands;
.Li expr , value , text , history
for print
.Pq Li value No is null for aggregates ;
.Li address , format , values
(or
.Li strings ,
.Li instructions )
for x;
.Li threads
for info slots
.Pq per thread Li dr0 ... dr7 , slots , fired
and info threads;
.Li registers
for info registers;
.Li mappings
for info proc mappings;
.Li frames
for backtrace;
.Li pid
for run, start, attach, detach, kill.
.It Li thread-created , thread-exited , exec , signal , breakpoint-dropped , installed , uninstalled
Notices:
.Li message , tid ,
and for breakpoint notices
.Li id .
.El
.Pp
For example:
.Bd -literal -offset indent
{"event": "hit", "id": 2, "kind": "watch", "expr": "counter",
 "address": 4210760, "length": 8, "tid": 4242, "pc": 4198764,
 "old": 0, "new": 1, "function": "bump", "file": "counter.c",
 "line": 12}
.Ed
.Pp
If standard output is closed early (a pipe into
.Xr head 1 ) ,
.Nm
lets go of the program as on any exit and exits with status 141."""

TAIL = r""".Sh ENVIRONMENT
.Bl -tag -width Ds
.It Ev HWDBG_HISTORY
The REPL's history file, instead of
.Pa ~/.hwdbg_history .
A leading ~ is expanded.
If it cannot be written, history is kept in memory only.
.It Ev NO_COLOR
When set to a non-empty value, no colour is used.
Colour is used only when standard output is a terminal.
.It Ev HWDBG_REQUIRE
For the test suite and its pytest plugin: when set (to anything but 0, no or
false), tests that need ptrace or working debug registers fail instead of being
skipped where the machine cannot run them.
.El
.Sh FILES
.Bl -tag -width Ds
.It Pa ~/.hwdbg_history
Command history of the REPL, created with mode 0600.
.El
.Sh EXIT STATUS
.Bl -tag -width Ds
.It 0
Normal exit; for
.Fl \-probe :
tracing and hardware watchpoints work.
.It Ar N
With
.Fl \-batch
(or commands from a pipe): the program's own exit status when it ran to its
end, or 128 plus the signal number when a signal killed it.
.It 1
A command failed in batch mode (the remaining commands are not run), or
.Nm
failed to start.
.It 2
Bad usage of the command line.
.It 3
.Fl \-probe :
tracing is not permitted here (seccomp, Yama, missing capability).
.It 4
.Fl \-probe :
the debug registers do not work here (writes ignored, or no trap).
.It 141
Standard output was closed (SIGPIPE).
.El
.Sh EXAMPLES
Print every change of
.Va counter
until the program ends:
.Bd -literal -offset indent
$ hwdbg --batch -ex start -ex 'watch counter --trace' \e
        -ex continue ./prog
[2] counter: 0 -> 1  thread 4242  0x40116c in bump () at prog.c:12
[2] counter: 1 -> 2  thread 4242  0x40116c in bump () at prog.c:12
\&...
[Inferior 1 (process 4242) exited normally]
.Ed
.Pp
The same as JSON lines, for a script:
.Bd -literal -offset indent
$ hwdbg --batch --json -ex start -ex 'watch counter --trace' \e
        -ex continue ./prog | jq -c 'select(.event == "hit")'
.Ed
.Pp
Find who writes a field of a running server, then let it go:
.Bd -literal -offset indent
$ hwdbg -p 4242 -ex 'watch config.flags' -ex continue
(hwdbg) bt
(hwdbg) detach
.Ed
.Pp
Count the writes without stopping, from a command file:
.Bd -literal -offset indent
hbreak main
run
watch counter
commands
silent
print counter
continue
end
continue
.Ed
.Pp
Check a machine before relying on it:
.Bd -literal -offset indent
$ hwdbg --probe; echo $?
.Ed
.Sh DIAGNOSTICS
Every failing command prints one line,
.Ql *** message
(or a JSON
.Li error
object), and changes nothing; a usage error ends with the command's usage.
Messages say what was refused and why, for example:
.Bd -literal -offset indent
*** no symbol 'countr'; did you mean 'counter'?
*** 0xffffffff81000000 is not a user-space address: the kernel
    accepts debug-register addresses below 0x7ffffffff000 ...
*** 0x404049 length 40 needs 8 debug registers, the CPU has 4
    (at most 32 aligned bytes); watch a smaller range
*** process 4242 is running; interrupt it first (Ctrl-C)
*** ignore: the following arguments are required: COUNT;
    usage: ignore N COUNT
.Ed
.Pp
A watchpoint that finds no free debug register is not an error: it is
registered and waits, and
.Ic info breakpoints
shows it as REGISTERED.
Breakpoints that win or lose a debug register later are announced with a
line such as
.Ql [breakpoint 5 lost its debug register: it waits for a free one] .
.Pp
An internal error (a bug) prints one line ending in
.Dq rerun with --debug for a traceback ;
.Fl \-debug
shows the traceback.
.Sh SEE ALSO
.Xr gdb 1 ,
.Xr perf_event_open 2 ,
.Xr ptrace 2
.Sh CAVEATS
The debug registers see accesses made by the program's own instructions only.
Writes made by the kernel on its behalf
.Po
.Xr read 2
into a watched buffer, a futex word changed by the kernel,
.Xr process_vm_writev 2
.Pc
are invisible to a watchpoint.
.Pp
x86-64 cannot trap reads only.
.Ic rwatch
is emulated with an access watchpoint plus filtering: an access that changes
the value counts as a write and is not reported, and a write of the same value
looks like a read and is reported.
.Pp
A debugger killed with SIGKILL cannot clear the debug registers of its target.
The kernel would then kill the target with SIGTRAP at its next watched access.
To prevent that, a program started by
.Nm
is killed by the kernel when
.Nm
dies (PTRACE_O_EXITKILL), unless
.Fl \-no\-exitkill
is given.
A process attached with
.Fl p
cannot be protected this way; it is detached, registers cleared, on every other
kind of exit (including SIGTERM, SIGHUP and SIGINT).
.Pp
Tracing needs permission.
Attaching to a process that is not a descendant of
.Nm
is refused when
.Li kernel.yama.ptrace_scope
is 1 or more unless
.Nm
has CAP_SYS_PTRACE; in a container, attach needs
.Fl \-cap\-add=SYS_PTRACE
(and, on old kernels, a seccomp profile that allows ptrace).
Some virtual machines and emulators (gVisor, QEMU user mode) do not implement
the debug registers:
.Fl \-probe
tells.
.Pp
Execute breakpoints of
.Ic hbreak
and
.Ic start
use a debug register each; at most four breakpoints and watchpoints can be
installed at once per thread.
.Sh BUGS
A watchpoint on a stack variable is not removed when its function returns.
Breakpoint commands run only when a breakpoint stops the program, not for
.Fl \-trace
hits.
.Ic print
formats /x and friends apply to scalars only."""


def generate() -> str:
    lines = [
        f'.\\" Generated by python -m hwdbg.ui.manpage (hwdbg {__version__}); do not edit.',
        f".Dd {DATE}",
        ".Dt HWDBG 1",
        ".Os",
        ".Sh NAME",
        ".Nm hwdbg",
        ".Nd debugger built around the CPU's hardware breakpoints and watchpoints",
    ]
    lines += SYNOPSIS.splitlines()
    lines += DESCRIPTION.splitlines()
    lines += options_section()
    lines += commands_section()
    lines += EXPRESSIONS_HEAD.splitlines()
    lines += grammar()
    lines += EXPRESSIONS_TAIL.splitlines()
    lines += JSON_SECTION.splitlines()
    lines += TAIL.splitlines()
    return "\n".join(lines) + "\n"


def main() -> int:
    sys.stdout.write(generate())
    return 0


if __name__ == "__main__":
    sys.exit(main())
