"""Software breakpoints (int3) on the real thing: stops, invisibility, exit paths, fork, exec, threads.

Every address comes from the symbols of tests/targets/sw_target.c, compiled at test time.
"""
from __future__ import annotations

import pytest

import hwdbg
import hwdbg.session
from hwdbg.errors import HwdbgError

pytestmark = pytest.mark.requires_ptrace

INT3 = 0xCC


@pytest.fixture(scope="session")
def sw_exe(build_target):
    return build_target("sw_target")


@pytest.fixture
def spawn(sw_exe):
    targets = []

    def _spawn(*args: str) -> hwdbg.Target:
        target = hwdbg.spawn([str(sw_exe), *args])
        targets.append(target)
        return target

    yield _spawn
    for target in targets:
        try:
            target.close()
        except HwdbgError:
            pass


def stops(target, limit=1000):
    """(function, line) of every stop until the exit, and the exit."""
    seen = []
    for _ in range(limit):
        result = target.cont(timeout=60)
        if not isinstance(result, hwdbg.Stopped):
            return seen, result
        assert result.reason == "breakpoint", result
        seen.append((result.where.function, result.where.line))
    raise AssertionError("too many stops")


def test_function_breakpoints_stop_after_the_prologue_any_number(spawn):
    t = spawn("calls", "3")
    add, twice = t.break_at("add"), t.break_at("twice")
    assert add.address != t.address_of("add") and add.status == "INSTALLED"
    seen, end = stops(t)
    assert seen == [("twice", 23), ("add", 16)] * 3
    assert end.code == 0 and add.hit_count == 3 and twice.hit_count == 3


def test_star_function_is_the_first_byte_and_a_tbreak_stops_once(spawn):
    t = spawn("calls", "3")
    first = t.break_at("*add")
    once = t.break_at("twice", temporary=True)
    assert first.address == t.address_of("add")
    stop = t.cont()
    assert stop.hits[0].id == once.id and once.id not in {b.id for b in t.breakpoints}
    stop = t.cont()
    assert stop.pc == t.address_of("add") and stop.hits[0].id == first.id
    seen, end = stops(t)
    assert len(seen) == 2 and end.code == 0


def test_condition_ignore_disable_and_delete(spawn):
    t = spawn("calls", "5")
    bp = t.break_at("add", condition="total >= 2")  # total after calls 0,1: 0, 2
    stop = t.cont()
    assert stop.hits[0].id == bp.id and t.evaluate("total") == 2
    t.session.get_breakpoint(bp.id).ignore_count = 1
    stop = t.cont()
    assert t.evaluate("total") == 12  # one crossing ignored (total 6 after the 3rd call)
    bp.disable()
    assert t.read_memory(bp.address, 1) == t.session.require_process().read_raw(bp.address, 1)
    bp.enable()
    bp.delete()
    assert t.cont().code == 0


def test_int3_bytes_are_invisible_and_writes_keep_the_breakpoint(spawn):
    t = spawn("calls", "2")
    original = t.read_memory(t.address_of("add"), 32)
    bp = t.break_at("add")
    inf = t.session.require_process()
    assert inf.read_raw(bp.address, 1)[0] == INT3
    assert t.read_memory(t.address_of("add"), 32) == original
    offset = bp.address - t.address_of("add")
    t.write_memory(bp.address, original[offset:offset + 1])  # the same byte, written over the breakpoint
    assert inf.read_raw(bp.address, 1)[0] == INT3 and t.read_memory(bp.address, 1) == original[offset:offset + 1]
    seen, end = stops(t)
    assert seen == [("add", 16)] * 2 and end.code == 0


def test_thread_specific_breakpoint_lets_other_threads_pass(spawn):
    t = spawn("calls", "3")
    bp = t.break_at("add", thread=t.pid)
    seen, end = stops(t)
    assert len(seen) == 3 and end.code == 0 and bp.hit_count == 3


def test_forked_child_passes_the_breakpoint(spawn):
    t = spawn("fork")
    bp = t.break_at("add")
    seen, end = stops(t)
    # Only the parent stops; the child, let go with the original bytes, runs add and exits 0.
    assert seen == [("add", 16)] and end.code == 0 and bp.hit_count == 1


def test_vfork_child_runs_while_the_parent_keeps_its_breakpoint(spawn):
    t = spawn("vfork")
    bp = t.break_at("add")
    seen, end = stops(t)
    assert seen == [("add", 16)] and end.code == 0 and bp.hit_count == 1


def test_re_resolved_after_exec(spawn):
    t = spawn("exec")
    bp = t.break_at("add")
    seen, end = stops(t)
    assert seen == [("add", 16)] * 3 and end.code == 0 and bp.hit_count == 3


def test_threads_pass_one_breakpoint_while_others_hit_a_watchpoint(spawn):
    n = 200
    t = spawn("threads", str(n))
    bp = t.break_at("add", on_hit=lambda hit: None)
    watched = t.watch("watched")
    with t.session.tracing():
        end = t.cont(timeout=120)
    assert end.code == 0
    assert bp.hit_count == 4 * n  # every pass of every thread, none missed
    assert watched.hit_count == 2 * n  # two writers, each value change once


def test_threads_stopping_at_one_breakpoint_and_a_watchpoint_count_exactly(spawn):
    n = 40
    t = spawn("threads", str(n))
    bp = t.break_at("add")
    watched = t.watch("watched")
    kinds = {"break": 0, "watch": 0}
    while True:
        result = t.cont(timeout=120)
        if not isinstance(result, hwdbg.Stopped):
            break
        only_watches = all(hit.kind == "watch" for hit in result.hits if hit.stopped)
        assert result.reason == ("watchpoint" if only_watches else "breakpoint"), result
        for hit in result.hits:
            kinds[hit.kind.value] += 1
            if hit.kind == "break":
                assert hit.pc == bp.address and result.pc == bp.address
    assert result.code == 0
    assert kinds == {"break": 4 * n, "watch": 2 * n} and bp.hit_count == 4 * n and watched.hit_count == 2 * n


@pytest.mark.parametrize("location, message", [
    ("table", "data symbol"), ("nosuch", "no symbol"), ("nofile.c:3", "no source file"),
    ("sw_target.c:99999", "no code at"), ("", "no location"),
])
def test_bad_locations_change_nothing(spawn, location, message):
    t = spawn("calls", "1")
    before = [b.id for b in t.breakpoints]
    with pytest.raises(HwdbgError) as info:
        t.break_at(location)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert [b.id for b in t.breakpoints] == before
    assert t.cont().code == 0


def test_a_line_without_code_moves_to_the_next(spawn):
    t = spawn("calls", "1")
    bp, note = t.session.add_break("sw_target.c:24")
    assert note == "line 24 of sw_target.c has no code; using line 25"
    stop = t.cont()
    assert stop.where.line == 25 and stop.hits[0].id == bp.id


# ------------------------------------------------------------------ libraries not loaded yet

def test_pending_breakpoint_resolves_when_dlopen_loads_the_library(build_target, spawn):
    lib = build_target("sym_lib", shared=True)
    t = spawn("dlopen", str(lib))
    bp = t.break_at("libsym_lib:lib_bump")
    assert bp.status == "PENDING"
    seen, end = stops(t)
    assert seen == [("lib_bump", 14)] * 2 and end.code == 0 and bp.hit_count == 2


def test_pending_before_run_resolves_at_startup(build_target):
    exe = build_target("sym_uselib", libs=("sym_lib",))
    session = hwdbg.session.Session()
    session.load([str(exe)])
    bp, note = session.add_break("libsym_lib:lib_bump")
    assert bp.status == "PENDING" and "pending" in note
    try:
        session.spawn()
        stop = session.cont()
        assert stop.reason == "breakpoint" and stop.where.function == "lib_bump"
    finally:
        session.close()
