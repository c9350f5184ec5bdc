"""gdb's Host I/O packets (``vFile:``): the client reads files of the target's side, as it does
from gdbserver: the executable and libraries (sysroot ``target:``), ``/proc/PID/maps`` for
``info proc mappings`` and vsyscall lookup, ``remote get``. Facts from the gdb manual, "Host I/O
Packets", "Errno Values", "struct stat" and "Constants": numbers are hex with an explicit minus
sign, paths are hex bytes, a reply is ``F RESULT[,ERRNO][;DATA]`` with DATA binary-escaped.

Read-only: opens that write, create or truncate, ``pwrite`` and ``unlink`` are refused with
EROFS (the protocol has no authentication; reading is what gdb needs). gdbserver advertises no
qSupported feature for these (gdb probes them), so neither do we.
"""
from __future__ import annotations

import errno
import os
import re
import stat
import struct

from .packets import MAX_PACKET, MUST_ESCAPE, escape

# The protocol's errno values (gdb manual, "Errno Values"); any other is EUNKNOWN
FILEIO_ERRNO = {errno.EPERM: 1, errno.ENOENT: 2, errno.EINTR: 4, errno.EBADF: 9, errno.EACCES: 13,
                errno.EFAULT: 14, errno.EBUSY: 16, errno.EEXIST: 17, errno.ENODEV: 19, errno.ENOTDIR: 20,
                errno.EISDIR: 21, errno.EINVAL: 22, errno.ENFILE: 23, errno.EMFILE: 24, errno.EFBIG: 27,
                errno.ENOSPC: 28, errno.ESPIPE: 29, errno.EROFS: 30, errno.ENAMETOOLONG: 91}
EUNKNOWN = 9999
O_ACCMODE, O_KNOWN = 0x3, 0x1 | 0x2 | 0x8 | 0x200 | 0x400 | 0x800  # RDWR|WRONLY, APPEND, CREAT, TRUNC, EXCL
MAX_FDS = 32  # gdb keeps a few open at once (the executable, a library, a /proc file)
STAT = struct.Struct(">IIIIIIIQQQIII")  # the protocol's struct stat: 64 bytes, big-endian
MODE_BITS = stat.S_IFREG | stat.S_IFDIR | stat.S_IFCHR | 0o777  # the ones the protocol defines
_NUMBER = re.compile(rb"-?[0-9a-fA-F]{1,16}")


class HostIOError(Exception):
    """A host I/O request that fails: the reply is ``F-1,ERRNO``."""

    def __init__(self, host_errno: int) -> None:
        super().__init__(host_errno)
        self.fileio = FILEIO_ERRNO.get(host_errno, EUNKNOWN)


def number(text: bytes) -> int:
    if not _NUMBER.fullmatch(text):
        raise HostIOError(errno.EINVAL)
    return int(text, 16)


def path(text: bytes) -> str:
    if len(text) % 2 or not re.fullmatch(rb"[0-9a-fA-F]*", text):
        raise HostIOError(errno.EINVAL)
    raw = bytes.fromhex(text.decode())
    if not raw or b"\0" in raw:
        raise HostIOError(errno.EINVAL if b"\0" in raw else errno.ENOENT)
    return os.fsdecode(raw)


def data_reply(data: bytes, limit: int = MAX_PACKET) -> tuple[bytes, int]:
    """``F N;DATA`` with the longest prefix of data that fits in limit once escaped, and that N."""
    escaped = escape(data)
    if len(b"F%x;" % len(data)) + len(escaped) <= limit:
        return b"F%x;" % len(data) + escaped, len(data)
    count, width = 0, 0  # the escaped length only grows with the count, and so does the header's
    for byte in data:
        width += 2 if byte in MUST_ESCAPE else 1
        if len(b"F%x;" % (count + 1)) + width > limit:
            break
        count += 1
    return b"F%x;" % count + escape(data[:count]), count


class HostIO:
    """The open files of one client; ``pid_of_fs`` is the target's (vFile:setfs) or 0 (ours)."""

    def __init__(self) -> None:
        self.fds: dict[int, int] = {}  # the client's fd -> ours
        self.fs_pid = 0

    def handle(self, request: bytes) -> bytes:
        """The reply to ``vFile:REQUEST`` (``b""`` for an operation we do not know)."""
        op, _, args = request.partition(b":")
        handler = {b"setfs": self._setfs, b"open": self._open, b"pread": self._pread, b"close": self._close,
                   b"fstat": self._fstat, b"readlink": self._readlink, b"pwrite": self._refuse,
                   b"unlink": self._refuse}.get(op)
        if handler is None:
            return b""
        try:
            return handler(args)
        except HostIOError as exc:
            return b"F-1,%x" % exc.fileio
        except OSError as exc:
            return b"F-1,%x" % HostIOError(exc.errno or 0).fileio

    def close_all(self) -> None:
        """The client went away: its files go with it, and the next one starts in our filesystem."""
        for fd in self.fds.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self.fds.clear()
        self.fs_pid = 0

    # ------------------------------------------------------------ requests

    def _setfs(self, args: bytes) -> bytes:
        pid = number(args)
        if pid < 0 or (pid and not os.path.isdir(f"/proc/{pid}")):
            raise HostIOError(errno.EINVAL)
        self.fs_pid = pid
        return b"F0"

    def _where(self, name: str) -> str:
        """A path in the filesystem of fs_pid: through /proc/PID/root when its mount namespace is
        not ours (a container), as procfs.mapped_file reaches a library of such a process."""
        if not self.fs_pid or _same_mount_namespace(self.fs_pid):
            return name
        return f"/proc/{self.fs_pid}/root/{name.lstrip('/')}"

    def _open(self, args: bytes) -> bytes:
        fields = args.split(b",")
        if len(fields) != 3:
            raise HostIOError(errno.EINVAL)
        name, flags, _mode = path(fields[0]), number(fields[1]), number(fields[2])
        if flags < 0 or flags & ~O_KNOWN:
            raise HostIOError(errno.EINVAL)
        if flags:  # any write, create, truncate or append
            raise HostIOError(errno.EROFS)
        if len(self.fds) >= MAX_FDS:
            raise HostIOError(errno.EMFILE)
        # O_NONBLOCK: a FIFO must not hang the stub at open
        fd = os.open(self._where(name), os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK)
        handle = min(set(range(MAX_FDS + 1)) - set(self.fds))
        self.fds[handle] = fd
        return b"F%x" % handle

    def _fd(self, text: bytes) -> int:
        fd = self.fds.get(number(text))
        if fd is None:
            raise HostIOError(errno.EBADF)
        return fd

    def _pread(self, args: bytes) -> bytes:
        fields = args.split(b",")
        if len(fields) != 3:
            raise HostIOError(errno.EINVAL)
        fd, count, offset = self._fd(fields[0]), number(fields[1]), number(fields[2])
        if count < 0 or offset < 0:
            raise HostIOError(errno.EINVAL)
        data = os.pread(fd, min(count, MAX_PACKET), offset)
        return data_reply(data)[0]

    def _close(self, args: bytes) -> bytes:
        fd = self._fd(args)
        del self.fds[number(args)]
        os.close(fd)
        return b"F0"

    def _fstat(self, args: bytes) -> bytes:
        st = os.fstat(self._fd(args))
        fields = (st.st_dev, st.st_ino, st.st_mode & MODE_BITS, st.st_nlink, st.st_uid, st.st_gid, st.st_rdev,
                  st.st_size, st.st_blksize, st.st_blocks, int(st.st_atime), int(st.st_mtime), int(st.st_ctime))
        widths = (32,) * 7 + (64,) * 3 + (32,) * 3
        return data_reply(STAT.pack(*(value & ((1 << bits) - 1) for value, bits in zip(fields, widths))))[0]

    def _readlink(self, args: bytes) -> bytes:
        target = os.fsencode(os.readlink(self._where(path(args))))
        reply, sent = data_reply(target)
        if sent < len(target):
            raise HostIOError(errno.ENAMETOOLONG)
        return reply

    def _refuse(self, _args: bytes) -> bytes:
        raise HostIOError(errno.EROFS)


def _same_mount_namespace(pid: int) -> bool:
    try:
        return os.stat(f"/proc/{pid}/ns/mnt").st_ino == os.stat("/proc/self/ns/mnt").st_ino
    except OSError:
        return True  # no namespace to compare (an old kernel, a process gone): the path as given
