#!/usr/bin/env python3
"""hwdbg benchmark suite: hardware-watchpoint hits/s of hwdbg against a C reference tracer and gdb.

    python bench/run.py [--quick] [--reps N]

Builds the C targets and the C reference tracer into bench/build/, runs every contender
on every workload (alternating, several repetitions, median reported), measures system
calls per hit, and writes bench/results/latest.{json,md,png}. See bench/README.md.
A benchmark, not a test: nothing is asserted about speed; a crash, a timeout or a wrong
hit count is recorded as an error of that run and shown in the results.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
BUILD = BENCH / "build"
TMP = BUILD / "tmp"
RESULTS = BENCH / "results"

CONTENDERS = ("c", "gdb", "api", "cli")
LABELS = {
    "c": "C reference",
    "gdb": "gdb",
    "api": "hwdbg API",
    "cli": "hwdbg CLI",
}
DESCRIPTIONS = {
    "c": "bench/ref_tracer.c: PTRACE_CONT, waitpid(__WALL), PEEKUSER DR6, POKEUSER DR6=0 per hit",
    "gdb": "gdb -batch, hardware watch + `commands silent / set $hits++ / continue`",
    "api": "hwdbg.spawn(pin=...), run_to('main'), watch(...), run_until_exit() (every hit recorded)",
    "cli": "hwdbg [--pin] --batch --json -ex start -ex 'watch SYM --trace' -ex continue (hit lines counted)",
}
STRACE_N = 2000
BUDGET_S = 285  # the default run must finish within 5 minutes
GDB_DIVISOR = 5  # gdb runs 1/5 of the hits (it is 5-30x slower); rates are rates
W4_THREADS = 1000


# ---------------------------------------------------------------------------- helpers

def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def sh(cmd: list[str], **kw: Any) -> str:
    return subprocess.run(cmd, capture_output=True, text=True, check=False, **kw).stdout.strip("\n")


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


@dataclass
class Proc:
    rc: Optional[int]
    wall: float
    stdout: str
    stderr: str
    timed_out: bool = False


def run_cmd(cmd: list[str], *, timeout: float, env: Optional[dict] = None, stdout_file: Optional[Path] = None,
            keep_stdout: bool = True) -> Proc:
    """Runs cmd in its own session (so a timeout can kill all of it), output to files; wall-clock timed."""
    TMP.mkdir(parents=True, exist_ok=True)
    out_path = stdout_file or TMP / "stdout.txt"
    err_path = TMP / "stderr.txt"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, cwd=BUILD,
                             start_new_session=True)
        exited = _wait_exit(p, timeout)
        wall = time.perf_counter() - t0  # taken at the exit itself, not at a polling tick
        timed_out = not exited
        if timed_out:
            _kill_group(p)
        rc: Optional[int] = None if timed_out else p.wait()
    text = out_path.read_text(errors="replace") if keep_stdout else ""
    return Proc(rc, wall, text, err_path.read_text(errors="replace")[-4000:], timed_out)


def _wait_exit(p: subprocess.Popen, timeout: float) -> bool:
    """Blocks until p exits (True) or timeout passes (False), waking exactly at the exit.

    Popen.wait(timeout) polls with sleeps of up to 50 ms, which would quantize wall times to 50 ms;
    a pidfd becomes readable the moment the process exits.
    """
    try:
        fd = os.pidfd_open(p.pid)
    except (AttributeError, OSError):
        try:
            p.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
        return bool(ready)
    finally:
        os.close(fd)


def _kill_group(p: subprocess.Popen) -> None:
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    p.wait()


def symbol_addresses(binary: Path, names: list[str]) -> list[int]:
    """Addresses from the symbol table (`nm`), never hard-coded."""
    table = {}
    for line in sh(["nm", str(binary)]).splitlines():
        parts = line.split()
        if len(parts) == 3:
            table[parts[2]] = int(parts[0], 16)
    missing = [n for n in names if n not in table]
    if missing:
        raise SystemExit(f"bench: symbols {missing} not found in {binary} (nm)")
    return [table[n] for n in names]


def tail(text: str, n: int = 400) -> str:
    text = " ".join(str(text).split())
    return text[-n:] if len(text) > n else text


def md_cell(text: str, n: int = 120) -> str:
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text[:n] + ("…" if len(text) > n else "")


# ---------------------------------------------------------------------------- build

TARGETS = ("w1_counter", "w2_threads", "w3_rw", "w4_idle_threads")


def build() -> dict:
    BUILD.mkdir(parents=True, exist_ok=True)
    TMP.mkdir(parents=True, exist_ok=True)
    gcc = shutil.which("gcc")
    if gcc is None:
        raise SystemExit("bench: gcc is needed to build the targets and the C reference tracer")
    cmds = [[gcc, "-O2", "-Wall", "-o", str(BUILD / "ref_tracer"), str(BENCH / "ref_tracer.c")]]
    for name in TARGETS:
        cmds.append([gcc, "-O1", "-g", "-no-pie", "-pthread", "-o", str(BUILD / name),
                     str(BENCH / "targets" / f"{name}.c")])
    for cmd in cmds:
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"bench: build failed: {' '.join(cmd)}\n{r.stderr}")
    return {"gcc": sh([gcc, "--version"]).splitlines()[0], "commands": [" ".join(c) for c in cmds]}


# ---------------------------------------------------------------------------- workloads

@dataclass
class Workload:
    key: str
    title: str
    binary: str
    symbols: list[str]
    access: str  # "w" or "rw"
    hits: int  # expected hits of a full-size run
    per_arg: int  # hits per unit of the program's argument

    @property
    def path(self) -> Path:
        return BUILD / self.binary

    def arg_for(self, hits: int) -> str:
        return str(hits // self.per_arg)

    def round(self, hits: int) -> int:
        return max(self.per_arg, hits // self.per_arg * self.per_arg) if hits else 0


def workloads(n: int) -> list[Workload]:
    small = max(4, n // 2 // 4 * 4)
    return [
        Workload("w1", "1 thread writes 1 watched global", "w1_counter", ["counter"], "w", n, 1),
        Workload("w2", "4 threads write 4 watched globals", "w2_threads",
                 ["counter0", "counter1", "counter2", "counter3"], "w", small, 4),
        Workload("w3", "read/write watch, hot loop (1 read + 1 write per iteration)", "w3_rw", ["counter"], "rw",
                 small, 2),
    ]


# ---------------------------------------------------------------------------- contenders

@dataclass
class Env:
    python: str
    env: dict
    gdb: Optional[str]
    gdb_python: bool
    cli_ok: bool
    cli_note: str
    strace: Optional[str]
    perf: Optional[str]
    notes: list[str] = field(default_factory=list)


def _pin_prefix(pinned: bool) -> list[str]:
    return ["taskset", "-c", "0"] if pinned else []


def _timeout(hits: int, rate_floor: float = 300.0) -> float:
    return 30.0 + hits / rate_floor


def c_command(wl: Workload, hits: int, pinned: bool) -> list[str]:
    addrs = symbol_addresses(wl.path, wl.symbols)
    cmd = _pin_prefix(pinned) + [str(BUILD / "ref_tracer")] + (["-r"] if wl.access == "rw" else [])
    for a in addrs:
        cmd += ["-a", hex(a)]
    return cmd + ["--", str(wl.path), wl.arg_for(hits)]


def run_c(env: Env, wl: Workload, hits: int, pinned: bool) -> dict:
    p = run_cmd(c_command(wl, hits, pinned), timeout=_timeout(hits))
    res: dict = {"wall": p.wall}
    m = re.search(r"hits=(\d+) other=(\d+) threads=(\d+) stops=(\d+) seconds=([\d.]+) rate=[\d.]+ exit=(-?\d+)",
                  p.stdout)
    if p.timed_out:
        return {**res, "error": "timeout"}
    if not m:
        return {**res, "error": f"C tracer failed (rc={p.rc}): {tail(p.stderr or p.stdout)}"}
    res.update(hits=int(m[1]), other_stops=int(m[2]), threads=int(m[3]), seconds=float(m[5]), exit=int(m[6]))
    if res["exit"] != 0:
        res["error"] = f"target exit status {res['exit']}"
    return res


def gdb_script(wl: Workload, timestamps: bool) -> Path:
    cmd = "awatch" if wl.access == "rw" else "watch"
    lines = ["set pagination off", "set confirm off", "set debuginfod enabled off", "set can-use-hw-watchpoints 1",
             "set $hits = 0", "break main", "run"]
    for sym in wl.symbols:
        lines += [f"{cmd} {sym}", "commands", "silent", "set $hits = $hits + 1", "continue", "end"]
    if timestamps:
        lines.append('python import time; print("BENCH_T0 %.6f" % time.monotonic())')
    lines.append("continue")
    if timestamps:
        lines.append('python import time; print("BENCH_T1 %.6f" % time.monotonic())')
    lines += ['printf "GDB_HITS %d\\n", $hits', "quit"]
    path = BUILD / f"gdb_{wl.key}.gdb"
    path.write_text("\n".join(lines) + "\n")
    return path


def gdb_command(env: Env, wl: Workload, hits: int, pinned: bool) -> list[str]:
    script = gdb_script(wl, env.gdb_python)
    return _pin_prefix(pinned) + [env.gdb, "-batch", "-nx", "-x", str(script), "--args", str(wl.path),
                                  wl.arg_for(hits)]


def run_gdb(env: Env, wl: Workload, hits: int, pinned: bool) -> dict:
    p = run_cmd(gdb_command(env, wl, hits, pinned), timeout=_timeout(hits, 100.0))
    res: dict = {"wall": p.wall}
    if p.timed_out:
        return {**res, "error": "timeout"}
    out = p.stdout + p.stderr
    hw = len(re.findall(r"^Hardware (?:access \(read/write\) )?watchpoint \d+: ", out, re.M))
    sw = len(re.findall(r"^Watchpoint \d+: ", out, re.M))
    m = re.search(r"GDB_HITS (\d+)", out)
    if not m:
        return {**res, "error": f"gdb gave no hit count (rc={p.rc}): {tail(out)}"}
    res["hits"] = int(m[1])
    res["hardware_watchpoints"] = hw
    t0, t1 = re.search(r"BENCH_T0 ([\d.]+)", out), re.search(r"BENCH_T1 ([\d.]+)", out)
    if t0 and t1:
        res["seconds"] = float(t1[1]) - float(t0[1])
        res["timing"] = "gdb python timestamps around `continue`"
    else:
        res["seconds"] = p.wall
        res["timing"] = "raw wall time (no gdb python)"
    if sw or hw < len(wl.symbols):
        res["error"] = f"gdb fell back to a software watchpoint ({sw} software, {hw} hardware)"
    elif "exited normally" not in out:
        res["error"] = f"the target did not exit normally under gdb: {tail(out, 200)}"
    return res


def api_command(env: Env, wl: Workload, hits: int, pinned: bool) -> list[str]:
    cmd = [env.python, str(BENCH / "hwdbg_api_runner.py"), "spawn", "--access", wl.access]
    for sym in wl.symbols:
        cmd += ["--watch", sym]
    return cmd + (["--pin"] if pinned else []) + ["--", str(wl.path), wl.arg_for(hits)]


def _runner_json(p: Proc) -> dict:
    for line in reversed(p.stdout.strip().splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                break
    return {"error": f"no result from the runner (rc={p.rc}): {tail(p.stderr or p.stdout)}"}


def run_api(env: Env, wl: Workload, hits: int, pinned: bool) -> dict:
    p = run_cmd(api_command(env, wl, hits, pinned), timeout=_timeout(hits), env=env.env)
    if p.timed_out:
        return {"wall": p.wall, "error": "timeout"}
    res = _runner_json(p)
    res["wall"] = p.wall
    if "error" in res:
        res["error"] = tail(res["error"], 600)
        return res
    if res.get("exit") != 0:
        res["error"] = f"target ended with {res.get('exit')}"
    elif res.get("recorded") != min(res.get("hits", 0), 100_000 * len(wl.symbols)):
        res["error"] = f"{res.get('recorded')} hits recorded for {res.get('hits')} counted"
    return res


def cli_command(env: Env, wl: Workload, hits: int, pinned: bool) -> list[str]:
    cmd = [env.python, "-m", "hwdbg"] + (["--pin"] if pinned else []) + ["--batch", "--json", "-ex", "start"]
    verb = "awatch" if wl.access == "rw" else "watch"
    for sym in wl.symbols:
        cmd += ["-ex", f"{verb} {sym} --trace"]
    return cmd + ["-ex", "continue", str(wl.path), wl.arg_for(hits)]


def _cli_count(path: Path) -> tuple[int, list[dict]]:
    """Counts the watchpoint hit lines (cheaply) and parses every other line."""
    hits, others = 0, []
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith('{"event": "hit"'):
                if '"kind": "hbreak"' not in line:
                    hits += 1
                continue
            try:
                others.append(json.loads(line))
            except ValueError:
                others.append({"event": "non-json", "text": line.strip()[:200]})
    return hits, others


def run_cli_once(env: Env, wl: Workload, hits: int, pinned: bool) -> dict:
    out = TMP / "cli_stdout.jsonl"
    p = run_cmd(cli_command(env, wl, hits, pinned), timeout=_timeout(hits), env=env.env, stdout_file=out,
                keep_stdout=False)
    res: dict = {"wall": p.wall, "rc": p.rc}
    if p.timed_out:
        return {**res, "error": "timeout"}
    count, others = _cli_count(out)
    res["hits"] = count
    errors = [o for o in others if o.get("event") == "error"]
    exits = [o for o in others if o.get("event") in ("exited", "killed")]
    if errors:
        res["error"] = "CLI error: " + "; ".join(str(e.get("message")) for e in errors)[:400]
    elif not exits or exits[-1].get("event") != "exited" or exits[-1].get("code") != 0:
        res["error"] = f"no clean exit of the target (rc={p.rc}): {exits[-1:] or tail(p.stderr)}"
    if "error" in res:  # keep the evidence
        keep = TMP / f"failed_cli_{wl.key}_{'pinned' if pinned else 'unpinned'}_{int(time.time() * 1000)}"
        shutil.copy(out, keep.with_suffix(".jsonl"))
        (keep.with_suffix(".stderr")).write_text(p.stderr)
        res["evidence"] = str(keep.with_suffix(".jsonl"))
        res["last_lines"] = [tail(json.dumps(o), 300) for o in others[-4:]]
    return res


def run_cli(env: Env, wl: Workload, hits: int, pinned: bool) -> dict:
    """Startup-corrected: the same command with 0 hits is timed right after, rate = hits / (wall - wall0)."""
    res = run_cli_once(env, wl, hits, pinned)
    base = run_cli_once(env, wl, 0, pinned)
    res["startup_wall"] = base["wall"]
    if "error" in base:
        res["startup_error"] = base["error"]
        res["seconds"] = res["wall"]
        res["timing"] = "raw wall time (the 0-hit run failed)"
    else:
        res["seconds"] = max(1e-6, res["wall"] - base["wall"])
        res["timing"] = "wall(N) - wall(0)"
    return res


RUNNERS = {"c": run_c, "gdb": run_gdb, "api": run_api, "cli": run_cli}


# ---------------------------------------------------------------------------- workload 4: attach to 1000 threads

class IdleTarget:
    """The 1000-thread process, started fresh for every attach measurement."""

    def __init__(self, threads: int) -> None:
        self.proc = subprocess.Popen([str(BUILD / "w4_idle_threads"), str(threads)], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, cwd=BUILD,
                                     start_new_session=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline().decode() if ready else ""
        if not line.startswith("ready"):
            self.stop()
            raise RuntimeError(f"the {threads}-thread target did not start: {line!r}")
        self.pid = self.proc.pid
        self.threads = len(os.listdir(f"/proc/{self.pid}/task"))

    def check_after(self) -> Optional[str]:
        """After a contender let go: still alive (no armed watchpoint left behind), not traced."""
        time.sleep(0.05)
        if self.proc.poll() is not None:
            return f"the target died after the contender let go (status {self.proc.returncode}): " \
                   "debug registers left armed?"
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return "the target vanished"
        tracer = re.search(r"TracerPid:\s+(\d+)", status)
        if tracer and tracer[1] != "0":
            return f"the target is still traced by {tracer[1]}"
        return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            _kill_group(self.proc)


def _timed_lines(cmd: list[str], env: Optional[dict], timeout: float) -> tuple[Optional[int], float, list]:
    """Runs cmd, stamping each stdout line with its arrival time (the CLI flushes every line)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                         env=env, cwd=BUILD, start_new_session=True)
    lines, buf = [], b""
    deadline = t0 + timeout
    fd = p.stdout.fileno()
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            _kill_group(p)
            return None, time.perf_counter() - t0, lines
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 1 << 16)
        now = time.perf_counter() - t0
        if not chunk:
            break
        buf += chunk
        *done, buf = buf.split(b"\n")
        lines += [(now, d.decode(errors="replace")) for d in done]
    rc = p.wait()
    return rc, time.perf_counter() - t0, lines


def run_attach(env: Env, contender: str, threads: int) -> dict:
    target = IdleTarget(threads)
    res: dict = {"threads_in_target": target.threads}
    try:
        addr = symbol_addresses(BUILD / "w4_idle_threads", ["counter"])[0]
        if contender == "c":
            p = run_cmd([str(BUILD / "ref_tracer"), "-a", hex(addr), "-A", str(target.pid)], timeout=60)
            res["wall"] = p.wall
            m = re.search(r"threads=(\d+) seize_s=([\d.]+) stopped_s=([\d.]+) armed_s=([\d.]+) "
                          r"first_hit_s=(-?[\d.]+) restop_s=([\d.]+) detach_s=([\d.]+)", p.stdout)
            if not m:
                res["error"] = "timeout" if p.timed_out else f"C tracer failed: {tail(p.stderr or p.stdout)}"
            else:
                res.update(threads=int(m[1]), armed_s=float(m[4]), first_hit_s=float(m[5]) if float(m[5]) >= 0
                           else None, detach_s=float(m[7]))
        elif contender == "gdb":
            py = 'python import time; print("BENCH_%s %%.6f" %% time.monotonic())'
            cmd = [env.gdb, "-batch", "-nx", "-ex", "set pagination off", "-ex", "set confirm off",
                   "-ex", "set debuginfod enabled off", "-ex", py % "T0", "-ex", f"attach {target.pid}",
                   "-ex", "watch counter", "-ex", py % "T1",
                   "-ex", 'python print("BENCH_THREADS", len(gdb.selected_inferior().threads()))',
                   "-ex", "continue", "-ex", py % "T2",
                   "-ex", "delete", "-ex", "detach", "-ex", py % "T3", str(BUILD / "w4_idle_threads")]
            p = run_cmd(cmd, timeout=120)
            res["wall"] = p.wall
            out = p.stdout + p.stderr
            ts = {k: float(v) for k, v in re.findall(r"BENCH_(T\d) ([\d.]+)", out)}
            threads = re.search(r"BENCH_THREADS (\d+)", out)
            res["threads"] = int(threads[1]) if threads else None
            if p.timed_out:
                res["error"] = "timeout"
            elif not re.search(r"^Hardware watchpoint \d+: counter", out, re.M):
                res["error"] = f"no hardware watchpoint: {tail(out)}"
            elif not {"T0", "T1", "T2", "T3"} <= ts.keys():
                res["error"] = f"gdb did not get through the script: {tail(out)}"
            else:
                res.update(armed_s=ts["T1"] - ts["T0"], first_hit_s=ts["T2"] - ts["T0"],
                           detach_s=ts["T3"] - ts["T2"],
                           armed_note="attach + `watch` (gdb writes the debug registers lazily, at the next "
                                      "resume: see first_hit_s)")
        elif contender == "api":
            p = run_cmd([env.python, str(BENCH / "hwdbg_api_runner.py"), "attach", "--watch", "counter",
                         str(target.pid)], timeout=120, env=env.env)
            res.update(_runner_json(p))
            res["wall"] = p.wall
            if p.timed_out:
                res["error"] = "timeout"
            elif "error" not in res and res.get("armed_threads") != res.get("threads"):
                res["error"] = f"armed in {res.get('armed_threads')} of {res.get('threads')} threads"
        elif contender == "cli":
            cmd = [env.python, "-m", "hwdbg", "--batch", "--json", "-ex", "echo BENCH_T0", "-ex",
                   f"attach {target.pid}", "-ex", "watch counter", "-ex", "echo BENCH_T1", "-ex", "continue",
                   "-ex", "echo BENCH_T2", "-ex", "detach"]
            rc, wall, lines = _timed_lines(cmd, env.env, 120)
            res["wall"] = wall
            stamps: dict = {}
            for t, line in lines:
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if obj.get("event") == "result" and obj.get("command") == "echo":
                    stamps[str(obj.get("text", "")).strip()] = t
                elif obj.get("event") == "result" and obj.get("command") == "attach":
                    res["threads"] = len(obj.get("threads", []))
                elif obj.get("event") == "error":
                    res.setdefault("error", f"CLI error: {obj.get('message')}")
                elif obj.get("event") == "result" and obj.get("command") == "detach":
                    stamps["detached"] = t
            if rc is None:
                res["error"] = "timeout"
            elif "error" not in res and {"BENCH_T0", "BENCH_T1", "BENCH_T2"} <= stamps.keys():
                res.update(armed_s=stamps["BENCH_T1"] - stamps["BENCH_T0"],
                           first_hit_s=stamps["BENCH_T2"] - stamps["BENCH_T0"],
                           detach_s=(stamps.get("detached", wall) - stamps["BENCH_T2"]),
                           armed_note="between the arrival of two `echo` lines around attach + watch")
            elif "error" not in res:
                res["error"] = f"CLI did not get through the script (rc={rc}): {[l for _, l in lines][-3:]}"
        after = target.check_after()
        if after and "error" not in res:
            res["error"] = after
    finally:
        target.stop()
    return res


# ---------------------------------------------------------------------------- syscalls per hit

def _parse_strace(path: Path) -> dict[str, int]:
    calls: dict[str, int] = {}
    for line in path.read_text(errors="replace").splitlines():
        parts = line.split()
        if len(parts) < 5 or not parts[0][0].isdigit() or parts[-1] == "total":
            continue
        try:
            calls[parts[-1]] = calls.get(parts[-1], 0) + int(parts[3])
        except ValueError:
            continue
    return calls


def _parse_perf_trace(path: Path) -> dict[str, int]:
    """Sums the per-thread summaries of `perf trace -s` (every thread of tracer and tracee)."""
    calls: dict[str, int] = {}
    for line in path.read_text(errors="replace").splitlines():
        m = re.match(r"^\s+([a-z_0-9]+)\s+(\d+)\s+(\d+)\s+[\d.]+", line)
        if m:
            calls[m[1]] = calls.get(m[1], 0) + int(m[2])
    return calls


def _check_hits(contender: str, p: Proc, hits: int) -> Optional[str]:
    """The straced run must itself have worked: the expected number of hits, seen in its output."""
    text = p.stdout + p.stderr
    if contender == "c":
        m = re.search(r"hits=(\d+)", text)
        got = int(m[1]) if m else None
    elif contender == "gdb":
        m = re.search(r"GDB_HITS (\d+)", text)
        got = int(m[1]) if m else None
    elif contender == "api":
        got = _runner_json(p).get("hits")
    else:
        got = sum(1 for line in p.stdout.splitlines() if line.startswith('{"event": "hit"')
                  and '"kind": "hbreak"' not in line)
    if got != hits:
        return f"the traced run failed: {got} hits instead of {hits} (rc={p.rc}): {tail(text, 200)}"
    return None


def syscalls_per_hit(env: Env, contender: str, wl: Workload) -> dict:
    """strace -c (and perf trace -s) of the same short run with N = 0 and N = STRACE_N; per hit = diff / N."""
    builders = {"c": lambda h: c_command(wl, h, False), "gdb": lambda h: gdb_command(env, wl, h, False),
                "api": lambda h: api_command(env, wl, h, False), "cli": lambda h: cli_command(env, wl, h, False)}
    out: dict = {"n": STRACE_N, "workload": wl.key}
    for tool in ("strace", "perf"):
        exe = env.strace if tool == "strace" else env.perf
        if exe is None:
            out[tool] = {"skipped": f"{tool} not available"}
            continue
        counts = []
        for hits in (0, STRACE_N):
            f = TMP / f"{tool}_{contender}_{hits}.txt"
            f.unlink(missing_ok=True)
            wrap = [exe, "-c", "-o", str(f)] if tool == "strace" else [exe, "trace", "-s", "-o", str(f)]
            p = run_cmd(wrap + builders[contender](hits), timeout=120, env=env.env if contender in ("api", "cli")
                        else None)
            bad = _check_hits(contender, p, hits)
            if p.timed_out or not f.exists() or bad:
                counts = None
                out[tool] = {"error": "timeout" if p.timed_out else bad or f"no {tool} output (rc={p.rc}): "
                                                                          f"{tail(p.stderr)}"}
                break
            counts.append(_parse_strace(f) if tool == "strace" else _parse_perf_trace(f))
        if counts is None:
            continue
        names = set(counts[0]) | set(counts[1])
        per = {n: (counts[1].get(n, 0) - counts[0].get(n, 0)) / STRACE_N for n in names}
        per = {n: round(v, 3) for n, v in sorted(per.items(), key=lambda kv: -kv[1]) if abs(v) >= 0.005}
        out[tool] = {"per_hit": round(sum(counts[1].values()) / STRACE_N - sum(counts[0].values()) / STRACE_N, 3),
                     "by_syscall": per, "calls_n0": sum(counts[0].values()), "calls_n": sum(counts[1].values())}
    return out


# ---------------------------------------------------------------------------- environment

def machine() -> dict:
    cpu = ""
    flags = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name") and not cpu:
            cpu = line.split(":", 1)[1].strip()
        if line.startswith("flags") and not flags:
            flags = line
    git = {}
    if shutil.which("git"):
        git = {"head": sh(["git", "-C", str(REPO), "rev-parse", "HEAD"]),
               "dirty": sh(["git", "-C", str(REPO), "--no-optional-locks", "status", "--porcelain",
                            "--untracked-files=no"]).splitlines()}
    return {"uname_r": platform.release(), "nproc": os.cpu_count(), "cpu_model": cpu,
            "hypervisor": " hypervisor" in flags, "python_harness": platform.python_version(), "git": git,
            "loadavg_end": loadavg(),
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds")}


def environment(args: argparse.Namespace) -> Env:
    venv_python = REPO / ".venv" / "bin" / "python"
    python = args.python or (str(venv_python) if venv_python.exists() else sys.executable)
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if args.hwdbg_pythonpath:
        env["PYTHONPATH"] = args.hwdbg_pythonpath
    notes = []
    gdb = shutil.which("gdb")
    gdb_python = False
    if gdb:
        out = sh([gdb, "-batch", "-nx", "-ex", "python print('PYOK')"])
        gdb_python = "PYOK" in out
        if not gdb_python:
            notes.append("gdb has no Python: gdb rates use raw wall time (startup included)")
    else:
        notes.append("skipped gdb: gdb is not installed")
    probe = subprocess.run([python, "-m", "hwdbg", "--help"], capture_output=True, text=True, env=env, cwd=BUILD)
    cli_ok = probe.returncode == 0 and "--batch" in probe.stdout and "--json" in probe.stdout
    cli_note = "" if cli_ok else "skipped: CLI not available"
    if not cli_ok:
        notes.append(f"hwdbg CLI {cli_note} ({tail(probe.stderr or probe.stdout, 200)})")
    strace = shutil.which("strace")
    perf = shutil.which("perf")
    if perf and subprocess.run([perf, "trace", "-s", "-o", "/dev/null", "true"], capture_output=True).returncode:
        perf = None
    return Env(python, env, gdb, gdb_python, cli_ok, cli_note, strace, perf, notes)


def versions(env: Env) -> dict:
    v = {"python_hwdbg": sh([env.python, "-c", "import platform; print(platform.python_version())"]),
         "hwdbg": sh([env.python, "-c", "import hwdbg; print(hwdbg.__version__, hwdbg.__file__)"], env=env.env,
                     cwd=BUILD)}
    if env.gdb:
        v["gdb"] = sh([env.gdb, "--version"]).splitlines()[0]
    if env.strace:
        v["strace"] = sh([env.strace, "-V"]).splitlines()[0]
    if env.perf:
        v["perf"] = sh([env.perf, "--version"])
    return v


# ---------------------------------------------------------------------------- summary

def med(values: list[float]) -> Optional[float]:
    return statistics.median(values) if values else None


def summarize(runs: list[dict], attach_runs: list[dict], wls: list[Workload], contenders: list[str]) -> dict:
    table: dict = {}
    for wl in wls:
        for c in contenders:
            for pinned in (False, True):
                rs = [r for r in runs if r["workload"] == wl.key and r["contender"] == c and r["pinned"] == pinned]
                ok = [r["rate"] for r in rs if r.get("rate") and "error" not in r]
                table.setdefault(wl.key, {}).setdefault(c, {})["pinned" if pinned else "unpinned"] = {
                    "median": med(ok), "runs": [round(r["rate"]) if r.get("rate") else None for r in rs],
                    "errors": [r["error"] for r in rs if "error" in r], "skipped": next(
                        (r["skipped"] for r in rs if "skipped" in r), None),
                    "n": rs[0]["n"] if rs else None}
    for wl in wls:
        for c in contenders:
            for pin in ("unpinned", "pinned"):
                cell = table[wl.key][c][pin]
                for ref in ("c", "gdb"):
                    base = table[wl.key].get(ref, {}).get(pin, {}).get("median")
                    cell[f"x_{ref}"] = cell["median"] / base if cell["median"] and base else None
    attach: dict = {}
    for c in contenders:
        rs = [r for r in attach_runs if r["contender"] == c]
        ok = [r for r in rs if "error" not in r and "skipped" not in r]
        attach[c] = {key: med([r[key] for r in ok if r.get(key) is not None])
                     for key in ("armed_s", "first_hit_s", "detach_s", "wall")}
        attach[c]["threads"] = med([r["threads"] for r in ok if r.get("threads")])
        attach[c]["errors"] = [r["error"] for r in rs if "error" in r]
        attach[c]["skipped"] = next((r["skipped"] for r in rs if "skipped" in r), None)
        attach[c]["runs"] = len(rs)
    return {"throughput": table, "attach": attach}


def fmt_rate(v: Optional[float]) -> str:
    return "–" if v is None else f"{v:,.0f}"


def fmt_x(v: Optional[float]) -> str:
    return "–" if v is None else f"{v:.2f}×"


def fmt_ms(v: Optional[float]) -> str:
    return "–" if v is None else f"{v * 1000:,.1f}"


def markdown(doc: dict) -> str:
    m, s, cfg = doc["machine"], doc["summary"], doc["config"]
    out = ["# hwdbg benchmark results", "",
           f"`{doc['command']}` — {doc['wall_s']:.0f} s wall, {cfg['reps']} repetition{'s' if cfg['reps'] != 1 else ''} (median shown, single runs "
           f"in parentheses), contenders alternated within each repetition.", "",
           f"Machine: Linux {m['uname_r']}, {m['nproc']} CPUs, {m['cpu_model']}"
           f"{' (VM guest)' if m.get('hypervisor') else ''}; Python {doc['versions'].get('python_hwdbg')}; "
           f"{doc['versions'].get('gdb', 'no gdb')}; hwdbg {(doc['versions'].get('hwdbg') or '?').split()[0]} "
           f"at {m.get('git', {}).get('head', '?')[:12]}"
           + (f" + uncommitted changes in {len(m['git']['dirty'])} files" if m.get("git", {}).get("dirty") else "")
           + f"; {m['date']}; load average {cfg.get('loadavg_start', '?')} at the start, {m.get('loadavg_end', '?')} "
             "at the end.", "",
           "## Throughput (hits/s, higher is better)", "",
           "Pinned = tracer and target on one CPU (`taskset -c 0` for C and gdb, `spawn(pin=True)` / `--pin` for "
           "hwdbg). ×C and ×gdb compare medians in the same pinning.", "",
           "| Workload | Contender | Hits/run | Unpinned hits/s | Pinned hits/s | ×C unp. | ×C pinned | "
           "×gdb unp. | ×gdb pinned | Errors |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for wl in cfg["workloads"]:
        for c in cfg["contenders"]:
            row = s["throughput"][wl["key"]][c]
            u, p = row["unpinned"], row["pinned"]
            if u.get("skipped"):
                out.append(f"| {wl['key']} | {LABELS[c]} | – | {u['skipped']} | | | | | | |")
                continue

            def cell(x: dict) -> str:
                runs = " ".join(fmt_rate(r) for r in x["runs"])
                return f"**{fmt_rate(x['median'])}** ({runs})"
            errs = u["errors"] + p["errors"]
            err = f"{len(errs)}: {md_cell(errs[0])}" if errs else ""
            out.append(f"| {wl['key']} | {LABELS[c]} | {u['n']:,} | {cell(u)} | {cell(p)} | {fmt_x(u['x_c'])} | "
                       f"{fmt_x(p['x_c'])} | {fmt_x(u['x_gdb'])} | {fmt_x(p['x_gdb'])} | {err} |")
    out += ["", "Workloads: " + "; ".join(f"**{w['key']}** {w['title']} ({w['hits']:,} hits, gdb "
                                          f"{w['gdb_hits']:,})" for w in cfg["workloads"]) + "."]
    out += ["", f"## Attach to a process with {cfg['w4_threads']:,} threads (w4, ms, lower is better)", "",
            "armed = from the start of the attach until the watchpoint is in every thread's debug registers; "
            "first hit = until the watchpoint fired after resuming every thread (the target writes the global every "
            "ms); detach = clearing and letting go. Unpinned only (the target's threads already run everywhere).", "",
            "| Contender | Threads | Attach → armed | Attach → first hit | Detach | Process wall (s) | Errors |",
            "|---|---:|---:|---:|---:|---:|---|"]
    for c in cfg["contenders"]:
        a = s["attach"][c]
        if a.get("skipped"):
            out.append(f"| {LABELS[c]} | {a['skipped']} | | | | | |")
            continue
        wall = "–" if a["wall"] is None else f"{a['wall']:.2f}"
        err = f"{len(a['errors'])}: {md_cell(a['errors'][0])}" if a["errors"] else ""
        armed = fmt_ms(a["armed_s"]) + (" ¹" if c == "gdb" else "")
        out.append(f"| {LABELS[c]} | {a['threads'] or '–'} | {armed} | {fmt_ms(a['first_hit_s'])} | "
                   f"{fmt_ms(a['detach_s'])} | {wall} | {err} |")
    out += [] if "gdb" not in cfg["contenders"] else ["", "¹ gdb's `watch` only marks the debug registers for update; it writes them when it resumes the "
                "threads, so its \"armed\" is a lower bound and \"first hit\" is the comparable figure."]
    out += ["", f"## System calls per hit (w1, unpinned, N = 0 vs N = {STRACE_N:,}: difference / {STRACE_N:,})", "",
            "strace = `strace -c` on the tracer's main thread (`-f` is impossible: it would trace the target "
            "itself, and a process has only one tracer); perf = `perf trace -s`, every thread of tracer and "
            "target.", "",
            "| Contender | strace: per hit | strace: by syscall (per hit) | perf trace: per hit |",
            "|---|---:|---|---:|"]
    for c in cfg["contenders"]:
        sc = doc["syscalls"].get(c, {})
        st, pf = sc.get("strace", {}), sc.get("perf", {})
        if "skipped" in sc:
            out.append(f"| {LABELS[c]} | {sc['skipped']} | | |")
            continue

        def total(x: dict) -> str:
            return f"{x['per_hit']:.2f}" if "per_hit" in x else md_cell(x.get("skipped") or x.get("error", "–"), 80)
        by = ", ".join(f"{k} {v:g}" for k, v in list(st.get("by_syscall", {}).items())[:8])
        out.append(f"| {LABELS[c]} | {total(st)} | {by} | {total(pf)} |")
    if doc["notes"]:
        out += ["", "## Notes", ""] + [f"- {n}" for n in doc["notes"]]
    out += ["", "Raw runs: `bench/results/latest.json`. Chart: `bench/results/latest.png`. How to read: "
                "`bench/README.md`.", ""]
    return "\n".join(out)


def chart(doc: dict, path: Path) -> Optional[str]:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "chart skipped: matplotlib is not installed (pip install matplotlib, or the `bench` extra)"
    cfg, s = doc["config"], doc["summary"]
    wls = cfg["workloads"]
    contenders = [c for c in cfg["contenders"]]
    cols = 2
    rows = (len(wls) + 2) // cols
    fig, grid = plt.subplots(rows, cols, figsize=(12, 4.6 * rows), squeeze=False)
    axes = list(grid.flat)
    for extra in axes[len(wls) + 1:]:
        extra.set_visible(False)
    axes = axes[:len(wls)] + [axes[len(wls)]]
    width = 0.38
    for ax, wl in zip(axes, wls):
        xs = range(len(contenders))
        for k, pin in enumerate(("unpinned", "pinned")):
            vals = [s["throughput"][wl["key"]][c][pin]["median"] or 0 for c in contenders]
            bars = ax.bar([x + (k - 0.5) * width for x in xs], vals, width, label=pin,
                          color=("#8fb3d9", "#1f5f99")[k])
            for b, v in zip(bars, vals):
                ax.text(b.get_x() + b.get_width() / 2, b.get_height(), f"{v / 1000:.1f}k" if v else "n/a",
                        ha="center", va="bottom", fontsize=7)
        ax.set_xticks(list(xs), [LABELS[c] for c in contenders], rotation=20, fontsize=8)
        ax.set_title(f"{wl['key']}: {wl['title']}", fontsize=9)
        ax.set_ylabel("hits/s (median)")
        ax.legend(fontsize=8)
    ax = axes[-1]
    vals = [(s["attach"][c]["armed_s"] or 0) * 1000 for c in contenders]
    hit = [(s["attach"][c]["first_hit_s"] or 0) * 1000 for c in contenders]
    xs = range(len(contenders))
    ax.bar([x - width / 2 for x in xs], vals, width, label="attach → armed", color="#d9a38f")
    ax.bar([x + width / 2 for x in xs], hit, width, label="attach → first hit", color="#994a1f")
    ax.set_xticks(list(xs), [LABELS[c] for c in contenders], rotation=20, fontsize=8)
    ax.set_title(f"w4: attach to {cfg['w4_threads']} threads", fontsize=9)
    ax.set_ylabel("ms (median, lower is better)")
    ax.legend(fontsize=8)
    m = doc["machine"]
    fig.suptitle(f"hwdbg bench — {m['cpu_model']}, {m['nproc']} CPUs, Linux {m['uname_r']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


# ---------------------------------------------------------------------------- main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run: N = 20000, 1 repetition (unless --reps)")
    ap.add_argument("--reps", type=int, help="repetitions per contender (default 3; 1 with --quick)")
    ap.add_argument("--n", type=int, help="hits of workload 1 (default 100000, 20000 with --quick); "
                                          "workloads 2 and 3 use N/2, gdb 1/5 of each")
    ap.add_argument("--only", help="comma-separated subset of contenders (c,gdb,api,cli) and/or workloads "
                                   "(w1,w2,w3,w4,syscalls), for development")
    ap.add_argument("--python", help="the Python that runs hwdbg (default: the repository's .venv)")
    ap.add_argument("--hwdbg-pythonpath", help="PYTHONPATH for the hwdbg contenders (to bench another checkout)")
    ap.add_argument("--out", default=str(RESULTS), help="results directory (default bench/results)")
    args = ap.parse_args()
    reps = args.reps or (1 if args.quick else 3)
    n = args.n or (20_000 if args.quick else 100_000)
    only = set(args.only.split(",")) if args.only else set()
    contenders = [c for c in CONTENDERS if not (only & set(CONTENDERS)) or c in only]
    parts = {"w1", "w2", "w3", "w4", "syscalls"}
    parts = parts & only if only & parts else parts

    started = time.perf_counter()
    build_info = build()
    env = environment(args)
    wls = [w for w in workloads(n) if w.key in parts]
    log(f"bench: N={n}, reps={reps}, contenders={contenders}, python={env.python}")
    notes = list(env.notes)

    def skipped(c: str) -> Optional[str]:
        if c == "gdb" and not env.gdb:
            return "skipped: gdb not installed"
        if c == "cli" and not env.cli_ok:
            return env.cli_note
        return None

    runs: list[dict] = []
    attach_runs: list[dict] = []
    load_start = loadavg()
    guard = args.reps is None and args.n is None and not args.quick and not only
    reps_done = 0
    for rep in range(reps):
        rep_started = time.perf_counter()
        if guard and rep > 0:
            per_rep = (rep_started - started) / rep
            if rep_started - started + per_rep + 25 > BUDGET_S:
                notes.append(f"stopped after {rep} of {reps} repetitions to stay within the {BUDGET_S} s budget "
                             f"(a repetition took {per_rep:.0f} s: the machine is slower or busier than usual)")
                break
        reps_done = rep + 1
        for wl in wls:
            for pinned in (False, True):
                for c in contenders:
                    hits = wl.round(wl.hits // GDB_DIVISOR) if c == "gdb" else wl.hits
                    base = {"workload": wl.key, "contender": c, "pinned": pinned, "rep": rep, "n": hits}
                    if skipped(c):
                        runs.append({**base, "skipped": skipped(c)})
                        continue
                    try:
                        res = RUNNERS[c](env, wl, hits, pinned)
                    except Exception as exc:  # a harness-side failure of one run
                        res = {"error": f"{type(exc).__name__}: {exc}"}
                    if "hits" in res and res["hits"] != hits and "error" not in res:
                        res["error"] = f"hit-count mismatch: {res['hits']} hits, expected {hits}"
                    if res.get("seconds") and res.get("hits"):
                        res["rate"] = res["hits"] / res["seconds"]
                    res["load1"] = loadavg().split()[0]
                    runs.append({**base, **res})
                    log(f"  rep {rep + 1}/{reps} {wl.key} {'pinned  ' if pinned else 'unpinned'} {c:4} "
                        f"{fmt_rate(res.get('rate')):>8} hits/s  {res.get('wall', 0):6.2f} s"
                        + (f"  ERROR {res['error'][:150]}" if "error" in res else ""))
        if "w4" in parts:
            for c in contenders:
                base = {"workload": "w4", "contender": c, "rep": rep}
                if skipped(c):
                    attach_runs.append({**base, "skipped": skipped(c)})
                    continue
                try:
                    res = run_attach(env, c, W4_THREADS)
                except Exception as exc:
                    res = {"error": f"{type(exc).__name__}: {exc}"}
                attach_runs.append({**base, **res})
                log(f"  rep {rep + 1}/{reps} w4 {c:4} armed {fmt_ms(res.get('armed_s'))} ms, first hit "
                    f"{fmt_ms(res.get('first_hit_s'))} ms" + (f"  ERROR {res['error'][:150]}" if "error" in res
                                                              else ""))

    syscalls: dict = {}
    if "syscalls" in parts:
        w1 = workloads(n)[0]
        for c in contenders:
            if skipped(c):
                syscalls[c] = {"skipped": skipped(c)}
                continue
            try:
                syscalls[c] = syscalls_per_hit(env, c, w1)
            except Exception as exc:
                syscalls[c] = {"strace": {"error": f"{type(exc).__name__}: {exc}"}}
            log(f"  syscalls/hit {c:4} strace {syscalls[c].get('strace', {}).get('per_hit')} "
                f"perf {syscalls[c].get('perf', {}).get('per_hit')}")
        if env.strace is None:
            notes.append("strace not installed: syscalls per hit from perf trace only")

    notes.append(f"gdb runs 1/{GDB_DIVISOR} of the hits of each workload (it is the slowest contender); its rate "
                 "is timed with gdb's Python around the `continue` that runs the workload")
    notes.append("C: timed inside the tracer from the armed exec stop to the exit; hwdbg API: around "
                 "run_until_exit(); hwdbg CLI: wall time minus the wall time of the same command with 0 hits")
    loads = [float(r["load1"]) for r in runs if r.get("load1", "?") != "?"]
    if loads and max(loads) > 1.0:
        notes.append(f"other processes were busy during the run (1-minute load average up to {max(loads):.2f} on "
                     f"{os.cpu_count()} CPUs): pinned runs share CPU 0 with them and unpinned runs land wherever "
                     "there is room, so single runs vary more than usual; see the individual runs")
    wall = time.perf_counter() - started
    cmd = "python bench/run.py" + (" --quick" if args.quick else "") + (f" --reps {args.reps}" if args.reps else "") \
        + (f" --n {args.n}" if args.n else "") + (f" --only {args.only}" if args.only else "")
    doc = {
        "command": cmd, "wall_s": wall, "machine": machine(), "versions": versions(env), "build": build_info,
        "config": {"n": n, "reps": reps_done, "reps_requested": reps, "loadavg_start": load_start, "contenders": contenders, "gdb_divisor": GDB_DIVISOR,
                   "w4_threads": W4_THREADS, "strace_n": STRACE_N, "python": env.python,
                   "hwdbg_pythonpath": args.hwdbg_pythonpath,
                   "contender_descriptions": {c: DESCRIPTIONS[c] for c in contenders},
                   "workloads": [{"key": w.key, "title": w.title, "binary": w.binary, "symbols": w.symbols,
                                  "access": w.access, "hits": w.hits, "gdb_hits": w.round(w.hits // GDB_DIVISOR)}
                                 for w in wls]},
        "summary": summarize(runs, attach_runs, wls, contenders),
        "syscalls": syscalls, "notes": notes, "runs": runs, "attach_runs": attach_runs,
    }
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    chart_note = chart(doc, out_dir / "latest.png") if wls and "w4" in parts else "chart skipped: partial run"
    if chart_note:
        doc["notes"].append(chart_note)
    doc["wall_s"] = time.perf_counter() - started
    (out_dir / "latest.json").write_text(json.dumps(doc, indent=1, default=str) + "\n")
    (out_dir / "latest.md").write_text(markdown(doc))
    log(f"bench: done in {doc['wall_s']:.0f} s; results in {out_dir}/latest.{{json,md,png}}")
    print(markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
