"""Differential test of Ctrl-C while a called function spins (tests/targets/call_watch.c's
spinner): gdb stops the program with a SIGINT, says "Program received signal SIGINT, Interrupt.",
the frame, and its call-signaled message (and with unwindonsignal on, restores the caller);
then bt, the return to the dummy frame and the program's end. A SIGINT goes to gdb and to
hwdbg's main thread (as a terminal's Ctrl-C) once the program has run 0.2 s of CPU in the
called function (its utime, from /proc): a fixed delay could fire before the call has started
on a loaded machine. Where in its loop the spinner stops varies, so its pc is masked."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from pathlib import Path

import pytest

from gdb_diff import GDB_NOISE, MARK, hwdbg_outputs, needs_gdb

pytestmark = [pytest.mark.requires_ptrace, needs_gdb]

OUTPUT = "20 40 20"  # g, x, reads when main ends (the calls leave them as they were)
SPIN_TICKS = 0.2 * os.sysconf("SC_CLK_TCK")
START = ["break checkpoint", "run", "up"]
SCRIPTS = {
    "stays in the called function": [
        "print spinner()", "bt", "print spin", "set var spin = 0", "continue", "bt", "print spinner()", "print g",
        "continue"],
    "unwindonsignal on": [
        "set unwindonsignal on", "call spinner()", "bt", "print spin", "set var spin = 0", "print spinner()",
        "continue"],
}


def _anywhere(text: str) -> str:
    return re.sub(r"(0x[0-9a-f]+ in )?spinner \(\) at", "spinner () at", text)


def _utime(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[11])
    except (FileNotFoundError, ProcessLookupError):
        return 0


def _children(pid: int) -> list[int]:
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(c) for c in f.read().split()]
        except (FileNotFoundError, ProcessLookupError):  # a thread that ended meanwhile
            continue
    return found


def _interrupt_once_spun(program: callable, send: callable, stop: threading.Event) -> None:
    """Sends the signal once the program (whose pid ``program()`` finds, or None) has used
    SPIN_TICKS of CPU: only the spinning call uses that much."""
    while not stop.wait(0.01):
        pid = program()
        if pid and _utime(pid) >= SPIN_TICKS:
            send()
            return


def _gdb(exe: Path, commands: list[str], shim: Path) -> list[str]:
    argv = ["gdb", "-nx", "-batch", "-ex", "set pagination off", "-ex", "set width 0", "-ex", "set confirm off",
            "-ex", "unset environment LD_PRELOAD"]
    for command in commands:
        argv += ["-ex", f"echo {MARK}\\n", "-ex", command]
    proc = subprocess.Popen([*argv, str(exe)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            stdin=subprocess.DEVNULL, env={**os.environ, "LD_PRELOAD": str(shim)})
    stop = threading.Event()
    watcher = threading.Thread(target=_interrupt_once_spun, args=(
        lambda: next(iter(_children(proc.pid)), None), lambda: proc.send_signal(signal.SIGINT), stop))
    watcher.start()
    try:
        out, _ = proc.communicate(timeout=180)
    finally:
        stop.set()
        watcher.join()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    chunks = out.split(MARK + "\n")[1:]
    assert len(chunks) == len(commands), out[-2000:]
    return ["\n".join(line for line in chunk.splitlines() if line and not GDB_NOISE.match(line)) for chunk in chunks]


def _hwdbg(exe: Path, commands: list[str]) -> list[str]:
    stop = threading.Event()
    main = threading.main_thread().ident
    watcher = threading.Thread(target=_interrupt_once_spun, args=(  # the program is this process's child
        lambda: next(iter(_children(os.getpid())), None), lambda: signal.pthread_kill(main, signal.SIGINT), stop))
    watcher.start()
    try:
        return hwdbg_outputs(exe, commands)
    finally:
        stop.set()
        watcher.join()


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_ctrl_c_in_a_called_function_as_in_gdb(build_target, capfd, name):
    exe = build_target("call_watch")
    shim = build_target("gdb_xstate_shim", shared=True)
    commands = START + SCRIPTS[name]
    expected = _gdb(exe, commands, shim)
    got = ["\n".join(line for line in text.splitlines() if not re.match(r"Starting program: ", line))
           for text in _hwdbg(exe, commands)]
    assert "Couldn't write" not in "".join(expected)
    assert "Program received signal SIGINT, Interrupt." in "".join(expected)
    for command, gdb, ours in zip(commands, expected, got):
        if gdb == OUTPUT:
            assert ours.endswith("exited normally]"), (command, ours)
            assert OUTPUT in capfd.readouterr().out.splitlines()
        else:  # where in its loop the signal lands varies: the pc (and whether it starts a line) is masked
            assert _anywhere(ours) == _anywhere(gdb), (command, gdb, ours)
