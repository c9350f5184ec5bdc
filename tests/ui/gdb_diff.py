"""Helpers of the differential tests against gdb: the same commands, one output each."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Optional, Sequence

import pytest

from ui_helpers import make_context

MARK = "@@hwdbg-diff@@"
GDB_NOISE = re.compile(r"^(\[Thread debugging|Using host libthread_db|\[New Thread|\[Thread .* exited|"
                       r"\[Inferior \d+ \(process \d+\) exited|\[Switching to)")
needs_gdb = pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")


def gdb_outputs(exe: Path, commands: Sequence[str], args: Sequence[str] = (), preload: Optional[Path] = None) -> list[str]:
    """gdb's output (stdout and stderr, in order) of each command, noise lines dropped; ``preload``:
    a library preloaded into gdb (not into the program it runs)."""
    argv = ["gdb", "-nx", "-batch", "-ex", "set pagination off", "-ex", "set width 0", "-ex", "set confirm off"]
    environment = None
    if preload is not None:
        environment = {**os.environ, "LD_PRELOAD": str(preload)}
        argv += ["-ex", "unset environment LD_PRELOAD"]
    for command in commands:
        argv += ["-ex", f"echo {MARK}\\n", "-ex", command]
    proc = subprocess.run([*argv, "--args", str(exe), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=180, stdin=subprocess.DEVNULL, env=environment)
    chunks = proc.stdout.split(MARK + "\n")[1:]
    assert len(chunks) == len(commands), proc.stdout[-2000:]
    return ["\n".join(line for line in chunk.splitlines() if line and not GDB_NOISE.match(line))
            for chunk in chunks]


def hwdbg_outputs(exe: Path, commands: Sequence[str], args: Sequence[str] = ()) -> list[str]:
    """hwdbg's text output of each command, run in one Context; an error line loses its
    '*** ' and its usage hint, to read as gdb's."""
    ctx, stream = make_context(reraise=False)
    outputs = []
    try:
        ctx.session.load([str(exe), *args])
        for command in commands:
            ctx.dispatch(command)
            text = stream.getvalue()
            stream.truncate(0)
            stream.seek(0)
            lines = [re.sub(r"; usage: .*$", "", line[4:] if line.startswith("*** ") else line)
                     for line in text.splitlines() if line]
            outputs.append("\n".join(lines))
    finally:
        ctx.close()
    return outputs


def compare(exe: Path, commands: Sequence[str], args: Sequence[str] = (), only=None) -> list[tuple[str, str, str]]:
    """(command, gdb's output, hwdbg's) for each command that ``only(command)`` picks and whose
    outputs differ."""
    expected = gdb_outputs(exe, commands, args)
    got = hwdbg_outputs(exe, commands, args)
    return [(c, e, g) for c, e, g in zip(commands, expected, got) if (only is None or only(c)) and e != g]
