"""The publisher thread: order kept, nothing lost, a listener's failure raised in the run loop."""
from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwdbg.session.publisher import Publisher, announcers


class Sharing:
    """What announcers() needs from the --no-stop side."""

    def __init__(self) -> None:
        self.shared = 0
        self.stopped = 0

    def start_reader(self) -> None:
        pass

    def share(self, delta: int) -> None:
        self.shared += delta

    def stop_reader(self) -> None:
        self.stopped += 1


def make(fail_at=None):
    seen: list[int] = []

    def publish(hits: list) -> None:
        failure = None
        for hit in hits:
            seen.append(hit)
            if hit == fail_at:
                failure = BrokenPipeError("closed")
        if failure:
            raise failure

    return Publisher(publish, lambda: None, threading.RLock(), lambda: None), seen


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 600), min_size=1, max_size=30))
def test_every_hit_in_order(sizes):
    publisher, seen = make()
    publisher.start()
    sent = []
    for size in sizes:
        burst = list(range(len(sent), len(sent) + size))
        sent += burst
        publisher.submit(burst)
    publisher.stop()
    assert seen == sent and not publisher.running


def test_failure_is_raised_after_every_hit_was_counted():
    publisher, seen = make(fail_at=5)
    publisher.start()
    publisher.submit(list(range(1000)))
    publisher.submit(list(range(1000, 1500)))
    with pytest.raises(BrokenPipeError):
        publisher.wait_idle()
    assert seen == list(range(1500))
    publisher.stop()  # the failure was reported once


def test_announcers_raise_a_failure_only_if_nothing_else_is_on_its_way():
    sharing = Sharing()
    publisher, _ = make(fail_at=1)
    with pytest.raises(BrokenPipeError):
        with announcers(publisher, sharing, offload=True):
            publisher.submit([1])
    with pytest.raises(KeyError):  # the body's own exception wins
        with announcers(publisher, sharing, offload=True):
            publisher.submit([1])
            raise KeyError("body")
    assert sharing.shared == 0 and sharing.stopped == 2 and not publisher.running


def test_the_publisher_thread_leaves_sigint_sigterm_sighup_to_the_main_thread():
    """The kernel may give a process's signal to any thread not blocking it; Python runs the
    handler in the main thread only, which may sleep in waitpid meanwhile: the publisher blocks them."""
    import signal

    mask = []

    def publish(hits):
        with open(f"/proc/self/task/{threading.get_native_id()}/status") as f:
            mask.append(int(next(line for line in f if line.startswith("SigBlk:")).split()[1], 16))

    publisher = Publisher(publish, lambda: None, threading.RLock(), lambda: None)
    publisher.start()
    publisher.submit([1])
    publisher.stop()
    assert all(mask[0] & 1 << (signo - 1) for signo in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP))
