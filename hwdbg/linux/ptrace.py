"""The ptrace requests hwdbg issues, through the C library's ptrace(2) with ctypes.

Not python-ptrace: its package imports logging, datetime and traceback when first imported (~6 ms
of every start) for the one generic call and the two structures used here. Failures become
``hwdbg.errors.PtraceError``.
"""
from __future__ import annotations

import ctypes
import struct

from ..errors import PtraceError
from ..recordtype import record

PTRACE_CONT = 7
PTRACE_SINGLESTEP = 9
PTRACE_GETREGS = 12
PTRACE_SETREGS = 13
PTRACE_GETFPREGS = 14
PTRACE_SETFPREGS = 15
FPREGS_SIZE = 512  # struct user_fpregs_struct: the FXSAVE area
PTRACE_DETACH = 17
PTRACE_SETOPTIONS = 0x4200
PTRACE_GETEVENTMSG = 0x4201
PTRACE_GETSIGINFO = 0x4202
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
PTRACE_SYSCALL = 24
PTRACE_GET_SYSCALL_INFO = 0x420e
PTRACE_GETREGSET, PTRACE_SETREGSET = 0x4204, 0x4205
NT_X86_XSTATE = 0x202  # the whole XSAVE area (x87, SSE, AVX, AVX-512, ...)
XSTATE_MAX = 1 << 16

PTRACE_O_TRACEFORK = 0x2
PTRACE_O_TRACEVFORK = 0x4
PTRACE_O_TRACECLONE = 0x8
PTRACE_O_TRACEEXEC = 0x10
PTRACE_O_TRACEVFORKDONE = 0x20
PTRACE_O_TRACEEXIT = 0x40
PTRACE_O_EXITKILL = 0x100000
PTRACE_O_TRACESYSGOOD = 0x1  # syscall stops report SIGTRAP | 0x80
PTRACE_O_TRACESECCOMP = 0x80

PTRACE_EVENT_FORK = 1
PTRACE_EVENT_VFORK = 2
PTRACE_EVENT_CLONE = 3
PTRACE_EVENT_EXEC = 4
PTRACE_EVENT_VFORK_DONE = 5
PTRACE_EVENT_EXIT = 6
PTRACE_EVENT_SECCOMP = 7
PTRACE_EVENT_STOP = 128

WALL = 0x40000000  # __WALL: also wait for threads (os has no constant for it)

# si_code values of SIGTRAP (include/uapi/asm-generic/siginfo.h)
TRAP_BRKPT = 1  # x86: a debug exception with nothing in DR6 (icebp, a step into a syscall), not int3
TRAP_TRACE = 2
TRAP_HWBKPT = 4
SI_KERNEL = 0x80  # int3 on x86
STEP_INTO_HANDLER = 5  # a step that entered a signal handler (the kernel's ptrace_notify(SIGTRAP))
SI_USER = 0
SI_TKILL = -6

SYSCALL_STOP_SIGNAL = 0x80 | 5  # SIGTRAP | 0x80 under PTRACE_O_TRACESYSGOOD

# ptrace_syscall_info.op (include/uapi/linux/ptrace.h)
SYSCALL_INFO_ENTRY = 1
SYSCALL_INFO_EXIT = 2
SYSCALL_INFO_SECCOMP = 3
AUDIT_ARCH_X86_64 = 0xC000003E


class Regs(ctypes.Structure):
    """``struct user_regs_struct`` of <sys/user.h> on x86-64, what PTRACE_GETREGS fills (cext/build.py
    refuses other architectures)."""

    _fields_ = [(name, ctypes.c_ulong) for name in (
        "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi",
        "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs")]


SIGINFO_SIZE = 128  # siginfo_t: si_signo, si_errno, si_code (ints), then the union at offset 16
_SIGINFO_HEAD = struct.Struct("=iii")

_ptrace = ctypes.CDLL(None, use_errno=True).ptrace  # the C library the interpreter runs with
_ptrace.argtypes = (ctypes.c_long, ctypes.c_long, ctypes.c_ulong, ctypes.c_ulong)
_ptrace.restype = ctypes.c_long


@record(frozen=True)
class SyscallInfo:
    """PTRACE_GET_SYSCALL_INFO at a syscall or seccomp stop: entry/seccomp stops have nr and
    args, exit stops the result."""

    op: int
    arch: int
    ip: int  # after the syscall instruction
    nr: int = -1
    args: tuple[int, ...] = ()
    rval: int = 0
    is_error: bool = False


@record(frozen=True)
class SigInfo:
    signo: int
    code: int
    addr: int  # si_addr: RIP for x86 data watchpoints, the address for exec ones
    pid: int  # sender, for SI_USER/SI_TKILL

    @property
    def sent_by_process(self) -> bool:
        """kill(2), tgkill(2), raise(3), sigqueue(3): never a debug exception."""
        return self.code <= 0


def _call(name: str, request: int, tid: int, arg1: int = 0, arg2: int = 0) -> int:
    """One request that is not a PEEK (for those, -1 can be the data read)."""
    result = _ptrace(request, tid, arg1, arg2)
    if result == -1:
        raise PtraceError(name, tid, ctypes.get_errno())
    return result


def seize(tid: int, options: int) -> None:
    _call("PTRACE_SEIZE", PTRACE_SEIZE, tid, 0, options)


def interrupt(tid: int) -> None:
    _call("PTRACE_INTERRUPT", PTRACE_INTERRUPT, tid)


def cont(tid: int, signo: int = 0) -> None:
    _call("PTRACE_CONT", PTRACE_CONT, tid, 0, signo)


def singlestep(tid: int, signo: int = 0) -> None:
    _call("PTRACE_SINGLESTEP", PTRACE_SINGLESTEP, tid, 0, signo)


def detach(tid: int, signo: int = 0) -> None:
    _call("PTRACE_DETACH", PTRACE_DETACH, tid, 0, signo)


def geteventmsg(tid: int) -> int:
    msg = ctypes.c_ulong()
    _call("PTRACE_GETEVENTMSG", PTRACE_GETEVENTMSG, tid, 0, ctypes.addressof(msg))
    return msg.value


def getsiginfo(tid: int) -> SigInfo:
    info = ctypes.create_string_buffer(SIGINFO_SIZE)
    _call("PTRACE_GETSIGINFO", PTRACE_GETSIGINFO, tid, 0, ctypes.addressof(info))
    raw = info.raw
    signo, _, code = _SIGINFO_HEAD.unpack_from(raw)
    addr = int.from_bytes(raw[16:24], "little")
    pid = int.from_bytes(raw[16:20], "little", signed=True)
    return SigInfo(signo=signo, code=code, addr=addr, pid=pid)


def getregs(tid: int) -> Regs:
    regs = Regs()
    _call("PTRACE_GETREGS", PTRACE_GETREGS, tid, 0, ctypes.addressof(regs))
    return regs


def setregs(tid: int, regs: Regs) -> None:
    _call("PTRACE_SETREGS", PTRACE_SETREGS, tid, 0, ctypes.addressof(regs))


def getfpregs(tid: int) -> bytes:
    """The x87/SSE state (FXSAVE layout), for the remote protocol's register packets."""
    buf = ctypes.create_string_buffer(FPREGS_SIZE)
    _call("PTRACE_GETFPREGS", PTRACE_GETFPREGS, tid, 0, ctypes.addressof(buf))
    return buf.raw


def setfpregs(tid: int, data: bytes) -> None:
    buf = ctypes.create_string_buffer(bytes(data[:FPREGS_SIZE]).ljust(FPREGS_SIZE, b"\0"), FPREGS_SIZE)
    _call("PTRACE_SETFPREGS", PTRACE_SETFPREGS, tid, 0, ctypes.addressof(buf))


def getxstate(tid: int) -> bytes:
    """The thread's whole XSAVE area, as long as the kernel's (its size is the one SETREGSET wants)."""
    buf = ctypes.create_string_buffer(XSTATE_MAX)
    iov = (ctypes.c_size_t * 2)(ctypes.addressof(buf), XSTATE_MAX)
    _call("PTRACE_GETREGSET", PTRACE_GETREGSET, tid, NT_X86_XSTATE, ctypes.addressof(iov))
    return buf.raw[:iov[1]]


def setxstate(tid: int, data: bytes) -> None:
    buf = ctypes.create_string_buffer(bytes(data), len(data))
    iov = (ctypes.c_size_t * 2)(ctypes.addressof(buf), len(data))
    _call("PTRACE_SETREGSET", PTRACE_SETREGSET, tid, NT_X86_XSTATE, ctypes.addressof(iov))


def syscall(tid: int, signo: int = 0) -> None:
    """Resumes to the next syscall entry or exit stop (PTRACE_SYSCALL)."""
    _call("PTRACE_SYSCALL", PTRACE_SYSCALL, tid, 0, signo)


_INFO = struct.Struct("<BxxxIQQ")
_ENTRY = struct.Struct("<Q6Q")
_EXIT = struct.Struct("<qB")


def get_syscall_info(tid: int) -> SyscallInfo:
    buf = ctypes.create_string_buffer(96)
    _call("PTRACE_GET_SYSCALL_INFO", PTRACE_GET_SYSCALL_INFO, tid, len(buf), ctypes.addressof(buf))
    raw = buf.raw
    op, arch, ip, _sp = _INFO.unpack_from(raw)
    if op in (SYSCALL_INFO_ENTRY, SYSCALL_INFO_SECCOMP):
        nr, *args = _ENTRY.unpack_from(raw, _INFO.size)
        return SyscallInfo(op, arch, ip, nr=nr, args=tuple(args))
    if op == SYSCALL_INFO_EXIT:
        rval, is_error = _EXIT.unpack_from(raw, _INFO.size)
        return SyscallInfo(op, arch, ip, rval=rval, is_error=bool(is_error))
    return SyscallInfo(op, arch, ip)
