"""hwdbg serve's command line: help with the security warning, bad usage in one line."""
from __future__ import annotations

import subprocess

import pytest
from remote_helpers import STUB


def serve(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*STUB, *args], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_help_says_the_protocol_has_no_authentication():
    done = serve("--help")
    assert done.returncode == 0
    assert "no authentication" in done.stdout and "--listen-any" in done.stdout and "--stdio" in done.stdout


@pytest.mark.parametrize("args, message", [
    ((), "give [HOST:]PORT to listen on, or --stdio"),
    ((":2345",), "give a PROGRAM to run or -p PID"),
    (("nohost:port", "prog"), "bad address 'nohost:port'"),
    ((":2345", "-p", "1", "prog"), "give a PROGRAM or -p PID, not both"),
    (("127.0.0.1:0", "/nonexistent/prog"), "cannot execute /nonexistent/prog: no such file"),
])
def test_bad_usage_is_one_line(args, message):
    done = serve(*args)
    assert done.returncode in (1, 2)
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
