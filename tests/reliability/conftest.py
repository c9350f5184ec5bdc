"""Fixtures and checkers of the reliability suite.

* ``rel_exe`` / ``rel_exe_o2``: tests/targets/rel_target.c built at -O0 / -O2.
* ``rel_start(mode, threads, rounds)``: a Target stopped in ready(), closed at teardown.
* ``check_registers(target, expected)``: every thread's real DR0-3/DR7 (debugregs.read_all)
  against the session's shadow and against the breakpoints meant to be armed.
* ``figures``: counts (hits checked, threads, faults injected, malformed inputs) summed over
  the run; with ``HWDBG_REL_FIGURES=PATH`` they are written to PATH as Markdown at the end.

Sizes: every test has a short default and a stress size, the latter read from an environment
variable (see ``env_int``) so a long run can be made longer still.
"""
from __future__ import annotations

import collections
import contextlib
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Optional

import pytest

import hwdbg
from hwdbg.hw import debugregs

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def env_int(name: str, default: int) -> int:
    """A size from the environment (HWDBG_REL_<NAME>), else ``default``."""
    value = os.environ.get(f"HWDBG_REL_{name}")
    return int(value) if value else default


# ----------------------------------------------------------------------------- figures

class Figures:
    def __init__(self) -> None:
        self.counts: collections.Counter = collections.Counter()
        self.notes: dict[str, str] = {}
        self.started = time.monotonic()

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] += int(n)

    def note(self, key: str, text: str) -> None:
        self.notes[key] = text

    def markdown(self) -> str:
        lines = ["# Reliability figures", "",
                 f"Run: `{' '.join(sys.argv[1:]) or 'pytest'}` on {os.uname().release} "
                 f"({os.cpu_count()} CPUs), {time.strftime('%Y-%m-%d %H:%M:%S')}, "
                 f"{time.monotonic() - self.started:.0f} s.", "",
                 "| figure | value |", "|---|---|"]
        for key in sorted(self.counts):
            lines.append(f"| {key} | {self.counts[key]:,} |")
        if self.notes:
            lines += ["", "| measurement | value |", "|---|---|"]
            for key in sorted(self.notes):
                lines.append(f"| {key} | {self.notes[key]} |")
        return "\n".join(lines) + "\n"


_FIGURES = Figures()


@pytest.fixture(scope="session")
def figures():
    yield _FIGURES


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("HWDBG_REL_FIGURES")
    if path and (_FIGURES.counts or _FIGURES.notes):
        Path(path).write_text(_FIGURES.markdown())
        Path(path).with_suffix(".json").write_text(json.dumps(
            {"counts": dict(_FIGURES.counts), "notes": _FIGURES.notes}, indent=1, sort_keys=True))


def pytest_terminal_summary(terminalreporter):
    if _FIGURES.counts:
        terminalreporter.write_sep("-", "hwdbg reliability figures")
        for key in sorted(_FIGURES.counts):
            terminalreporter.write_line(f"{key}: {_FIGURES.counts[key]:,}")
        for key in sorted(_FIGURES.notes):
            terminalreporter.write_line(f"{key}: {_FIGURES.notes[key]}")


# ----------------------------------------------------------------------------- targets

@pytest.fixture(scope="session")
def rel_exe(build_target):
    return build_target("rel_target")


@pytest.fixture(scope="session")
def rel_exe_o2(build_target):
    return build_target("rel_target", cflags=("-O2",))


@pytest.fixture
def rel_start(rel_exe):
    """rel_start(mode, threads=1, rounds=10, exe=None, **spawn_kwargs) -> Target stopped in ready()."""
    targets = []

    def _start(mode: str, threads: int = 1, rounds: int = 10, exe: Optional[Path] = None,
               **kwargs) -> hwdbg.Target:
        target = hwdbg.spawn([str(exe or rel_exe), mode, str(threads), str(rounds)], **kwargs)
        targets.append(target)
        target.run_to("ready", timeout=30)
        return target

    yield _start
    for target in targets:
        with contextlib.suppress(Exception):
            target.close()


def thread_ids(target: hwdbg.Target, n: int) -> list[int]:
    """The kernel tids the target's worker threads published in tids[0..n-1]."""
    base = target.address_of("tids")
    raw = target.read_memory(base, 8 * n)
    tids = [int.from_bytes(raw[8 * i:8 * i + 8], "little") for i in range(n)]
    assert all(tids) and set(tids) <= set(target.threads), (tids, target.threads)
    return tids


# ----------------------------------------------------------------------------- register checker

def real_registers(target: hwdbg.Target) -> dict[int, tuple[int, dict[int, int]]]:
    """Per thread: DR7 and the addresses of the slots DR7 enables (what decides what traps)."""
    arch = target.session.arch
    out = {}
    for tid in target.threads:
        regs = debugregs.read_all(tid)
        enabled = [i for i, s in enumerate(arch.decode_control(regs[7])) if s is not None]
        out[tid] = (regs[7], {i: regs[i] for i in enabled})
    return out


def armed_chunks(target: hwdbg.Target, tid: int) -> set[tuple[int, int, str]]:
    """What a thread's real registers trap on: {(address, length, type label)}."""
    arch = target.session.arch
    regs = debugregs.read_all(tid)
    out = set()
    for slot, decoded in enumerate(arch.decode_control(regs[7])):
        if decoded is not None:
            bp_type, length = decoded
            out.add((regs[slot], length, bp_type.name))
    return out


def check_registers(target: hwdbg.Target, expected: Optional[dict[int, set]] = None) -> int:
    """Every thread's real registers == the session's shadow; with ``expected`` (tid -> set of
    (addr, length, type) chunks, or a set for every thread), also == the intended breakpoints.
    Returns the number of threads checked."""
    session = target.session
    arch = session.arch
    manager = session.manager
    tids = target.threads
    assert set(manager.threads) == set(tids), (sorted(manager.threads), tids)
    for tid in tids:
        regs = debugregs.read_all(tid)
        shadow = manager.threads[tid]
        assert regs[7] == arch.encode_control(shadow.slots), (tid, hex(regs[7]), shadow)
        for slot, chunk in enumerate(shadow.slots):
            if chunk is not None:
                assert regs[slot] == chunk.addr, (tid, slot, hex(regs[slot]), chunk)
        if expected is not None:
            want = expected if isinstance(expected, set) else expected.get(tid, set())
            assert armed_chunks(target, tid) == want, (tid, armed_chunks(target, tid), want)
    return len(tids)


def intended_chunks(target: hwdbg.Target) -> dict[int, set]:
    """From the logical breakpoints (all assumed to fit): per thread, the chunks that must be armed."""
    out = {tid: set() for tid in target.threads}
    for bp in target.session.breakpoints.values():
        if not bp.enabled or bp.hw is None:
            continue
        for tid in out:
            if bp.thread is None or bp.thread == tid:
                out[tid] |= {(c.addr, c.length, c.type.name) for c in bp.hw.chunks}
    return out


# ----------------------------------------------------------------------------- subprocesses

def run_python(code: str, *args: str, timeout: float = 120, env: Optional[dict] = None,
               user: Optional[int] = None) -> subprocess.CompletedProcess:
    """Runs ``code`` in a fresh interpreter (a debugger of its own: hwdbg reaps every child
    of the process it runs in), cwd = repository root. ``user``: run as that uid/gid."""
    argv = [PYTHON, "-c", textwrap.dedent(code), *map(str, args)]
    if user is not None:
        argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *argv]
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
    full_env.update(env or {})
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout, env=full_env)


def last_json(out: str) -> dict:
    for line in reversed(out.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise AssertionError(f"no JSON line in output:\n{out}")


def cli_works() -> Optional[str]:
    """None if ``python -m hwdbg --help`` works, else why not."""
    try:
        proc = subprocess.run([PYTHON, "-m", "hwdbg", "--help"], cwd=ROOT, capture_output=True, text=True,
                              timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"python -m hwdbg --help failed: {exc}"
    if proc.returncode != 0 or "usage" not in proc.stdout.lower():
        return f"python -m hwdbg --help does not work yet (exit {proc.returncode}): {proc.stderr.strip()[-300:]}"
    return None
