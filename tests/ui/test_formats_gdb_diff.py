"""print/F (s c t o a z f...), x/F (s f), output, printf, echo and call on formats.c, command by
command against gdb: one output each, byte for byte (output, printf and echo leave the line open)."""
from __future__ import annotations

import pytest

from gdb_diff import gdb_outputs, hwdbg_outputs, needs_gdb

pytestmark = [needs_gdb, pytest.mark.requires_ptrace]

COMMANDS = [
    'p/s msg',
    'p/s ptr',
    'p msg',
    'x/s msg',
    'x/s ptr',
    'x/2s msg',
    'output val',
    'output sv',
    'printf "%d %s %c %5.2f %lx %%\\n", val, msg, val, dd, neg',
    'printf "%s|\\n", ptr',
    'echo hi\\n',
    'echo a  b',
    'echo \\n',
    'call vf()',
    'call fn(3)',
    'p vf()',
    'p/c val',
    'p/c arr',
    'p/t val',
    'p/t neg',
    'p/o val',
    'p/o 0',
    'p/a &arr[1]',
    'p/a 0x401000',
    'p/z val',
    'p/z neg',
    'p/x -1',
    'p/d ub',
    'p/u neg',
    'p/c 65',
    'p/x dd',
    'p/f val',
    'p/t 0',
    'p/z arr',
    'p/x sv',
    'p/s val',
    'output/x val',
    'p/f 3',
    'p/f neg',
    'p/f dd',
    'p/f arr',
    'p/x arr[1]@3',
    "p/d 'A'",
    'p/c arr[0]@2',
    'p/x ptr',
    'p/s ptr',
    'p/x msg',
    'p/d msg',
    'p/c 300',
    'p/t -1',
    'p/o -1',
    "p/u 'A'",
    'p/a sp',
    'p/z ub',
    'p/x ub',
    'p/t ub',
    'p/x (char)-1',
    'p/u (char)-1',
    'p/c 10',
    'p/x 1.5',
    'p/d 1.5',
    'p/z 0',
    'p/a 0',
    'x/2s ptr',
    'x/s &msg[2]',
    'output/x arr',
    'echo \\n',
    'output sv.c',
    'echo \\n',
    'x/2f &dd',
    'x/2fw &arr',
    'x/2fb &arr',
    'x/f &val',
    'x/3fg &dd',
    'x/2xw &arr',
    'x/f &arr',
    'output/f val',
    'echo \\n',
    'p/f 1.0/3',
    'p/f (float)1/3',
    'p/x -1.5',
    'printf "%5s|%-5d|%05.1f|%#x|%#o|%c|%p|%lu|%e|%g|%+d|% d|%.3s|%10.4f|%-8x|\\n", msg, val, dd, val, val, 66, ptr, neg, dd, dd, val, val, msg, dd, val',
    'printf "%p %p %d\\n", 0, &val, sv.c',
    'printf "%c%c\\n", 104, msg[1]',
    'printf "%s %s\\n", ptr, "lit"',
    'printf "%x\\n", neg',
    'printf "%d\\n", neg',
    'printf "%u\\n", neg',
    'printf "%lx\\n", -1',
    'printf "%5c|\\n", 65',
    'printf "\\t\\"q\\"\\\\ \\a\\e\\n"',
    'printf "%#5o|%-#6o|%#o\\n", 8, 8, 0',
    'printf "%d\\n", dd',
    'printf "%s\\n", 0',
    'printf "%lld %llx %zu %% %5.1e\\n", neg, neg, 5, dd',
    'printf "no newline"',
    'echo |\\n',
    'echo x = ',
    'output val',
    'echo \\n',
]


def test_formats_print_as_in_gdb(build_target):
    exe = build_target("formats")
    shim = build_target("gdb_xstate_shim", shared=True)  # gdb's own calls (call vf()) on this kernel
    commands = ["break main", "run", *COMMANDS]
    expected = gdb_outputs(exe, commands, preload=shim)
    got = hwdbg_outputs(exe, commands)
    differ = [(c, e, g) for c, e, g in list(zip(commands, expected, got))[2:] if e != g]
    assert not differ, differ


@pytest.mark.parametrize("command, message", [
    ('printf "%d %d\\n", 1', "Wrong number of arguments for specified format-string"),
    ('printf "%d\\n", 1, 2', "Wrong number of arguments for specified format-string"),
    ('printf "abc', "Bad format string, non-terminated '\"'."),
    ("printf", "Argument required (format-control string and values to print)."),
    ('printf "%y\\n", 1', "Unrecognized format specifier 'y' in printf"),
    ('printf "%hhx\\n", 1', "Unrecognized format specifier 'h' in printf"),
    ('printf "%*d\\n", 3, 4', "`*' not supported for precision or width in printf"),
    ('printf "%s", sv', "Value can't be converted to integer."),
])
def test_printf_errors_are_gdbs(build_target, command, message):
    exe = build_target("formats")
    [expected] = gdb_outputs(exe, [command])
    [got] = hwdbg_outputs(exe, [command])
    assert expected == message and got == message
