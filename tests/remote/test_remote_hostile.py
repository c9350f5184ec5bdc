"""Garbage, bad checksums, oversized and malformed packets on the socket: the stub answers or
drops them, never crashes, and the target is untouched."""
from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from remote_helpers import Client, symbol_address

from hwdbg.remote.packets import frame

pytestmark = [pytest.mark.requires_ptrace]

# Packets that read or probe (anything that resumes, kills, detaches or writes would change the
# target legitimately); their arguments are anything at all.
READERS = st.sampled_from([b"m", b"g", b"p", b"q", b"qXfer:", b"qXfer:features:read:target.xml:", b"qRcmd,",
                           b"H", b"Hg", b"T", b"z", b"Z", b"x", b"?", b"vCont?", b"qSupported:", b"QNonStop:",
                           b"vFile:", b"qThreadStopInfo", b"qC", b"Q", b"vCont;t"])
PACKETS = st.builds(lambda head, tail: frame(head + tail), READERS,
                    st.binary(max_size=60).map(lambda b: b.replace(b"#", b"").replace(b"$", b"")))
GARBAGE = st.binary(max_size=200) | st.builds(lambda n: b"$" + b"A" * n + b"#00", st.integers(0, 40000)) \
    | st.builds(lambda body: b"$" + body + b"#zz", st.binary(max_size=50))


def test_hostile_input_never_crashes_the_stub_or_the_target(build_target, serve):
    exe = build_target("remote_target")
    stub = serve(exe)
    client = Client(stub.port)
    counter = symbol_address(exe, "counter")
    before = client.send(b"m%x,8" % counter)
    assert before == b"00" * 8

    probes = itertools.count()

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(PACKETS | GARBAGE, min_size=1, max_size=5))
    def survive(chunks):
        for chunk in chunks:
            client.raw(chunk)
        # Close whatever packet the garbage left open, then a probe no hostile packet can answer:
        # a monitor command with a fresh name, whose error message names it.
        marker = f"sync-{next(probes)}"
        client.raw(b"#00")
        client.raw(frame(b"qRcmd," + marker.encode().hex().encode()))
        for _ in range(200):
            if marker.encode().hex().encode() in client.reply():
                break
        else:
            raise AssertionError("the stub stopped answering")
        assert client.reply() == b"OK"
        assert client.send(b"?").startswith(b"T05")

    survive()
    assert client.send(b"m%x,8" % counter) == before  # the target's memory is as it was
    assert client.send(b"g")[: 16 * 2 * 16]  # its registers still read
    client.raw(frame(b"k"))
    client.close()
    assert stub.wait() == 0
    errors = stub.stderr()
    assert "Traceback" not in errors and "internal error" not in errors, errors
