"""The remote protocol's pure parts: framing, escaping, run-length, the register table."""
from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import given, settings
from hypothesis import strategies as st

from hwdbg.remote import packets as pk
from hwdbg.remote import regs
from hwdbg.remote.stopreply import gdb_signal, host_signal


def test_checksum_and_frame_as_in_the_manual():
    assert pk.frame(b"OK") == b"$OK#9a"  # 'O' 0x4f + 'K' 0x4b = 0x9a
    assert pk.frame(b"") == b"$#00"


@given(st.binary(max_size=300))
def test_escape_round_trip_and_no_special_byte_left(data):
    escaped = pk.escape(data)
    assert pk.unescape(escaped) == data
    assert not any(b in escaped for b in b"#$*")


@given(st.binary(max_size=300).map(lambda b: b.hex().encode()) | st.text("ab0*", max_size=200).map(str.encode)
       .filter(lambda t: b"*" not in t))
def test_run_length_round_trip(data):
    encoded = pk.run_length_encode(data)
    assert pk.run_length_decode(encoded) == data
    assert b"#" not in encoded and b"$" not in encoded
    assert len(encoded) <= len(data)


@given(st.lists(st.binary(max_size=80).map(pk.escape), max_size=6), st.data())
def test_reader_cuts_any_chunking_into_the_same_packets(payloads, data):
    stream = b"".join(b"+" + pk.frame(p) for p in payloads)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    reader = pk.Reader()
    items = []
    for a, b in zip([0, *cuts], [*cuts, len(stream)]):
        items += list(reader.feed(stream[a:b]))
    assert [i.data for i in items if isinstance(i, pk.Packet)] == payloads
    assert sum(isinstance(i, pk.Ack) for i in items) == len(payloads)


def test_reader_reports_bad_checksums_oversize_and_interrupts():
    reader = pk.Reader(max_packet=16)
    items = list(reader.feed(b"$g#00" + b"\x03" + b"garbage" + b"$" + b"x" * 40 + b"#00" + b"$?#3f"))
    assert items == [pk.Malformed("bad checksum"), pk.Interrupt(), pk.Malformed("packet too long"),
                     pk.Packet(b"?")]
    assert list(pk.Reader(max_packet=16).feed(b"$" + b"y" * 100)) == [pk.Malformed("packet too long")]


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_reader_never_raises_on_garbage(data):
    reader = pk.Reader(max_packet=64)
    for item in reader.feed(data):
        assert isinstance(item, (pk.Packet, pk.Ack, pk.Interrupt, pk.Malformed))


def test_target_description_numbers_registers_in_g_order():
    root = ET.fromstring(regs.target_xml().split(b"?>", 1)[1].split(b">", 1)[1])  # after <?xml> and DOCTYPE
    declared = [(r.get("name"), int(r.get("bitsize")), int(r.get("regnum"))) for r in root.iter("reg")]
    assert [d[2] for d in declared] == list(range(len(regs.REGISTERS)))
    assert [d[0] for d in declared][:17] == [*regs.GPRS, "rip"]
    assert sum(bits for _, bits, _ in declared) // 8 == regs.G_SIZE
    names = {d[0]: d[2] for d in declared}  # gdb's fixed numbers (64bit-sse.xml, 64bit-linux.xml)
    assert (names["eflags"], names["st0"], names["xmm0"], names["mxcsr"], names["orig_rax"]) == (17, 24, 40, 56, 57)
    features = [f.get("name") for f in root.iter("feature")]
    assert features == ["org.gnu.gdb.i386.core", "org.gnu.gdb.i386.sse", "org.gnu.gdb.i386.linux",
                        "org.gnu.gdb.i386.segments"]


@given(st.integers(0, 0xFFFF))
def test_x87_tag_word_survives_fxsave_abridging(full):
    # Registers marked empty (3) stay empty; the others come back as classified from their value.
    back = regs.full_tag(regs.abridged_tag(full), 0, bytes(128))
    for phys in range(8):
        was, now = (full >> 2 * phys) & 3, (back >> 2 * phys) & 3
        assert (was == 3) == (now == 3)
        if was != 3:
            assert now == 1  # a zero register reads as "zero"


def test_gdb_signal_numbers_differ_from_linux_and_round_trip():
    assert gdb_signal("SIGUSR1") == 30 and gdb_signal("SIGBUS") == 10 and gdb_signal("SIGCHLD") == 20
    import signal
    for name in ("SIGSEGV", "SIGUSR1", "SIGBUS", "SIGCHLD", "SIGINT", "SIGTRAP", "SIGRTMIN", "SIGRTMAX"):
        assert host_signal(gdb_signal(name)) == getattr(signal, name)
    assert (gdb_signal("SIG33"), gdb_signal("SIG35"), host_signal(77)) == (45, 47, 32)  # REALTIME_33, _35, _32


@given(st.integers(1, 2**22), st.integers(1, 2**22), st.sampled_from(["fork", "vfork"]))
def test_fork_stop_replies_name_the_child_first_then_the_parent_thread(pid, child, kind):
    """gdbserver's order: the event, the expedited registers, then thread:; no swbreak/watch
    reason beside a fork event; W/X carry ;process:PID for a multiprocess client."""
    from hwdbg import records as rec
    from hwdbg.remote.stopreply import exit_reply, stop_reply
    stop = rec.Stopped(reason=kind, tid=pid, pc=0x401000, child=child)
    reply = stop_reply(stop, expedite=lambda tid: [(16, b"\x00" * 8)], address_of=lambda hit: None,
                       swbreak=True, hwbreak=True, ident=lambda tid: f"p{pid:x}.{tid:x}",
                       event=f"{kind}:p{child:x}.{child:x};")
    assert reply == f"T05{kind}:p{child:x}.{child:x};10:{'00' * 8};thread:p{pid:x}.{pid:x};".encode()
    assert exit_reply(rec.Exited(code=3, pid=pid), pid) == b"W03;process:%x" % pid
    assert exit_reply(rec.Exited(code=3, pid=pid)) == b"W03"
