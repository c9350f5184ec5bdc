"""Logical breakpoints on real threads: priorities, sharing, ranges, threads, signals, exec, fork."""
from __future__ import annotations

import pytest

import hwdbg
from hwdbg.hw import debugregs

pytestmark = pytest.mark.requires_hw_watchpoints


def test_eight_watchpoints_four_installed_by_priority(start):
    t = start("globals", 5)
    events = []
    bps = [t.watch(f"g[{i}]", priority=i) for i in range(8)]
    for bp in bps:
        bp._bp.hw.installed = lambda hw: events.append(("installed", hw.id))
    assert [bp.status for bp in bps] == ["REGISTERED"] * 4 + ["INSTALLED"] * 4
    # the user-visible number does not depend on the slot
    assert sorted(s[0] for bp in bps[4:] for s in bp.slots.values()) == [0, 1, 2, 3]
    bps[7].delete()
    assert bps[3].status == "INSTALLED" and ("installed", bps[3].id) in events
    t.run_until_exit()
    assert [bp.hit_count for bp in bps[:3]] == [0, 0, 0]
    assert [bp.hit_count for bp in bps[3:7]] == [5, 5, 5, 5]
    assert [h.new for h in bps[3].hits] == [r * 8 + 3 + 1 for r in range(5)]


def test_identical_chunks_share_one_slot(start):
    t = start("globals", 2)
    a = t.watch("g[0]")
    b = t.watch("g[0]")
    c = t.watch("g[0]", access="rw")  # different type: its own slot
    tid = t.pid
    assert a.slots[tid] == b.slots[tid] and c.slots[tid] != a.slots[tid]
    t.run_until_exit()
    assert a.hit_count == b.hit_count == 2


def test_unaligned_packed_field(start):
    t = start("ranges")
    field = t.watch("packed_s.field")
    assert field.address % 4 == 1 and field.length == 4
    assert len(field.slots[t.pid]) == 3  # 1 + 2 + 1 bytes: the exact GDB split
    t.run_until_exit()
    assert [(h.new, h.function) for h in field.hits] == [(0x11223344, "main")]


def test_16_byte_array_watched_whole(start):
    t = start("ranges")
    block = t.watch("block")
    assert block.length == 16 and len(block.slots[t.pid]) == 2
    t.run_until_exit()
    assert block.hit_count == 16  # one per byte written, none for the neighbours
    assert block.hits[-1].new == int.from_bytes(bytes(range(1, 17)), "little")


def test_neighbours_never_report(start):
    t = start("ranges")
    before, after = t.watch("neighbour_before"), t.watch("neighbour_after")
    tag = t.watch("packed_s.tag")
    t.run_until_exit()
    assert (before.hit_count, after.hit_count, tag.hit_count) == (1, 1, 1)


def test_eight_threads_exactly_all_hits_with_their_thread_ids(start):
    n = 10_000
    t = start("threads", n)
    shared = t.watch("shared", keep=None)
    exit_event = t.run_until_exit(timeout=120)
    assert exit_event == hwdbg.Exited(code=0, pid=exit_event.pid)
    assert shared.hit_count == 8 * n
    per_thread = {}
    for hit in shared._bp.hits:
        per_thread[hit.tid] = per_thread.get(hit.tid, 0) + 1
    assert sorted(per_thread.values()) == [n] * 8 and t.pid not in per_thread
    # Each thread writes its own tid. The value is read when the debugger looks, and another
    # thread may have written since, but it is always some writer's tid.
    assert {hit.new for hit in shared._bp.hits} <= set(per_thread)


def test_program_sigtrap_reaches_its_handler(start):
    t = start("sigtrap")
    counter = t.watch("counter")
    assert t.run_until_exit() == hwdbg.Exited(code=0, pid=t.session.last_stop and t.exit.pid)
    assert counter.hit_count == 2


def test_exec_rearms_same_image(start):
    t = start("exec")
    counter = t.watch("counter")
    notices = []
    t.session.listeners.append(notices.append)
    assert t.run_until_exit().code == 0
    assert counter.hit_count == 3  # one before exec, two after, in the new image
    assert any(getattr(n, "what", "") == "exec" for n in notices)


def test_exec_of_other_image_drops_with_reason(start):
    t = start("exec-other")
    counter = t.watch("counter")
    notices = []
    t.session.listeners.append(notices.append)
    assert t.run_until_exit().code == 0
    dropped = [n for n in notices if getattr(n, "what", "") == "breakpoint-dropped"]
    assert dropped and "counter" in dropped[0].message and counter.status == "DISABLED"


def test_fork_child_runs_untouched(start):
    t = start("fork")
    counter = t.watch("counter")
    assert t.run_until_exit().code == 0  # 3 = the child died (e.g. by SIGTRAP)
    assert counter.hit_count == 2


def test_execute_breakpoint_stops_before_and_continue_proceeds(start):
    t = start("globals", 4)
    bp = t.hbreak("*write_g")  # the first byte (gdb: write_g is after the prologue)
    stops = 0
    while True:
        result = t.cont()
        if not isinstance(result, hwdbg.Stopped):
            break
        assert result.pc == t.address_of("write_g") and result.hits[0].id == bp.id
        stops += 1
    assert stops == 32 and result.code == 0


def test_steady_state_makes_no_debug_register_syscalls(start):
    t = start("globals", 200)
    t.watch("g[0]")
    t.cont()  # first sync happens here
    before = debugregs.counters.total
    for _ in range(100):
        assert isinstance(t.cont(), hwdbg.Stopped)
    assert debugregs.counters.total == before  # one armed slot: not even a DR6 read


def test_two_slots_cost_one_status_read_per_hit(start):
    t = start("globals", 200)
    t.watch("g[0]")
    t.watch("g[1]")
    t.cont()
    peeks, pokes = debugregs.counters.peeks, debugregs.counters.pokes
    for _ in range(50):
        t.cont()
    assert debugregs.counters.pokes == pokes
    assert debugregs.counters.peeks - peeks == 50


def test_the_router_hands_each_hit_to_its_breakpoints_triggered_callback(start):
    """The hw layer alone, as the kernel's hw_breakpoint handler calls a perf event's overflow
    handler: classify the trap, deliver it, and ``triggered(bp, hit)`` gets the slot and thread."""
    from hwdbg.arch import BpType
    from hwdbg.hw.router import Router, TrapKind
    from hwdbg.process import events

    t = start("globals", 3)
    manager, inf = t.session.manager, t.session.inferior
    calls = []
    bp = manager.register_user_hw_breakpoint(t.address_of("g") + 8, 8, BpType.W,
                                             triggered=lambda hw, hit: calls.append((hw, hit)))
    router = Router(manager)
    inf.resume_all()
    event = inf.wait_event()
    assert isinstance(event, events.Trap)
    report = router.classify(event.tid, event.info)
    assert report.kind is TrapKind.HW and calls == []  # classifying alone calls nothing
    router.deliver(report.hits)
    assert [(hw, hit.slot, hit.tid, hit.chunk.addr) for hw, hit in calls] == \
        [(bp, bp.slots_by_tid[event.tid][0], event.tid, t.address_of("g") + 8)]
    manager.unregister_hw_breakpoint(bp)
    assert t.run_until_exit().code == 0


def test_write_memory_gives_overlapping_watches_the_new_value(start):
    """Target.write_memory, like `set var`, updates the value a watch remembers: the next hit's
    old value is what was written, and `watch` (changes only) sees a real change."""
    t = start("globals", 2)
    plain = t.watch("g[1]")
    changes = t.watch("g[1]", changes_only=True)
    t.write_memory(t.address_of("g") + 8, (77).to_bytes(8, "little", signed=True))
    stop = t.cont()
    assert [(h.id, h.old, h.new) for h in stop.hits] == [(plain.id, 77, 2), (changes.id, 77, 2)]
    t.write_memory(t.address_of("g") + 8, (10).to_bytes(8, "little", signed=True))  # the next value written
    assert t.run_until_exit().code == 0
    assert [h.new for h in changes.hits] == [2]  # 10 -> 10 is no change
    assert [(h.old, h.new) for h in plain.hits] == [(77, 2), (10, 10)]
