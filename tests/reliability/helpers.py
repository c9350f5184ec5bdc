"""Helpers of the reliability suite: sizes, figures, the register checker, subprocess runners."""
from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Optional

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


FIGURES = Figures()  # one per pytest run, summed over every test


# ----------------------------------------------------------------------------- targets

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
        if tid in manager.stale:
            # A queued, unread stop: the registers it was taken with stay until it is read.
            assert session.inferior.threads[tid].held, tid
            continue
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
               user: Optional[int] = None, copy=None) -> subprocess.CompletedProcess:
    """Runs ``code`` in a fresh interpreter (a debugger of its own: hwdbg reaps every child
    of the process it runs in), cwd = repository root. ``user``: run as that uid/gid, from
    ``copy`` (the ``readable_copy`` fixture: that user may not be able to read the checkout)."""
    argv = [PYTHON, "-c", textwrap.dedent(code), *map(str, args)]
    cwd, full_env = ROOT, dict(os.environ, PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
    if user is not None:
        assert copy is not None, "another user runs the readable copy"
        argv = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", copy.python, *argv[1:]]
        cwd, full_env = copy.root, copy.env()
    full_env.update(env or {})
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full_env)


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


# ----------------------------------------------------------------------------- ELF facts

def elf_objects(exe) -> dict[str, tuple[int, int]]:
    """name -> (address, size) of every data object in .symtab (non-PIE: runtime addresses)."""
    from elftools.elf.elffile import ELFFile
    out = {}
    with open(exe, "rb") as f:
        symtab = ELFFile(f).get_section_by_name(".symtab")
        for sym in symtab.iter_symbols():
            if sym["st_info"]["type"] == "STT_OBJECT" and sym["st_value"]:
                out[sym.name] = (sym["st_value"], sym["st_size"])
    return out


def elf_sections(exe, *names: str) -> dict[str, tuple[int, int]]:
    """name -> (address, size) of sections (non-PIE)."""
    from elftools.elf.elffile import ELFFile
    out = {}
    with open(exe, "rb") as f:
        elf = ELFFile(f)
        for name in names:
            sec = elf.get_section_by_name(name)
            if sec is not None:
                out[name] = (sec["sh_addr"], sec["sh_size"])
    return out
