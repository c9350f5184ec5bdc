"""System calls that write into protected pages, made into a scratch buffer instead.

Lifting the pages around such a call (SyscallLift) loses every other thread's write to
them while the call blocks (a read() on an empty pipe can take forever). A call whose
buffers arch/scratchplan.py can place is instead made with its pointer arguments aimed at a
scratch area of the thread's own (a copy of its iovec array or msghdr pointing there for
readv, preadv, preadv2, recvmsg, recvmmsg), so the pages stay protected throughout; at the call's exit
the bytes the kernel wrote are copied into the real buffers through /proc/PID/mem (which
ignores page protection), the argument registers are put back, and the caller compares the
range as after any kernel write.

The scratch area is an anonymous mapping made by the thread itself: its first such call is
turned into mmap (then madvise MADV_DONTFORK, so forked children do not inherit it) and made
again, as SyscallLift does with its mprotect. A thread that exits leaves its area to the
next thread that needs one; detach unmaps them all.

poll, nanosleep and clock_nanosleep interrupted without a handler (SIGSTOP, our own
PTRACE_INTERRUPT) end with ERESTART_RESTARTBLOCK and go on as restart_syscall with the scratch
pointer the kernel saved: their area is kept for them; what they wrote so far is copied at each
exit, and the restarted call's exit is theirs too (kernelwrites.py). With a handler, the same
exit is their last (EINTR and the time left, copied at once). Detached meanwhile, the area
stays mapped: the restarted call still points there.

Not redirected (the pages are lifted instead): the calls scratchplan.LIFTED names, calls
over MAP_SHARED pages (/proc/PID/mem cannot write a read-only shared page), buffers reaching
memory that is not writable, and buffers over MAX_SCRATCH in all.
"""
from __future__ import annotations

from typing import Callable, Optional

from ..arch import scratchplan, syscalls
from ..errors import HwdbgError
from ..linux import procfs
from ..linux import ptrace as sc
from ..process import inject
from ..process.control import Inferior
from ..recordtype import record
from .pagewatch import PAGE, PageWatches

NR_MMAP, NR_MREMAP, NR_MADVISE, NR_MUNMAP = 9, 25, 28, 11
MAP_PRIVATE, MAP_ANONYMOUS, MAP_NORESERVE = 0x02, 0x20, 0x4000
MREMAP_MAYMOVE = 1
MADV_DONTFORK = 10
MAX_SCRATCH = scratchplan.MAX_SCRATCH
MIN_SCRATCH = 64 << 10
ARG_REGS = ("rdi", "rsi", "rdx", "r10", "r8", "r9")


@record
class _Area:
    addr: int
    size: int


@record
class _Redirect:
    args: tuple[int, ...]  # the program's own
    plan: scratchplan.Plan
    area: _Area
    resumed: bool = False  # the restart_syscall of an interrupted one: its registers are the program's


Step = Callable[[], Optional[tuple[int, ...]]]  # our call's number and arguments (None: give up)


class ScratchRedirect:
    def __init__(self, pages: PageWatches) -> None:
        self.pages = pages
        self.areas: dict[int, _Area] = {}  # tid -> its scratch area
        self.spare: list[_Area] = []  # left by threads that exited
        self._flight: dict[int, _Redirect] = {}  # tid -> its call made into scratch
        self._steps: dict[int, list[tuple[Step, Callable[[int], None]]]] = {}  # our calls still to make
        self._saved: dict[int, tuple[sc.Regs, Callable[[int], None]]] = {}  # entry turned into our call
        self._failed: set[int] = set()  # no area could be made: lift
        self._restart: dict[int, _Redirect] = {}  # tid -> its call the kernel may restart (restart_block)
        self.closing = False  # letting go: lift instead of making new areas
        self.redirected = 0  # calls made into scratch
        self.resumed = 0  # restart_syscalls that went on with one of them

    def reset(self) -> None:
        """Exec or exit: the areas went with the old image."""
        self.areas.clear()
        self.spare.clear()
        self._flight.clear()
        self._steps.clear()
        self._saved.clear()
        self._failed.clear()
        self._restart.clear()
        self.closing = False

    def forget(self, tid: int) -> None:
        self._flight.pop(tid, None)
        self._steps.pop(tid, None)
        self._saved.pop(tid, None)
        self._restart.pop(tid, None)
        area = self.areas.pop(tid, None)
        if area is not None:
            self.spare.append(area)

    def in_flight(self, tid: int) -> bool:
        """An entry of tid was changed by us and its exit not seen yet."""
        return tid in self._flight or tid in self._saved

    def resume(self, tid: int) -> bool:
        """The entry of restart_syscall: tid's interrupted call goes on, into the same scratch."""
        flight = self._restart.pop(tid, None)
        if flight is None:
            return False
        flight.resumed = True
        self._flight[tid] = flight
        self.resumed += 1
        return True

    def drop_restart(self, tid: int) -> None:
        """Another call: the interrupted one ended (a handler ran: EINTR), its area is free."""
        self._restart.pop(tid, None)

    def overlaps(self, addr: int, length: int) -> bool:
        """A range that touches one of our areas (refused as a watch)."""
        return any(a.addr < addr + length and addr < a.addr + a.size for a in self._all_areas())

    def _all_areas(self) -> list[_Area]:
        return list(self.areas.values()) + self.spare

    # ------------------------------------------------------------ entry

    def at_entry(self, inf: Inferior, tid: int, nr: int, args: tuple[int, ...],
                 buffers: list[tuple[int, int]]) -> Optional[str]:
        """None: not for us (the caller lifts the pages). "prelude": the entry became one of our
        calls. "redirected": the call now writes into scratch. Both: resume to the exit."""
        if self.closing:
            self._steps.pop(tid, None)
            return None
        if tid in self._steps:
            return self._run_step(inf, tid)
        if tid in self._failed or syscalls.BY_NR.get(nr) is None:
            return None
        try:
            moved = scratchplan.plan(nr, args, inf.read_memory,
                                     lambda addr, size: bool(self.pages.overlapping_runs([(addr, size)])))
        except HwdbgError:  # unreadable memory: lifted, so the kernel fails it with EFAULT as it would
            return None
        if moved is None or moved.size > MAX_SCRATCH:
            return None
        placed = [(p.real, p.size) for p in moved.pieces]
        if self.pages.overlapping_runs([b for b in buffers if not scratchplan.covered(b, placed)]) \
                or not all(self._writable(inf, p.real, p.size) for p in moved.pieces if p.mode != "in"):
            return None
        area = self.areas.get(tid)
        if area is None and self.spare:
            area = self.areas[tid] = self.spare.pop()
        if area is None or area.size < moved.size:
            self._steps[tid] = self._make_area(tid, area, moved.size)
            return self._run_step(inf, tid)
        moved.build(area.addr)
        for p in moved.pieces:
            if p.init is not None:
                inf.write_memory(area.addr + p.offset, p.init)
        regs = inf.get_regs(tid)
        for arg, piece in moved.args.items():
            setattr(regs, ARG_REGS[arg], area.addr + moved.pieces[piece].offset)
        inf.set_regs(tid, regs)
        self._flight[tid] = _Redirect(args, moved, area)
        self.redirected += 1
        return "redirected"

    def _writable(self, inf: Inferior, addr: int, size: int) -> bool:
        """Every page of the buffer is ours (private) or writable memory: the copy lands where the
        kernel's write would have, and a call that would fail with EFAULT still does."""
        span = range(addr - addr % PAGE, addr + size, PAGE)
        if any(p in self.pages.shared for p in span):
            return False
        if all(p in self.pages.protected for p in span):
            return True
        maps = procfs.read_maps(inf.pid)
        for p in span:
            if p in self.pages.protected:
                continue
            where = next((m for m in maps if m.contains(p)), None)
            if where is None or where.perms[1] != "w" or where.perms[3] == "s":
                return False
        return True

    def _make_area(self, tid: int, area: Optional[_Area], size: int) -> list[tuple[Step, Callable[[int], None]]]:
        want = max(MIN_SCRATCH, 1 << (size - 1).bit_length())

        def made(addr: int) -> None:
            if addr < 0 or addr >= 1 << 63:
                self._failed.add(tid)  # ENOMEM...: its calls are lifted instead
                self._steps.pop(tid, None)
            else:
                self.areas[tid] = _Area(addr, want)

        if area is not None:
            old = area
            return [(lambda: (NR_MREMAP, old.addr, old.size, want, MREMAP_MAYMOVE), made)]
        return [(lambda: (NR_MMAP, 0, want, inject.PROT_READ | inject.PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, inject.MASK64, 0), made),
                (lambda: (NR_MADVISE, self.areas[tid].addr, want, MADV_DONTFORK), lambda _rc: None)]

    def _run_step(self, inf: Inferior, tid: int) -> str:
        """This entry becomes our next call (its registers kept to make it again after)."""
        steps = self._steps[tid]
        make, done = steps.pop(0)
        if not steps:
            del self._steps[tid]
        call = make()
        assert call is not None
        regs = inf.get_regs(tid)
        self._saved[tid] = (sc.Regs.from_buffer_copy(regs), done)
        regs.orig_rax = call[0]
        for name, value in zip(ARG_REGS, call[1:]):
            setattr(regs, name, value & inject.MASK64)
        inf.set_regs(tid, regs)
        return "prelude"

    # ------------------------------------------------------------ exit

    def prelude_exit(self, inf: Inferior, tid: int, rval: int) -> bool:
        """True if this was the exit of one of our calls: the thread goes back onto its own
        `syscall` instruction, to make our next call or its own."""
        held = self._saved.pop(tid, None)
        if held is None:
            return False
        saved, done = held
        done(rval)
        regs = sc.Regs.from_buffer_copy(saved)
        regs.rip -= inject.SYSCALL_LENGTH
        regs.rax, regs.orig_rax = saved.orig_rax, inject.MASK64
        inf.set_regs(tid, regs)
        return True

    def at_exit(self, inf: Inferior, tid: int, rval: int) -> bool:
        """The exit of a call made into scratch: the kernel's bytes go to the real buffer and the
        argument register gets its value back. True if it was one."""
        flight = self._flight.pop(tid, None)
        if flight is None:
            return False
        if not flight.resumed:
            regs = inf.get_regs(tid)
            for arg in flight.plan.args:
                setattr(regs, ARG_REGS[arg], flight.args[arg])
            inf.set_regs(tid, regs)
        base = flight.area.addr
        def now(piece: scratchplan.Piece) -> bytes:
            return inf.read_memory(base + piece.offset, piece.size)
        for piece, n in zip(flight.plan.count_pieces(), flight.plan.counts(rval, now)):
            if n > 0:
                inf.write_memory(piece.real, inf.read_memory(base + piece.offset, n))
        for piece in flight.plan.pieces:
            if piece.mode == "diff" and piece.init is not None:
                after = now(piece)
                for at, n in scratchplan.diff_runs(piece.init, after):
                    inf.write_memory(piece.real + at, after[at:at + n])
                piece.init = after  # a restarted call's later writes are told from these
        if rval == -syscalls.ERESTART_RESTARTBLOCK:
            self._restart[tid] = flight  # its restart_syscall writes on into this scratch
        return True

    # ------------------------------------------------------------ letting go

    def release(self, inf: Inferior, injector: Callable[[], int]) -> None:
        """Unmaps every area (detach), by a thread that can inject."""
        pending = [f.area for f in self._restart.values()]
        areas = [a for a in self._all_areas() if all(a is not p for p in pending)]
        tid = injector() if areas else 0
        for area in areas:
            inject.inject_syscall(inf, tid, NR_MUNMAP, area.addr, area.size)
        self.areas.clear()
        self.spare.clear()
