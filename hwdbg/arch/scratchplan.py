"""Where a system call's output buffers go in a scratch area, and what comes back at its exit.

A plan lists pieces: program memory the call may write, each given a place (offset) in the
scratch area. A pointer argument is pointed at its piece's place; an iovec array or a msghdr
is rebuilt in scratch pointing at the places of its buffers. At the call's exit each piece
goes back to the program's memory:
  "count": the first n bytes, n known from the call's result (read, readv scattered in order);
  "diff": the bytes that differ from what was put in scratch at entry (a copy of the program's
          bytes, so in/out buffers such as select's fd sets are read by the kernel as they were);
  "in": never (an iovec array the kernel only reads).
Calls whose buffers cannot be placed exactly return None (their pages are lifted instead).
process_vm_readv's local iovec array is rebuilt as readv's (its remote one, only read, stays
where it is). poll, nanosleep and
clock_nanosleep are moved too, though the kernel may restart them (restart_syscall) with the
scratch pointer it saved: session/scratch.py keeps the area until that restarted call ends.
An argument passed twice (nanosleep(&ts, &ts)) points at one "diff" piece: the kernel reads
the same bytes there as in the program's buffer.
Pure logic: ``read`` reads the program's memory.
"""
from __future__ import annotations

import struct
from dataclasses import field
from typing import Callable, Optional

from ..recordtype import record
from . import syscalls
from .syscalls import IOVEC, MAX_IOV, MMSGHDR_SIZE, MSGHDR, TIMESPEC_SIZE, Reader

ALIGN = 64
MAX_SCRATCH = 64 << 20  # in all: larger calls are lifted (nothing of them is read before)
# The table's calls whose pages are lifted around them instead (none now: every buffer of
# theirs can be placed).
LIFTED: frozenset[str] = frozenset()
NR_RECVMSG, NR_RECVMMSG = 47, 299
MSG_LEN = struct.Struct("<I")  # mmsghdr.msg_len, after the msghdr
IOV_CALLS = frozenset({"readv", "preadv", "preadv2", "process_vm_readv"})  # iovec array: args 1, 2


@record
class Piece:
    real: int  # the program's address
    size: int
    mode: str  # "count", "diff" or "in"
    offset: int = 0  # in the scratch area
    init: Optional[bytes] = None  # put in scratch at entry (relative pointers fixed by build)


@record
class Plan:
    pieces: list[Piece]
    args: dict[int, int] = field(default_factory=dict)  # argument index -> piece index
    # the "count" pieces' byte counts from the call's result (and, for recvmmsg, the scratch
    # bytes of a piece at the exit), in piece order
    counts: Callable[..., list[int]] = lambda _rval, _now=None: []
    build: Callable[[int], None] = lambda _base: None  # fills init with scratch addresses

    @property
    def size(self) -> int:
        return max((p.offset + p.size for p in self.pieces), default=0)

    def place(self) -> None:
        at = 0
        for p in self.pieces:
            p.offset = at
            at += (p.size + ALIGN - 1) // ALIGN * ALIGN

    def count_pieces(self) -> list[Piece]:
        return [p for p in self.pieces if p.mode == "count"]


def plan(nr: int, args: tuple[int, ...], read: Reader,
         moved: Callable[[int, int], bool]) -> Optional[Plan]:
    """The plan for call nr, moving the buffers ``moved(addr, size)`` says (those in protected
    pages); None if one of those cannot be moved exactly."""
    entry = syscalls.BY_NR.get(nr)
    if entry is None or entry.name in LIFTED:
        return None
    if entry.name in IOV_CALLS:
        return _iov_plan(args, read)
    if nr == NR_RECVMSG:
        return _recvmsg_plan(args, read)
    if nr == NR_RECVMMSG:
        return _recvmmsg_plan(args, read)
    found = syscalls.buffers(nr, args, read)
    if not found:
        return None
    if sum(size for addr, size in found if moved(addr, size)) > MAX_SCRATCH:
        return None
    out_ptr = entry.out[0] if entry.out else None
    result = Plan([])
    taken: list[tuple[int, int]] = []
    for addr, size in found:
        if not moved(addr, size):
            continue
        where = [i for i, a in enumerate(args) if a == addr]
        if not where or any(a < addr + size and addr < a + s for a, s in taken):
            return None  # not an argument (inside a structure) or overlapping another: not exact
        if len(where) > 1 and (entry.name not in syscalls.RESTARTED or out_ptr is not None):
            return None  # shared by two outputs
        taken.append((addr, size))
        counted = where == [out_ptr] and size == args[entry.out[1]] * entry.out[2]
        for i in where:  # nanosleep(&ts, &ts): both at one copy of ts
            result.args[i] = len(result.pieces)
        result.pieces.append(Piece(addr, size, "count" if counted else "diff",
                                   init=None if counted else read(addr, size)))
    if not result.pieces:
        return None
    if entry.out is not None and out_ptr in result.args:
        result.counts = lambda rval, _now=None: [entry.written(args, rval)]
    result.place()
    return result


def _scatter(pieces: list[Piece]) -> Callable[..., list[int]]:
    """readv's result spread over its buffers in order."""
    def counts(rval: int, _now: object = None) -> list[int]:
        left, out = max(rval, 0), []
        for p in pieces:
            n = min(left, p.size)
            out.append(n)
            left -= n
        return out
    return counts


def _iov_pieces(read: Reader, addr: int, count: int) -> Optional[tuple[Piece, list[Piece]]]:
    """The iovec array (rebuilt in scratch) and its non-empty buffers."""
    if count == 0:  # recvmsg of control data alone
        return Piece(addr, 0, "in", init=b""), []
    if count < 0 or count > MAX_IOV or not addr:
        return None
    raw = read(addr, count * IOVEC.size)
    vecs = [IOVEC.unpack_from(raw, i * IOVEC.size) for i in range(count)]
    if sum(n for _b, n in vecs) > MAX_SCRATCH:
        return None
    return Piece(addr, len(raw), "in", init=raw), [Piece(b, n, "count") for b, n in vecs if n > 0]


def _rebuilt_iov(raw: bytes, data: list[Piece], base: int) -> bytes:
    """The iovec array pointing at the data's places (empty entries kept as they were)."""
    out, it = bytearray(raw), iter(data)
    for i in range(len(out) // IOVEC.size):
        b, n = IOVEC.unpack_from(out, i * IOVEC.size)
        if n > 0:
            IOVEC.pack_into(out, i * IOVEC.size, base + next(it).offset, n)
    return bytes(out)


def _iov_plan(args: tuple[int, ...], read: Reader) -> Optional[Plan]:
    got = _iov_pieces(read, args[1], args[2])
    if got is None:
        return None
    array, data = got
    result = Plan([array] + data, {1: 0}, _scatter(data))
    result.place()
    raw = array.init or b""

    def build(base: int) -> None:
        array.init = _rebuilt_iov(raw, data, base)
    result.build = build
    return result


def _recvmsg_plan(args: tuple[int, ...], read: Reader) -> Optional[Plan]:
    """recvmsg: the msghdr (namelen, controllen and flags come back as "diff"), the name and
    control buffers ("diff"), and the iovec buffers (the result scattered)."""
    header = read(args[1], MSGHDR.size)
    name, namelen, iov, iovlen, control, controllen, flags = MSGHDR.unpack(header)
    got = _iov_pieces(read, iov, iovlen)
    if got is None:
        return None
    array, data = got
    if namelen + controllen > MAX_SCRATCH:
        return None
    head = Piece(args[1], MSGHDR.size, "diff", init=header)
    extra = [Piece(a, n, "diff", init=read(a, n)) for a, n in ((name, namelen), (control, controllen))
             if a and n > 0]
    result = Plan([head, array] + extra + data, {1: 0}, _scatter(data))
    result.place()
    raw = array.init or b""

    def build(base: int) -> None:
        array.init = _rebuilt_iov(raw, data, base)
        places = {p.real: base + p.offset for p in extra}
        head.init = MSGHDR.pack(places.get(name, name) if namelen else name, namelen, base + array.offset,
                                iovlen, places.get(control, control) if controllen else control,
                                controllen, flags)
    result.build = build
    return result


def _recvmmsg_plan(args: tuple[int, ...], read: Reader) -> Optional[Plan]:
    """recvmmsg: the mmsghdr array rebuilt in scratch ("diff": each message's namelen,
    controllen, flags and msg_len come back), each message's name, control and iovec array as
    recvmsg's, each message's msg_len scattered over its buffers; the timeout ("diff")."""
    vlen = min(args[2] & 0xFFFFFFFF, MAX_IOV)  # the kernel's cap too
    if not args[1] or vlen == 0:
        return None
    raw = read(args[1], vlen * MMSGHDR_SIZE)
    array = Piece(args[1], len(raw), "diff", init=raw)
    pieces, messages, total = [array], [], 0
    for i in range(vlen):
        name, namelen, iov, iovlen, control, controllen, _flags = MSGHDR.unpack_from(raw, i * MMSGHDR_SIZE)
        got = _iov_pieces(read, iov, iovlen)
        if got is None:
            return None
        vecs, data = got
        total += namelen + controllen + sum(p.size for p in data)
        if total > MAX_SCRATCH:
            return None
        extra = {a: Piece(a, n, "diff", init=read(a, n)) for a, n in ((name, namelen), (control, controllen))
                 if a and n > 0}
        pieces += [vecs] + list(extra.values()) + data
        messages.append((vecs, extra, data))
    timeout = [Piece(args[4], TIMESPEC_SIZE, "diff", init=read(args[4], TIMESPEC_SIZE))] if args[4] else []
    result = Plan(pieces + timeout, {1: 0})
    if timeout:
        result.args[4] = len(pieces)
    result.place()
    vec_raws = [vecs.init or b"" for vecs, _e, _d in messages]

    def build(base: int) -> None:
        out = bytearray(raw)
        for i, ((vecs, extra, data), vraw) in enumerate(zip(messages, vec_raws)):
            vecs.init = _rebuilt_iov(vraw, data, base)
            name, namelen, iov, iovlen, control, controllen, flags = MSGHDR.unpack_from(raw, i * MMSGHDR_SIZE)
            moved = {a: base + p.offset for a, p in extra.items()}
            MSGHDR.pack_into(out, i * MMSGHDR_SIZE, moved.get(name, name) if namelen else name, namelen,
                             base + vecs.offset, iovlen, moved.get(control, control) if controllen else control,
                             controllen, flags)
        array.init = bytes(out)

    def counts(rval: int, now: Optional[Callable[[Piece], bytes]] = None) -> list[int]:
        lens = now(array) if now is not None and rval > 0 else b""
        out: list[int] = []
        for i, (_v, _e, data) in enumerate(messages):
            got = MSG_LEN.unpack_from(lens, i * MMSGHDR_SIZE + MSGHDR.size)[0] if i < rval and lens else 0
            out += _scatter(data)(got)
        return out
    result.build, result.counts = build, counts
    return result


def diff_runs(before: bytes, now: bytes) -> list[tuple[int, int]]:
    """(offset, length) of the runs where now differs from before."""
    runs: list[tuple[int, int]] = []
    start = None
    for i, (a, b) in enumerate(zip(before, now)):
        if a != b and start is None:
            start = i
        elif a == b and start is not None:
            runs.append((start, i - start))
            start = None
    if start is not None:
        runs.append((start, len(now) - start))
    return runs


def covered(buffer: tuple[int, int], pieces: list[tuple[int, int]]) -> bool:
    """A buffer lying inside one of the pieces."""
    addr, size = buffer
    return any(a <= addr and addr + size <= a + n for a, n in pieces)
