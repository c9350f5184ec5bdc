"""Cost per hit of each watch backend, and a 4 KB watch against gdb's software watchpoint.

    .venv/bin/python bench/page_watch.py [--n 2000] [--gdb-n 200] [--reps 3]

bench/targets/p1_pages.c makes N writes, each changing the watched range: into a 4 KB buffer
(hwdbg: page protection; gdb: a software watchpoint, it single-steps) or into an 8-byte long
(hwdbg and gdb: a debug register). hwdbg's page watch runs four ways: the C hit loop makes the
fault's trampoline run (two stops per write, no Python) under the system-call filter, the same
with every system call stopping (PTRACE_SYSCALL, as an attached program runs), Python runs the
trampoline (the same two stops), and stepped the old way (four stops per write), for the
before/after rows. Every run times the program's own loop; the cost per hit is
(loop time under the debugger - loop time alone) / hits. A row with two threads making the
writes measures the multi-threaded path (Python: the other thread is stopped at each fault). Writes bench/results/pages.md and .json.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import hwdbg  # noqa: E402

GDB_SCRIPT = '''
import gdb
hits = [0]
class Counting(gdb.Breakpoint):
    def stop(self):
        hits[0] += 1
        return False
gdb.execute("set pagination off")
gdb.execute("break main")
gdb.execute("run")
w = Counting("{sym}", gdb.BP_WATCHPOINT)
gdb.execute("continue")
print("HITS", hits[0])
'''


def loop_seconds(stderr: str) -> float:
    for line in stderr.splitlines():
        if line.startswith("loop_seconds"):
            return float(line.split()[1])
    raise RuntimeError(f"no timing in: {stderr[-2000:]!r}")


WORK = 0  # set from --work: computation rounds between two writes
CPU = [0.0]  # hwdbg's own CPU time (user + system) over the last run to the exit


def argv(exe: Path, n: int, mode: str) -> list[str]:
    return [str(exe), str(n), mode, str(WORK)]


def alone(exe: Path, n: int, mode: str) -> float:
    return loop_seconds(subprocess.run(argv(exe, n, mode), capture_output=True, text=True, check=True).stderr)


def under_hwdbg(exe: Path, n: int, mode: str, way: str = "c") -> tuple[float, int, str]:
    """way "c": page faults in the C hit loop; "syscall": the same, every system call stopping
    (started without the filter: PTRACE_SYSCALL, as attached); "python": the same trampoline run
    from Python; "stepped": the write stepped between two injected mprotects (four stops per write)."""
    r, w = os.pipe()
    target = hwdbg.spawn(argv(exe, n, mode), stderr=w, kernel_writes=way != "syscall")
    os.close(w)
    with target:
        target.run_to("main")
        if way == "stepped":
            target.session.pages.stub = None
        target.session.pagefast.enabled = way in ("c", "syscall")
        bp = target.watch("small" if mode == "dr" else "buf", keep=1)
        backend = "debug registers"
        if target.session.breakpoints[bp.id].paged:
            backend = WAYS[way] if mode == "pages" else WAYS["threads"]
        before = resource.getrusage(resource.RUSAGE_SELF)
        target.run_until_exit(timeout=1200)
        after = resource.getrusage(resource.RUSAGE_SELF)
        hits = bp.hit_count
    CPU[0] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    with os.fdopen(r) as err:
        return loop_seconds(err.read()), hits, backend


WAYS = {"c": "page protection, C hit loop",
        "syscall": "page protection, C hit loop, every system call stopping (PTRACE_SYSCALL, as attached)",
        "python": "page protection, trampoline from Python (before)",
        "stepped": "page protection, stepped (before that)",
        "threads": "page protection, 2 threads writing (Python: the other thread stopped at each fault)"}


def under_gdb(exe: Path, n: int, mode: str, tmp: Path) -> tuple[float, int, str]:
    script = tmp / "gdb_count.py"
    script.write_text(GDB_SCRIPT.format(sym="small" if mode == "dr" else "buf"))
    run = subprocess.run(["gdb", "-nx", "-batch", "-x", str(script), "--args", *argv(exe, n, mode)],
                         capture_output=True, text=True, timeout=3600)
    text = run.stdout + run.stderr
    hits = int(next(line.split()[1] for line in run.stdout.splitlines() if line.startswith("HITS")))
    kind = "software watchpoint" if "Software watchpoint" in text or mode == "pages" else "hardware watchpoint"
    return loop_seconds(text), hits, kind


def instructions(work: int) -> str:
    return f"~{LOOP_INSTRUCTIONS + work * 6:,}"


LOOP_INSTRUCTIONS = 10  # the loop, the call and the store, with no work


def render(data: dict) -> list[str]:
    machine, rows = data["machine"], data["rows"]
    lines = ["# Cost per hit of each watch backend", "",
             f"Machine: Linux {machine['uname']}, {machine['nproc']} CPUs, load {machine['loadavg'][0]:.1f}; "
             f"medians of {data['reps']} runs, interleaved; each write changes the watched range; cost per hit = "
             "(loop time under the debugger - loop time alone) / hits; debugger CPU per hit = hwdbg's own user + "
             "system time from the watch to the exit / hits (less at the mercy of the load than the wall clock). The trampoline stops the "
             "writing thread twice per write (the fault, the trampoline's int3), the stepped way four times; the C hit loop "
             "handles both trampoline stops without Python.", "",
             "| Instructions per write | Debugger | Range | Backend | Writes | Hits | Cost per hit (µs) "
             "| Debugger CPU per hit (µs) |",
             "|---:|---|---|---|---:|---:|---:|---:|"]
    for r in rows:
        cpu = "" if r.get("cpu_per_hit_us") is None else f"{r['cpu_per_hit_us']:,.1f}"
        lines.append(f"| {instructions(r['work'])} | {r['debugger']} | {r['range']} | {r['backend']} | "
                     f"{r['writes']:,} | {r['hits']:,} | {r['per_hit_us']:,.1f} | {cpu} |")
    previous = data.get("previous") or []  # earlier runs, kept by hand for the comparison
    for run in [previous] if isinstance(previous, dict) else previous:
        lines += ["", f"{run.get('label', 'Before the trampoline')} ({run['when']}, load {run['load']}): " + "; ".join(
            f"{instructions(int(w))} instructions per write, page protection {us:,.1f} µs per hit against gdb's "
            f"{run['gdb'][w]:,.1f} µs ({run['gdb'][w] / us:,.0f}×)" for w, us in run["hwdbg"].items())
            + "."]
    stepped = data.get("gdb_over_hwdbg_4k_stepped", {})
    python = data.get("gdb_over_hwdbg_4k_python", {})
    for w, ratio in data["gdb_over_hwdbg_4k"].items():
        if ratio:
            was = (f" (in the same run: the trampoline from Python {python[w]:,.0f}×, stepped the old way "
                   f"{stepped[w]:,.0f}×)" if stepped.get(w) and python.get(w) else "")
            lines += ["", f"4 KB buffer, {instructions(int(w))} instructions per write: hwdbg (page protection) is "
                          f"**{ratio:,.0f}×** faster per hit than gdb's software watchpoint{was}, which single-steps "
                          "every instruction of the program (its cost grows with the work, hwdbg's does not)."]
    for note in data.get("notes", []):  # kept by hand: the profile behind the figures
        lines += ["", note]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--gdb-n", type=int, default=200, help="writes for gdb's software watchpoint (slow)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--work", type=int, nargs="+", default=[0, 400],
                        help="computation rounds between two writes (about 6 instructions each)")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--render", type=Path, help="only rewrite the table from a pages.json")
    args = parser.parse_args()
    if args.render:
        lines = render(json.loads(args.render.read_text()))
        (args.out / "pages.md").write_text("\n".join(lines) + "\n")
        print("\n".join(lines))
        return 0
    global WORK
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        exe = tmp / "p1_pages"
        subprocess.run(["gcc", "-O1", "-g", "-no-pie", "-pthread", "-o", str(exe), str(HERE / "targets" / "p1_pages.c")],
                       check=True)
        plans = []
        for work in args.work:
            plans += [(work, "hwdbg", "pages", args.n), (work, "hwdbg-syscall", "pages", args.n),
                      (work, "hwdbg-python", "pages", args.n),
                      (work, "hwdbg-stepped", "pages", args.n), (work, "hwdbg", "pages2", args.n),
                      (work, "hwdbg", "dr", args.n)]
            if shutil.which("gdb"):
                plans += [(work, "gdb", "pages", args.gdb_n), (work, "gdb", "dr", args.n)]
        samples: dict[int, list[float]] = {i: [] for i in range(len(plans))}
        cpu: dict[int, list[float]] = {i: [] for i in range(len(plans))}
        found: dict[int, tuple[int, str]] = {}
        for _ in range(args.reps):  # plans interleaved: a change of the machine's load hits them alike
            for i, (WORK, who, mode, n) in enumerate(plans):
                base = alone(exe, n, mode)
                seconds, hits, how = (under_gdb(exe, n, mode, tmp) if who == "gdb"
                                      else under_hwdbg(exe, n, mode, way=(who.split("-") + ["c"])[1]))
                samples[i].append((seconds - base) / max(hits, 1))
                cpu[i].append(CPU[0] / max(hits, 1))
                found[i] = hits, how
        for i, (work, who, mode, n) in enumerate(plans):
            hits, how = found[i]
            rows.append({"work": work, "debugger": who.split("-")[0],
                         "range": "8-byte long" if mode == "dr" else "4 KB buffer",
                         "backend": how, "writes": n, "hits": hits,
                         "per_hit_us": statistics.median(samples[i]) * 1e6,
                         "cpu_per_hit_us": statistics.median(cpu[i]) * 1e6 if who != "gdb" else None,
                         "samples_us": [s * 1e6 for s in samples[i]]})
    by = {(r["work"], r["debugger"], r["backend"]): r["per_hit_us"] for r in rows}
    ratios, before, python = ({w: by.get((w, "gdb", "software watchpoint"), 0) / by[(w, "hwdbg", WAYS[way])]
                               for w in args.work} for way in ("c", "stepped", "python"))
    machine = {"uname": platform.release(), "nproc": os.cpu_count(), "python": platform.python_version(),
               "loadavg": os.getloadavg()}
    data = {"machine": machine, "reps": args.reps, "rows": rows,
            "gdb_over_hwdbg_4k": {str(w): r for w, r in ratios.items()},
            "gdb_over_hwdbg_4k_stepped": {str(w): r for w, r in before.items()},
            "gdb_over_hwdbg_4k_python": {str(w): r for w, r in python.items()}}
    args.out.mkdir(parents=True, exist_ok=True)
    try:  # the hand-kept parts (earlier runs, profile notes) carry over
        kept = json.loads((args.out / "pages.json").read_text())
        data.update({key: kept[key] for key in ("previous", "notes") if key in kept})
    except (OSError, ValueError):
        pass
    (args.out / "pages.json").write_text(json.dumps(data, indent=2) + "\n")
    lines = render(data)
    (args.out / "pages.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
