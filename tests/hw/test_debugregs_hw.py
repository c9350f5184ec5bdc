"""hwdbg.hw.debugregs on the real CPU: each slot, type and length traps where the notes say it does,
and every kernel refusal surfaces as a PtraceError with the right errno.

The target is driven directly (fork + PTRACE_TRACEME + exec, hwdbg.linux.ptrace), never through
hwdbg.session/api: these tests prove the low layers on their own. Facts checked here are the
measured ones of /work/shared/notes/debug-registers.md (sections cited per test).
"""
from __future__ import annotations

import ctypes
import errno
import os
import resource
import signal
import subprocess
import time
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from hwdbg.arch import BpType, Chunk
from hwdbg.arch.x86_64 import EFLAGS_RF, X86_64
from hwdbg.errors import PtraceError
from hwdbg.hw import debugregs
from hwdbg.linux import ptrace as sc

ARCH = X86_64()
hw = pytest.mark.requires_hw_watchpoints

VARS = {1: "v1", 2: "v2", 4: "v4", 8: "v8"}
VALUES = {1: 0x11, 2: 0x2222, 4: 0x44444444, 8: 0x8888888888888888}
TIMEOUT = 5.0


# ---------------------------------------------------------------- helpers


_libc_ptrace = ctypes.CDLL(None, use_errno=True).ptrace
_libc_ptrace.argtypes = (ctypes.c_long, ctypes.c_long, ctypes.c_ulong, ctypes.c_ulong)
_libc_ptrace.restype = ctypes.c_long


def ptrace_traceme() -> None:
    """PTRACE_TRACEME in the child: the exec that follows stops it for its parent."""
    if _libc_ptrace(0, 0, 0, 0) == -1:
        raise OSError(ctypes.get_errno(), "PTRACE_TRACEME")


def ptrace_setoptions(pid: int, options: int) -> None:
    if _libc_ptrace(sc.PTRACE_SETOPTIONS, pid, 0, options) == -1:
        raise OSError(ctypes.get_errno(), "PTRACE_SETOPTIONS")


def symbols(exe: Path) -> dict[str, tuple[int, int]]:
    """name -> (address, size) from .symtab (non-PIE: the runtime addresses)."""
    with open(exe, "rb") as f:
        table = ELFFile(f).get_section_by_name(".symtab")
        return {s.name: (s["st_value"], s["st_size"]) for s in table.iter_symbols() if s.name}


class Target:
    def __init__(self, exe: Path, pid: int, syms: dict[str, tuple[int, int]]) -> None:
        self.exe, self.pid, self.syms = exe, pid, syms

    def addr(self, name: str) -> int:
        return self.syms[name][0]

    def peek(self, addr: int, size: int) -> int:
        with open(f"/proc/{self.pid}/mem", "rb", buffering=0) as mem:
            mem.seek(addr)
            return int.from_bytes(mem.read(size), "little")

    def code(self, name: str) -> tuple[int, bytes]:
        addr, size = self.syms[name]
        with open(f"/proc/{self.pid}/mem", "rb", buffering=0) as mem:
            mem.seek(addr)
            return addr, mem.read(size)

    def wait(self) -> int:
        """The next wait status (stop or exit), failing instead of hanging."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            pid, status = os.waitpid(self.pid, os.WNOHANG | sc.WALL)
            if pid:
                return status
            if time.monotonic() > deadline:
                raise AssertionError(f"pid {self.pid} neither stopped nor exited within {TIMEOUT}s")
            time.sleep(0.0005)

    def resume(self) -> int:
        sc.cont(self.pid, 0)
        return self.wait()

    def run_to_exit(self) -> int:
        """Continue through any further stops; return the exit status; fail on an unexpected stop."""
        status = self.resume()
        assert not os.WIFSTOPPED(status), f"unexpected stop, signal {os.WSTOPSIG(status)}"
        return status


@pytest.fixture
def spawn(build_target, tmp_path):
    """spawn(mode) -> Target stopped right after exec (debug registers zero). Every child is killed."""
    exe = build_target("dr_target")
    syms = symbols(exe)
    pids: list[int] = []

    def start(mode: str) -> Target:
        pid = os.fork()
        if pid == 0:  # child: no core file, stop at exec for the tracer
            try:
                resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
                os.chdir(tmp_path)
                ptrace_traceme()
                os.execv(str(exe), [str(exe), mode])
            finally:
                os._exit(127)
        pids.append(pid)
        target = Target(exe, pid, syms)
        status = target.wait()
        assert os.WIFSTOPPED(status) and os.WSTOPSIG(status) == signal.SIGTRAP, hex(status)
        ptrace_setoptions(pid, sc.PTRACE_O_EXITKILL)
        return target

    yield start
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


def arm(pid: int, slot: int, chunk: Chunk) -> int:
    addrs = [0, 0, 0, 0]
    addrs[slot] = chunk.addr
    slots = [None] * 4
    slots[slot] = chunk
    dr7 = ARCH.encode_control(slots)
    debugregs.write_set(pid, addrs, dr7)
    return dr7


def instruction_before(target: Target, func: str, rip: int):
    """The capstone instruction of ``func`` that ends at ``rip``, with its memory operand resolved."""
    capstone = pytest.importorskip("capstone")
    from capstone import x86 as cx
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    md.detail = True
    start, code = target.code(func)
    assert start < rip <= start + len(code), f"RIP {rip:#x} not inside {func} [{start:#x}, {start + len(code):#x})"
    for insn in md.disasm(code, start):
        if insn.address + insn.size == rip:
            mems = []
            for op in insn.operands:
                if op.type == cx.X86_OP_MEM:
                    base = insn.address + insn.size if op.mem.base == cx.X86_REG_RIP else 0
                    assert op.mem.base in (cx.X86_REG_RIP, 0) and op.mem.index == 0, insn.op_str
                    mems.append((base + op.mem.disp, op.access))
            return insn, mems
    raise AssertionError(f"no instruction of {func} ends at RIP {rip:#x}")


def expect_hit(target: Target, slot: int) -> int:
    """Checks the current stop is a hardware-breakpoint SIGTRAP for exactly ``slot``; returns RIP."""
    info = sc.getsiginfo(target.pid)
    assert info.signo == signal.SIGTRAP
    assert info.code == sc.TRAP_HWBKPT == 4
    dr6 = debugregs.read(target.pid, 6)
    assert dr6 == 0xFFFF0FF0 | (1 << slot), f"DR6 {dr6:#x}"
    status = ARCH.decode_status(dr6)
    assert status.slots == (slot,) and not status.single_step
    rip = sc.getregs(target.pid).rip
    assert info.addr == rip, "si_addr is the RIP on x86 (notes §6)"
    return rip


# ---------------------------------------------------------------- offsets (no tracing)


def test_u_debugreg_offset_matches_compiler(build_target):
    out = subprocess.run([str(build_target("dr_offsets"))], check=True, capture_output=True, text=True).stdout
    facts = dict((k, int(v)) for k, v in (line.split() for line in out.splitlines()))
    assert facts["u_debugreg"] == debugregs.U_DEBUGREG_OFFSET == 848
    assert facts["debugreg_size"] == debugregs.DEBUGREG_SIZE == 8
    assert facts["num_debugregs"] == debugregs.NUM_DEBUGREGS == 8
    assert facts["eflags"] == 144 and facts["sizeof_user"] == 912  # notes §1


# ---------------------------------------------------------------- data watchpoints


@hw
@pytest.mark.parametrize("length", [1, 2, 4, 8])
@pytest.mark.parametrize("bp_type", [BpType.W, BpType.RW], ids=lambda t: t.label)
@pytest.mark.parametrize("slot", range(4))
def test_data_watch_each_slot_type_length(spawn, slot, bp_type, length):
    t = spawn("write")
    var = t.addr(VARS[length])
    chunk = ARCH.validate(var, length, bp_type)
    dr7 = arm(t.pid, slot, chunk)
    regs = debugregs.read_all(t.pid)
    assert regs[slot] == var and regs[7] == dr7
    assert all(regs[n] == 0 for n in range(4) if n != slot)

    status = t.resume()
    assert os.WIFSTOPPED(status) and os.WSTOPSIG(status) == signal.SIGTRAP
    rip = expect_hit(t, slot)
    assert t.peek(var, length) == VALUES[length], "trap after the write: the value is already in memory"
    insn, mems = instruction_before(t, "write_all", rip)
    assert insn.mnemonic.startswith("mov"), insn
    assert len(mems) == 1 and mems[0][0] == var, f"{insn.mnemonic} {insn.op_str}"
    from capstone import CS_AC_WRITE
    assert mems[0][1] & CS_AC_WRITE

    assert t.run_to_exit() == 0, "exactly one stop, then a clean exit"


@hw
@pytest.mark.parametrize("slot", [0, 3])
def test_rw_traps_on_pure_read_w_does_not(spawn, slot):
    from capstone import CS_AC_READ, CS_AC_WRITE
    for bp_type, expected in ((BpType.RW, ["read_rwcell", "write_rwcell"]), (BpType.W, ["write_rwcell"])):
        t = spawn("rw")
        cell = t.addr("rwcell")
        arm(t.pid, slot, ARCH.validate(cell, 8, bp_type))
        seen = []
        while True:
            status = t.resume()
            if not os.WIFSTOPPED(status):
                assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
                break
            rip = expect_hit(t, slot)
            func = next(f for f in ("read_rwcell", "write_rwcell")
                        if t.addr(f) < rip <= t.addr(f) + t.syms[f][1])
            insn, mems = instruction_before(t, func, rip)
            assert [m[0] for m in mems] == [cell], f"{insn.mnemonic} {insn.op_str}"
            access = CS_AC_READ if func == "read_rwcell" else CS_AC_WRITE
            assert mems[0][1] == access
            assert t.peek(cell, 8) == (7 if func == "read_rwcell" else 0xA5A5)
            seen.append(func)
        assert seen == expected, bp_type


@hw
def test_all_four_slots_at_once(spawn):
    """v1 W1 in DR0, v2 RW2 in DR1, v4 W4 in DR2, v8 RW8 in DR3: four stops, B0..B3 in turn."""
    t = spawn("write")
    chunks = [ARCH.validate(t.addr("v1"), 1, BpType.W), ARCH.validate(t.addr("v2"), 2, BpType.RW),
              ARCH.validate(t.addr("v4"), 4, BpType.W), ARCH.validate(t.addr("v8"), 8, BpType.RW)]
    debugregs.write_set(t.pid, [c.addr for c in chunks], ARCH.encode_control(chunks))
    assert ARCH.decode_control(debugregs.read(t.pid, 7)) == [(c.type, c.length) for c in chunks]
    for slot in range(4):
        status = t.resume()
        assert os.WIFSTOPPED(status) and os.WSTOPSIG(status) == signal.SIGTRAP
        expect_hit(t, slot)
    assert t.run_to_exit() == 0


# ---------------------------------------------------------------- execute breakpoints


@hw
@pytest.mark.parametrize("slot", range(4))
def test_exec_breakpoint_stops_before_and_cont_proceeds(spawn, slot):
    t = spawn("exec")
    func = t.addr("exec_target")
    counter = t.addr("exec_calls")
    chunk = ARCH.validate(func, 8, BpType.X)  # any length given: exec is forced to 1
    dr7 = arm(t.pid, slot, chunk)
    assert dr7 == 1 << 2 * slot, "exec: R/W 00, LEN 00"
    stops = 0
    while True:
        status = t.resume()  # plain PTRACE_CONT, no RF fiddling
        if not os.WIFSTOPPED(status):
            break
        assert os.WSTOPSIG(status) == signal.SIGTRAP
        rip = expect_hit(t, slot)
        assert rip == func, "stops before the instruction runs"
        assert t.peek(counter, 8) == stops, "call counter not yet incremented"
        assert sc.getregs(t.pid).eflags & EFLAGS_RF, "the kernel sets RF (notes §9)"
        stops += 1
        assert stops <= 3, "re-triggered at the same RIP"
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert stops == 3


# ---------------------------------------------------------------- kernel refusals


@hw
@pytest.mark.parametrize("var, offset, length", [("v2", 1, 2), ("v4", 2, 4), ("v8", 4, 8), ("v8", 1, 4)])
def test_misaligned_dr7_enable_is_einval(spawn, var, offset, length):
    """Under the arch layer (which refuses it): address first, then DR7 enabling it (notes §5)."""
    t = spawn("write")
    addr = t.addr(var) + offset
    debugregs.write(t.pid, 0, addr)  # accepted: slot 0 is disabled
    dr7 = ARCH.encode_control([Chunk(addr, length, BpType.W)])
    with pytest.raises(PtraceError) as info:
        debugregs.write(t.pid, 7, dr7)
    exc = info.value
    assert exc.errno == errno.EINVAL
    assert exc.request == "PTRACE_POKEUSER"
    assert exc.tid == t.pid
    assert exc.what == f"DR7={dr7:#x}"
    msg = str(exc)
    assert f"PTRACE_POKEUSER DR7={dr7:#x} on tid {t.pid} failed: EINVAL" in msg
    assert debugregs.read(t.pid, 0) == addr and debugregs.read(t.pid, 7) == 0, "notes §5 state left behind"
    assert t.run_to_exit() == 0, "nothing armed"


# notes §3: R/W bits x LEN bits for slot 0 with an 8-aligned address: ok or EINVAL
DR7_TABLE = {
    (0b00, 0b00): True, (0b00, 0b01): False, (0b00, 0b11): False, (0b00, 0b10): False,  # exec: len 1 only
    (0b01, 0b00): True, (0b01, 0b01): True, (0b01, 0b11): True, (0b01, 0b10): True,      # write
    (0b10, 0b00): False, (0b10, 0b01): False, (0b10, 0b11): False, (0b10, 0b10): False,  # I/O: never
    (0b11, 0b00): True, (0b11, 0b01): True, (0b11, 0b11): True, (0b11, 0b10): True,      # read/write
}


@hw
def test_dr7_type_length_table(spawn):
    t = spawn("write")
    debugregs.write(t.pid, 0, t.addr("v8"))
    results = {}
    for (rw, ln), ok in DR7_TABLE.items():
        dr7 = 0x1 | (rw << 16) | (ln << 18)
        try:
            debugregs.write(t.pid, 7, dr7)
            results[rw, ln] = True
            assert debugregs.read(t.pid, 7) == dr7
        except PtraceError as exc:
            assert exc.errno == errno.EINVAL, str(exc)
            results[rw, ln] = False
        debugregs.write(t.pid, 7, 0)
    assert results == DR7_TABLE


@hw
def test_dr7_write_is_all_or_nothing(spawn):
    """notes §4: slot 0 valid + slot 1 exec/len 4 in one write is refused and arms nothing;
    with 0x90001 active a refused write keeps 0x90001 live."""
    t = spawn("write")
    debugregs.write(t.pid, 0, t.addr("v8"))
    with pytest.raises(PtraceError) as info:
        debugregs.write(t.pid, 7, 0xC90005)
    assert info.value.errno == errno.EINVAL
    assert debugregs.read(t.pid, 7) == 0
    debugregs.write(t.pid, 7, 0x90001)
    with pytest.raises(PtraceError):
        debugregs.write(t.pid, 7, 0xC90004)
    assert debugregs.read(t.pid, 7) == 0x90001
    status = t.resume()
    assert os.WIFSTOPPED(status)
    expect_hit(t, 0)
    assert t.peek(t.addr("v8"), 8) == VALUES[8]
    assert t.run_to_exit() == 0


@hw
@pytest.mark.parametrize("addr", [0x7FFFFFFFF000, 0x7FFFFFFFFFF8, 0x800000000000, 0xFFFFFFFF81000000])
@pytest.mark.parametrize("reg", [0, 3])
def test_address_outside_user_space_is_einval(spawn, addr, reg):
    t = spawn("write")
    with pytest.raises(PtraceError) as info:
        debugregs.write(t.pid, reg, addr)
    exc = info.value
    assert exc.errno == errno.EINVAL
    assert exc.request == "PTRACE_POKEUSER" and exc.tid == t.pid
    assert f"DR{reg}={addr:#x} on tid {t.pid}" in str(exc)
    assert "EINVAL" in str(exc)
    assert debugregs.read(t.pid, reg) == 0, "the register keeps its old value"
    # the highest accepted one, for contrast (notes §3)
    debugregs.write(t.pid, reg, 0x7FFFFFFFEFF8)
    assert debugregs.read(t.pid, reg) == 0x7FFFFFFFEFF8
    debugregs.write(t.pid, reg, 0)


@hw
@pytest.mark.parametrize("reg", [4, 5])
def test_dr4_dr5_write_is_eio(spawn, reg):
    t = spawn("write")
    with pytest.raises(PtraceError) as info:
        debugregs.write(t.pid, reg, 0)
    assert info.value.errno == errno.EIO
    assert f"DR{reg}=0x0 on tid {t.pid} failed: EIO" in str(info.value)
    assert debugregs.read(t.pid, reg) == 0, "PEEK DR4/DR5 returns 0 without error"


@hw
def test_running_thread_is_esrch(spawn):
    t = spawn("spin")
    sc.cont(t.pid, 0)
    time.sleep(0.01)
    with pytest.raises(PtraceError) as info:
        debugregs.write(t.pid, 0, t.addr("v8"))
    assert info.value.errno == errno.ESRCH
    assert f"on tid {t.pid} failed: ESRCH" in str(info.value)
    assert "not stopped" in str(info.value)
    with pytest.raises(PtraceError) as info:
        debugregs.read(t.pid, 7)
    assert info.value.errno == errno.ESRCH
    assert info.value.request == "PTRACE_PEEKUSER" and info.value.what == "DR7"


@hw
def test_write_sequence_stops_at_first_failure(spawn):
    t = spawn("write")
    v8, v4, v2 = t.addr("v8"), t.addr("v4"), t.addr("v2")
    before = debugregs.counters.pokes
    with pytest.raises(debugregs.SequenceError) as info:
        debugregs.write_sequence(t.pid, [(0, v8), (1, v4), (2, 0x7FFFFFFFF000), (3, v2), (7, 0x90001)])
    exc = info.value
    assert isinstance(exc, PtraceError)
    assert exc.done == 2
    assert exc.errno == errno.EINVAL
    assert exc.what == "DR2=0x7ffffffff000" and exc.tid == t.pid
    assert debugregs.counters.pokes - before == 3, "two successes and the failing one"
    assert debugregs.read_all(t.pid) == {0: v8, 1: v4, 2: 0, 3: 0, 6: 0xFFFF0FF0, 7: 0}
    assert t.run_to_exit() == 0


@hw
def test_write_set_failing_dr7_leaves_nothing_armed(spawn):
    """write_set writes DR7=0, DR0-3, DR7: a refused final DR7 (misaligned) arms nothing."""
    t = spawn("write")
    v8 = t.addr("v8")
    arm(t.pid, 1, Chunk(v8, 8, BpType.W))  # a live watch that the failed update must not keep
    with pytest.raises(debugregs.SequenceError) as info:
        debugregs.write_set(t.pid, [v8 + 4, 0, 0, 0], ARCH.encode_control([Chunk(v8 + 4, 8, BpType.W)]))
    assert info.value.done == 5 and info.value.errno == errno.EINVAL
    assert debugregs.read(t.pid, 7) == 0
    assert t.run_to_exit() == 0


# ---------------------------------------------------------------- detach: clean up or die


@hw
def test_cleared_registers_then_detach_exits_cleanly(spawn):
    t = spawn("write")
    arm(t.pid, 0, Chunk(t.addr("v1"), 1, BpType.W))
    status = t.resume()
    assert os.WIFSTOPPED(status)
    expect_hit(t, 0)
    debugregs.write_set(t.pid, [0, 0, 0, 0], 0)
    sc.detach(t.pid, 0)
    status = t.wait()
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, hex(status)


@hw
def test_detach_with_armed_dr7_kills_with_sigtrap(spawn, tmp_path):
    """The kernel never clears ptrace debug registers on detach (notes §12): a time bomb."""
    t = spawn("write")
    arm(t.pid, 2, Chunk(t.addr("v8"), 8, BpType.W))
    sc.detach(t.pid, 0)
    status = t.wait()
    assert os.WIFSIGNALED(status), hex(status)
    assert os.WTERMSIG(status) == signal.SIGTRAP
    assert not os.WCOREDUMP(status), "RLIMIT_CORE is 0 in the child"
    assert not list(tmp_path.glob("core*"))


# ---------------------------------------------------------------- rep string stores


@hw
@pytest.mark.parametrize("offset", [0, 8, 1024, 4088])
@pytest.mark.parametrize("mode, mnemonic", [("movsb", "rep movsb"), ("stosb", "rep stosb"), ("movsq", "rep movsq")])
def test_rep_string_stop_recognised_until_range_complete(spawn, mode, mnemonic, offset):
    """A rep store stops inside the instruction (RIP = the rep instruction) up to once per element
    written into the range; the count is CPU-dependent (notes §10, §17). Whatever the CPU does,
    string_store_in_flight must recognise every stop at which the watched range is not yet
    complete, otherwise the debugger reports a half-written value."""
    capstone = pytest.importorskip("capstone")
    t = spawn(mode)
    start, code = t.code("string_store")
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    rep = next(i for i in md.disasm(code, start) if f"{i.mnemonic} {i.op_str}".startswith(mnemonic))
    addr = t.addr("dstbuf") + offset
    chunk = ARCH.validate(addr, 8, BpType.W)
    arm(t.pid, 0, chunk)
    final = (0x5A5A5A5A5A5A5A5A if mode == "stosb"
             else int.from_bytes(bytes((i * 7 + 1) & 0xFF for i in range(offset, offset + 8)), "little"))
    stops = 0
    while True:
        status = t.resume()
        if not os.WIFSTOPPED(status):
            break
        rip = expect_hit(t, 0)
        stops += 1
        assert rip in (rep.address, rep.address + rep.size), f"RIP {rip:#x}"
        regs = sc.getregs(t.pid)
        length = ARCH.string_store_in_flight(bytes(rep.bytes) if rip == rep.address else b"\x90", regs, chunk)
        if rip == rep.address:
            assert regs.rcx != 0
            if t.peek(addr, 8) != final:
                assert length == rep.size, f"stop {stops}: range incomplete, RCX={regs.rcx} RDI={regs.rdi:#x}"
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert 1 <= stops <= 8
