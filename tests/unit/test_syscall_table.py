"""The kernel-write filter's BPF program (run by a small classic-BPF interpreter here) and the
table of buffers each writing system call fills."""
from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from hwdbg.arch import syscalls
from hwdbg.errors import TargetError
from hwdbg.linux import seccomp

NUMBERS = syscalls.writing_numbers()
PROGRAM = seccomp.build_filter(NUMBERS)


def run_bpf(prog: bytes, nr: int, arch: int) -> int:
    """Classic BPF as the kernel runs it over struct seccomp_data (only the opcodes we emit)."""
    data = struct.pack("<iI", nr, arch) + bytes(8 + 48)
    insns = [struct.unpack_from("<HBBI", prog, i) for i in range(0, len(prog), 8)]
    pc, acc = 0, 0
    while True:
        code, jt, jf, k = insns[pc]
        if code == seccomp.BPF_LD_W_ABS:
            acc = struct.unpack_from("<I", data, k)[0]
            pc += 1
        elif code in (seccomp.BPF_JEQ_K, seccomp.BPF_JGE_K):
            taken = acc == k if code == seccomp.BPF_JEQ_K else acc >= k
            pc += 1 + (jt if taken else jf)
        elif code == seccomp.BPF_RET_K:
            return k
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")


@given(st.integers(min_value=0, max_value=0x4000_0200), st.sampled_from([seccomp.AUDIT_ARCH_X86_64, 0x40000003]))
def test_the_filter_traces_exactly_the_writing_calls(nr, arch):
    want = arch != seccomp.AUDIT_ARCH_X86_64 or nr >= seccomp.X32_SYSCALL_BIT or nr in NUMBERS
    assert run_bpf(PROGRAM, nr, arch) == (seccomp.SECCOMP_RET_TRACE if want else seccomp.SECCOMP_RET_ALLOW)


def test_every_listed_call_is_traced_and_the_program_fits():
    assert len(PROGRAM) // 8 < 4096  # BPF_MAXINSNS
    for nr in NUMBERS:
        assert run_bpf(PROGRAM, nr, seccomp.AUDIT_ARCH_X86_64) == seccomp.SECCOMP_RET_TRACE
    for name in ("getppid", "write", "openat", "mmap", "futex"):
        assert name not in syscalls.BY_NAME  # they write no user buffer we decode: they run unstopped


def test_numbers_match_the_headers():
    header = open("/usr/include/x86_64-linux-gnu/asm/unistd_64.h").read()
    for call in syscalls.TABLE:
        assert f"#define __NR_{call.name} {call.nr}\n" in header, call.name
    assert f"#define __NR_restart_syscall {syscalls.NR_RESTART_SYSCALL}\n" in header


def memory(blobs: dict[int, bytes]):
    def read(addr: int, size: int) -> bytes:
        for base, blob in blobs.items():
            if base <= addr and addr + size <= base + len(blob):
                return blob[addr - base:addr - base + size]
        raise TargetError(f"cannot read {size} bytes at {addr:#x}")
    return read


def test_fixed_and_sized_buffers():
    nothing = memory({})
    assert syscalls.buffers(0, (3, 0x1000, 64, 0, 0, 0), nothing) == [(0x1000, 64)]
    assert syscalls.buffers(262, (0xFFFFFF9C, 0x500, 0x2000, 0, 0, 0), nothing) == [(0x2000, syscalls.STAT_SIZE)]
    assert syscalls.buffers(61, (7, 0x3000, 0, 0, 0, 0), nothing) == [(0x3000, 4)]  # no rusage: left out
    assert syscalls.buffers(232, (5, 0x4000, 10, -1, 0, 0), nothing) == [(0x4000, 120)]
    assert syscalls.buffers(39, (0,) * 6, nothing) is None  # getpid: not a writing call
    assert syscalls.BY_NAME["newfstatat"].describe((0xFFFFFF9C, 0, 0, 0, 0, 0)) == {"dirfd": -100}


def test_iovec_and_msghdr_buffers_are_read_from_memory():
    iov = syscalls.IOVEC.pack(0x7000, 10) + syscalls.IOVEC.pack(0x8000, 20)
    read = memory({0x6000: iov})
    assert syscalls.buffers(19, (3, 0x6000, 2, 0, 0, 0), read) == [(0x7000, 10), (0x8000, 20)]
    assert syscalls.buffers(19, (3, 0x9999, 2, 0, 0, 0), read) == []  # unreadable: EFAULT for the kernel too
    hdr = syscalls.MSGHDR.pack(0xA000, 16, 0x6000, 2, 0xB000, 64, 0)
    found = syscalls.buffers(47, (3, 0x5000, 0, 0, 0, 0), memory({0x5000: hdr, 0x6000: iov}))
    assert sorted(found) == sorted([(0x5000, syscalls.MSGHDR.size), (0xA000, 16), (0xB000, 64),
                                    (0x7000, 10), (0x8000, 20)])


@given(st.integers(0, 1 << 12), st.integers(1, 256), st.integers(0, 1 << 12), st.integers(1, 256))
def test_overlaps_is_interval_intersection(a, alen, b, blen):
    assert syscalls.overlaps([(a, alen)], b, blen) == bool(set(range(a, a + alen)) & set(range(b, b + blen)))


OUT_CALLS = [s for s in syscalls.TABLE if s.out is not None]


@given(st.sampled_from(OUT_CALLS), st.integers(0, 1 << 20), st.integers(-4095, 1 << 21))
def test_what_a_redirectable_call_wrote_lies_in_its_one_buffer(entry, length, rval):
    """scratch.py copies back `written` bytes from the start of the `out` buffer: never more than
    that buffer (recvfrom's result can exceed it with MSG_TRUNC), nothing on failure."""
    ptr, size_arg, unit = entry.out
    args = [0] * 6
    args[ptr], args[size_arg] = 0x10000, length
    found = entry.buffers(tuple(args), lambda addr, size: bytes(size))
    assert (0x10000, length * unit) in found
    n = entry.written(tuple(args), rval)
    assert 0 <= n <= length * unit and n % unit == 0
    assert n == (0 if rval <= 0 else min(rval, length) * unit)


def test_redirectable_calls_are_the_single_buffer_ones():
    assert {s.name for s in OUT_CALLS} >= {"read", "pread64", "recvfrom", "getrandom", "getdents64", "epoll_wait"}
    assert not {s.name for s in OUT_CALLS} & {"readv", "recvmsg", "wait4", "poll", "select", "fstat"}
