"""Fork, vfork and exec through the stub as gdb follows them natively: gdb offers fork-events,
vfork-events and exec-events (with multiprocess), so `set follow-fork-mode`, `catch fork`,
`catch vfork` and `catch exec` stop where they stop without the stub. The child of a fork the
client does not follow runs without our int3s (it would die of SIGTRAP in `add`)."""
from __future__ import annotations

import os
import re
import shutil

import pytest
from remote_helpers import Client, symbol_address
from test_remote_gdb import KEEP, _normalize, gdb_stdout

pytestmark = [pytest.mark.requires_hw_watchpoints,
              pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")]


def gdb_lines(exe, scenario: str, tmp_path, *, remote: bool, args: tuple = ()) -> list[str]:
    """gdb's stops, exits and fork/exec messages for scenario, natively or through the stub."""
    out = gdb_stdout(exe, scenario, tmp_path, remote=remote, args=args)
    forks = ("[Detaching after", "[Attaching after", "[Inferior ", "Catchpoint")
    return [_process_free(_normalize(line)) for line in out.splitlines() if KEEP.match(line) or line.startswith(forks)]


def _process_free(line: str) -> str:
    """Process numbers and gdb's native/remote thread names differ from run to run."""
    line = re.sub(r"(process|vfork|fork) \d+", r"\1 N", line)
    line = re.sub(r"forked process \d+|vforked process \d+", "forked process N", line)
    line = re.sub(r"Thread 0x[0-9a-f]+ \(LWP \d+\)|Thread \d+\.\d+", "Thread", line)
    line = re.sub(r"to child (process N|Thread)", "to child", line)
    return re.sub(r"from (the )?parent (process N|Thread)", "from parent", line)


@pytest.mark.parametrize("follow", ["parent", "child"])
def test_a_forked_child_is_followed_as_native_gdb_follows_it(build_target, tmp_path, follow):
    """parent: the child runs add without stopping and exits 0 (our int3 would kill it);
    child: the breakpoint hits in the child, the parent is detached and runs on."""
    exe = build_target("sw_target")
    scenario = f"set follow-fork-mode {follow}\nbreak add\n" + "continue\n" * 4
    native = gdb_lines(exe, scenario, tmp_path, remote=False, args=("fork",))
    remote = gdb_lines(exe, scenario, tmp_path, remote=True, args=("fork",))
    hits = [line for line in native if line.startswith("STOP BreakpointEvent [2]")]
    assert len(hits) == 1, native
    assert any(line.startswith(f"[Detaching after fork from {'child' if follow == 'parent' else 'parent'}")
               for line in native), native
    assert remote == native


def test_catch_fork_and_catch_vfork_stop_as_natively(build_target, tmp_path):
    exe = build_target("sw_target")
    for mode in ("fork", "vfork"):
        scenario = f"catch {mode}\nbreak add\n" + "continue\n" * 4
        native = gdb_lines(exe, scenario, tmp_path, remote=False, args=(mode,))
        remote = gdb_lines(exe, scenario, tmp_path, remote=True, args=(mode,))
        assert any(line.startswith(f"Catchpoint 2 ({mode}ed process N)") for line in native), native
        assert remote == native


def test_catch_exec_and_a_breakpoint_in_the_new_image(build_target, tmp_path):
    """The program exec()s itself; gdb stops at the exec, then at main of the new image."""
    exe = build_target("sw_target")
    scenario = "catch exec\n" + "continue\n" * 5
    native = gdb_lines(exe, scenario, tmp_path, remote=False, args=("exec",))
    remote = gdb_lines(exe, scenario, tmp_path, remote=True, args=("exec",))
    assert sum(bool(re.match(r"STOP BreakpointEvent \[1\] .* main:", line)) for line in native) == 1, native  # the new image's main
    assert any(line.startswith("STOP BreakpointEvent [2]") and "_start" in line for line in native), native
    assert remote == native


def test_a_kept_child_is_clean_and_runs_on_after_its_detach(build_target, serve):
    """Raw protocol: the fork stop names the child, its memory at `add` has no int3 while the
    parent's has ours, and D;PID lets it go: it runs add and the program exits 0."""
    exe = build_target("sw_target")
    stub = serve(exe, "fork")
    client = Client(stub.port)
    try:
        client.send(b"qSupported:multiprocess+;swbreak+;fork-events+;vfork-events+;exec-events+")
        client.hello()
        add = symbol_address(exe, "add")
        assert client.send(b"Z0,%x,1" % add) == b"OK"
        reply = client.send(b"vCont;c")
        assert reply.startswith(b"T05fork:p"), reply
        child = int(reply.split(b"fork:p")[1].split(b".")[0], 16)
        with open(f"/proc/{child}/mem", "rb") as mem:
            mem.seek(add)
            clean = mem.read(1)
        assert clean != b"\xcc"
        assert client.send(b"m%x,1" % add) == clean.hex().encode()  # the parent's int3 is hidden
        assert client.send(b"D;%x" % child) == b"OK"
        assert client.send(b"z0,%x,1" % add) == b"OK"
        assert client.send(b"vCont;c").startswith(b"W00;process:")
    finally:
        client.close()
    assert stub.wait() == 0
    assert not os.path.exists(f"/proc/{child}/status") or "zombie" not in open(f"/proc/{child}/status").read()
