"""One run of the hwdbg Python API contender (started by bench/run.py, one process per run).

A separate process per run so that ``pin=True`` (which pins the calling process and,
through it, the target) never affects the harness, and every run starts cold like the
other contenders. Prints one JSON line on stdout.

    spawn:  hwdbg_api_runner.py spawn [--pin] [--no-stop] [--access w|rw] --watch SYM [--watch SYM...] -- PROGRAM ARGS...
            hwdbg.spawn(argv, pin=...), run_to("main"), watch every SYM, then the timed part:
            run_until_exit() (hits are recorded in each watch's ``hits``, the target never stops).
    attach: hwdbg_api_runner.py attach --watch SYM PID
            timed: hwdbg.attach(pid) + watch(SYM) ("armed in every thread"); then checked
            (DR7 of every thread read back), then cont() to the first hit, then detach().
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import traceback


def spawn_run(args: argparse.Namespace) -> dict:
    import hwdbg

    out: dict = {"hwdbg_file": hwdbg.__file__, "hwdbg_version": hwdbg.__version__}
    t_start = time.perf_counter()
    target = hwdbg.spawn(args.argv, pin=args.pin)
    try:
        target.run_to("main")
        watches = [target.watch(sym, access=args.access, keep=None, no_stop=args.no_stop) for sym in args.watch]
        out["setup_s"] = time.perf_counter() - t_start
        t0, cpu0 = time.perf_counter(), time.thread_time()
        end = target.run_until_exit()
        seconds = time.perf_counter() - t0
        cpu_s = time.thread_time() - cpu0  # this (the tracing) thread's CPU: bench/tracer_cpu.py
        out.update(seconds=seconds, cpu_s=cpu_s, hits=sum(w.hit_count for w in watches),
                   per_watch={w.expr: w.hit_count for w in watches}, lost=sum(w.lost for w in watches),
                   recorded=sum(len(w.hits) for w in watches),
                   end=end.to_json() if hasattr(end, "to_json") else repr(end))
        code = getattr(end, "code", None)
        out["exit"] = code if code is not None else f"killed by {getattr(end, 'signal', '?')}"
    finally:
        target.close()
    return out


def attach_run(args: argparse.Namespace) -> dict:
    import hwdbg

    out: dict = {"hwdbg_file": hwdbg.__file__, "hwdbg_version": hwdbg.__version__}
    t0 = time.perf_counter()
    target = hwdbg.attach(args.pid)
    try:
        t_attached = time.perf_counter()
        target.watch(args.watch[0], access=args.access)
        t_armed = time.perf_counter()
        threads = target.threads
        armed = sum(1 for tid in threads if target.debug_registers(tid)[7] & 1)
        t_checked = time.perf_counter()
        stop = target.cont(timeout=10)
        t_hit = time.perf_counter()
        hit = bool(getattr(stop, "hits", ()))
        target.detach()
        t_detached = time.perf_counter()
        out.update(threads=len(threads), armed_threads=armed, attach_s=t_attached - t0, armed_s=t_armed - t0,
                   first_hit_s=(t_hit - t_checked) + (t_armed - t0) if hit else None,
                   detach_s=t_detached - t_hit, stop=stop.to_json() if hasattr(stop, "to_json") else repr(stop))
    finally:
        target.close()
    return out


def main() -> int:
    argv = sys.argv[1:]
    rest: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, rest = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("spawn", "attach"))
    parser.add_argument("pid", nargs="?", type=int)
    parser.add_argument("--pin", action="store_true")
    parser.add_argument("--no-stop", action="store_true", help="watch(no_stop=True): perf records, no stops")
    parser.add_argument("--access", default="w")
    parser.add_argument("--watch", action="append", required=True)
    args = parser.parse_intermixed_args(argv)
    try:
        if args.mode == "spawn":
            args.argv = rest
            out = spawn_run(args)
        else:
            out = attach_run(args)
    except BaseException as exc:  # reported as an error of this run, never a crash of the harness
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}))
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
