"""Single steps that hit a watchpoint, and execute breakpoints with RF."""
from __future__ import annotations

import pytest

import hwdbg

pytestmark = pytest.mark.requires_hw_watchpoints


def test_a_hit_during_a_single_step_is_a_hit(start):
    t = start("globals", 1)
    t.run_to("write_g")
    g0 = t.watch("g[0]")
    for _ in range(50):
        stop = t.stepi()
        if stop.hits:
            break
        assert stop.reason == "step"
    assert stop.reason == "watchpoint" and stop.hits[0].id == g0.id and stop.hits[0].new == 1
    assert stop.hits[0].function == "write_g"


def test_setting_the_pc_clears_rf_so_the_breakpoint_fires_again(start):
    t = start("globals", 1)
    bp = t.hbreak("*write_g")  # the first byte (gdb: write_g is after the prologue)
    first = t.cont()
    assert first.hits and first.pc == t.address_of("write_g")
    t.set_register("pc", first.pc)  # same place: RF must be cleared, or the stop would be skipped
    again = t.cont()
    assert again.hits and again.pc == first.pc and again.hits[0].id == bp.id
    assert bp.hit_count == 2


def test_plain_continue_proceeds_past_an_execute_breakpoint(start):
    t = start("globals", 2)
    bp = t.hbreak("*write_g")  # the first byte (gdb: write_g is after the prologue)
    stops = [t.cont() for _ in range(16)]
    assert all(s.pc == t.address_of("write_g") for s in stops)
    assert t.cont().code == 0 and bp.hit_count == 16
