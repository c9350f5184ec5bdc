"""The Host I/O reply framing (``F N;DATA``) and the request parsing of hwdbg/remote/hostio.py:
pure logic, checked against the protocol's own decoding (unescape, the frame's checksum)."""
from __future__ import annotations

import errno
import os

from hypothesis import given, settings
from hypothesis import strategies as st

from hwdbg.remote.hostio import EUNKNOWN, FILEIO_ERRNO, HostIO, data_reply
from hwdbg.remote.packets import Packet, Reader, frame, unescape

SPECIAL = st.sampled_from(b"#$}*\x03\x00+-")


@given(st.lists(st.one_of(st.integers(0, 255), SPECIAL), max_size=600).map(bytes), st.integers(16, 700))
@settings(max_examples=400)
def test_data_reply_carries_the_longest_prefix_that_fits_and_says_its_length(data, limit):
    reply, sent = data_reply(data, limit)
    assert len(reply) <= limit
    head, sep, body = reply.partition(b";")
    assert sep and head == b"F%x" % sent
    assert unescape(body) == data[:sent]
    if sent < len(data):  # the next byte would not have fitted
        assert len(data_reply(data[:sent + 1], 10**6)[0]) > limit
    # on the wire the reply is one packet, cut and checked as a client cuts it
    items = list(Reader(max_packet=10**6).feed(frame(reply)))
    assert items == [Packet(reply)]
    assert not set(body) & set(b"#$*")


def test_the_errno_values_are_the_protocols():
    """gdb manual, "Errno Values" (decimal there; the reply carries them in hex)."""
    assert FILEIO_ERRNO[errno.ENOENT] == 2 and FILEIO_ERRNO[errno.EROFS] == 30
    assert FILEIO_ERRNO[errno.ENAMETOOLONG] == 91 and EUNKNOWN == 9999
    io = HostIO()
    assert io.handle(b"open:" + b"/no/such/file".hex().encode() + b",0,0") == b"F-1,2"
    assert io.handle(b"open:2f,0,0") == b"F0"  # a directory opens; its read is EISDIR (21)
    assert io.handle(b"pread:0,10,0") == b"F-1,15"
    assert io.handle(b"close:0") == b"F0"
    assert io.handle(b"readlink:" + b"/proc/self/exe".hex().encode())[:1] == b"F"
    assert io.handle(b"fstat:0") == b"F-1,9"  # closed: EBADF


@given(st.binary(max_size=40))
def test_any_request_gets_an_f_reply_or_none_and_opens_nothing_for_writing(request):
    io = HostIO()
    before = len(os.listdir("/proc/self/fd"))
    for op in (b"open:", b"pread:", b"close:", b"fstat:", b"readlink:", b"unlink:", b"pwrite:", b"setfs:"):
        reply = io.handle(op + request)
        assert reply.startswith(b"F"), (op, request, reply)
    io.close_all()
    assert len(os.listdir("/proc/self/fd")) == before


def test_writes_creates_and_unlinks_are_refused_with_erofs(tmp_path):
    target = tmp_path / "f"
    target.write_bytes(b"keep")
    io = HostIO()
    name = str(target).encode().hex().encode()
    for flags in (0x1, 0x2, 0x8, 0x200 | 0x1, 0x400, 0x800 | 0x200):
        assert io.handle(b"open:%s,%x,1a4" % (name, flags)) == b"F-1,1e"
    assert io.handle(b"unlink:" + name) == b"F-1,1e"
    assert io.handle(b"open:%s,1000,0" % name) == b"F-1,16"  # a flag the protocol does not define
    assert target.read_bytes() == b"keep" and not io.fds
