"""gdb's thread numbers and names for stop and thread lines, without a process."""
from __future__ import annotations

import errno
from types import SimpleNamespace

from hypothesis import given, strategies as st

from hwdbg.errors import PtraceError
from hwdbg.session.thread_numbers import ThreadNumbers, target_id


def test_numbers_follow_appearance_main_thread_first():
    numbers = ThreadNumbers()
    numbers.start([105, 100, 103], pid=100)
    assert [numbers.number(t) for t in (100, 103, 105)] == [1, 2, 3]
    numbers.appeared(110, lambda: SimpleNamespace(fs_base=0x7F00))
    assert numbers.number(110) == 4 and numbers.several


def test_target_id_is_gdbs_and_survives_until_forgotten():
    numbers = ThreadNumbers()
    numbers.start([100], pid=100)
    assert not numbers.several
    numbers.appeared(101, lambda: SimpleNamespace(fs_base=0x7FFFF7DD06C0))
    assert numbers.target_id(101) == "Thread 0x7ffff7dd06c0 (LWP 101)"
    numbers.forget(101)
    assert numbers.target_id(101) == "LWP 101"  # gdb's name for a thread libthread_db does not know
    assert numbers.several  # gdb keeps saying "Thread N" once a second thread has existed


def test_a_thread_whose_registers_cannot_be_read_is_named_by_its_lwp():
    def gone():
        raise PtraceError("PTRACE_GETREGS", 102, errno.ESRCH)

    numbers = ThreadNumbers()
    numbers.start([100], pid=100)
    numbers.appeared(102, gone)
    assert numbers.number(102) == 2 and numbers.target_id(102) == "LWP 102"


@given(st.integers(1, 2**22), st.integers(1, 2**47))
def test_target_id_spelling(tid, pointer):
    assert target_id(tid, pointer) == f"Thread {pointer:#x} (LWP {tid})"
    assert target_id(tid, None) == f"LWP {tid}"
