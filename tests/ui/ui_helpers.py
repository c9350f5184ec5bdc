"""Helpers of the user-interface tests (imported by the tests and conftest.py)."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

from hwdbg.session import Session
from hwdbg.ui.context import Context
from hwdbg.ui.render import JsonOutput, TextOutput

ROOT = Path(__file__).resolve().parents[2]


class Run:
    def __init__(self, proc: subprocess.CompletedProcess) -> None:
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr

    @property
    def events(self) -> list[dict]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]

    def of(self, event: str) -> list[dict]:
        return [e for e in self.events if e["event"] == event]

    def __repr__(self) -> str:
        return f"<rc={self.returncode}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}>"


def run_hwdbg(*args: Any, input: Optional[str] = None, timeout: float = 60, env: Optional[dict] = None,
              expect_traceback: bool = False) -> Run:
    """``python -m hwdbg ARGS`` in a subprocess; fails on any Traceback in its output."""
    environment = dict(os.environ)
    environment.pop("NO_COLOR", None)
    environment.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "hwdbg", *map(str, args)], input=input,
                          stdin=None if input is not None else subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout, env=environment, cwd=str(ROOT))
    run = Run(proc)
    if not expect_traceback:
        assert "Traceback" not in proc.stdout + proc.stderr, run
    return run


def make_context(*, json_output: bool = False, **kwargs: Any) -> tuple[Context, io.StringIO]:
    stream = io.StringIO()
    output = JsonOutput(stream) if json_output else TextOutput(stream, color=False)
    kwargs.setdefault("reraise", True)
    return Context(Session(), output, **kwargs), stream


def symbol(exe: Path, name: str) -> int:
    """Link-time address of a symbol (non-PIE: also its runtime address)."""
    from hwdbg.symbols import SymbolTable
    return SymbolTable(exe).lookup(name).addr


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def as_args(seq: Sequence[str]) -> list[str]:
    out: list[str] = []
    for cmd in seq:
        out += ["-ex", cmd]
    return out
