"""watch/awatch/hbreak --no-stop: perf records instead of stops, counted exactly, in every thread."""
from __future__ import annotations

import collections
import json
import re
import signal
import subprocess
import sys
import time

import pytest

import hwdbg
from hwdbg.disasm import disassemble_function
from hwdbg.session import notrace

pytestmark = pytest.mark.requires_hw_watchpoints


@pytest.fixture(scope="module")
def exe(build_target):
    return str(build_target("nostop_target"))


@pytest.fixture
def targets():
    started: list[hwdbg.Target] = []
    yield started
    for t in started:
        try:
            t.close()
        except hwdbg.HwdbgError:
            pass


def spawn(targets, exe, *args, ready=True) -> hwdbg.Target:
    t = hwdbg.spawn([exe, *map(str, args)])
    targets.append(t)
    if ready:
        t.run_to("ready")
    return t


def store_pc(t: hwdbg.Target) -> int:
    """Where a data trap of store()'s write to `shared` reports: right after that instruction,
    found by disassembling store() and decoding the rip-relative destination."""
    shared = t.address_of("shared")
    for insn in disassemble_function(t.session.symbols, t.session.read_memory, "store"):
        m = re.search(r",\s*(-?0x[0-9a-f]+|\d+)?\(%rip\)$", insn.op_str)
        if insn.mnemonic.startswith("mov") and m and insn.address + insn.size + int(m.group(1) or "0", 0) == shared:
            return insn.address + insn.size
    raise AssertionError("no store to `shared` in store()")


@pytest.mark.parametrize("mode", ["after", "before"])  # threads created after the watch, or already there
def test_exact_count_per_thread_at_the_store_instruction(targets, exe, mode):
    m, n = 4, 5000
    t = spawn(targets, exe, mode, m, n)
    pc = store_pc(t)
    w = t.watch("shared", no_stop=True, keep=None)
    assert w.status == "TRACING" and t.session.manager.reserved == 1
    assert t.run_until_exit().code == 0
    per_thread = collections.Counter(h.tid for h in w.hits)
    assert sorted(per_thread.values()) == [n] * m and t.pid not in per_thread
    assert {h.pc for h in w.hits} == {pc}
    assert {h.function for h in w.hits} == {"store"}
    assert w.hit_count == m * n and w.lost == 0
    assert all(h.old is None and h.new is None and h.note == notrace.NOTE and h.time for h in w.hits)
    times = [h.time for h in w.hits if h.tid == min(per_thread)]
    assert times == sorted(times)  # one thread's records come in order


def test_same_counts_as_the_ptrace_trace(targets, exe):
    """The no-stop records and the stopping --trace watch see the same writes."""
    m, n = 3, 2000
    t = spawn(targets, exe, "after", m, n)
    perf = t.watch("shared", no_stop=True, keep=None)
    trapped = t.watch("shared", keep=None)  # every write is a hit (no changes_only)
    assert t.run_until_exit().code == 0
    assert collections.Counter(h.tid for h in perf.hits) == collections.Counter(h.tid for h in trapped.hits)
    assert {h.pc for h in perf.hits} == {h.pc for h in trapped.hits}


def test_backtrace_is_the_user_call_chain(targets, exe):
    t = spawn(targets, exe, "after", 2, 10)
    w = t.watch("shared", no_stop=True, backtrace=True)
    assert t.run_until_exit().code == 0
    assert w.hit_count == 20
    for hit in w.hits:
        names = [f.function for f in hit.backtrace]
        assert names[:2] == ["store", "writer"], names
        assert hit.backtrace[0].pc == hit.pc


def test_awatch_and_hbreak(targets, exe):
    m, n = 2, 1000
    t = spawn(targets, exe, "after", m, n)
    access = t.watch("shared", access="rw", no_stop=True)
    calls = t.hbreak("store", no_stop=True)
    assert t.run_until_exit().code == 0
    assert access.hit_count == calls.hit_count == m * n
    assert {h.pc for h in calls.hits} == {calls.address}  # execute: the instruction itself
    assert {h.kind for h in calls.hits} == {"hbreak"}


def test_refuses_what_it_cannot_do(targets, exe):
    t = spawn(targets, exe, "after", 1, 10)
    with pytest.raises(hwdbg.UsageError, match="rwatch --no-stop"):
        t.watch("shared", access="r", no_stop=True)
    with pytest.raises(hwdbg.UsageError, match="condition"):
        t.watch("shared", no_stop=True, condition="new > 3")
    with pytest.raises(hwdbg.UsageError, match="--count"):
        t.watch("shared", no_stop=True, count=True)
    assert not t.breakpoints and t.session.manager.reserved == 0
    assert t.run_until_exit().code == 0


def test_fifth_watch_is_refused_naming_the_holders(targets, exe):
    n = 300
    t = spawn(targets, exe, "slots", 1, n, ready=False)  # before the first instruction: no DR written yet
    watches = [t.watch(f"g[{k}]", no_stop=True) for k in range(4)]
    with pytest.raises(hwdbg.SlotError) as err:
        t.watch("g[4]", no_stop=True)
    message = str(err.value)
    assert "0 of 4 are left" in message and all(f"watch {w.id} --no-stop" in message for w in watches)
    assert "\n" not in message
    assert len(t.breakpoints) == 4 and t.session.manager.reserved == 4
    # A ptrace watch now waits for a slot instead of taking one of perf's.
    waiting = t.watch("g[5]")
    assert waiting.status == "REGISTERED"
    assert t.run_until_exit().code == 0
    assert [w.hit_count for w in watches] == [n] * 4 and waiting.hit_count == 0


def test_slots_held_by_ptrace_and_another_tool(targets, exe, hold_slots):
    n = 200
    t = spawn(targets, exe, "slots", 1, n)  # run_to("ready") wrote DR0: ptrace keeps that slot
    with hold_slots(t.pid, t.address_of("g") + 7 * 8, 1):  # as `perf record -e mem:...` would
        first = t.watch("g[0]", no_stop=True)
        second = t.watch("g[1]", no_stop=True)
        with pytest.raises(hwdbg.SlotError) as err:
            t.watch("g[2]", no_stop=True)
        message = str(err.value)
        assert message.startswith(f"no free debug register in thread {t.pid} for --no-stop")
        assert f"watch {first.id} --no-stop" in message and "ptrace" in message and "another tool" in message
        assert len(t.breakpoints) == 2 and t.session.manager.reserved == 2
    assert t.run_until_exit().code == 0
    assert first.hit_count == second.hit_count == n


def test_lost_records_are_counted_exactly(targets, exe, monkeypatch):
    """A one-page ring that nobody reads while the target runs: what did not fit is lost, and
    every write is either a hit or counted as lost."""
    monkeypatch.setattr(notrace.NoStopTraces, "start_reader", lambda self: None)
    monkeypatch.setattr("hwdbg.hw.perftrace.PAGES", 1)
    m, n = 2, 3000
    t = spawn(targets, exe, "before", m, n)
    notices = []
    t.session.listeners.append(lambda e: notices.append(e) if getattr(e, "what", None) == "lost" else None)
    w = t.watch("shared", no_stop=True, keep=None)
    assert t.run_until_exit().code == 0
    assert w.lost > 0 and w.hit_count + w.lost == m * n
    assert sum(e.data["lost"] for e in notices) == w.lost


def test_cli_json_records_and_info_breakpoints(exe):
    n = 500
    out = subprocess.run([sys.executable, "-m", "hwdbg", "--batch", "--json", "-ex", "start", "-ex",
                          "watch shared --trace --no-stop", "-ex", "continue", "-ex", "info breakpoints",
                          exe, "after", "2", str(n)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    hits = [e for e in events if e["event"] == "hit" and e["expr"] == "shared"]
    assert len(hits) == 2 * n
    assert all(h["old"] is None and h["new"] is None and h["note"] and h["function"] == "store" for h in hits)
    info = [e for e in events if e.get("command") == "info breakpoints"][-1]["breakpoints"][0]
    assert info["hits"] == 2 * n and info["no_stop"] is True and info["lost"] == 0
    assert [e["code"] for e in events if e["event"] == "exited"] == [0]


def test_target_survives_sigkill_of_hwdbg(exe):
    """The events are hwdbg's fds: killed, it takes them along, and the target runs on to exit 0
    (a POKEUSER watch left behind would kill it with SIGTRAP at its next write)."""
    target = subprocess.Popen([exe, "slow", "1", "1500"])
    try:
        time.sleep(0.2)
        debugger = subprocess.Popen([sys.executable, "-m", "hwdbg", "--batch", "--json", "-p", str(target.pid),
                                     "-ex", "watch shared --trace --no-stop", "-ex", "continue"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            for line in debugger.stdout:
                if '"event": "hit"' in line:
                    break
            else:
                pytest.fail(f"no hit before hwdbg ended: {debugger.stderr.read()}")
            debugger.send_signal(signal.SIGKILL)
            debugger.wait(timeout=60)
        finally:
            if debugger.poll() is None:
                debugger.kill()
        assert target.poll() is None  # it was still running when hwdbg died
        assert target.wait(timeout=60) == 0
    finally:
        if target.poll() is None:
            target.kill()


SECCOMP_PERF_EPERM = """
import ctypes, errno, runpy, struct, sys
# A seccomp filter that makes perf_event_open (298) fail with EPERM, as a container profile does.
prog = [(0x20, 0, 0, 4), (0x15, 0, 3, 0xC000003E), (0x20, 0, 0, 0), (0x15, 0, 1, 298),
        (0x06, 0, 0, 0x00050000 | errno.EPERM), (0x06, 0, 0, 0x7FFF0000)]
raw = b"".join(struct.pack("=HBBI", *insn) for insn in prog)
buf = ctypes.create_string_buffer(raw, len(raw))
class Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
fprog = Fprog(len(prog), ctypes.cast(buf, ctypes.c_void_p))
libc = ctypes.CDLL(None, use_errno=True)
assert libc.prctl(38, 1, 0, 0, 0) == 0 and libc.prctl(22, 2, ctypes.byref(fprog), 0, 0) == 0
sys.argv = ["hwdbg", *sys.argv[1:]]
runpy.run_module("hwdbg", run_name="__main__")
"""


def test_perf_forbidden_by_seccomp_is_one_line_and_nothing_changes(exe):
    out = subprocess.run([sys.executable, "-c", SECCOMP_PERF_EPERM, "--batch", "--json", "-ex", "start", "-ex",
                          "watch shared --trace --no-stop", "-ex", "continue", exe, "after", "1", "10"], capture_output=True, text=True, timeout=120)
    assert "Traceback" not in out.stderr, out.stderr
    events = [json.loads(line) for line in out.stdout.splitlines()]
    errors = [e for e in events if e["event"] == "error"]
    assert len(errors) == 1 and errors[0]["kind"] == "UnsupportedError", events
    message = errors[0]["message"]
    assert "perf_event_open refused (EPERM)" in message and "Seccomp: 2" in message and "\n" not in message
    assert out.returncode == 0  # the failed watch changed nothing: `continue` ran the program to its end
    assert not [e for e in events if e["event"] == "hit" and e["expr"] == "shared"]
