"""gdb's Host I/O (vFile) through the stub: gdb 13 with multiprocess reads /proc/PID/maps and the
program's files through the target; without vFile it warned "unable to open /proc file" and
"remote target does not support file transfer". Real gdb over --stdio and TCP against native gdb,
then the raw packets: open/pread/fstat/readlink/close, errno replies, refused writes, the fd limit
and the client's files closed when it goes away."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import struct
import subprocess

import pytest
from remote_helpers import STUB, Client, env_without_debuginfod

from hwdbg.remote.packets import unescape

pytestmark = [pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")]

WARNINGS = ("unable to open /proc file", "does not support file transfer")


def run_gdb(exe, start: list[str], tmp_path, extra: tuple = (), transfers: bool = True) -> str:
    """gdb stopped in add of the forking program: mappings, and through the stub a `remote get`
    of the inferior's cmdline and a `remote put` (refused), then to the end. -ex commands go on
    after an error."""
    moves = [f"python gdb.execute('remote get /proc/%d/cmdline {tmp_path / 'cmdline'}' % "
                 "gdb.selected_inferior().pid)", f"remote put {exe} {tmp_path / 'put'}"] if transfers else []
    commands = ["set pagination off", "set confirm off", *extra, *start, "break add", "continue",
                "info proc mappings", *moves, "continue", "continue"]
    argv = ["gdb", "-nx", "-batch"] + [arg for c in commands for arg in ("-ex", c)] + [str(exe)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
                          env=env_without_debuginfod())
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stdout + proc.stderr


def mappings(text: str) -> set[tuple[str, str]]:
    """(perms, file) of the file-backed rows of `info proc mappings`."""
    rows = re.findall(r"^\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+(\S{4})\s+(/\S+)\s*$", text, re.M)
    return set(rows)


@pytest.mark.parametrize("transport", ["stdio", "tcp"])
def test_gdb_reads_proc_files_through_the_stub_without_warnings(build_target, tmp_path, serve, transport):
    exe = build_target("sw_target")
    if transport == "stdio":
        start = [f"target remote | {shlex.join([*STUB, '--stdio', str(exe), 'fork'])}", "break main", "continue"]
    else:
        stub = serve(exe, "fork")
        start = [f"target remote {stub.address}", "break main", "continue"]
    remote = run_gdb(exe, start, tmp_path)
    native = run_gdb(exe, ["set args fork", "break main", "run"], tmp_path, transfers=False)
    assert not [w for w in WARNINGS if w in remote], remote
    assert "Breakpoint 2, add" in remote and "exited normally" in remote, remote
    rows = mappings(remote)
    assert ("r-xp", str(exe)) in rows, remote
    assert rows == mappings(native), (remote, native)
    assert (tmp_path / "cmdline").read_bytes() == f"{exe}\0fork\0".encode()
    assert "Remote I/O error: Read-only file system" in remote and not (tmp_path / "put").exists()


def test_without_host_io_the_same_session_warns(build_target, tmp_path):
    """The control: the session above does reach for /proc files (gdb's own fallback warns)."""
    exe = build_target("sw_target")
    start = [f"target remote | {shlex.join([*STUB, '--stdio', str(exe), 'fork'])}", "break main", "continue"]
    text = run_gdb(exe, start, tmp_path, extra=("set remote hostio-open-packet off",), transfers=False)
    assert "unable to open /proc file" in text, text


# ---------------------------------------------------------------- raw packets


def hexpath(path) -> bytes:
    return str(path).encode().hex().encode()


def f_result(reply: bytes) -> tuple[int, bytes]:
    head, _, data = reply.partition(b";")
    assert head.startswith(b"F"), reply
    return int(head[1:].split(b",")[0], 16), data


@pytest.fixture
def client(build_target, serve):
    exe = build_target("sw_target")
    stub = serve(exe)
    conn = Client(stub.port)
    conn.hello()
    yield conn, exe, stub
    conn.close()


def test_open_pread_fstat_readlink_close(client, tmp_path):
    conn, exe, _ = client
    payload = bytes(range(256)) * 3 + b"#$}*" * 50  # every byte, and the ones escaped
    (tmp_path / "data").write_bytes(payload)
    os.symlink(tmp_path / "data", tmp_path / "link")
    fd, _ = f_result(conn.send(b"vFile:open:%s,0,0" % hexpath(tmp_path / "data")))
    assert fd >= 0
    got = b""
    while True:
        count, data = f_result(conn.send(b"vFile:pread:%x,%x,%x" % (fd, 300, len(got))))
        chunk = unescape(data)
        assert count == len(chunk)
        if not count:
            break
        got += chunk
    assert got == payload
    size, data = f_result(conn.send(b"vFile:fstat:%x" % fd))
    raw = unescape(data)
    assert size == 64 == len(raw)
    st = os.stat(tmp_path / "data")
    fields = struct.unpack(">IIIIIIIQQQIII", raw)
    assert fields[2] == st.st_mode and fields[7] == len(payload) and fields[11] == int(st.st_mtime)
    count, data = f_result(conn.send(b"vFile:readlink:%s" % hexpath(tmp_path / "link")))
    assert unescape(data) == str(tmp_path / "data").encode() and count == len(unescape(data))
    assert conn.send(b"vFile:close:%x" % fd) == b"F0"
    assert conn.send(b"vFile:pread:%x,10,0" % fd) == b"F-1,9"  # closed: EBADF


def test_errors_are_errno_replies(client, tmp_path):
    conn, exe, _ = client
    assert conn.send(b"vFile:open:%s,0,0" % hexpath(tmp_path / "absent")) == b"F-1,2"  # ENOENT
    assert conn.send(b"vFile:open:2f7,0,0") == b"F-1,16"  # odd hex: EINVAL
    assert conn.send(b"vFile:open:zz,0,0") == b"F-1,16"
    assert conn.send(b"vFile:pread:63,10,0") == b"F-1,9"  # an fd never opened: EBADF
    assert conn.send(b"vFile:close:-1") == b"F-1,9"
    assert conn.send(b"vFile:fstat:x") == b"F-1,16"
    assert conn.send(b"vFile:readlink:%s" % hexpath(exe)) == b"F-1,16"  # not a link: EINVAL
    assert conn.send(b"vFile:frobnicate:0") == b""  # an unknown operation: not supported
    assert conn.send(b"vFile:setfs:0") == b"F0"


def test_writes_are_refused_and_nothing_changes(client, tmp_path):
    conn, exe, _ = client
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep")
    for flags in (0x1, 0x2, 0x201, 0x601, 0x8):  # WRONLY, RDWR, CREAT, CREAT|TRUNC, APPEND
        assert conn.send(b"vFile:open:%s,%x,1a4" % (hexpath(victim), flags)) == b"F-1,1e"  # EROFS
    assert conn.send(b"vFile:open:%s,601,1a4" % hexpath(tmp_path / "new")) == b"F-1,1e"
    assert conn.send(b"vFile:unlink:%s" % hexpath(victim)) == b"F-1,1e"
    fd, _ = f_result(conn.send(b"vFile:open:%s,0,0" % hexpath(victim)))
    assert conn.send(b"vFile:pwrite:%x,0,xx" % fd) == b"F-1,1e"
    assert victim.read_bytes() == b"keep" and not (tmp_path / "new").exists()


def test_setfs_reads_in_the_targets_filesystem(client):
    conn, exe, _ = client
    pid = int(conn.send(b"qC")[2:], 16)
    assert conn.send(b"vFile:setfs:%x" % pid) == b"F0"
    count, data = f_result(conn.send(b"vFile:readlink:%s" % hexpath(f"/proc/{pid}/exe")))
    assert data == str(exe).encode()
    assert conn.send(b"vFile:setfs:%x" % 0x7FFFFFFF) == b"F-1,16"  # no such process


def files_open(fds: str, exe) -> list[str]:
    found = []
    for fd in os.listdir(fds):
        try:
            if os.readlink(f"{fds}/{fd}") == str(exe):
                found.append(fd)
        except OSError:
            pass  # closed meanwhile
    return found


def test_the_fd_limit_and_files_closed_at_disconnect(build_target, serve, tmp_path):
    exe = build_target("sw_target")
    mine = tmp_path / "opened"
    mine.write_bytes(b"x")
    stub = serve(exe, options=("--multi",))
    fds = f"/proc/{stub.proc.pid}/fd"
    conn = Client(stub.port)
    conn.hello()
    opened = []
    while True:
        reply = conn.send(b"vFile:open:%s,0,0" % hexpath(mine))
        if reply.startswith(b"F-1"):
            break
        opened.append(f_result(reply)[0])
        assert len(opened) <= 1000, "no limit"
    assert reply == b"F-1,18" and len(opened) >= 8  # EMFILE after a fair number
    assert len(files_open(fds, mine)) == len(opened)
    conn.close()
    conn = Client(stub.port)  # --multi: the stub stays up for the next client
    conn.hello()
    assert not files_open(fds, mine)
    assert conn.send(b"vFile:pread:%x,10,0" % opened[0]) == b"F-1,9"  # not the next client's
    conn.close()
