"""Fixtures for hwdbg serve: the stub as a subprocess on a free loopback port."""
from __future__ import annotations

import re
import signal
import subprocess
import time

import pytest

from remote_helpers import STUB


class Stub:
    def __init__(self, proc: subprocess.Popen, port: int) -> None:
        self.proc, self.port = proc, port

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def wait(self, timeout: float = 120) -> int:
        return self.proc.wait(timeout=timeout)

    def stderr(self) -> str:
        return self.proc.stderr.read() if self.proc.stderr else ""


@pytest.fixture
def serve():
    """serve(*args) starts `hwdbg serve 127.0.0.1:0 ARGS` and returns a Stub once it listens."""
    started: list[subprocess.Popen] = []

    def start(*args: str, options: tuple = ()) -> Stub:
        proc = subprocess.Popen([*STUB, *options, "127.0.0.1:0", *map(str, args)], stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        started.append(proc)
        deadline = time.monotonic() + 120
        seen = ""
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            seen += line
            match = re.search(r"Listening on port (\d+)", line)
            if match:
                return Stub(proc, int(match[1]))
        raise AssertionError(f"hwdbg serve did not listen: {seen}")

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
