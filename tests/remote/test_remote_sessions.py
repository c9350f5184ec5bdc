"""hwdbg serve's life cycle with real clients: attach and detach, disconnects, --multi, monitor,
slots running out, refused addresses."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest
from remote_helpers import STUB, Client, env_without_debuginfod, stdio_command, symbol_address

from hwdbg.remote.packets import frame


pytestmark = [pytest.mark.requires_hw_watchpoints,
              pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")]


def gdb(exe, *commands: str) -> subprocess.CompletedProcess:
    args = ["gdb", "-nx", "-batch", "-ex", "set confirm off"]
    for command in commands:
        args += ["-ex", command]
    return subprocess.run([*args, str(exe)], capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL, env=env_without_debuginfod())


@pytest.fixture
def waiting(build_target):
    """A running target (remote_target wait) that exits 0 on SIGTERM, and its pid."""
    exe = build_target("remote_target")
    proc = subprocess.Popen([str(exe), "wait"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().startswith("ready")
    yield exe, proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def _runs_on_and_exits_zero(proc: subprocess.Popen) -> None:
    time.sleep(0.2)  # it runs through watched writes: an armed debug register would kill it with SIGTRAP
    assert proc.poll() is None
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0


def test_attach_watch_detach_and_the_process_runs_on(waiting, serve):
    exe, proc = waiting
    stub = serve("-p", str(proc.pid))  # gdbserver's order: hwdbg serve ADDRESS -p PID
    out = gdb(exe, f"target remote {stub.address}", "watch counter", "continue", "continue", "break usleep",
              "continue", "monitor info slots", "detach")
    assert out.stdout.count("Hardware watchpoint 1: counter") >= 2, out.stdout + out.stderr
    assert "New value" in out.stdout
    assert "write  len 8  breakpoint" in out.stdout + out.stderr, out.stdout + out.stderr
    assert stub.wait() == 0
    _runs_on_and_exits_zero(proc)


def test_a_client_that_vanishes_leaves_an_attached_process_running(waiting, serve):
    exe, proc = waiting
    stub = serve(options=("-p", str(proc.pid)))
    client = Client(stub.port)
    client.hello()
    addr = symbol_address(exe, "counter")
    assert client.send(b"Z2,%x,8" % addr) == b"OK"
    assert client.send(b"c").startswith(b"T05")  # the stop armed the register; a resume would keep it
    assert client.send(b"Z0,%x,1" % symbol_address(exe, "add")) == b"OK"
    client.close()
    assert stub.wait() == 0
    _runs_on_and_exits_zero(proc)


def test_a_client_that_vanishes_kills_a_started_program(build_target, serve):
    exe = build_target("remote_target")
    stub = serve(exe, "wait")
    client = Client(stub.port)
    client.hello()
    pid = int(client.send(b"qC")[2:], 16)
    client.close()
    assert stub.wait() == 0
    assert not os.path.exists(f"/proc/{pid}") or "zombie" in open(f"/proc/{pid}/status").read().lower()


def test_on_disconnect_detach_lets_a_started_program_run(build_target, serve):
    exe = build_target("remote_target")
    stub = serve(exe, "loop", "200000", options=("--on-disconnect", "detach"))
    client = Client(stub.port)
    client.hello()
    pid = int(client.send(b"qC")[2:], 16)
    assert client.send(b"Z2,%x,8" % symbol_address(exe, "counter")) == b"OK"
    assert client.send(b"c").startswith(b"T05")
    client.close()
    assert stub.wait() == 0
    deadline = time.monotonic() + 60
    while os.path.exists(f"/proc/{pid}") and time.monotonic() < deadline:
        time.sleep(0.05)  # it finishes its loop, untraced (it is not our child: nothing to reap)
    assert not os.path.exists(f"/proc/{pid}")


def test_extended_remote_runs_twice_and_attaches(build_target, serve, waiting):
    exe = build_target("remote_target")
    _, proc = waiting
    stub = serve(options=("--multi",))
    out = gdb(exe, f"target extended-remote {stub.address}", f"set remote exec-file {exe}", "break bump",
              "run", "continue", "delete", "continue", "break bump", "run", "continue", "kill", f"attach {proc.pid}",
              "watch counter", "continue", "detach", "monitor exit")
    text = out.stdout + out.stderr
    assert text.count("exited normally") == 1, text  # the second run was killed
    assert text.count("bump (i=0)") == 2 and "bump (i=1)" in text, text
    assert "New value" in text, text
    assert stub.wait() == 0
    _runs_on_and_exits_zero(proc)


def test_out_of_slots_is_an_error_at_insertion(build_target, serve):
    exe = build_target("remote_target")
    stub = serve(exe)
    client = Client(stub.port)
    client.hello()
    base = symbol_address(exe, "counter")
    others = [symbol_address(exe, name) for name in ("source", "sink", "by_thread")]
    for addr in [base, *others]:
        assert client.send(b"Z2,%x,8" % addr) == b"OK"
    assert client.send(b"Z2,%x,8" % base) == b"OK"  # inserting again changes nothing
    assert client.send(b"Z4,%x,4" % symbol_address(exe, "pair")) == b"E01"  # a fifth slot
    assert client.send(b"z2,%x,8" % others[0]) == b"OK"
    assert client.send(b"Z4,%x,4" % symbol_address(exe, "pair")) == b"OK"
    assert client.send(b"Z2,%x,16" % base) == b"E01"  # two more chunks than the free slot
    assert client.send(b"QNonStop:1") == b"E01"
    assert client.send(b"qNoSuchThing") == b""
    assert client.send(b"vCont?") == b"vCont;c;C;s;S;t"
    client.close()
    assert stub.wait() == 0


def test_monitor_help_through_gdb(build_target):
    exe = build_target("remote_target")
    out = gdb(exe, f"target remote | {stdio_command(exe)}", "monitor help", "monitor frobnicate", "kill")
    text = out.stdout + out.stderr  # gdb writes a stub's console output to its standard error
    assert "info slots" in text and "priority N P" in text, text
    assert "unknown monitor command 'frobnicate'" in text


@pytest.mark.parametrize("address", ["0.0.0.0:0", "[::]:0"])
def test_non_loopback_addresses_are_refused(build_target, address):
    exe = build_target("remote_target")
    done = subprocess.run([*STUB, address, str(exe)], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)
    assert done.returncode == 2
    assert "refusing to listen" in done.stderr and "--listen-any" in done.stderr
    assert "Traceback" not in done.stderr


def test_interrupt_stops_a_running_target_and_it_continues(build_target, serve):
    exe = build_target("remote_target")
    stub = serve(exe, "wait")
    client = Client(stub.port)
    client.hello()
    pid = int(client.send(b"qC")[2:], 16)
    for _ in range(2):
        client.raw(frame(b"c"))
        time.sleep(0.3)
        client.raw(b"\x03")  # gdb's Ctrl-C, outside any packet
        stop = client.reply()
        assert stop.startswith(b"T02") and b"thread:%x;" % pid in stop, stop
    counter = int.from_bytes(bytes.fromhex(client.send(b"m%x,8" % symbol_address(exe, "counter")).decode()),
                             "little")
    assert counter > 0  # it ran between the interrupts
    client.raw(frame(b"k"))
    client.close()
    assert stub.wait() == 0


def test_memory_reads_hide_the_int3s_and_detach_removes_them(build_target, serve):
    exe = build_target("remote_target")
    stub = serve(exe, "wait")  # runs on after the detach, never calling add or bump
    client = Client(stub.port)
    client.hello()
    bump, add = symbol_address(exe, "bump"), symbol_address(exe, "add")
    original = client.send(b"m%x,40" % bump)
    assert client.send(b"Z0,%x,1" % add) == b"OK" and client.send(b"Z0,%x,1" % (bump + 8)) == b"OK"
    client.raw(frame(b"c"))  # the int3s go in at the resume
    time.sleep(0.2)
    client.raw(b"\x03")
    assert client.reply().startswith(b"T02")
    pid = int(client.send(b"qC")[2:], 16)
    with open(f"/proc/{pid}/mem", "rb") as mem:
        mem.seek(bump + 8)
        assert mem.read(1) == b"\xcc"  # really there
    assert client.send(b"m%x,40" % bump) == original  # and hidden from the client
    assert client.send(b"D") == b"OK"
    with open(f"/proc/{pid}/mem", "rb") as mem:
        mem.seek(bump)
        assert mem.read(0x40).hex().encode() == original  # gone after detach (m lengths are hex)
    client.close()
    assert stub.wait() == 0
    os.kill(pid, signal.SIGTERM)  # it runs on and ends when told (not our child: nothing to reap)


def test_a_client_that_vanishes_while_the_target_runs(waiting, serve):
    """The watcher sees the end of the connection, stops the target and lets it go (attached:
    detached with its registers clear, running on)."""
    exe, proc = waiting
    stub = serve(options=("-p", str(proc.pid)))
    client = Client(stub.port)
    client.hello()
    assert client.send(b"Z2,%x,8" % symbol_address(exe, "source")) == b"OK"  # never written: no stop
    client.raw(frame(b"c"))
    time.sleep(0.3)
    client.close()
    assert stub.wait() == 0
    _runs_on_and_exits_zero(proc)


def _monitor(client: Client, command: str) -> str:
    client.raw(frame(b"qRcmd," + command.encode().hex().encode()))
    out = ""
    while True:
        reply = client.reply()
        if reply == b"OK":
            return out
        assert reply.startswith(b"O"), reply
        out += bytes.fromhex(reply[1:].decode()).decode()


def test_monitor_slots_writers_and_priority(build_target, serve):
    exe = build_target("remote_target")
    stub = serve(exe)
    client = Client(stub.port)
    client.hello()
    counter = symbol_address(exe, "counter")
    assert client.send(b"Z2,%x,8" % counter) == b"OK"
    for _ in range(3):
        assert client.send(b"c").startswith(b"T05")
    slots = _monitor(client, "info slots")
    assert f"{counter:#018x}  write  len 8  breakpoint 1 (watch {counter:#x} len 8)" in slots, slots
    writers = _monitor(client, "info writers")
    assert "bump" in writers and " 3  bump" in writers and "0 -> 1 ... 3 -> 6" in writers, writers  # 3 changes
    assert _monitor(client, "priority 1 5") == "breakpoint 1 has priority 5\n"
    assert "no hwdbg breakpoint number 9" in _monitor(client, "priority 9 5")
    client.raw(frame(b"k"))
    client.close()
    assert stub.wait() == 0
