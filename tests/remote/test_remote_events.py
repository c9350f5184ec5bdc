"""Events gdb learns of through the stub as it does natively: a library dlopen()ed while the
program runs (gdb's own breakpoint in the dynamic linker, read back through
qXfer:libraries-svr4: gdbserver on Linux sends no `library:` stop reason either), and the
breakpoints of a program that exec()s itself."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from remote_helpers import env_without_debuginfod
from test_remote_gdb import run_gdb

pytestmark = [pytest.mark.requires_hw_watchpoints,
              pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")]


def _stops(lines: list[str]) -> list[str]:
    return [re.sub(r" t\d+ ", " ", line) for line in lines if line.startswith(("STOP", "EXITED"))]


def test_a_pending_breakpoint_in_a_dlopened_library_resolves_and_hits(build_target, tmp_path):
    lib = build_target("sym_lib", shared=True)
    exe = build_target("sw_target", cflags=("-ldl",))
    scenario = "set breakpoint pending on\nbreak lib_bump\n" + "continue\n" * 3
    native = run_gdb(exe, scenario, tmp_path, remote=False, args=("dlopen", str(lib)))
    remote = run_gdb(exe, scenario, tmp_path, remote=True, args=("dlopen", str(lib)))
    assert _stops(native).count("STOP BreakpointEvent [2]  lib_bump:14") == 2, native
    assert _stops(remote) == _stops(native)


def test_stop_on_solib_events_stops_where_native_gdb_does(build_target, tmp_path):
    lib = build_target("sym_lib", shared=True)
    exe = build_target("sw_target", cflags=("-ldl",))
    scenario = "set stop-on-solib-events 1\n" + "continue\ninfo sharedlibrary\n" * 4
    native = run_gdb(exe, scenario, tmp_path, remote=False, args=("dlopen", str(lib)))
    remote = run_gdb(exe, scenario, tmp_path, remote=True, args=("dlopen", str(lib)))
    libs = [line for line in native if "libsym_lib.so" in line]
    assert libs and [line for line in remote if "libsym_lib.so" in line] == libs
    assert _stops(remote) == _stops(native)


def test_breakpoints_hit_in_the_program_after_exec(build_target, tmp_path):
    exe = build_target("sw_target")
    scenario = "break add\n" + "continue\n" * 5
    native = run_gdb(exe, scenario, tmp_path, remote=False, args=("exec",))
    remote = run_gdb(exe, scenario, tmp_path, remote=True, args=("exec",))
    assert [line for line in _stops(native) if "add:" in line].__len__() >= 3, native
    assert _stops(remote) == _stops(native)


@pytest.mark.parametrize("remote", [False, True], ids=["native", "remote"])
def test_info_threads_lists_a_thread_created_after_attach(build_target, serve, remote):
    """No create: stop reason (gdb did not ask with QThreadEvents): gdb finds the thread through
    the thread list it reads at each stop, as with gdbserver."""
    exe = build_target("remote_late_thread")
    proc = subprocess.Popen([str(exe)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().startswith("ready")
        start = ["-ex", f"target remote {serve('-p', str(proc.pid)).address}"] if remote else ["-p", str(proc.pid)]
        commands = ["set var go = 1", "break worker", "continue", "info threads", "continue"]
        args = ["gdb", "-nx", "-batch", *start, *[word for c in commands for word in ("-ex", c)], str(exe)]
        out = subprocess.run(args, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
                             env=env_without_debuginfod()).stdout
        threads = re.findall(r"^(\*?) +(\d+) +Thread .* in (\w+) |^(\*?) +(\d+) +Thread .* (\w+) \(", out, re.M)
        rows = [(a or d, b or e, c or f) for a, b, c, d, e, f in threads]
        assert len(rows) == 2 and ("*", "2", "worker") in rows, out
    finally:
        proc.kill()
        proc.wait()
