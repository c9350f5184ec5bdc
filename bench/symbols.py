#!/usr/bin/env python3
"""Symbols at scale: attach-to-armed time and peak RSS on python3.11d, and symbol-load time
of generated C programs, for hwdbg (cold and warm index cache) and gdb.

    python bench/symbols.py [--reps 5] [--sizes 1000,10000,100000] [--only attach,break,generated]

Break: `break F` for N functions of python3.11d (every k-th text symbol defined once; --functions,
151 by default) in one batch run before the program runs, for hwdbg (cold and warm index
cache) and gdb (index-cache off); wall and CPU time, and how many `Breakpoint N at ...` lines
are the same in both.

Attach: a python3.11d running a script that changes sys.setrecursionlimit; each contender
attaches, sets `watch _PyRuntime.interpreters.main->ceval.recursion_limit` (a field reached
through a pointer), and detaches at once: the wall time of that whole command, start to
exit, and its peak RSS (wait4's ru_maxrss). hwdbg cold = an empty $XDG_CACHE_HOME; warm = the
cache a previous run wrote. gdb cold = `set index-cache enabled off` (gdb's default); gdb
warm = index-cache on, in a directory a previous run filled. "installed by pip": the same code
installed as users install it (`pip install .` into a venv of its own, bench/build/symbols/installed),
run from outside the checkout: the dev checkout's editable install costs every start its import finder.

Generated: C programs with N functions and N globals spread over 100 files (-g -O0),
built in bench/build/symbols/; the time to read the symbols and answer `ptype gN-1`
(hwdbg: SymbolTable + lookup with its type, in a fresh process; gdb: -batch -ex ptype).

Writes bench/results/symbols.{json,md}. A benchmark: nothing is asserted about time.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
BUILD = BENCH / "build" / "symbols"
RESULTS = BENCH / "results"
PYTHON_DBG = "/usr/bin/python3.11d"
EXPR = "_PyRuntime.interpreters.main->ceval.recursion_limit"
SCRIPT = """import sys, time
while True:
    for limit in (1000, 1100):
        sys.setrecursionlimit(limit)
        time.sleep(0.05)
"""
UNITS = 100
# hwdbg runs as an installed package would: with compiled bytecode. (A PYTHONDONTWRITEBYTECODE=1
# environment would otherwise recompile every module at each start: ~60 ms of the figures.)
PYCACHE = BENCH / "build" / "pycache"


def hwdbg_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPYCACHEPREFIX": str(PYCACHE), **extra}


class Run(tuple):
    """(wall seconds, peak RSS in KiB) of one run, with .cpu (user + system seconds of the child,
    which other work on the machine inflates far less than wall time) and .load (1-minute load
    average when it ended)."""

    cpu: float = 0.0
    load: float = 0.0


def run(cmd: list[str], env: dict | None = None, timeout: float = 600, cwd: Path | None = None) -> tuple[Run, str]:
    """(Run, output): the child is reaped with wait4 for its own rusage."""
    start = time.monotonic()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, text=True, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} exited {proc.returncode}: {text[-400:]}")
    result = Run((wall, usage.ru_maxrss))
    result.cpu, result.load = usage.ru_utime + usage.ru_stime, os.getloadavg()[0]
    return result, text


def hwdbg_cmd(*args: str) -> list[str]:
    return [str(REPO / ".venv" / "bin" / "python"), "-m", "hwdbg", *args]


def installed_python() -> Path | None:
    """The Python of a venv with hwdbg installed as users install it (`pip install .`, not the
    checkout's editable install, whose import finder `site` loads at every start); None if pip
    cannot install it here."""
    venv = BUILD / "installed"
    python = venv / "bin" / "python"
    shutil.rmtree(venv, ignore_errors=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
        subprocess.run([str(python), "-m", "pip", "install", "-q", str(REPO)], check=True, capture_output=True,
                       timeout=900)
    except (subprocess.SubprocessError, OSError) as exc:
        print(f"attach: hwdbg as installed by pip: skipped ({exc})")
        return None
    return python


def median_runs(label: str, runs: list[Run]) -> dict:
    walls = [w for w, _ in runs]
    rss = [r for _, r in runs]
    row = {"label": label, "runs_s": [round(w, 3) for w in walls], "rss_kib": rss,
           "median_s": round(statistics.median(walls), 3), "median_rss_mib": round(statistics.median(rss) / 1024, 1),
           "cpu_runs_s": [round(r.cpu, 3) for r in runs], "median_cpu_s": round(statistics.median(r.cpu for r in runs), 3),
           "loads": [round(r.load, 1) for r in runs], "median_load": round(statistics.median(r.load for r in runs), 1)}
    print(f"  {label:<40} {row['median_s']:.3f} s  cpu {row['median_cpu_s']:.3f} s  {row['median_rss_mib']:.0f} MiB  "
          f"load {row['median_load']}  {row['runs_s']}", flush=True)
    return row


def bench_attach(reps: int) -> list[dict]:
    if not os.path.exists(PYTHON_DBG) or shutil.which("gdb") is None:
        print("attach: needs /usr/bin/python3.11d (apt-get install python3.11-dbg) and gdb; skipped")
        return []
    BUILD.mkdir(parents=True, exist_ok=True)
    script = BUILD / "recursion.py"
    script.write_text(SCRIPT)
    target = subprocess.Popen([PYTHON_DBG, str(script)])
    time.sleep(1.0)
    rows = []
    try:
        pid = str(target.pid)
        watch = f"watch {EXPR}"
        hw = hwdbg_cmd("--batch", "-q", "-p", pid, "-ex", watch, "-ex", "detach")
        gdb = ["gdb", "-batch", "-nx", "-iex", "set debuginfod enabled off"]
        gdb_tail = ["-p", pid, "-ex", watch, "-ex", "detach"]
        gdb_cache = tempfile.mkdtemp(prefix="gdb-index-")
        warm_home = tempfile.mkdtemp(prefix="hwdbg-warm-")
        run(hw, env=hwdbg_env(XDG_CACHE_HOME=warm_home))  # fill the warm cache and the bytecode
        run(gdb + ["-iex", f"set index-cache directory {gdb_cache}", "-iex", "set index-cache enabled on"] + gdb_tail)
        installed = installed_python()  # run from BUILD: the checkout is not on its sys.path
        inst = [str(installed), "-m", "hwdbg"] + hw[3:] if installed is not None else None
        if inst is not None:
            run(inst, env=hwdbg_env(XDG_CACHE_HOME=warm_home), cwd=BUILD)
        cold, warm, gcold, gwarm, iwarm = [], [], [], [], []
        for _ in range(reps):  # alternating, so drift hits every contender alike
            home = tempfile.mkdtemp(prefix="hwdbg-cold-")
            res, out = run(hw, env=hwdbg_env(XDG_CACHE_HOME=home))
            assert "Hardware watchpoint" in out or "atchpoint" in out, out
            cold.append(res)
            shutil.rmtree(home)
            res, out = run(hw, env=hwdbg_env(XDG_CACHE_HOME=warm_home))
            warm.append(res)
            if inst is not None:
                res, out = run(inst, env=hwdbg_env(XDG_CACHE_HOME=warm_home), cwd=BUILD)
                assert "atchpoint" in out, out
                iwarm.append(res)
            res, out = run(gdb + ["-iex", "set index-cache enabled off"] + gdb_tail)
            assert "Hardware watchpoint" in out, out
            gcold.append(res)
            res, out = run(gdb + ["-iex", f"set index-cache directory {gdb_cache}",
                                  "-iex", "set index-cache enabled on"] + gdb_tail)
            gwarm.append(res)
        print(f"attach to python3.11d, {EXPR}, median of {reps}:")
        rows.append(median_runs("hwdbg, cold index cache", cold))
        rows.append(median_runs("hwdbg, warm index cache", warm))
        if iwarm:
            rows.append(median_runs("hwdbg installed by pip, warm index cache", iwarm))
        rows.append(median_runs("gdb, index-cache off", gcold))
        rows.append(median_runs("gdb, index-cache on (warm)", gwarm))
        shutil.rmtree(gdb_cache, ignore_errors=True)
        shutil.rmtree(warm_home, ignore_errors=True)
    finally:
        target.kill()
        target.wait()
    return rows


def generate(n: int) -> Path:
    """A -g -O0 program with n functions and n globals over UNITS files; built once."""
    exe = BUILD / f"gen{n}"
    if exe.exists():
        return exe
    src = BUILD / f"gen{n}-src"
    src.mkdir(parents=True, exist_ok=True)
    per = max(n // UNITS, 1)
    objs = []
    for unit in range(0, n, per):
        c = src / f"u{unit // per}.c"
        lines = [f"struct rec{i} {{ long a; int b[{i % 7 + 1}]; struct rec{i} *next; }};\n"
                 f"struct rec{i} g{i};\n"
                 f"int f{i}(int x) {{ return x + g{i}.b[0] + {i}; }}\n" for i in range(unit, min(unit + per, n))]
        c.write_text("".join(lines))
        objs.append(c)
    main = src / "main.c"
    main.write_text("int main(void) { return 0; }\n")
    started = time.monotonic()
    jobs = []
    for c in objs + [main]:
        jobs.append(subprocess.Popen(["gcc", "-g", "-O0", "-c", "-o", str(c.with_suffix(".o")), str(c)]))
        if len(jobs) >= os.cpu_count():
            jobs.pop(0).wait()
    for job in jobs:
        job.wait()
    subprocess.run(["gcc", "-no-pie", "-o", str(exe)] + [str(c.with_suffix(".o")) for c in objs + [main]], check=True)
    print(f"  built gen{n} in {time.monotonic() - started:.0f} s ({exe.stat().st_size >> 20} MiB)", flush=True)
    return exe


LOAD = """import sys, time
start = time.monotonic()
from hwdbg.symbols import SymbolTable
var = SymbolTable(sys.argv[1]).lookup(sys.argv[2])
assert var.ctype is not None and var.ctype.name.startswith("struct rec"), var
print(f"LOAD {time.monotonic() - start:.4f}")
"""


def bench_generated(sizes: list[int], reps: int) -> list[dict]:
    rows = []
    python = str(REPO / ".venv" / "bin" / "python")
    warmup = tempfile.mkdtemp(prefix="hwdbg-gen-")  # compiles the bytecode: no run below pays for that
    run([python, "-c", LOAD, str(generate(sizes[0])), f"g{sizes[0] - 1}"], env=hwdbg_env(XDG_CACHE_HOME=warmup))
    shutil.rmtree(warmup, ignore_errors=True)
    for n in sizes:
        exe = generate(n)
        name = f"g{n - 1}"
        home = tempfile.mkdtemp(prefix="hwdbg-gen-")
        cold, warm, gdb = [], [], []
        for _ in range(reps):
            shutil.rmtree(home, ignore_errors=True)
            os.makedirs(home)
            env = hwdbg_env(XDG_CACHE_HOME=home)
            cold.append(run([python, "-c", LOAD, str(exe), name], env=env)[0])
            warm.append(run([python, "-c", LOAD, str(exe), name], env=env)[0])
            if shutil.which("gdb"):
                gdb.append(run(["gdb", "-batch", "-nx", "-iex", "set debuginfod enabled off",
                                "-iex", "set index-cache enabled off", str(exe), "-ex", f"ptype {name}"])[0])
        print(f"generated, {n} functions and globals, median of {reps}:")
        rows.append({"n": n, "size_mib": round(exe.stat().st_size / 2**20, 1),
                     "hwdbg_cold": median_runs(f"hwdbg, cold cache, n={n}", cold),
                     "hwdbg_warm": median_runs(f"hwdbg, warm cache, n={n}", warm),
                     "gdb": median_runs(f"gdb, index-cache off, n={n}", gdb) if gdb else None})
        shutil.rmtree(home, ignore_errors=True)
    return rows


def break_names(count: int) -> list[str]:
    """Every k-th of python3.11d's functions (text symbols defined once, no clones), ``count`` of them."""
    out = subprocess.run(["nm", "--defined-only", PYTHON_DBG], capture_output=True, text=True, check=True).stdout
    names = [line.split()[2] for line in out.splitlines() if len(line.split()) == 3 and line.split()[1] in "Tt"]
    once = sorted(n for n in set(names) if names.count(n) == 1 and "." not in n) if len(names) < 50000 else []
    return once[::max(1, len(once) // count)][:count]


def bench_break(count: int, reps: int) -> dict:
    """`break F` for ``count`` functions of python3.11d in one batch run, before it runs."""
    if not os.path.exists(PYTHON_DBG) or shutil.which("gdb") is None:
        print("break: needs /usr/bin/python3.11d (apt-get install python3.11-dbg) and gdb; skipped")
        return {}
    names = break_names(count)
    script = [arg for name in names for arg in ("-ex", f"break {name}")]
    hw = hwdbg_cmd("--batch", "-q", *script, PYTHON_DBG)
    gdb = ["gdb", "-batch", "-nx", "-iex", "set debuginfod enabled off", "-iex", "set index-cache enabled off",
           *script, PYTHON_DBG]
    warm_home = tempfile.mkdtemp(prefix="hwdbg-warm-")
    run(hw, env=hwdbg_env(XDG_CACHE_HOME=warm_home))  # fill the warm cache and the bytecode
    cold, warm, gdb_runs, outputs = [], [], [], {}
    for _ in range(reps):
        home = tempfile.mkdtemp(prefix="hwdbg-cold-")
        res, outputs["hwdbg"] = run(hw, env=hwdbg_env(XDG_CACHE_HOME=home))
        cold.append(res)
        shutil.rmtree(home)
        warm.append(run(hw, env=hwdbg_env(XDG_CACHE_HOME=warm_home))[0])
        res, outputs["gdb"] = run(gdb)
        gdb_runs.append(res)
    shutil.rmtree(warm_home, ignore_errors=True)
    heads = {who: [line for line in text.splitlines() if line.startswith("Breakpoint ")] for who, text in outputs.items()}
    same = sum(1 for h, g in zip(heads["hwdbg"], heads["gdb"]) if h == g)
    locations = sum(int(m) if m else 1 for line in heads["gdb"] for m in re.findall(r"\((\d+) locations\)|$", line)[:1])
    print(f"break on {len(names)} functions of python3.11d, median of {reps} ({same} of {len(heads['gdb'])} "
          f"'Breakpoint N at' lines identical, {locations} locations in gdb):")
    return {"functions": len(names), "identical": same, "gdb_breakpoints": len(heads["gdb"]), "gdb_locations": locations,
            "rows": [median_runs("hwdbg, cold index cache", cold), median_runs("hwdbg, warm index cache", warm),
                     median_runs("gdb, index-cache off", gdb_runs)]}


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    gdb = subprocess.run(["gdb", "--version"], capture_output=True, text=True).stdout.splitlines()[:1] if shutil.which("gdb") else []
    git = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"], capture_output=True, text=True).stdout.strip()
    return {"kernel": platform.release(), "nproc": os.cpu_count(), "cpu": cpu, "python": platform.python_version(),
            "gdb": gdb[0] if gdb else None, "hwdbg_git": git, "loadavg": os.getloadavg(),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}


def _not_repeated(taken: dict | None, load: bool = False) -> str:
    """For a part this run did not repeat: when, and on which code, its figures were taken."""
    if not taken:
        return ""
    at_load = f", load {taken['loadavg'][0]:.1f}" if load else ""
    return f"; the {taken['date'][11:16]} UTC run of {taken['date'][:10]}, hwdbg {taken['hwdbg_git']}{at_load}, not repeated"


def _rows(rows: list[dict]) -> list[str]:
    """A contender's row: median wall, CPU, peak RSS, load, and each run's wall time."""
    return [f"| {r['label']} | {r['median_s']:.3f} | {r.get('median_cpu_s', float('nan')):.3f} | "
            f"{r['median_rss_mib']:.0f} | {r.get('median_load', '?')} | {' '.join(map(str, r['runs_s']))} |"
            for r in rows]


def write(results: dict) -> None:
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "symbols.json").write_text(json.dumps(results, indent=1) + "\n")
    m = results["machine"]
    lines = ["# Symbols at scale", "",
             f"{m['date']}; Linux {m['kernel']}, {m['nproc']} CPUs, {m['cpu']}; {m['gdb']}; hwdbg {m['hwdbg_git']}; "
             f"load {', '.join(f'{x:.2f}' for x in m['loadavg'])}", ""]
    if results["attach"]:
        when = _not_repeated(results.get("attach_machine"))
        lines += [f"## Attach to python3.11d and arm `watch {EXPR}` (median of "
                  f"{results.get('reps_attach', results['reps'])}{when})", "",
                  "Wall time of `-p PID -ex 'watch EXPR' -ex detach`, start to exit, its CPU time (user + system: "
                  "other work on the machine inflates it far less than wall time), peak RSS, and the 1-minute "
                  "load average as the runs ended. hwdbg runs with compiled bytecode (PYTHONPYCACHEPREFIX), as installed.", "",
                  "| Contender | Time (s) | CPU (s) | Peak RSS (MiB) | Load | Runs (s) |", "|---|---|---|---|---|---|"]
        lines += _rows(results["attach"])
        lines.append("")
    if results.get("break"):
        b = results["break"]
        when = _not_repeated(results.get("break_machine"))
        lines += [f"## `break FUNCTION` on {b['functions']} functions of python3.11d (median of "
                  f"{b.get('reps', results['reps'])}{when})", "",
                  "One batch run, before the program runs: `-ex 'break F'` for every k-th function of the symbol "
                  f"table. gdb made {b['gdb_breakpoints']} breakpoints with {b['gdb_locations']} locations; "
                  f"{b['identical']} of hwdbg's `Breakpoint N at ...` lines are identical to gdb's.", "",
                  "| Contender | Time (s) | CPU (s) | Peak RSS (MiB) | Load | Runs (s) |", "|---|---|---|---|---|---|"]
        lines += _rows(b["rows"])
        lines.append("")
    if results["generated"]:
        when = _not_repeated(results.get("generated_machine"), load=True)
        lines += [f"## Symbol load of generated C programs (median of {results['gen_reps']}{when})", "",
                  "N functions + N globals (each with its own struct type) in 100 files, -g -O0; time to read "
                  "the symbols and give `gN-1` its type, in a fresh process (wall, and CPU in parentheses).", "",
                  "| N | Binary (MiB) | hwdbg cold (s) | hwdbg warm (s) | gdb (s) | hwdbg cold RSS | hwdbg warm RSS | gdb RSS (MiB) | Load |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in results["generated"]:
            g = r["gdb"] or {"median_s": float("nan"), "median_rss_mib": float("nan"), "median_cpu_s": float("nan")}
            lines.append(f"| {r['n']} | {r['size_mib']} | {r['hwdbg_cold']['median_s']:.3f} ({r['hwdbg_cold']['median_cpu_s']:.3f}) | "
                         f"{r['hwdbg_warm']['median_s']:.3f} ({r['hwdbg_warm']['median_cpu_s']:.3f}) | "
                         f"{g['median_s']:.3f} ({g['median_cpu_s']:.3f}) | {r['hwdbg_cold']['median_rss_mib']:.0f} | "
                         f"{r['hwdbg_warm']['median_rss_mib']:.0f} | {g['median_rss_mib']:.0f} | {r['hwdbg_cold']['median_load']} |")
        lines.append("")
    (RESULTS / "symbols.md").write_text("\n".join(lines))
    print(f"wrote {RESULTS / 'symbols.md'} and symbols.json")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--gen-reps", type=int, default=3)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--only", default="attach,break,generated")
    parser.add_argument("--functions", type=int, default=151, help="break: how many functions")
    opts = parser.parse_args()
    parts = set(opts.only.split(","))
    results = {"machine": machine(), "reps": opts.reps, "gen_reps": opts.gen_reps, "attach": [], "generated": []}
    if "attach" in parts:
        results["attach"] = bench_attach(opts.reps)
    if "break" in parts:
        results["break"] = bench_break(opts.functions, opts.reps)
    try:
        before = json.loads((RESULTS / "symbols.json").read_text())
    except (OSError, ValueError):
        before = {}
    if "attach" not in parts and before.get("attach"):  # not run: the previous figures stay, dated
        results["attach"], results["attach_machine"] = before["attach"], before.get("attach_machine") or before["machine"]
        results["reps_attach"] = before.get("reps_attach", before.get("reps"))
    if "break" not in parts and before.get("break"):  # not run: the previous figures stay, dated
        results["break"] = before["break"]
        results["break_machine"] = before.get("break_machine") or before["machine"]
    if "generated" in parts:
        results["generated"] = bench_generated([int(s) for s in opts.sizes.split(",")], opts.gen_reps)
    else:  # not run: the previous run's figures stay, with the machine and date they were taken on
        if before.get("generated"):
            results["generated"], results["gen_reps"] = before["generated"], before.get("gen_reps", opts.gen_reps)
            results["generated_machine"] = before.get("generated_machine") or before["machine"]
    write(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
