"""The C loop's hits announced on a second thread, off the trap path.

Per hit, the C loop makes the same four system calls as the C reference tracer; what hwdbg
adds is Python: decoding the C buffer, building the Hit, the writers table, the listeners (a
JSON line). Done inline, that work delays the next resume; done here, it overlaps with the
target running to its next trap (the C loop releases the GIL while it waits). With ``--pin``
the trap path (debugger's main thread and target) stays on one CPU and this thread runs on the
other CPUs the debugger had before pinning.

Order is kept: the run loop waits for every submitted burst to be announced before it
handles anything else (a stop, a notice, a slow-path hit) and before it returns. Announcing
happens under the session's announce lock, which every other announcement takes while this
thread runs. A listener's failure is raised in the run loop, after every hit was counted.
"""
from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import deque
from typing import Any, Callable, Iterator, Optional

from .cleanup import leave_fatal_signals_to_the_main_thread

MAX_PENDING = 8  # bursts (of up to 1024 hits) waiting: beyond that the C loop waits, memory stays flat
CHUNK = 128  # hits announced per turn: between turns the GIL is offered to the run loop


class Publisher:
    def __init__(self, publish: Callable[[list], None], flush: Callable[[], None], lock: Any,
                 cpus: Callable[[], Optional[set[int]]]) -> None:
        self._publish, self._flush, self._lock, self._cpus = publish, flush, lock, cpus
        self._cond = threading.Condition()
        self._queue: deque = deque()
        self._busy = False
        self._stopping = False
        self._failure: Optional[BaseException] = None
        self._thread: Optional[threading.Thread] = None

    @property
    def failed(self) -> bool:
        return self._failure is not None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def start(self) -> None:
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="hwdbg-publisher", daemon=True)
            self._thread.start()

    def submit(self, hits: list | Callable[[], list]) -> None:
        """Queues hits to announce, or a function that makes them (called on this thread)."""
        with self._cond:
            while len(self._queue) >= MAX_PENDING and self._thread is not None:
                self._cond.wait()
            self._queue.append(hits)
            self._cond.notify_all()

    def wait_idle(self) -> None:
        """Returns once everything submitted is announced; raises a listener's failure."""
        with self._cond:
            while self._queue or self._busy:
                self._cond.wait()
            failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    def stop(self) -> None:
        thread = self._thread
        if thread is None:
            return
        try:
            self.wait_idle()
        finally:
            with self._cond:
                self._stopping = True
                self._cond.notify_all()
            thread.join()
            self._thread = None

    def _run(self) -> None:
        leave_fatal_signals_to_the_main_thread()
        cpus = self._cpus()
        if cpus:
            try:
                os.sched_setaffinity(0, cpus)  # this thread only: off the pinned CPU of the trap path
            except OSError:
                pass
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._cond.wait()
                if not self._queue:
                    return
                hits = self._queue.popleft()
                self._busy = True
                self._cond.notify_all()
            try:
                if callable(hits):
                    hits = hits()  # a burst still to decode (fastpath.Burst): off the trap path too
                for start in range(0, len(hits), CHUNK):
                    try:
                        with self._lock:
                            self._publish(hits[start:start + CHUNK])  # counts every hit, then raises
                    except BaseException as exc:  # raised in the run loop by wait_idle
                        self._failure = self._failure or exc
                    time.sleep(0)  # lets the run loop, waiting for the GIL, go back to the target now
                with self._lock:
                    self._flush()
            except BaseException as exc:
                self._failure = self._failure or exc
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()


@contextlib.contextmanager
def announcers(publisher: Publisher, notrace: Any, *, offload: bool) -> Iterator[None]:
    """The threads that announce while the run loop runs: the --no-stop reader, and this
    publisher if ``offload``. When the loop ends, every hit and record is announced (a
    listener's failure is raised, unless another exception is already on its way)."""
    notrace.start_reader()
    if offload:
        notrace.share(1)
        publisher.start()
    failed = False
    try:
        yield
    except BaseException:
        failed = True
        raise
    finally:
        try:
            if publisher.running:
                try:
                    publisher.stop()
                except Exception:
                    if not failed:
                        raise
                finally:
                    notrace.share(-1)
        finally:
            notrace.stop_reader()  # and every record left is announced: counts are exact at the prompt
