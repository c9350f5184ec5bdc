"""Debug traps whose DR6 named no cause (si_code TRAP_BRKPT on x86): never a lost or invented hit.

Under load in KVM guests a debug-register hit sometimes reaches the kernel with nothing in DR6,
about once in 10 million hits; the kernel then reports it as it reports an icebp: SIGTRAP with
TRAP_BRKPT, si_addr the pc after the access. hwdbg took that for an int3 and lost the hit (the
1,000,000-hit soak counted 999,999; a thread-scoped watch came one short; the CLI stopped in
main). It cannot be caused on demand, so these tests present real hits of a real process as the
kernel reports such a hit (``LoseCause``), and check what really gives TRAP_BRKPT: an icebp
(the program's own trap, never a hit) and a single step into a system call (a step).
"""
from __future__ import annotations

import signal

import pytest

import hwdbg
from hwdbg.hw.router import TrapKind, TrapReport
from hwdbg.linux import ptrace as sc

from .helpers import env_int

pytestmark = pytest.mark.requires_hw_watchpoints

ROUNDS = (3_000, env_int("HWDBG_REL_CAUSELESS_ROUNDS", 200_000))


class LoseCause:
    """Every ``every``-th debug-register hit is read as the kernel reports one whose DR6 was lost."""

    def __init__(self, monkeypatch, every: int) -> None:
        self.every, self.seen, self.injected = every, 0, 0
        self._real = sc.getsiginfo
        monkeypatch.setattr(sc, "getsiginfo", self.getsiginfo)

    def getsiginfo(self, tid: int) -> sc.SigInfo:
        info = self._real(tid)
        if info.signo == signal.SIGTRAP and info.code == sc.TRAP_HWBKPT:
            self.seen += 1
            if self.seen % self.every == 0:
                self.injected += 1
                return sc.SigInfo(signo=info.signo, code=sc.TRAP_BRKPT, addr=info.addr, pid=0)
        return info


def sized(short_every: int, stress_every: int):
    return pytest.mark.parametrize("rounds, every", [
        pytest.param(ROUNDS[0], short_every, id="short", marks=pytest.mark.timeout(120)),
        pytest.param(ROUNDS[1], stress_every, id="stress", marks=[pytest.mark.stress, pytest.mark.timeout(3600)])])


@sized(97, 1009)
def test_a_hit_whose_cause_was_lost_is_reported_once(rel_start, monkeypatch, figures, rounds, every):
    """One watch in the thread: the causeless trap can only be its hit, with the exact value."""
    t = rel_start("counter", 0, rounds)
    t.session.fast_path = False  # the C loop reads siginfo itself, and hands these to Python anyway
    bp = t.watch("counter", keep=rounds)
    lose = LoseCause(monkeypatch, every)
    assert t.run_until_exit(timeout=3000) == hwdbg.Exited(code=0, pid=t.exit.pid)
    assert lose.injected == rounds // every > 0
    assert bp.hit_count == rounds
    assert [hit.new for hit in bp.hits] == list(range(1, rounds + 1))
    assert t.session.causeless.recovered == lose.injected
    figures.add("hits checked", rounds)


@sized(7, 101)
def test_the_instruction_names_which_watch_lost_its_cause(build_target, monkeypatch, figures, rounds, every):
    """Three watches written by the same store instruction (write_g): the address it wrote,
    decoded from the code and the registers, names the watch; every count and value exact."""
    t = hwdbg.spawn([str(build_target("core_target")), "globals", str(rounds)])
    try:
        t.run_to("ready", timeout=30)
        t.session.fast_path = False
        watched = (0, 2, 5)
        bps = {i: t.watch(f"g[{i}]", keep=rounds) for i in watched}
        lose = LoseCause(monkeypatch, every)
        assert t.run_until_exit(timeout=3000).code == 0
        assert lose.injected == len(watched) * rounds // every
        for i, bp in bps.items():
            assert bp.hit_count == rounds, f"g[{i}]"
            assert [hit.new for hit in bp.hits] == [r * 8 + i + 1 for r in range(rounds)], f"g[{i}]"
        assert t.session.causeless.recovered == lose.injected
        figures.add("hits checked", len(watched) * rounds)
    finally:
        t.close()


def test_a_perf_count_lost_with_its_cause_is_mended(build_target):
    """A causeless trap after a store to a counted variable (a perf counter and a trapping watch
    in the thread): the decoded store names the counter, which gets its count back; the watch
    on another variable gets no hit."""
    t = hwdbg.spawn([str(build_target("core_target")), "globals", "3"])
    try:
        t.run_to("ready", timeout=30)
        counted = t.watch("g[2]", count=True)
        other = t.watch("g[0]")
        stopper = t.watch("g[2]")  # only to stop right after the store, as the lost trap would
        while True:
            stop = t.cont(timeout=30)
            if any(hit.id == stopper.id for hit in stop.hits):
                break
        stopper.delete()
        before, hits_before = counted.hit_count, other.hit_count
        session, inf = t.session, t.session.inferior
        armed = tuple(i for i, s in enumerate(session.manager.threads[stop.tid].slots) if s is not None)
        report = session.causeless.resolve(inf, stop.tid, stop.pc, TrapReport(TrapKind.CAUSELESS, fired_slots=armed))
        assert report.kind is TrapKind.SPURIOUS  # nothing to report: the count is mended
        assert counted.hit_count == before + 1 and other.hit_count == hits_before
        assert t.run_until_exit(timeout=60).code == 0
        assert other.hit_count == 3
    finally:
        t.close()


@pytest.mark.timeout(60)
def test_an_icebp_stays_the_programs_own_trap(rel_start):
    """An icebp right after a watched store (TRAP_BRKPT from the real kernel): a stop of its own,
    not a hit of the watch, which sees exactly the two writes."""
    t = rel_start("icebp", 0, 0)
    bp = t.watch("counter")
    first, trap, second = t.cont(timeout=30), t.cont(timeout=30), t.cont(timeout=30)
    assert [h.new for h in first.hits] == [1] and [h.new for h in second.hits] == [2]
    assert trap.reason == "int3" and trap.signal == "SIGTRAP" and not trap.hits
    assert t.session.read_memory(trap.pc - 1, 1) == b"\xf1"
    assert t.cont(timeout=30) == hwdbg.Exited(code=0, pid=t.exit.pid)
    assert bp.hit_count == 2


@pytest.mark.timeout(60)
def test_a_step_into_a_system_call_is_a_step(rel_start):
    """stepi over a syscall instruction: the kernel reports TRAP_BRKPT (not TRAP_TRACE); it is
    the step's end, as in gdb, not an int3."""
    t = rel_start("syscall", 0, 0)
    sys_insn = t.address_of("sys_insn")
    t.run_to(sys_insn, timeout=30)
    t.watch("counter")  # an armed slot, so the trap cannot be taken for a hit either
    stop = t.stepi()
    assert stop.reason == "step" and stop.pc == sys_insn + 2
    assert t.cont(timeout=30) == hwdbg.Exited(code=0, pid=t.exit.pid)
