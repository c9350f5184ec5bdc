"""The cost of watch --kernel on a syscall-heavy program (bench/targets/k1_syscalls.c): no
debugger, hwdbg with the seccomp filter (the program started after the watch), hwdbg with
PTRACE_SYSCALL (the program started before the watch: every call stops), and `strace -c -f`.
Each run times the program's own loop (it prints it), so start-up is not counted.

    .venv/bin/python bench/kernel_writes.py [--n 20000] [--reps 3]

Writes bench/results/kernel.md and bench/results/kernel.json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import hwdbg  # noqa: E402


def build(out: Path) -> Path:
    exe = out / "k1_syscalls"
    subprocess.run(["gcc", "-O1", "-g", "-no-pie", "-o", str(exe), str(HERE / "targets" / "k1_syscalls.c")],
                   check=True)
    return exe


def loop_seconds(stderr: str) -> float:
    for line in stderr.splitlines():
        if line.startswith("loop_seconds"):
            return float(line.split()[1])
    raise RuntimeError(f"no timing in: {stderr!r}")


def plain(exe: Path, n: int) -> float:
    return loop_seconds(subprocess.run([str(exe), str(n)], capture_output=True, text=True, check=True).stderr)


def strace(exe: Path, n: int) -> float:
    with tempfile.NamedTemporaryFile("r") as summary:
        run = subprocess.run(["strace", "-c", "-f", "-o", summary.name, str(exe), str(n)], capture_output=True,
                             text=True, check=True)
    return loop_seconds(run.stderr)


def under_hwdbg(exe: Path, n: int, filtered: bool) -> tuple[float, int, int]:
    r, w = os.pipe()
    target = hwdbg.spawn([str(exe), str(n)], stderr=w, kernel_writes=filtered)
    os.close(w)
    with target:
        target.run_to("main")
        bp = target.watch("watched", kernel=True, length=16)
        target.run_until_exit(timeout=600)
        hits, stops = bp.hit_count, target.session.kernel.stops
    with os.fdopen(r) as err:
        return loop_seconds(err.read()), hits, stops


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args()
    n, calls = args.n, 2 * args.n + args.n // 1000  # getppid + pread per round, read every 1000th
    with tempfile.TemporaryDirectory() as tmp:
        exe = build(Path(tmp))
        runs: dict[str, list[float]] = {"no debugger": [], "hwdbg --kernel (seccomp filter)": [],
                                        "hwdbg --kernel (PTRACE_SYSCALL)": []}
        if shutil.which("strace"):
            runs["strace -c -f"] = []
        extra = {}
        for _ in range(args.reps):
            runs["no debugger"].append(plain(exe, n))
            for name, filtered in (("hwdbg --kernel (seccomp filter)", True), ("hwdbg --kernel (PTRACE_SYSCALL)", False)):
                seconds, hits, stops = under_hwdbg(exe, n, filtered)
                runs[name].append(seconds)
                extra[name] = {"hits": hits, "stops": stops}
            if "strace -c -f" in runs:
                runs["strace -c -f"].append(strace(exe, n))
    base = statistics.median(runs["no debugger"])
    rows = []
    for name, times in runs.items():
        med = statistics.median(times)
        rows.append({"contender": name, "median_s": med, "runs_s": times, "per_call_us": (med - base) / calls * 1e6,
                     "slowdown": med / base, **extra.get(name, {})})
    machine = {"uname": platform.release(), "nproc": os.cpu_count(), "python": platform.python_version(),
               "loadavg": os.getloadavg()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "kernel.json").write_text(json.dumps({"machine": machine, "n": n, "calls": calls, "rows": rows},
                                                     indent=2) + "\n")
    lines = [f"# watch --kernel on a syscall-heavy program ({calls:,} system calls: {n:,} getppid, {n:,} pread "
             f"into an unwatched buffer, {n // 1000} read into the watched one)", "",
             f"Machine: Linux {machine['uname']}, {machine['nproc']} CPUs, load {machine['loadavg'][0]:.1f}; "
             f"medians of {args.reps} runs of the program's own loop.", "",
             "| Contender | Loop time (s) | × no debugger | Added per system call (µs) | Stops | Hits |",
             "|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['contender']} | {row['median_s']:.4f} | {row['slowdown']:.1f}× | "
                     f"{row['per_call_us']:.2f} | {row.get('stops', '')} | {row.get('hits', '')} |")
    (args.out / "kernel.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
