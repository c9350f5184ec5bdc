#!/usr/bin/env python3
"""The tracer's own CPU time and system calls per hit, pinned: the C reference against hwdbg.

    python bench/tracer_cpu.py [--reps 7] [--n 100000]

On a 2-vCPU VM shared with other work, wall-clock rates swing 2-3x between runs, and the VM
has no hardware counters (``perf stat -e instructions``: not supported). What stays put is the
CPU time of the tracing thread itself and its system calls: ``perf stat --no-inherit -e
task-clock,raw_syscalls:sys_enter,context-switches`` on the C reference tracer (the counters
follow only the command's own thread: not the target, nor hwdbg's publisher thread), and on the
hwdbg API runner with ``pin=True`` (minus a 0-hit run). CPU time is each tracer's own
CLOCK_THREAD_CPUTIME_ID over its hit loop (ref_tracer from armed to exit, the runner around
``run_until_exit()``): perf's task-clock leaves out the context switches, ~0.6 µs a hit here.
Runs alternate; minimum and median per hit.
Writes bench/results/tracer_cpu.{json,md}. A benchmark, not a test: nothing is asserted.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

import run as R

EVENTS = "task-clock,raw_syscalls:sys_enter,context-switches"


def counted(cmd: list[str], env: dict) -> tuple[dict, str]:
    """perf stat --no-inherit of cmd: the command's own thread only."""
    p = subprocess.run(["perf", "stat", "--no-inherit", "-x,", "-e", EVENTS, "--"] + cmd, capture_output=True,
                       text=True, env=env, cwd=R.BUILD, timeout=600)
    out = {}
    for line in p.stderr.splitlines():
        fields = line.split(",")
        if len(fields) > 2 and fields[2] in EVENTS.split(","):
            out[fields[2]] = float(fields[0])
    if len(out) != 3:
        raise SystemExit(f"perf stat failed for {cmd}: {p.stderr[-800:]}")
    return out, p.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--also", metavar="DIR", help="another hwdbg checkout (with its .venv) measured alongside")
    ap.add_argument("--out", default=str(R.RESULTS))
    args = ap.parse_args()
    R.build()
    wl = R.workloads(args.n)[0]
    env = dict(os.environ, PYTHONPATH=str(R.REPO))
    python = str(R.REPO / ".venv" / "bin" / "python") if (R.REPO / ".venv").exists() else sys.executable
    ours = R.Env(python=python, env=env, gdb=None, gdb_python=False, cli_ok=True, cli_note="", strace=None,
                  perf="perf")
    trees = {"hwdbg API pin=True": (ours, env)}
    if args.also:
        other = dict(os.environ, PYTHONPATH=args.also)
        trees[f"hwdbg API pin=True ({args.also})"] = (
            R.Env(python=f"{args.also}/.venv/bin/python", env=other, gdb=None, gdb_python=False, cli_ok=True,
                  cli_note="", strace=None, perf="perf"), other)
    commands = {"C reference": (R.c_command(wl, args.n, True), None, env)}
    for name, (tree, tree_env) in trees.items():
        commands[name] = (R.api_command(tree, wl, args.n, True), R.api_command(tree, wl, 0, True), tree_env)
    runs: dict[str, list[dict]] = {name: [] for name in commands}
    for rep in range(args.reps):
        for name, (cmd, zero, cmd_env) in commands.items():
            got, stdout = counted(cmd, cmd_env)
            if zero is not None:  # startup, symbols and exit: the same command with 0 hits
                base, _ = counted(zero, cmd_env)
                got = {k: v - base[k] for k, v in got.items()}
                got["cpu"] = json.loads(stdout.strip().splitlines()[-1])["cpu_s"] * 1000
            else:
                got["cpu"] = float(re.search(r"cpu=([\d.]+)", stdout)[1]) * 1000
            runs[name].append({k: v / args.n for k, v in got.items()})
            R.log(f"  rep {rep + 1}/{args.reps} {name:<16} {got['cpu'] / args.n * 1000:6.2f} µs CPU per hit")
    doc = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "machine": R.machine(), "n": args.n, "reps": args.reps, "load": R.loadavg(), "runs": runs}
    lines = [f"# The tracer's CPU per hit, pinned ({doc['date']})", "",
             f"w1, {args.n:,} writes, {args.reps} alternated runs; load average {doc['load']}. "
             "The tracing thread only (not the target, not hwdbg's publisher thread): its CPU time "
             "(CLOCK_THREAD_CPUTIME_ID) over the hit loop; system calls and context switches from `perf stat "
             "--no-inherit` (hwdbg: minus a 0-hit run). Command: `python bench/tracer_cpu.py`.", "",
             "| Tracer | CPU µs per hit (min) | (median) | System calls per hit | Context switches per hit |",
             "|---|---:|---:|---:|---:|"]
    for name, rows in runs.items():
        cpu = [r["cpu"] * 1000 for r in rows]  # ms per hit -> µs
        lines.append(f"| {name} | {min(cpu):.2f} | {statistics.median(cpu):.2f} | "
                     f"{statistics.median(r['raw_syscalls:sys_enter'] for r in rows):.2f} | "
                     f"{statistics.median(r['context-switches'] for r in rows):.2f} |")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tracer_cpu.json").write_text(json.dumps(doc, indent=1) + "\n")
    (out / "tracer_cpu.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
