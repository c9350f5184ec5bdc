"""hits/s of `watch counter` in gdb: gdb alone (native ptrace) against gdb driving hwdbg serve
(over a pipe, --stdio, and over TCP on loopback), and gdb driving GNU gdbserver the same ways
when it is installed (the reference for a remote stub). Every hit is a stop the client sees and
continues from (a `commands` list with `continue`), so this measures the round trip per hit.

    .venv/bin/python bench/serve.py [--hits N] [--runs R]

Writes bench/results/serve.{md,json}. The target is tests/targets/remote_target.c (`loop N`:
N increments of a global, each one a hit).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STUB = [sys.executable, "-m", "hwdbg", "serve"]

TIMED = """\
python import time; _t0 = time.monotonic()
watch counter
commands
silent
continue
end
continue
python print("ELAPSED", time.monotonic() - _t0)
"""


def build(out: Path) -> Path:
    exe = out / "remote_target"
    subprocess.run(["gcc", "-g", "-O0", "-no-pie", "-pthread", "-o", str(exe),
                    str(ROOT / "tests/targets/remote_target.c")], check=True)
    return exe


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_gdb(exe: Path, hits: int, mode: str, tmp: Path) -> float:
    server = None
    stub = ["gdbserver"] if mode.startswith("gdbserver") else STUB
    if mode == "native":
        start = "break main\nrun\n"
    elif mode.endswith("stdio"):
        options = ["-"] if stub[0] == "gdbserver" else ["-q", "--stdio"]
        start = f"target remote | {shlex.join([*stub, *options, str(exe), 'loop', str(hits)])}\nbreak main\ncontinue\n"
    else:
        port = free_port()
        log = tmp / f"{mode}.log"  # a file, not a pipe nobody drains (gdbserver would block writing to it)
        with open(log, "w") as err:
            server = subprocess.Popen([*stub, f"127.0.0.1:{port}", str(exe), "loop", str(hits)], stderr=err)
        while "Listening" not in log.read_text() and server.poll() is None:
            time.sleep(0.05)
        start = f"target remote 127.0.0.1:{port}\nbreak main\ncontinue\n"
    script = tmp / f"{mode}.gdb"
    script.write_text("set pagination off\nset confirm off\n" + start + TIMED)
    args = ["gdb", "-nx", "-batch", "-x", str(script)]
    args += ["--args", str(exe), "loop", str(hits)] if mode == "native" else [str(exe)]
    env = {k: v for k, v in os.environ.items() if k != "DEBUGINFOD_URLS"}
    done = subprocess.run(args, capture_output=True, text=True, timeout=3600, env=env)
    if server is not None:
        server.wait(timeout=120)
    got = len(re.findall(r"^Hardware watchpoint", done.stdout, re.M))  # 1 when set; silent hits print nothing
    match = re.search(r"ELAPSED ([0-9.]+)", done.stdout)
    if not match or "exited normally" not in done.stdout + done.stderr or got < 1:
        raise RuntimeError(f"{mode}: {done.stdout[-2000:]} {done.stderr[-2000:]}")
    return float(match[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hits", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results: dict = {"hits": args.hits, "runs": args.runs, "load_before": os.getloadavg()[0],
                     "gdb": subprocess.run(["gdb", "--version"], capture_output=True, text=True).stdout.split("\n")[0],
                     "modes": {}}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        exe = build(tmp)
        modes = ["native", "stdio", "tcp"] + (["gdbserver-stdio", "gdbserver-tcp"] if shutil.which("gdbserver") else [])
        seconds: dict[str, list[float]] = {mode: [] for mode in modes}
        for _ in range(args.runs):  # the modes take turns, so a change of load hits them alike
            for mode in modes:
                seconds[mode].append(run_gdb(exe, args.hits, mode, tmp))
        for mode in modes:
            best = min(seconds[mode])
            results["modes"][mode] = {"seconds": seconds[mode], "best_hits_per_s": args.hits / best,
                                      "median_hits_per_s": args.hits / statistics.median(seconds[mode])}
            print(f"{mode:15} {args.hits / best:8.0f} hits/s (best of {args.runs}: {best:.2f} s)", flush=True)
    results["load_after"] = os.getloadavg()[0]
    out = ROOT / "bench/results"
    (out / "serve.json").write_text(json.dumps(results, indent=2) + "\n")
    native = results["modes"]["native"]["best_hits_per_s"]
    rows = [f"| {m} | {r['best_hits_per_s']:.0f} | {r['median_hits_per_s']:.0f} | "
            f"{r['best_hits_per_s'] / native:.2f} |" for m, r in results["modes"].items()]
    (out / "serve.md").write_text(
        f"# hwdbg serve: `watch counter` hits/s with gdb as the client\n\n"
        f"{args.hits} hits per run (each a stop gdb continues from), best and median of {args.runs} runs; "
        f"{results['gdb']}; load average {results['load_before']:.1f} before, {results['load_after']:.1f} after "
        f"(2 vCPUs shared with other jobs: compare the rows, not the absolute figures).\n\n"
        "| gdb with | best hits/s | median hits/s | vs native |\n|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
        "native: gdb's own ptrace watchpoint; stdio: `target remote | hwdbg serve --stdio`; tcp: "
        "`target remote 127.0.0.1:PORT`; gdbserver-*: the same with GNU gdbserver as the stub, the "
        "reference for the remote protocol (gdb exchanges about 10 packets per hit with any stub: the stop "
        "reply, two reads of the watched value, the thread list, z/Z of each breakpoint, vCont). "
        "Regenerate: `.venv/bin/python bench/serve.py`.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
