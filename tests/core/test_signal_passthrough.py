"""Runs that never stop (the Python API's run_until_exit and events, which the pytest plugin
uses): a signal the program sends itself reaches its handler exactly as without hwdbg, is
reported as gdb would print it (a notice; not for the signals gdb passes silently), and the
program's output and exit status are its own. Target.cont follows gdb's table: SIGUSR1 stops."""
from __future__ import annotations

import subprocess

import pytest

import hwdbg
from hwdbg import records as rec

pytestmark = pytest.mark.requires_ptrace

MODES = {"usr1": "SIGUSR1", "alrm": None, "chld": None, "term": "SIGTERM"}  # mode: the signal gdb reports


def alone(exe, mode):
    return subprocess.run([str(exe), mode], capture_output=True, text=True, timeout=60)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("mode", sorted(MODES))
def test_run_until_exit_delivers_and_reports(build_target, tmp_path, mode):
    exe = build_target("signals_target")
    out = tmp_path / "out.txt"
    with open(out, "w") as stream, hwdbg.spawn([str(exe), mode], stdout=stream.fileno()) as target:
        notices = []
        target.session.listeners.append(notices.append)
        ended = target.run_until_exit(timeout=60)
    expected = alone(exe, mode)
    assert isinstance(ended, rec.Exited) and ended.code == expected.returncode
    assert out.read_text() == expected.stdout
    reported = [n.data["signal"] for n in notices if isinstance(n, rec.Notice) and n.what == "signal"
                and n.data.get("print")]
    assert reported == ([MODES[mode]] if MODES[mode] else [])


@pytest.mark.timeout(120)
def test_events_yield_the_signal_and_the_exit(build_target, tmp_path):
    exe = build_target("signals_target")
    with open(tmp_path / "out.txt", "w") as stream, hwdbg.spawn([str(exe), "usr1"], stdout=stream.fileno()) as t:
        events = list(t.events(timeout=60))
    signals = [e.data["signal"] for e in events if isinstance(e, rec.Notice) and e.what == "signal"]
    assert signals == ["SIGUSR1"] and isinstance(events[-1], rec.Exited) and events[-1].code == 10


@pytest.mark.timeout(120)
def test_cont_stops_at_sigusr1_then_the_handler_runs(build_target, tmp_path):
    exe = build_target("signals_target")
    with open(tmp_path / "out.txt", "w") as stream, hwdbg.spawn([str(exe), "usr1"], stdout=stream.fileno()) as t:
        stop = t.cont(timeout=60)
        assert isinstance(stop, rec.Stopped) and (stop.reason, stop.signal) == ("signal", "SIGUSR1")
        ended = t.cont(timeout=60)
    assert isinstance(ended, rec.Exited) and ended.code == 10
    assert (tmp_path / "out.txt").read_text() == "got signal 10, 1 time(s)\n"
