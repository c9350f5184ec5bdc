#!/usr/bin/env python3
"""hwdbg at scale, all in one run: the trap floor, every contender next to it, and how cost grows.

    python bench/scale.py [--reps N] [--quick] [--only throughput,threads,attach,symbols]

1. throughput on w1 (one thread writes one watched global): the floor (``perf stat -e
   mem:ADDR/8:w``, the CPU's own cost of the debug exception, nothing stops), the C reference
   tracer, gdb, hwdbg API and CLI (unpinned and pinned), and hwdbg ``--no-stop``; hits/s and
   each one's ratio to the floor;
2. hits/s for 1, 4, 16, 64 writer threads (floor, C reference, hwdbg API, hwdbg --no-stop);
3. attach-and-arm time for 1 to 4,096 threads (C reference, hwdbg API and CLI, gdb);
4. symbol-load time for generated programs of 1k, 10k, 100k functions (bench/symbols.py).

Writes bench/results/scale.{md,json} and one PNG per curve (scale_*.png). Reuses run.py's
contenders and symbols.py's generator. A benchmark, not a test: a wrong hit count is an error
of that run, shown in the results; nothing is asserted about speed.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run as R  # noqa: E402  (bench/run.py: build, contenders, helpers)
import symbols as S  # noqa: E402  (bench/symbols.py: generated programs)

THREADS = (1, 4, 16, 64)
ATTACH_THREADS = (1, 16, 256, 1024, 4096)
GDB_ATTACH_MAX = 1024  # gdb needs minutes beyond that
SYMBOL_SIZES = (1000, 10000, 100000)
FLOOR_N = "floor"


def med(values: list[float]) -> Optional[float]:
    return statistics.median(values) if values else None


# ---------------------------------------------------------------------------- contenders beyond run.py's

def run_floor(env: R.Env, wl: R.Workload, hits: int, pinned: bool = False) -> dict:
    """perf stat counting the watched address: every write traps, nothing stops, nothing is read.
    Timed by perf itself ("seconds time elapsed": the program's run, a millisecond of start-up in it)."""
    addr = R.symbol_addresses(wl.path, wl.symbols)[0]
    cmd = [env.perf, "stat", "-e", f"mem:{addr:#x}/8:w", "--", str(wl.path), wl.arg_for(hits)]
    p = R.run_cmd(cmd, timeout=R._timeout(hits))
    count = re.search(r"^\s*([\d,]+)\s+mem:", p.stderr, re.M)
    elapsed = re.search(r"([\d.]+) seconds time elapsed", p.stderr)
    if count is None or elapsed is None:
        return {"wall": p.wall, "error": f"perf stat gave no count: {R.tail(p.stderr)}"}
    res = {"wall": p.wall, "hits": int(count[1].replace(",", "")), "seconds": float(elapsed[1]),
           "timing": "perf stat: seconds time elapsed"}
    if res["hits"] < hits:
        res["error"] = f"perf counted {res['hits']} of {hits} writes"
    return res


def run_nostop_cli(env: R.Env, wl: R.Workload, hits: int, pinned: bool) -> dict:
    """hwdbg --batch --json ... 'watch SYM --trace --no-stop'; hits are the hit lines, lost from info breakpoints."""
    def once(n: int) -> dict:
        out = R.TMP / "nostop_stdout.jsonl"
        cmd = [env.python, "-m", "hwdbg"] + (["--pin"] if pinned else []) + ["--batch", "--json", "-ex", "start"]
        cmd += ["-ex", f"watch {wl.symbols[0]} --trace --no-stop", "-ex", "continue", "-ex", "info breakpoints",
                str(wl.path), wl.arg_for(n)]
        p = R.run_cmd(cmd, timeout=R._timeout(n), env=env.env, stdout_file=out, keep_stdout=False)
        count, others = R._cli_count(out)
        res: dict = {"wall": p.wall, "rc": p.rc, "hits": count}
        info = [o for o in others if o.get("command") == "info breakpoints"]
        if info:
            res["lost"] = sum(bp.get("lost", 0) for bp in info[-1].get("breakpoints", []))
        errors = [o for o in others if o.get("event") == "error"]
        if p.timed_out:
            res["error"] = "timeout"
        elif errors:
            res["error"] = "CLI error: " + "; ".join(str(e.get("message")) for e in errors)[:400]
        elif not [o for o in others if o.get("event") == "exited" and o.get("code") == 0]:
            res["error"] = f"no clean exit of the target (rc={p.rc}): {R.tail(p.stderr)}"
        return res

    res = once(hits)
    base = once(0)
    res["startup_wall"] = base["wall"]
    res["seconds"] = max(1e-6, res["wall"] - base["wall"])
    res["timing"] = "wall(N) - wall(0)"
    return res


def run_nostop_api(env: R.Env, wl: R.Workload, hits: int, pinned: bool) -> dict:
    cmd = R.api_command(env, wl, hits, pinned)
    cmd.insert(cmd.index("spawn") + 1, "--no-stop")
    p = R.run_cmd(cmd, timeout=R._timeout(hits), env=env.env)
    res = R._runner_json(p)
    res["wall"] = p.wall
    if p.timed_out:
        res["error"] = "timeout"
    elif "error" not in res and res.get("exit") != 0:
        res["error"] = f"target ended with {res.get('exit')}"
    return res


# ---------------------------------------------------------------------------- the parts

def check_hits(res: dict, expected: int) -> dict:
    if "error" not in res and res.get("hits") is not None:
        lost = res.get("lost", 0) or 0
        if res["hits"] + lost != expected and not (res.get("contender") == FLOOR_N and res["hits"] >= expected):
            res["error"] = f"{res['hits']} hits (+{lost} lost) for {expected} writes"
    if "error" not in res and res.get("startup_wall") is not None and res["wall"] - res["startup_wall"] < 0.05:
        res["error"] = (f"startup correction failed: wall {res['wall']:.2f} s with the writes, "
                        f"{res['startup_wall']:.2f} s without (load)")
    if "error" not in res and res.get("seconds"):
        res["rate"] = (res.get("hits") or 0) / res["seconds"]
    return res


def throughput(env: R.Env, n: int, reps: int) -> list[dict]:
    wl = R.workloads(n)[0]
    plan: list[tuple[str, bool, Callable[..., dict], int]] = [(FLOOR_N, False, run_floor, n)]
    for pinned in (False, True):
        plan += [("c", pinned, R.run_c, n), ("api", pinned, R.run_api, n), ("cli", pinned, R.run_cli, n),
                 ("nostop-cli", pinned, run_nostop_cli, n)]
        if env.gdb:
            plan.append(("gdb", pinned, R.run_gdb, n // R.GDB_DIVISOR))
    plan.append(("nostop-api", False, run_nostop_api, n))
    runs = []
    for rep in range(reps):
        for name, pinned, fn, hits in plan:
            res = fn(env, wl, hits, pinned)
            res.update(contender=name, pinned=pinned, rep=rep, expected=hits, load=os.getloadavg()[0])
            runs.append(check_hits(res, hits))
            R.log(f"  rep {rep + 1}/{reps} throughput {'pinned  ' if pinned else 'unpinned'} {name:<11} "
                  f"{res.get('rate', 0):>9,.0f} hits/s  {res.get('error', '')}")
    return runs


def threads_part(env: R.Env, total: int, reps: int) -> list[dict]:
    runs = []
    for rep in range(reps):
        for t in THREADS:
            wl = R.Workload(f"t{t}", f"{t} writer threads", "wt_threads", ["counter"], "w", total, t)
            wl.arg_for = lambda hits, t=t: f"{t},{hits // t}"  # type: ignore[method-assign]
            for name, fn in ((FLOOR_N, run_floor), ("c", R.run_c), ("api", R.run_api),
                             ("nostop-api", run_nostop_api)):
                res = fn(env, wl, total, False)
                res.update(contender=name, threads=t, rep=rep, expected=total, load=os.getloadavg()[0])
                runs.append(check_hits(res, total))
                R.log(f"  rep {rep + 1}/{reps} threads {t:>3} {name:<11} {res.get('rate', 0):>9,.0f} hits/s  "
                      f"{res.get('error', '')}")
    return runs


def attach_part(env: R.Env, reps: int) -> list[dict]:
    runs = []
    contenders = ["c", "api", "cli"] + (["gdb"] if env.gdb else [])
    for rep in range(reps):
        for t in ATTACH_THREADS:
            for name in contenders:
                if name == "gdb" and t > GDB_ATTACH_MAX:
                    continue
                try:
                    res = R.run_attach(env, name, t)
                except RuntimeError as exc:
                    res = {"error": str(exc)}
                res.update(contender=name, threads_requested=t, rep=rep, load=os.getloadavg()[0])
                runs.append(res)
                R.log(f"  rep {rep + 1}/{reps} attach {t:>5} threads {name:<4} "
                      f"{(res.get('armed_s') or 0) * 1000:>9.1f} ms  {res.get('error', '')}")
    return runs


# ---------------------------------------------------------------------------- summary, report, plots

LABELS = {FLOOR_N: "floor (perf stat, no stop)", "c": "C reference", "gdb": "gdb", "api": "hwdbg API",
          "cli": "hwdbg CLI", "nostop-cli": "hwdbg CLI --no-stop", "nostop-api": "hwdbg API --no-stop"}


def _ok(runs: list[dict], **match: Any) -> list[dict]:
    return [r for r in runs if "error" not in r and all(r.get(k) == v for k, v in match.items())]


def summarize(doc: dict) -> dict:
    out: dict = {}
    tp = doc.get("throughput", [])
    floor = med([r["rate"] for r in _ok(tp, contender=FLOOR_N)])
    rows = []
    for name in LABELS:
        for pinned in (False, True):
            ok = _ok(tp, contender=name, pinned=pinned)
            if not ok and not [r for r in tp if r["contender"] == name and r["pinned"] == pinned]:
                continue
            rate = med([r["rate"] for r in ok])
            errors = [r["error"] for r in tp if r["contender"] == name and r["pinned"] == pinned and "error" in r]
            c_ref = med([r["rate"] for r in _ok(tp, contender="c", pinned=pinned)])
            rows.append({"contender": name, "pinned": pinned, "rate": rate, "runs": [round(r["rate"]) for r in ok],
                         "x_floor": rate / floor if rate and floor else None,
                         "x_c": rate / c_ref if rate and c_ref and name != FLOOR_N else None,
                         "lost": max([r.get("lost", 0) or 0 for r in ok], default=None), "errors": errors,
                         "load": med([r["load"] for r in tp if r["contender"] == name and r["pinned"] == pinned
                                      and "load" in r])})
    out["throughput"] = rows
    out["threads"] = [{"contender": name, "threads": t,
                       "rate": med([r["rate"] for r in _ok(doc.get("threads", []), contender=name, threads=t)]),
                       "errors": [r["error"] for r in doc.get("threads", [])
                                  if r["contender"] == name and r["threads"] == t and "error" in r]}
                      for name in (FLOOR_N, "c", "api", "nostop-api") for t in THREADS]
    out["attach"] = [{"contender": name, "threads": t,
                      "armed_ms": (lambda v: v * 1000 if v is not None else None)(
                          med([r["armed_s"] for r in _ok(doc.get("attach", []), contender=name,
                                                         threads_requested=t) if r.get("armed_s") is not None])),
                      "errors": [r["error"] for r in doc.get("attach", [])
                                 if r["contender"] == name and r["threads_requested"] == t and "error" in r]}
                     for name in ("c", "api", "cli", "gdb") for t in ATTACH_THREADS]
    return out


def _rate(v: Optional[float]) -> str:
    return "–" if v is None else f"{v:,.0f}"


def _secs(row: dict) -> str:
    """'0.41 s (0.29)': a median wall time and, when measured, its CPU time."""
    if not row or row.get("median_s") is None:
        return "–"
    cpu = row.get("median_cpu_s")
    return f"{row['median_s']:.2f} s" + (f" ({cpu:.2f})" if cpu is not None else "")


def _load(v: Optional[float]) -> str:
    return "–" if v is None else f"{v:.1f}"


def _x(v: Optional[float]) -> str:
    return "–" if v is None else f"{v:.2f}×"


def markdown(doc: dict) -> str:
    s = doc["summary"]
    m = doc["machine"]
    lines = [f"# hwdbg at scale ({doc['date']})", "",
             f"Machine: {m.get('cpu_model')}, {m.get('nproc')} CPUs, Linux {m.get('uname_r')}; load average during the run "
             f"{doc['load_before']} → {doc['load_after']} (other work shared the CPUs: single runs vary; medians of "
             f"{doc['reps']}). Command: `python bench/scale.py`.", ""]
    if doc.get("throughput"):
        lines += ["## Throughput on w1 (one thread, one watched global), against the floor", "",
                  "| Contender | Pinned | Hits/s (median) | Previous run | Runs | ×floor | ×C same pinning | Load | Lost | Errors |",
                  "|---|---|---:|---:|---|---:|---:|---:|---:|---|"]
        previous = {(r["contender"], r["pinned"]): r["rate"]
                    for r in doc.get("previous", {}).get("throughput", []) if r.get("rate")}
        for r in s["throughput"]:
            before = previous.get((r["contender"], r["pinned"]))
            lines.append(f"| {LABELS[r['contender']]} | {'yes' if r['pinned'] else 'no'} | **{_rate(r['rate'])}** | "
                         f"{_rate(before)} | {' '.join(f'{v:,}' for v in r['runs'])} | {_x(r['x_floor'])} | {_x(r['x_c'])} | "
                         f"{_load(r.get('load'))} | "
                         f"{'' if r['lost'] is None or not r['contender'].startswith('nostop') else r['lost']} | "
                         f"{R.md_cell('; '.join(r['errors']), 80)} |")
        lines += ["", f"w1 runs {doc['n']:,} writes ({doc['n'] // R.GDB_DIVISOR:,} for gdb). The floor is `perf stat -e "
                  "mem:ADDR/8:w` on the same program: the CPU and kernel cost of one debug exception, nothing stops "
                  "and nothing is read. Pinned = tracer and target on CPU 0.", ""]
    if doc.get("threads"):
        lines += [f"## Writer threads ({doc['threads_total']:,} writes in all, unpinned, hits/s)", "",
                  "| Contender | " + " | ".join(f"{t} threads" for t in THREADS) + " |",
                  "|---|" + "---:|" * len(THREADS)]
        for name in (FLOOR_N, "c", "api", "nostop-api"):
            cells = [next(r for r in s["threads"] if r["contender"] == name and r["threads"] == t) for t in THREADS]
            lines.append(f"| {LABELS[name]} | " + " | ".join(_rate(c["rate"]) + (" (err)" if c["errors"] else "")
                                                           for c in cells) + " |")
        lines.append("")
    if doc.get("attach"):
        lines += ["## Attach and arm a watch in every thread (ms, median)", "",
                  "| Contender | " + " | ".join(f"{t} threads" for t in ATTACH_THREADS) + " |",
                  "|---|" + "---:|" * len(ATTACH_THREADS)]
        for name in ("c", "api", "cli", "gdb"):
            cells = [next(r for r in s["attach"] if r["contender"] == name and r["threads"] == t)
                     for t in ATTACH_THREADS]
            lines.append(f"| {LABELS[name]} | " + " | ".join(
                ("–" if c["armed_ms"] is None else f"{c['armed_ms']:,.1f}") + (" (err)" if c["errors"] else "")
                for c in cells) + " |")
        lines += ["", "From the start of the attach until every thread's debug registers hold the watch (gdb: "
                  f"attach + `watch`, it writes them lazily at the next resume; not run above {GDB_ATTACH_MAX} "
                  "threads). hwdbg API and CLI include starting Python, imports and reading symbols.", ""]
    prev = doc.get("previous", {})
    if doc.get("symbols"):
        before = {row["n"]: row for row in prev.get("symbols", [])}
        lines += ["## Symbol load, generated programs (N functions and N globals; read symbols and type gN-1)", "",
                  "Wall time, CPU time (user + system) in parentheses; the previous run's wall time beside it "
                  f"({prev.get('date', 'none')}).", "",
                  "| N | hwdbg cold | hwdbg warm | gdb | previous hwdbg cold / warm | Peak RSS hwdbg cold / warm / gdb | Load |",
                  "|---:|---:|---:|---:|---:|---|---:|"]
        for row in doc["symbols"]:
            g = row.get("gdb") or {}
            old = before.get(row["n"])
            lines.append(f"| {row['n']:,} | {_secs(row['hwdbg_cold'])} | {_secs(row['hwdbg_warm'])} | {_secs(g)} | "
                         + (f"{old['hwdbg_cold']['median_s']:.2f} / {old['hwdbg_warm']['median_s']:.2f} s" if old else "–")
                         + f" | {row['hwdbg_cold']['median_rss_mib']:.0f} / {row['hwdbg_warm']['median_rss_mib']:.0f} / "
                         f"{g.get('median_rss_mib', float('nan')):.0f} MiB | {_load(row['hwdbg_cold'].get('median_load'))} |")
        lines.append("")
    if doc.get("python_attach"):
        before = {row["label"]: row for row in prev.get("python_attach", [])}
        lines += ["## Attach to python3.11d and watch an interpreter field (bench/symbols.py)", "",
                  "`-p PID -ex 'watch _PyRuntime.interpreters.main->ceval.recursion_limit' -ex detach`, start to exit: "
                  f"wall time (CPU time in parentheses), and the previous run's ({prev.get('date', 'none')}).", "",
                  "| Contender | Time (median) | Previous run | Peak RSS | Previous RSS | Load |", "|---|---:|---:|---:|---:|---:|"]
        for row in doc["python_attach"]:
            old = before.get(row["label"])
            lines.append(f"| {row['label']} | {_secs(row)} | {'–' if not old else format(old['median_s'], '.2f') + ' s'} | "
                         f"{row['median_rss_mib']:.0f} MiB | {'–' if not old else format(old['median_rss_mib'], '.0f') + ' MiB'} | "
                         f"{_load(row.get('median_load'))} |")
        lines.append("")
    lines += ["Raw runs: `bench/results/scale.json`. Plots: `scale_throughput.png`, `scale_threads.png`, "
              "`scale_attach.png`, `scale_symbols.png`."]
    return "\n".join(lines) + "\n"


def plots(doc: dict, out: Path) -> list[str]:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ["plots skipped: matplotlib is not installed (pip install matplotlib)"]
    s, made = doc["summary"], []
    if s.get("throughput"):
        rows = [r for r in s["throughput"] if r["rate"]]
        fig, ax = plt.subplots(figsize=(9, 4.5))
        names = [f"{LABELS[r['contender']]}{' (pinned)' if r['pinned'] else ''}" for r in rows]
        ax.barh(names, [r["rate"] for r in rows], color=["#888" if r["contender"] == FLOOR_N else
                                                         "#3a7" if r["contender"].startswith("nostop") else
                                                         "#37a" if r["contender"] in ("api", "cli") else "#a73"
                                                         for r in rows])
        for i, r in enumerate(rows):
            ax.text(r["rate"], i, f" {r['rate']:,.0f} ({_x(r['x_floor'])} floor)", va="center", fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel("hits/s (w1, median)")
        ax.set_title("Throughput against the trap floor")
        fig.tight_layout()
        fig.savefig(out / "scale_throughput.png", dpi=110)
        plt.close(fig)
        made.append("scale_throughput.png")
    curves = [("threads", "threads", "rate", "writer threads", "hits/s", (FLOOR_N, "c", "api", "nostop-api"),
               "scale_threads.png", "Hits/s by number of writer threads"),
              ("attach", "threads", "armed_ms", "threads in the target", "ms to armed", ("c", "api", "cli", "gdb"),
               "scale_attach.png", "Attach and arm, by thread count")]
    for key, xk, yk, xl, yl, names, fname, title in curves:
        if not s.get(key):
            continue
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for name in names:
            pts = [(r[xk], r[yk]) for r in s[key] if r["contender"] == name and r[yk] is not None]
            if pts:
                ax.plot(*zip(*pts), marker="o", label=LABELS[name])
        ax.set_xscale("log", base=2)
        if key == "attach":
            ax.set_yscale("log")
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
        ax.set_title(title)
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / fname, dpi=110)
        plt.close(fig)
        made.append(fname)
    if doc.get("symbols"):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        ns = [r["n"] for r in doc["symbols"]]
        # CPU time (solid) next to wall time (dotted): on a loaded machine only the first is steady.
        for (key, label), color in zip((("hwdbg_cold", "hwdbg, cold cache"), ("hwdbg_warm", "hwdbg, warm cache"),
                                        ("gdb", "gdb (index-cache off)")), ("C0", "C1", "C2")):
            for field, style, suffix in (("median_cpu_s", "-", "CPU"), ("median_s", ":", "wall")):
                ys = [(r.get(key) or {}).get(field) for r in doc["symbols"]]
                if any(y is not None for y in ys):
                    ax.plot(ns, ys, style, marker="o", color=color, label=f"{label}, {suffix}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("functions and globals in the program")
        ax.set_ylabel("seconds to read symbols and one type")
        ax.set_title("Symbol load of generated programs")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "scale_symbols.png", dpi=110)
        plt.close(fig)
        made.append("scale_symbols.png")
    return made


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="small sizes, 1 repetition")
    ap.add_argument("--n", type=int, help="writes of the throughput workload (default 100000)")
    ap.add_argument("--only", help="comma-separated parts: throughput,threads,attach,symbols")
    ap.add_argument("--out", default=str(R.RESULTS))
    args = ap.parse_args()
    reps = 1 if args.quick and args.reps == 3 else args.reps
    n = args.n or (10000 if args.quick else 100000)
    parts = set((args.only or "throughput,threads,attach,symbols").split(","))
    ns = argparse.Namespace(python=None, hwdbg_pythonpath=None)
    R.build()
    gcc = R.shutil.which("gcc")
    R.subprocess.run([gcc, "-O1", "-g", "-no-pie", "-pthread", "-o", str(R.BUILD / "wt_threads"),
                      str(R.BENCH / "targets" / "wt_threads.c")], check=True)
    env = R.environment(ns)
    env.perf = R.shutil.which("perf")  # perf stat is enough here (run.py also wants perf trace)
    if not env.perf:
        raise SystemExit("bench/scale.py needs perf (apt install linux-perf) for the floor")
    doc: dict = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                 "machine": R.machine(), "reps": reps, "n": n, "load_before": R.loadavg(),
                 "threads_total": n // 2 // 64 * 64}
    try:  # the last run's figures, shown beside the new ones
        last = json.loads((Path(args.out) / "scale.json").read_text())
        doc["previous"] = {"date": last.get("date"), "throughput": last.get("summary", {}).get("throughput", []),
                           "symbols": last.get("symbols", []), "python_attach": last.get("python_attach", [])}
    except (OSError, ValueError):
        doc["previous"] = {}
    t0 = time.monotonic()
    if "throughput" in parts:
        doc["throughput"] = throughput(env, n, reps)
    if "threads" in parts:
        doc["threads"] = threads_part(env, doc["threads_total"], reps)
    if "attach" in parts:
        doc["attach"] = attach_part(env, reps)
    if "symbols" in parts:
        sizes = [s for s in SYMBOL_SIZES if not args.quick or s <= 10000]
        doc["symbols"] = S.bench_generated(sizes, reps)
        doc["python_attach"] = [] if args.quick else S.bench_attach(reps)
    doc["load_after"] = R.loadavg()
    doc["seconds"] = round(time.monotonic() - t0)
    doc["summary"] = summarize(doc)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    doc["plots"] = plots(doc, out)
    (out / "scale.json").write_text(json.dumps(doc, indent=1, default=str) + "\n")
    (out / "scale.md").write_text(markdown(doc))
    print(markdown(doc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
