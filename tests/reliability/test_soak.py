"""Soak: a million hits (stress; 100,000 by default) through the Python API without the debugger
growing, and spawn/close cycles without leaking file descriptors, threads or children.

Memory is measured in a fresh debugger process (resident set from /proc/self/statm, sampled by an
``on_hit`` callback at hit 10,000, at hit 100,000 and after the exit); it must grow by less than
5 MB from hit 10,000 to the end, both with the default (a Breakpoint keeps its 10,000 most recent
hits) and with the hits cleared from the callback every 10,000. (When this suite was written the
default was 100,000 kept hits, ~273 bytes each: ~26 MB per breakpoint, which it reported.)
"""
from __future__ import annotations

import gc
import os
import threading

import pytest

import hwdbg

from .helpers import env_int, last_json, run_python

pytestmark = pytest.mark.requires_hw_watchpoints

HITS = (100_000, env_int("SOAK_HITS", 1_000_000))
MB = 1 << 20

SOAK = '''
    import json, os, resource, sys, time, hwdbg
    exe, n, clear_every = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    page = os.sysconf("SC_PAGE_SIZE")
    def rss():
        return int(open("/proc/self/statm").read().split()[1]) * page
    samples = {}
    holder = {}
    def on_hit(hit):
        bp = holder["bp"]
        count = bp.hit_count
        if clear_every and count % clear_every == 0:
            bp._bp.hits.clear()
        if count in (10_000, 100_000):
            samples[str(count)] = rss()
    fds_before = len(os.listdir("/proc/self/fd"))
    t = hwdbg.spawn([exe, "counter", "0", str(n)], stdout=open(os.devnull, "w").fileno())
    t.run_to("ready", timeout=30)
    bp = t.watch("counter", on_hit=on_hit)
    holder["bp"] = bp
    started = time.monotonic()
    end = t.run_until_exit()
    seconds = time.monotonic() - started
    samples["end"] = rss()
    hit_count, kept = bp.hit_count, len(bp._bp.hits)
    last_new = bp._bp.hits[-1].new if bp._bp.hits else None
    t.close()
    del t, bp, holder
    import gc; gc.collect()  # symbol files are freed by the cyclic GC only: see the xfail test
    print(json.dumps({"end": end.to_json(), "hits": hit_count, "kept": kept, "rss": samples,
                      "seconds": seconds, "fds": [fds_before, len(os.listdir("/proc/self/fd"))],
                      "last_new": last_new}))
'''


def soak(exe, hits: int, clear_every: int) -> dict:
    proc = run_python(SOAK, exe, hits, clear_every, timeout=3000)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return last_json(proc.stdout)


def sized(timeout_short=60):
    short, long_ = HITS
    return pytest.mark.parametrize("hits", [
        pytest.param(short, id="short", marks=pytest.mark.timeout(timeout_short)),
        pytest.param(long_, id="stress", marks=[pytest.mark.stress, pytest.mark.timeout(3600)])])


@sized()
def test_soak_api_memory_flat(rel_exe, figures, hits):
    """Hits cleared every 10,000 (the soak usage): from hit 10,000 to the end, RSS grows < 5 MB."""
    out = soak(rel_exe, hits, 10_000)
    assert out["end"] == {"event": "exited", "code": 0, "pid": out["end"]["pid"]}
    assert out["hits"] == hits  # none lost, none invented, over the whole run
    growth = out["rss"]["end"] - out["rss"]["10000"]
    assert growth < 5 * MB, f"RSS grew {growth / MB:.1f} MB from hit 10,000 to hit {hits:,}"
    assert out["fds"][0] == out["fds"][1]
    figures.add("hits checked", hits)
    figures.note(f"soak {hits:,} hits (API, hits cleared every 10,000): RSS growth from hit 10,000",
                 f"{growth / MB:+.2f} MB ({hits / out['seconds']:,.0f} hits/s)")


KEPT_HITS = (30_000, env_int("SOAK_HITS", 1_000_000))


@pytest.mark.parametrize("hits", [
    pytest.param(KEPT_HITS[0], id="short", marks=pytest.mark.timeout(60)),
    pytest.param(KEPT_HITS[1], id="stress", marks=[pytest.mark.stress, pytest.mark.timeout(3600)])])
def test_soak_api_kept_hits(rel_exe, figures, hits):
    """Hits kept (the default, the 10,000 most recent): memory stays flat from hit 10,000 to the end."""
    out = soak(rel_exe, hits, 0)
    assert out["hits"] == hits and out["kept"] == min(hits, 10_000)
    assert out["last_new"] == hits  # the most recent hit is kept, with its exact value
    growth = out["rss"]["end"] - out["rss"]["10000"]
    figures.note(f"soak {hits:,} hits (API, default keep=10,000): RSS growth from hit 10,000 to the end",
                 f"{growth / MB:+.2f} MB")
    assert growth < 5 * MB, f"RSS grew {growth / MB:.1f} MB after hit 10,000"
    figures.add("hits checked", hits)


def children() -> list[int]:
    """This process's children, zombies included, from /proc."""
    me, out = os.getpid(), []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == me:
                out.append(int(entry))
    return out


@pytest.mark.timeout(120)
def test_no_descriptor_thread_or_child_leak_over_spawn_close_cycles(rel_exe, figures):
    """Spawn/close cycles ending every way (exit, SIGSEGV, SIGKILL, timeout then close, detach
    after exec, thread churn): this process's fds, threads and children are as before."""
    def fds():
        return sorted(os.listdir("/proc/self/fd"))

    def start(*args):
        t = hwdbg.spawn([str(rel_exe), *map(str, args)], stdout=devnull)
        t.run_to("ready", timeout=30)
        return t

    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        cycles = 0
        warm = start("counter", 0, 10)
        warm.close()
        del warm
        gc.collect()
        before = fds()
        threads_before = threading.active_count()
        for _ in range(3):
            t = start("counter", 0, 100)
            t.watch("counter")
            assert t.run_until_exit(timeout=30).code == 0
            t.close()
            t = start("segv")
            t.watch("counter")
            while isinstance(t.cont(timeout=10), hwdbg.Stopped):
                pass
            t = start("forever", 0, 30)
            t.watch("counter")
            t.cont(timeout=10)
            t.kill()
            t = start("pause")
            t.watch("counter")
            t.cont(timeout=10)
            with pytest.raises(hwdbg.TargetTimeout):
                t.cont(timeout=0.2)
            t.close()
            t = start("thread-exec", 4, 10)
            t.watch("counter")
            assert t.run_until_exit(timeout=30).code == 0
            t = start("churn", 50)
            t.watch("churn_var")
            t.cont(timeout=10)
            t.close()
            cycles += 6
        del t
        gc.collect()  # symbol files are freed by the cyclic GC only: see the xfail test below
        assert fds() == before
        assert threading.active_count() == threads_before  # timeout timers ended
        assert children() == []  # no child left behind, not even a zombie
    finally:
        os.close(devnull)
    figures.add("spawn/close cycles checked for leaks", cycles)


@pytest.mark.timeout(60)
@pytest.mark.xfail(strict=True, reason="BUG: closing a Target does not close its symbol files: the ELF files "
                   "of the program, ld.so and libc's separate debug file stay open (3 fds per session) until the "
                   "cyclic garbage collector runs (symbols.elf.ElfImage keeps itself in a cycle, "
                   "`self._symbol_file = self`, and nothing calls ElfImage.close()); with gc disabled they pile up")
def test_close_releases_symbol_files_without_gc(rel_exe):
    code = """
        import gc, os, sys, hwdbg
        gc.disable()
        devnull = os.open(os.devnull, os.O_WRONLY)
        before = len(os.listdir("/proc/self/fd"))
        for _ in range(20):
            with hwdbg.spawn([sys.argv[1], "counter", "0", "10"], stdout=devnull) as t:
                t.run_to("ready", timeout=10)
                t.watch("counter")
                t.run_until_exit(timeout=10)
        print(before, len(os.listdir("/proc/self/fd")))
    """
    proc = run_python(code, rel_exe, timeout=50)
    assert proc.returncode == 0, proc.stderr
    before, after = map(int, proc.stdout.split())
    assert after <= before + 3  # at most the last session's files, not 3 x 20
