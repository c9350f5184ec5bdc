"""gdb through hwdbg serve against gdb alone: the same stops, hits, values and backtraces."""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess

import pytest
from remote_helpers import env_without_debuginfod, stdio_command

pytestmark = [pytest.mark.requires_hw_watchpoints,
              pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")]

# Every stop, as gdb's Python API sees it: kind, breakpoint numbers, thread number, place.
HOOK = """\
python
def _hwdbg_stop(event):
    frame = gdb.selected_frame()
    numbers = ",".join(str(b.number) for b in getattr(event, "breakpoints", []))
    signal = getattr(event, "stop_signal", "")
    print(f"STOP {type(event).__name__} [{numbers}] {signal} t{gdb.selected_thread().num} "
          f"{frame.name()}:{frame.find_sal().line}")
gdb.events.stop.connect(_hwdbg_stop)
gdb.events.exited.connect(lambda event: print(f"EXITED {getattr(event, 'exit_code', None)}"))
end
"""

WATCHES = """\
watch counter
rwatch source
awatch pair.b
""" + "continue\n" * 14

CONTROL = """\
info sharedlibrary
hbreak add
continue
bt
finish
delete
break bump
continue
step
bt
finish
next
next
delete
watch by_thread
continue
continue
info threads
continue
continue
continue
"""

KEEP = re.compile(r"^(STOP |EXITED |#\d|(Old|New) value = |Value = |Run till exit|Value returned|\d+\t|"
                  r"Hardware .*watchpoint \d+: |\*? +\d+ +Thread |0x[0-9a-f]+ +0x[0-9a-f]+ +Yes )")


def _normalize(line: str) -> str:
    line = line.replace("target:/", "/")  # the stub serves vFile: gdb names files it read through it so
    if " Yes " in line:  # info sharedlibrary: the libraries and their order; addresses are randomized
        return re.sub(r"0x[0-9a-f]+", "ADDR", line)
    line = re.sub(r"0x[0-9a-f]+ in ", "", line)
    line = re.sub(r"=0x[0-9a-f]+", "=ADDR", line)  # argv: the stack is randomized under the stub
    # info threads: where a thread other than the stopped one is depends on when it was stopped
    line = re.sub(r"^( +\d+ +Thread ).*", r"\1(elsewhere)", line)
    line = re.sub(r"Thread 0x[0-9a-f]+ \(LWP \d+\)|Thread \d+\.\d+", "Thread", line)  # native vs remote names
    return re.sub(r'"[^"]*" ', "", line)


def gdb_stdout(exe, scenario: str, tmp_path, *, remote: bool, args: tuple = ()) -> str:
    """gdb's output for scenario after `break main` and a start, natively or through the stub."""
    if remote:
        start = f"target remote | {stdio_command(exe, *args)}\nbreak main\ncontinue\n"
    else:
        start = f"set args {shlex.join(args)}\nbreak main\nrun\n"
    script = tmp_path / ("remote.gdb" if remote else "native.gdb")
    script.write_text("set pagination off\nset confirm off\n" + start + HOOK + scenario)
    proc = subprocess.run(["gdb", "-nx", "-batch", "-x", str(script), str(exe)], capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL, env=env_without_debuginfod())
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "STOP" in proc.stdout, proc.stdout + proc.stderr
    return proc.stdout


def run_gdb(exe, scenario: str, tmp_path, *, remote: bool, args: tuple = ()) -> list[str]:
    out = gdb_stdout(exe, scenario, tmp_path, remote=remote, args=args)
    return [_normalize(line) for line in out.splitlines() if KEEP.match(line)]


@pytest.mark.parametrize("pie", [False, True], ids=["no-pie", "pie"])
@pytest.mark.parametrize("scenario", [WATCHES, CONTROL], ids=["watch-rwatch-awatch", "hbreak-break-step-finish"])
def test_same_stops_as_native_gdb(build_target, tmp_path, scenario, pie):
    exe = build_target("remote_target", pie=pie)
    native = run_gdb(exe, scenario, tmp_path, remote=False)
    remote = run_gdb(exe, scenario, tmp_path, remote=True)
    assert remote == native


def test_a_signal_is_reported_then_delivered_as_gdb_decides(build_target, tmp_path):
    """SIGSEGV: a stop (T0b), then `continue` delivers it (C0b) and the program dies of it (X0b)."""
    exe = build_target("remote_target")
    scenario = "watch counter\ncontinue\ncontinue\ncontinue\n"
    native = run_gdb(exe, scenario, tmp_path, remote=False, args=("segv",))
    remote = run_gdb(exe, scenario, tmp_path, remote=True, args=("segv",))
    assert any("SIGSEGV" in line for line in native) and remote == native


def test_signals_stop_as_gdb_says_and_handlers_run(build_target, tmp_path):
    """QPassSignals: SIGCHLD passes silently, SIGUSR1 stops, then its handler runs (exit 0)."""
    exe = build_target("remote_target")
    native = run_gdb(exe, "continue\ncontinue\n", tmp_path, remote=False, args=("signals",))
    remote = run_gdb(exe, "continue\ncontinue\n", tmp_path, remote=True, args=("signals",))
    assert [line.split()[:4] for line in native if line.startswith("STOP")] == [
        ["STOP", "SignalEvent", "[]", "SIGUSR1"]] and native[-1] == "EXITED 0"
    assert remote == native


def test_the_clients_handle_table_wins_over_hwdbgs_defaults(build_target, tmp_path):
    """handle SIGUSR1 nostop noprint in gdb: the stub, which would stop at SIGUSR1 by default,
    passes it without a stop (QPassSignals), the handler runs, exit 0 as in native gdb."""
    exe = build_target("remote_target")
    scenario = "handle SIGUSR1 nostop noprint\nbreak on_usr1\ncontinue\ncontinue\n"
    native = run_gdb(exe, scenario, tmp_path, remote=False, args=("signals",))
    remote = run_gdb(exe, scenario, tmp_path, remote=True, args=("signals",))
    assert [line.split()[:3] for line in native if line.startswith("STOP")] == [["STOP", "BreakpointEvent", "[2]"]]
    assert native[-1] == "EXITED 0"
    assert remote == native


def test_watch_hits_are_the_values_the_program_wrote(build_target, tmp_path):
    """Not only equal to gdb's: the counter's writes are the sums the program computes."""
    exe = build_target("remote_target")
    lines = run_gdb(exe, "watch counter\n" + "continue\n" * 4, tmp_path, remote=True)
    assert [line for line in lines if line.startswith("New value")] == [
        "New value = 1", "New value = 3", "New value = 6"]
