"""gdb's names for threads in stop messages: per-process numbers in order of appearance (1 is
the first thread), the thread's name (its comm), and ``Thread 0x... (LWP N)`` (the pthread_t,
which is the thread pointer, fs_base, on x86-64 glibc, as libthread_db reports it).

gdb says ``Thread 2 "prog" received signal ...`` instead of ``Program received signal ...``
once the process has had a second thread, even if it has exited since. A thread's pointer is
read when it appears and kept: gdb's ``[Thread 0x... (LWP N) exited]`` names a thread that is gone."""
from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

from ..errors import HwdbgError
from ..linux import procfs


class ThreadNumbers:
    def __init__(self) -> None:
        self._numbers: dict[int, int] = {}
        self._pointers: dict[int, int] = {}
        self._highest = 0
        # gdb keeps a thread that ended while it was the selected one ("Thread ID N has terminated.")
        # until it next prunes its list: at `info threads` and in the next run
        self.terminated: set[int] = set()

    def start(self, tids: Iterable[int], pid: int) -> None:
        """A new process (run, attach): its threads numbered from 1, the main thread first."""
        self._numbers.clear()
        self._pointers.clear()
        self.terminated.clear()
        self._highest = 0
        for tid in sorted(tids, key=lambda tid: (tid != pid, tid)):
            self.add(tid)

    def add(self, tid: int) -> None:
        if tid not in self._numbers:
            self._highest += 1
            self._numbers[tid] = self._highest

    def appeared(self, tid: int, regs: Callable[[], Any], known: Iterable[int] = ()) -> None:
        """A new thread, stopped before its first instruction: numbered, and its pointer kept
        (fs_base, which clone set from CLONE_SETTLS). ``known``: the process's threads in the
        order of their clone events; those before it are numbered first, as gdb numbers them at
        the clone, though the new threads' first stops may be reported in another order."""
        for earlier in known:
            if earlier == tid:
                break
            self.add(earlier)
        self.add(tid)
        try:
            self._pointers[tid] = regs().fs_base
        except HwdbgError:
            pass  # killed meanwhile: named by its LWP alone

    def forget(self, tid: int) -> None:
        self._pointers.pop(tid, None)

    def ended(self, tid: int, *, selected: bool) -> None:
        if selected:
            self.terminated.add(tid)

    def prune(self) -> None:
        self.terminated.clear()

    def keep_pointer(self, tid: int, thread_pointer: Optional[int]) -> None:
        """The pointer of a thread known without its appearing (the main thread, at its end)."""
        if thread_pointer:
            self._pointers[tid] = thread_pointer

    def as_process(self, pid: int) -> None:
        """The main thread gone, the process's exit comes under its id: gdb then names it anew,
        ``[New process N]``, as a thread it does not know."""
        self._pointers[pid] = -1

    def target_id(self, tid: int) -> str:
        """gdb's name of the thread in ``[New Thread ...]`` and ``[... exited]``."""
        pointer = self._pointers.get(tid)
        return f"process {tid}" if pointer == -1 else target_id(tid, pointer)

    def number(self, tid: int) -> Optional[int]:
        return self._numbers.get(tid)

    def tid_of(self, number: int) -> Optional[int]:
        """The thread gdb numbers NUMBER (it may have exited since)."""
        return next((tid for tid, n in self._numbers.items() if n == number), None)

    @property
    def several(self) -> bool:
        """Whether the process has ever had more than one thread (gdb's show_thread_that_caused_stop)."""
        return self._highest > 1

    def label(self, pid: int, tid: int) -> Optional[str]:
        """``Thread 2 "prog"`` in a process that has had several threads, else None ("Program")."""
        number = self.number(tid)
        if not self.several or number is None:
            return None
        name = procfs.read_text(f"/proc/{pid}/task/{tid}/comm").strip()
        return f'Thread {number} "{name}"' if name else f"Thread {number}"


def target_id(tid: int, thread_pointer: Optional[int]) -> str:
    """gdb's ``Thread 0x7ffff7dd06c0 (LWP 4243)``; ``LWP 4243`` when the thread pointer is unknown."""
    return f"Thread {thread_pointer:#x} (LWP {tid})" if thread_pointer else f"LWP {tid}"
