"""The x86-64 system calls that write into user memory, and where: one table.

Each entry names the call, its number (asm/unistd_64.h) and a rule that, from the six
arguments (and a reader of the caller's memory, for iovec and msghdr arrays), returns the
buffers the kernel may write, as (address, size) upper bounds known at entry. The
arguments that matter to a person (fd, length) are named too, for the hit's text.
Into page-watched memory every call here is made into scratch memory (scratchplan.py).
Pure logic: no process is needed to test it.
"""
from __future__ import annotations

import struct
from typing import Callable, Optional

from ..errors import HwdbgError
from ..recordtype import record

Buffers = list[tuple[int, int]]
Reader = Callable[[int, int], bytes]  # (address, size) -> bytes of the caller's memory, or raises

STAT_SIZE = 144  # struct stat
STATX_SIZE = 256
STATFS_SIZE = 120
RUSAGE_SIZE = 144
SIGINFO_SIZE = 128
TIMESPEC_SIZE = 16
ITIMERSPEC_SIZE = 32
EPOLL_EVENT_SIZE = 12  # packed on x86-64
POLLFD_SIZE = 8
IOVEC = struct.Struct("<QQ")
MSGHDR = struct.Struct("<QI4xQQQQi4x")  # name, namelen, iov, iovlen, control, controllen, flags
MMSGHDR_SIZE = MSGHDR.size + 8  # + msg_len (and padding)
MAX_IOV = 1024  # UIO_MAXIOV


@record(frozen=True)
class Syscall:
    nr: int
    name: str
    shown: tuple[tuple[str, int], ...]  # (name, argument index) worth showing
    buffers: Callable[[tuple[int, ...], Reader], Buffers]
    # A call that writes one buffer, from its start, as much as its result says: (pointer
    # argument, length argument, bytes per unit). Its buffer can be moved (scratch.py).
    out: Optional[tuple[int, int, int]] = None

    def written(self, args: tuple[int, ...], rval: int) -> int:
        """Bytes the kernel wrote from the start of the ``out`` buffer, given the call's result."""
        assert self.out is not None
        _ptr, length, unit = self.out
        return max(0, min(rval, args[length])) * unit if rval > 0 else 0

    def describe(self, args: tuple[int, ...]) -> dict[str, int]:
        return {name: _signed(args[i], 64 if name in LONG_ARGS else 32) for name, i in self.shown}


LONG_ARGS = frozenset({"count", "length", "size", "len", "bufsiz", "offset", "msgsz", "vlen", "nfds", "nr"})


def _signed(v: int, bits: int) -> int:
    """An argument as C sees it: int arguments (fd, flags, pid) are the low 32 bits."""
    v &= (1 << bits) - 1
    return v - (1 << bits) if v >> (bits - 1) else v


def _fixed(*pairs: tuple[int, int]) -> Callable[[tuple[int, ...], Reader], Buffers]:
    """Buffers at argument i of a fixed size."""
    return lambda a, _r: [(a[i], size) for i, size in pairs]


def _sized(ptr: int, length: int, unit: int = 1) -> Callable[[tuple[int, ...], Reader], Buffers]:
    """A buffer at argument ptr of argument length (times unit) bytes."""
    return lambda a, _r: [(a[ptr], a[length] * unit)]


def _iovecs(read: Reader, addr: int, count: int) -> Buffers:
    count = min(count, MAX_IOV)
    if not addr or count <= 0:
        return []
    raw = read(addr, count * IOVEC.size)
    return [IOVEC.unpack_from(raw, i * IOVEC.size) for i in range(count)]


def _iov(ptr: int, count: int) -> Callable[[tuple[int, ...], Reader], Buffers]:
    return lambda a, r: _iovecs(r, a[ptr], a[count])


def _msghdr(read: Reader, addr: int) -> Buffers:
    name, namelen, iov, iovlen, control, controllen, _flags = MSGHDR.unpack(read(addr, MSGHDR.size))
    # The kernel also updates msg_namelen, msg_controllen and msg_flags in the header itself.
    return [(addr, MSGHDR.size), (name, namelen), (control, controllen)] + _iovecs(read, iov, iovlen)


def _recvmsg(a: tuple[int, ...], read: Reader) -> Buffers:
    return _msghdr(read, a[1])


def _recvmmsg(a: tuple[int, ...], read: Reader) -> Buffers:
    out: Buffers = []
    for i in range(min(a[2], MAX_IOV)):
        at = a[1] + i * MMSGHDR_SIZE
        out += _msghdr(read, at) + [(at, MMSGHDR_SIZE)]
    return out + [(a[4], TIMESPEC_SIZE)]  # the time left is written back


def _socklen(read: Reader, ptr: int, lenptr: int) -> Buffers:
    """An address (or option) buffer whose size is in *lenptr, and *lenptr itself."""
    if not lenptr:
        return []
    size = struct.unpack("<I", read(lenptr, 4))[0]
    return [(lenptr, 4)] + ([(ptr, size)] if ptr else [])


def _recvfrom(a: tuple[int, ...], read: Reader) -> Buffers:
    return [(a[1], a[2])] + _socklen(read, a[4], a[5])


def _select(a: tuple[int, ...], _r: Reader) -> Buffers:
    size = (min(a[0], 1 << 20) + 63) // 64 * 8
    return [(a[1], size), (a[2], size), (a[3], size), (a[4], TIMESPEC_SIZE)]


def _arch_prctl(a: tuple[int, ...], _r: Reader) -> Buffers:
    return [(a[1], 8)] if a[0] in (0x1003, 0x1004) else []  # ARCH_GET_FS, ARCH_GET_GS


FD = (("fd", 0),)
FD_COUNT = (("fd", 0), ("count", 2))

TABLE: tuple[Syscall, ...] = (
    Syscall(0, "read", FD_COUNT, _sized(1, 2), (1, 2, 1)),
    Syscall(4, "stat", (), _fixed((1, STAT_SIZE))),
    Syscall(5, "fstat", FD, _fixed((1, STAT_SIZE))),
    Syscall(6, "lstat", (), _fixed((1, STAT_SIZE))),
    Syscall(7, "poll", (("nfds", 1),), _sized(0, 1, POLLFD_SIZE)),
    Syscall(13, "rt_sigaction", (("signum", 0),), _fixed((2, 32))),
    Syscall(14, "rt_sigprocmask", (), _sized(2, 3)),
    Syscall(17, "pread64", FD_COUNT + (("offset", 3),), _sized(1, 2), (1, 2, 1)),
    Syscall(19, "readv", (("fd", 0), ("iovcnt", 2)), _iov(1, 2)),
    Syscall(22, "pipe", (), _fixed((0, 8))),
    Syscall(23, "select", (("nfds", 0),), _select),
    Syscall(27, "mincore", (), lambda a, _r: [(a[2], (a[1] + 4095) // 4096)]),
    Syscall(35, "nanosleep", (), _fixed((1, TIMESPEC_SIZE))),
    Syscall(36, "getitimer", (), _fixed((1, ITIMERSPEC_SIZE))),
    Syscall(38, "setitimer", (), _fixed((2, ITIMERSPEC_SIZE))),
    Syscall(40, "sendfile", (("out_fd", 0), ("in_fd", 1)), _fixed((2, 8))),
    Syscall(43, "accept", FD, lambda a, r: _socklen(r, a[1], a[2])),
    Syscall(45, "recvfrom", (("fd", 0), ("length", 2)), _recvfrom, (1, 2, 1)),
    Syscall(47, "recvmsg", FD, _recvmsg),
    Syscall(51, "getsockname", FD, lambda a, r: _socklen(r, a[1], a[2])),
    Syscall(52, "getpeername", FD, lambda a, r: _socklen(r, a[1], a[2])),
    Syscall(53, "socketpair", (), _fixed((3, 8))),
    Syscall(55, "getsockopt", FD, lambda a, r: _socklen(r, a[3], a[4])),
    Syscall(61, "wait4", (("pid", 0),), _fixed((1, 4), (3, RUSAGE_SIZE))),
    Syscall(63, "uname", (), _fixed((0, 390))),
    Syscall(70, "msgrcv", (("msqid", 0), ("msgsz", 2)), lambda a, _r: [(a[1], a[2] + 8)]),
    Syscall(78, "getdents", (("fd", 0), ("count", 2)), _sized(1, 2), (1, 2, 1)),
    Syscall(79, "getcwd", (("size", 1),), _sized(0, 1), (0, 1, 1)),
    Syscall(89, "readlink", (("bufsiz", 2),), _sized(1, 2), (1, 2, 1)),
    Syscall(96, "gettimeofday", (), _fixed((0, 16), (1, 8))),
    Syscall(97, "getrlimit", (), _fixed((1, 16))),
    Syscall(98, "getrusage", (), _fixed((1, RUSAGE_SIZE))),
    Syscall(99, "sysinfo", (), _fixed((0, 112))),
    Syscall(100, "times", (), _fixed((0, 32))),
    Syscall(115, "getgroups", (("size", 0),), _sized(1, 0, 4)),
    Syscall(118, "getresuid", (), _fixed((0, 4), (1, 4), (2, 4))),
    Syscall(120, "getresgid", (), _fixed((0, 4), (1, 4), (2, 4))),
    Syscall(125, "capget", (), _fixed((1, 24))),
    Syscall(127, "rt_sigpending", (), _sized(0, 1)),
    Syscall(128, "rt_sigtimedwait", (), _fixed((1, SIGINFO_SIZE))),
    Syscall(131, "sigaltstack", (), _fixed((1, 24))),
    Syscall(137, "statfs", (), _fixed((1, STATFS_SIZE))),
    Syscall(138, "fstatfs", FD, _fixed((1, STATFS_SIZE))),
    Syscall(158, "arch_prctl", (("code", 0),), _arch_prctl),
    Syscall(191, "getxattr", (("size", 3),), _sized(2, 3), (2, 3, 1)),
    Syscall(192, "lgetxattr", (("size", 3),), _sized(2, 3), (2, 3, 1)),
    Syscall(193, "fgetxattr", (("fd", 0), ("size", 3)), _sized(2, 3), (2, 3, 1)),
    Syscall(194, "listxattr", (("size", 2),), _sized(1, 2), (1, 2, 1)),
    Syscall(195, "llistxattr", (("size", 2),), _sized(1, 2), (1, 2, 1)),
    Syscall(196, "flistxattr", (("fd", 0), ("size", 2)), _sized(1, 2), (1, 2, 1)),
    Syscall(201, "time", (), _fixed((0, 8))),
    Syscall(204, "sched_getaffinity", (("pid", 0), ("len", 1)), _sized(2, 1), (2, 1, 1)),
    Syscall(208, "io_getevents", (("nr", 2),), _sized(3, 2, 32), (3, 2, 32)),
    Syscall(217, "getdents64", (("fd", 0), ("count", 2)), _sized(1, 2), (1, 2, 1)),
    Syscall(223, "timer_settime", (), _fixed((3, ITIMERSPEC_SIZE))),
    Syscall(224, "timer_gettime", (), _fixed((1, ITIMERSPEC_SIZE))),
    Syscall(228, "clock_gettime", (("clock", 0),), _fixed((1, TIMESPEC_SIZE))),
    Syscall(229, "clock_getres", (("clock", 0),), _fixed((1, TIMESPEC_SIZE))),
    Syscall(230, "clock_nanosleep", (("clock", 0),), _fixed((3, TIMESPEC_SIZE))),
    Syscall(232, "epoll_wait", (("epfd", 0), ("maxevents", 2)), _sized(1, 2, EPOLL_EVENT_SIZE),
            (1, 2, EPOLL_EVENT_SIZE)),
    Syscall(243, "mq_timedreceive", (("mqdes", 0), ("len", 2)), lambda a, _r: [(a[1], a[2]), (a[3], 4)]),
    Syscall(247, "waitid", (("idtype", 0), ("id", 1)), _fixed((2, SIGINFO_SIZE), (4, RUSAGE_SIZE))),
    Syscall(262, "newfstatat", (("dirfd", 0),), _fixed((2, STAT_SIZE))),
    Syscall(267, "readlinkat", (("bufsiz", 3),), _sized(2, 3), (2, 3, 1)),
    Syscall(270, "pselect6", (("nfds", 0),), _select),
    Syscall(271, "ppoll", (("nfds", 1),), lambda a, _r: [(a[0], a[1] * POLLFD_SIZE), (a[2], TIMESPEC_SIZE)]),
    Syscall(275, "splice", (("fd_in", 0), ("fd_out", 2)), _fixed((1, 8), (3, 8))),
    Syscall(281, "epoll_pwait", (("epfd", 0), ("maxevents", 2)), _sized(1, 2, EPOLL_EVENT_SIZE),
            (1, 2, EPOLL_EVENT_SIZE)),
    Syscall(286, "timerfd_settime", (("fd", 0),), _fixed((3, ITIMERSPEC_SIZE))),
    Syscall(287, "timerfd_gettime", FD, _fixed((1, ITIMERSPEC_SIZE))),
    Syscall(288, "accept4", FD, lambda a, r: _socklen(r, a[1], a[2])),
    Syscall(293, "pipe2", (("flags", 1),), _fixed((0, 8))),
    Syscall(295, "preadv", (("fd", 0), ("iovcnt", 2)), _iov(1, 2)),
    Syscall(299, "recvmmsg", (("fd", 0), ("vlen", 2)), _recvmmsg),
    Syscall(302, "prlimit64", (("pid", 0),), _fixed((3, 16))),
    Syscall(310, "process_vm_readv", (("pid", 0),), _iov(1, 2)),
    Syscall(318, "getrandom", (("count", 1),), _sized(0, 1), (0, 1, 1)),
    Syscall(326, "copy_file_range", (("fd_in", 0), ("fd_out", 2)), _fixed((1, 8), (3, 8))),
    Syscall(327, "preadv2", (("fd", 0), ("iovcnt", 2)), _iov(1, 2)),
    Syscall(332, "statx", (("dirfd", 0),), _fixed((4, STATX_SIZE))),
    Syscall(441, "epoll_pwait2", (("epfd", 0), ("maxevents", 2)), _sized(1, 2, EPOLL_EVENT_SIZE),
            (1, 2, EPOLL_EVENT_SIZE)),
)

BY_NR: dict[int, Syscall] = {s.nr: s for s in TABLE}
BY_NAME: dict[str, Syscall] = {s.name: s for s in TABLE}


# poll, nanosleep and clock_nanosleep interrupted without a handler run on as this call, with
# the pointer they saved: its exit is where their later writes are seen.
NR_RESTART_SYSCALL = 219
ERESTART_RESTARTBLOCK = 516
RESTARTED = frozenset({"poll", "nanosleep", "clock_nanosleep"})


def writing_numbers() -> list[int]:
    """The numbers the kernel-write filter stops at."""
    return sorted(set(BY_NR) | {NR_RESTART_SYSCALL})


def buffers(nr: int, args: tuple[int, ...], read: Reader) -> Optional[Buffers]:
    """The buffers syscall nr may write (empty or null ones left out), or None for a call not
    in the table. A buffer list that cannot be read (a bad iovec pointer) is empty: the
    kernel fails that call with EFAULT too."""
    entry = BY_NR.get(nr)
    if entry is None:
        return None
    try:
        found = entry.buffers(args, read)
    except HwdbgError:  # unreadable user memory
        return []
    return [(addr, size) for addr, size in found if addr and size > 0]


def overlaps(found: Buffers, start: int, size: int) -> bool:
    return any(addr < start + size and start < addr + length for addr, length in found)
