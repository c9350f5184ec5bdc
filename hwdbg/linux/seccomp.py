"""The kernel-write filter: classic BPF over ``struct seccomp_data`` that answers
SECCOMP_RET_TRACE for a set of system calls and SECCOMP_RET_ALLOW for the rest.

Installed by a child hwdbg forked, before it execs (``install``): a filter can only be
installed by the thread it applies to, it is inherited by children and survives exec,
and it can never be removed. With PTRACE_O_TRACESECCOMP the tracer gets one stop at the
entry of each matching call; without a tracer (detached) the kernel fails such calls with
ENOSYS, which is why hwdbg refuses to detach a program it started with the filter.
"""
from __future__ import annotations

import struct
from typing import Iterable

from .native import ffi, lib

# linux/filter.h, linux/bpf_common.h, linux/seccomp.h, linux/audit.h
BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_JGE_K = 0x35
BPF_RET_K = 0x06
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_TRACE = 0x7FF00000
AUDIT_ARCH_X86_64 = 0xC000003E
DATA_NR = 0  # offsetof(struct seccomp_data, nr)
DATA_ARCH = 4
X32_SYSCALL_BIT = 0x40000000

_INSN = struct.Struct("<HBBI")  # struct sock_filter: code, jt, jf, k


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return _INSN.pack(code, jt, jf, k)


def build_filter(numbers: Iterable[int]) -> bytes:
    """RET_TRACE for the x86-64 calls in ``numbers``; calls of another ABI (int 0x80, x32) are
    traced too, so the tracer sees them and lets them go rather than missing a write."""
    nrs = sorted(set(numbers))
    prog = [_insn(BPF_LD_W_ABS, DATA_ARCH),
            _insn(BPF_JEQ_K, AUDIT_ARCH_X86_64, jt=1, jf=0),
            _insn(BPF_RET_K, SECCOMP_RET_TRACE),
            _insn(BPF_LD_W_ABS, DATA_NR),
            _insn(BPF_JGE_K, X32_SYSCALL_BIT, jt=len(nrs) + 1, jf=0)]
    for i, nr in enumerate(nrs):
        # jump to RET_TRACE, past the remaining comparisons and RET_ALLOW
        prog.append(_insn(BPF_JEQ_K, nr, jt=len(nrs) - i, jf=0))
    prog.append(_insn(BPF_RET_K, SECCOMP_RET_ALLOW))
    prog.append(_insn(BPF_RET_K, SECCOMP_RET_TRACE))
    return b"".join(prog)


def instructions(prog: bytes) -> int:
    return len(prog) // _INSN.size


def install(prog: bytes) -> int:
    """Installs the filter on the calling thread (a child about to exec); 0 or -errno."""
    buf = ffi.from_buffer(prog)
    return int(lib.hwdbg_seccomp_install(ffi.cast("const unsigned char *", buf), instructions(prog)))
