"""The slot allocator against a simple model, on real threads with real debug registers.

Random register/modify/unregister/priority/enable sequences over a 4-thread process.
After every step: the installed set of every thread is the model's top-k, the shadow
copy equals what the kernel holds, callbacks fired exactly on transitions, and a sync
with nothing to change makes no system call.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from hwdbg.arch import BpType
from hwdbg.hw import debugregs
from hwdbg.hw.breakpoint import Status

pytestmark = pytest.mark.requires_hw_watchpoints


def model_installed(bps, tid, nslots):
    """Highest priority first (ties: earlier registration); a breakpoint needs all its chunks."""
    chosen, installed = set(), set()
    for bp in sorted(bps, key=lambda b: (-b.priority, b.seq)):
        if not bp.enabled or (bp.tid is not None and bp.tid != tid):
            continue
        new = set(bp.chunks) - chosen
        if len(chosen) + len(new) <= nslots:
            chosen |= new
            installed.add(bp.id)
    return installed


def test_allocator_against_model(start):
    target = start("idle-threads")
    manager = target.session.manager
    base = target.address_of("g")
    tids = sorted(target.threads)

    class Allocator(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            self.transitions = []
            self.expected_status = {}

        def _callbacks(self):
            return dict(installed=lambda bp: self.transitions.append((bp.id, "installed")),
                        uninstalled=lambda bp: self.transitions.append((bp.id, "uninstalled")))

        @rule(slot=st.integers(0, 7), shape=st.sampled_from([(0, 8), (0, 4), (4, 4), (2, 2), (1, 1), (3, 6), (0, 16)]),
              kind=st.sampled_from([BpType.W, BpType.RW]), priority=st.integers(0, 3),
              scope=st.sampled_from([None, 0, 1, 2, 3]))
        def register(self, slot, shape, kind, priority, scope):
            offset, length = shape
            tid = None if scope is None else tids[scope]
            manager.register_user_hw_breakpoint(base + 8 * min(slot, 6) + offset, length, kind, priority=priority,
                                                tid=tid, **self._callbacks())

        @rule(data=st.data())
        def unregister(self, data):
            if manager.breakpoints:
                bp = data.draw(st.sampled_from(sorted(manager.breakpoints.values(), key=lambda b: b.id)))
                manager.unregister_hw_breakpoint(bp)
                self.expected_status.pop(bp.id, None)

        @rule(data=st.data(), priority=st.integers(0, 5))
        def reprioritise(self, data, priority):
            if manager.breakpoints:
                bp = data.draw(st.sampled_from(sorted(manager.breakpoints.values(), key=lambda b: b.id)))
                manager.modify_user_hw_breakpoint(bp, priority=priority)

        @rule(data=st.data(), enabled=st.booleans())
        def toggle(self, data, enabled):
            if manager.breakpoints:
                bp = data.draw(st.sampled_from(sorted(manager.breakpoints.values(), key=lambda b: b.id)))
                manager.modify_user_hw_breakpoint(bp, enabled=enabled)

        @rule()
        def resync_costs_nothing(self):
            before = debugregs.counters.total
            manager.sync()
            assert debugregs.counters.total == before

        @invariant()
        def installed_sets_match_model(self):
            bps = list(manager.breakpoints.values())
            for tid in tids:
                got = {bp.id for bp in bps if tid in bp.slots_by_tid}
                assert got == model_installed(bps, tid, 4), tid

        @invariant()
        def shadow_is_what_the_kernel_holds(self):
            arch = manager.arch
            for tid in tids:
                state = manager.threads[tid]
                regs = debugregs.read_all(tid)
                assert regs[7] == arch.encode_control(state.slots)
                for slot, chunk in enumerate(state.slots):
                    if chunk is not None:
                        assert regs[slot] == chunk.addr

        @invariant()
        def callbacks_fire_exactly_on_transitions(self):
            for bp in manager.breakpoints.values():
                scope = [bp.tid] if bp.tid is not None else tids
                now = Status.INSTALLED if bp.enabled and all(t in bp.slots_by_tid for t in scope) else Status.REGISTERED
                assert bp.status is now
                before = self.expected_status.get(bp.id, Status.REGISTERED)
                mine = [what for ident, what in self.transitions if ident == bp.id]
                if now is not before:
                    assert mine and mine[-1] == ("installed" if now is Status.INSTALLED else "uninstalled")
                self.expected_status[bp.id] = now
            self.transitions.clear()

        def teardown(self):
            for bp in list(manager.breakpoints.values()):
                manager.unregister_hw_breakpoint(bp)

    run_state_machine_as_test(Allocator, settings=settings(max_examples=60, stateful_step_count=25, deadline=None,
                                                           suppress_health_check=list(HealthCheck)))
