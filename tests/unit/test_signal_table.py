"""gdb's signal vocabulary and handle table, without a process."""
from __future__ import annotations

import signal

from hypothesis import given, strategies as st

from hwdbg.session.signal_table import (NOT_PASSED, QUIET, SignalTable, description, signal_name, signal_number,
                                        valid_signals)


def test_gdb_names_and_words():
    assert signal_name(signal.SIGUSR1) == "SIGUSR1" and description(signal.SIGUSR1) == "User defined signal 1"
    assert signal_name(34) == "SIG34" and description(34) == "Real-time event 34"
    assert description(signal.SIGFPE) == "Arithmetic exception"
    assert signal_number("SIGPOLL") == signal.SIGIO and signal_number("SIGRTMIN") == 34
    assert signal_number("SIG99") is None and signal_number("USR1") is None and signal_number("SIGNOPE") is None


@given(st.sampled_from(valid_signals()))
def test_names_round_trip(signo):
    assert signal_number(signal_name(signo)) == signo


def test_defaults_are_gdb_13s():
    table = SignalTable()
    for signo in valid_signals():
        quiet = signo in QUIET
        assert table.row(signo) == (not quiet, not quiet, signo not in NOT_PASSED)
    assert table.row(signal.SIGUSR1) == (True, True, True) and table.row(signal.SIGALRM) == (False, False, True)
    assert table.row(signal.SIGINT) == (True, True, False)
    assert signal.SIGKILL not in valid_signals() and signal.SIGSTOP not in valid_signals()


@given(st.lists(st.tuples(st.sampled_from(valid_signals()),
                          st.sampled_from(["stop", "nostop", "print", "noprint", "pass", "nopass", "ignore",
                                           "noignore"]))))
def test_a_stopping_signal_is_always_printed(actions):
    """gdb's invariant: stop implies print (stop sets print, noprint clears stop)."""
    table = SignalTable()
    for signo, action in actions:
        table.set(signo, action)
    assert table.stop <= table.print


def test_a_clients_pass_list_becomes_the_table():
    table = SignalTable()
    table.follow_client({signal.SIGUSR1, signal.SIGCHLD})
    assert table.row(signal.SIGUSR1)[:2] == (False, False) and table.row(signal.SIGALRM)[:2] == (True, True)
    assert table.row(signal.SIGSEGV)[:2] == (True, True)
