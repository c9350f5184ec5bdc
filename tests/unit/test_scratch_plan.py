"""Where a call's buffers go in scratch memory and what comes back (arch/scratchplan.py)."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hwdbg.arch import scratchplan
from hwdbg.arch.syscalls import BY_NAME, IOVEC, MSGHDR, TABLE, buffers

BASE = 0x7F0000000000


def memory(blobs: dict[int, bytes]):
    def read(addr: int, size: int) -> bytes:
        for at, blob in blobs.items():
            if at <= addr and addr + size <= at + len(blob):
                return blob[addr - at:addr - at + size]
        raise AssertionError(f"unexpected read {addr:#x}")
    return read


def everything(_addr: int, _size: int) -> bool:
    return True


def test_read_moves_its_buffer_counted_by_the_result():
    plan = scratchplan.plan(BY_NAME["read"].nr, (3, 0x1000, 300, 0, 0, 0), memory({}), everything)
    assert plan is not None and plan.args == {1: 0}
    assert [(p.real, p.size, p.mode, p.init) for p in plan.pieces] == [(0x1000, 300, "count", None)]
    assert plan.counts(120) == [120] and plan.counts(-9) == [0] and plan.counts(999) == [300]


def test_fixed_outputs_are_copied_in_and_come_back_by_difference():
    mem = {0x2000: bytes(range(12))}
    args = (0x2000, 0x2004, 0x2008, 0, 0, 0)
    plan = scratchplan.plan(BY_NAME["getresuid"].nr, args, memory(mem), everything)
    assert plan is not None and plan.args == {0: 0, 1: 1, 2: 2}
    assert [(p.real, p.mode, p.init) for p in plan.pieces] == [
        (0x2000 + 4 * i, "diff", bytes(range(4 * i, 4 * i + 4))) for i in range(3)]
    assert len({p.offset for p in plan.pieces}) == 3  # each its own place


def test_only_the_buffers_in_protected_pages_move():
    fd_set = b"\x01" * 8
    args = (64, 0x3000, 0x9000, 0, 0, 0)
    plan = scratchplan.plan(BY_NAME["select"].nr, args, memory({0x3000: fd_set}),
                            lambda addr, _size: addr == 0x3000)
    assert plan is not None and plan.args == {1: 0} and plan.pieces[0].init == fd_set


def test_one_buffer_passed_twice_is_not_moved():
    plan = scratchplan.plan(BY_NAME["getresuid"].nr, (0x2000, 0x2000, 0x2008, 0, 0, 0),
                            memory({0x2000: bytes(12)}), everything)
    assert plan is None


def test_calls_restarted_with_a_saved_pointer_are_moved_as_copies():
    """poll's pollfd array and the time left of nanosleep/clock_nanosleep come back by difference
    (a restarted call writes them later through the same scratch pointer); a timespec passed as
    both request and time left points at one copy."""
    mem = memory({0x1000: bytes(range(64))})
    poll = scratchplan.plan(BY_NAME["poll"].nr, (0x1000, 2, 0xFFFFFFFF, 0, 0, 0), mem, everything)
    assert poll is not None and poll.args == {0: 0}
    assert [(p.real, p.size, p.mode, p.init) for p in poll.pieces] == [(0x1000, 16, "diff", bytes(range(16)))]
    sleep = scratchplan.plan(BY_NAME["nanosleep"].nr, (0x9000, 0x1010, 0, 0, 0, 0), mem, everything)
    assert sleep is not None and sleep.args == {1: 0} and sleep.pieces[0].init == bytes(range(16, 32))
    both = scratchplan.plan(BY_NAME["nanosleep"].nr, (0x1010, 0x1010, 0, 0, 0, 0), mem, everything)
    assert both is not None and both.args == {0: 0, 1: 0} and len(both.pieces) == 1
    clock = scratchplan.plan(BY_NAME["clock_nanosleep"].nr, (1, 0, 0x1020, 0x1020, 0, 0), mem, everything)
    assert clock is not None and clock.args == {2: 0, 3: 0} and clock.pieces[0].mode == "diff"


def test_process_vm_readv_moves_its_local_iovecs_as_readv():
    local = IOVEC.pack(0x5000, 40) + IOVEC.pack(0x6000, 100)
    remote = IOVEC.pack(0x7777000, 140)
    args = (1234, 0x4000, 2, 0x4100, 1, 0)
    plan = scratchplan.plan(BY_NAME["process_vm_readv"].nr, args, memory({0x4000: local, 0x4100: remote}),
                            everything)
    assert plan is not None and plan.args == {1: 0}
    assert [(p.real, p.size, p.mode) for p in plan.pieces] == [(0x4000, 32, "in"), (0x5000, 40, "count"),
                                                              (0x6000, 100, "count")]
    assert plan.counts(70) == [40, 30]


def test_readv_gets_a_scratch_iovec_array_and_its_result_scattered():
    vecs = [(0x5000, 50), (0, 0), (0x6000, 300)]
    raw = b"".join(IOVEC.pack(*v) for v in vecs)
    plan = scratchplan.plan(BY_NAME["readv"].nr, (3, 0x4000, 3, 0, 0, 0), memory({0x4000: raw}), everything)
    assert plan is not None and plan.args == {1: 0}
    array, first, second = plan.pieces
    assert (array.mode, first.real, second.real) == ("in", 0x5000, 0x6000)
    plan.build(BASE)
    rebuilt = [IOVEC.unpack_from(array.init, i * IOVEC.size) for i in range(3)]
    assert rebuilt == [(BASE + first.offset, 50), (0, 0), (BASE + second.offset, 300)]
    assert plan.counts(280) == [50, 230] and plan.counts(-4) == [0, 0] and plan.counts(999) == [50, 300]


def test_recvmsg_rebuilds_the_header_around_scratch_places():
    iov = IOVEC.pack(0x5000, 100)
    header = MSGHDR.pack(0x7000, 16, 0x4000, 1, 0x8000, 24, 0)
    mem = {0x3000: header, 0x4000: iov, 0x5000: bytes(100), 0x7000: bytes(16), 0x8000: bytes(24)}
    plan = scratchplan.plan(BY_NAME["recvmsg"].nr, (3, 0x3000, 0, 0, 0, 0), memory(mem), everything)
    assert plan is not None and plan.args == {1: 0}
    plan.build(BASE)
    head, array, name, control, data = plan.pieces
    assert MSGHDR.unpack(head.init) == (BASE + name.offset, 16, BASE + array.offset, 1,
                                        BASE + control.offset, 24, 0)
    assert IOVEC.unpack(array.init) == (BASE + data.offset, 100)
    assert (head.mode, name.mode, control.mode, data.mode) == ("diff", "diff", "diff", "count")
    assert plan.counts(70) == [70]


def test_more_than_the_scratch_limit_is_not_moved_nor_read():
    big = scratchplan.MAX_SCRATCH + 1
    assert scratchplan.plan(BY_NAME["getgroups"].nr, (big // 4 + 1, 0x1000, 0, 0, 0, 0), memory({}), everything) is None
    vecs = IOVEC.pack(0x5000, big)
    assert scratchplan.plan(BY_NAME["readv"].nr, (3, 0x4000, 1, 0, 0, 0), memory({0x4000: vecs}), everything) is None


def test_an_iovec_count_over_the_kernel_limit_is_not_moved():
    assert scratchplan.plan(BY_NAME["readv"].nr, (3, 0x4000, 1025, 0, 0, 0), memory({}), everything) is None


@given(st.lists(st.integers(1, 500), min_size=1, max_size=8), st.integers(-10, 5000))
def test_scatter_fills_buffers_in_order(sizes, rval):
    counts = scratchplan._scatter([scratchplan.Piece(0, n, "count") for n in sizes])(rval)
    assert sum(counts) == min(max(rval, 0), sum(sizes))
    full = [c == n for c, n in zip(counts, sizes)]
    assert full == sorted(full, reverse=True)  # filled ones first
    assert all(0 <= c <= n for c, n in zip(counts, sizes))


@given(st.binary(min_size=0, max_size=64), st.data())
def test_diff_runs_carry_exactly_the_changed_bytes(before, data):
    now = data.draw(st.binary(min_size=len(before), max_size=len(before)))
    rebuilt = bytearray(before)
    runs = scratchplan.diff_runs(before, now)
    for at, n in runs:
        assert n > 0
        rebuilt[at:at + n] = now[at:at + n]
    assert bytes(rebuilt) == now
    assert sum(n for _a, n in runs) == sum(a != b for a, b in zip(before, now))


@given(st.lists(st.integers(1, 5000), min_size=1, max_size=6))
def test_pieces_get_places_that_do_not_overlap(sizes):
    plan = scratchplan.Plan([scratchplan.Piece(0, n, "count") for n in sizes])
    plan.place()
    spans = sorted((p.offset, p.offset + p.size) for p in plan.pieces)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))
    assert all(p.offset % scratchplan.ALIGN == 0 for p in plan.pieces)



def test_every_table_call_but_the_lifted_ones_gets_a_plan():
    def zeros(_addr: int, size: int) -> bytes:  # iovecs, msghdr and socklen of zero
        return bytes(size)

    planned, tried = set(), set()
    for entry in TABLE:
        args = tuple(16 ** (i + 2) for i in range(6))  # each buffer ends before the next argument
        if entry.name in ("readv", "preadv", "preadv2", "process_vm_readv"):
            args = args[:2] + (2,) + args[3:]
        if not buffers(entry.nr, args, zeros):
            continue
        tried.add(entry.name)
        if scratchplan.plan(entry.nr, args, zeros, everything) is not None:
            planned.add(entry.name)
    assert tried - planned == scratchplan.LIFTED & tried
    assert len(planned) > 60


def test_recvmsg_of_control_data_alone():
    header = MSGHDR.pack(0, 0, 0, 0, 0x8000, 24, 0)
    plan = scratchplan.plan(BY_NAME["recvmsg"].nr, (3, 0x3000, 0, 0, 0, 0),
                            memory({0x3000: header, 0x8000: bytes(24)}), everything)
    assert plan is not None and [p.real for p in plan.pieces if p.size] == [0x3000, 0x8000]


def test_recvmmsg_scatters_each_message_by_its_msg_len():
    mmsg = b""
    mem = {}
    for i in range(2):
        mem[0x4000 + 0x100 * i] = IOVEC.pack(0x5000 + 0x1000 * i, 100) + IOVEC.pack(0x5800 + 0x1000 * i, 100)
        mmsg += MSGHDR.pack(0, 0, 0x4000 + 0x100 * i, 2, 0, 0, 0) + bytes(8)
    mem[0x3000] = mmsg
    mem[0x9000] = bytes(16)
    plan = scratchplan.plan(BY_NAME["recvmmsg"].nr, (3, 0x3000, 2, 0, 0x9000, 0), memory(mem), everything)
    assert plan is not None and plan.args == {1: 0, 4: len(plan.pieces) - 1}
    plan.build(BASE)
    array = plan.pieces[0]
    assert [MSGHDR.unpack_from(array.init, 64 * i)[2] for i in range(2)] == [
        BASE + plan.pieces[1].offset, BASE + plan.pieces[4].offset]
    after = bytearray(array.init)
    after[56:60], after[64 + 56:64 + 60] = (150).to_bytes(4, "little"), (30).to_bytes(4, "little")
    assert plan.counts(2, lambda piece: bytes(after)) == [100, 50, 30, 0]
    assert plan.counts(1, lambda piece: bytes(after)) == [100, 50, 0, 0]
    assert plan.counts(-11, lambda piece: bytes(after)) == [0, 0, 0, 0]
