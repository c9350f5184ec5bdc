"""The server loop: one client at a time over TCP (loopback unless told otherwise) or a pipe.

While the target runs, the connection is read on SIGIO (O_ASYNC: no thread and no extra
system call per resume in the main thread; a thread where signals cannot be had): a 0x03
byte interrupts the target, end of file interrupts it too and the client's disappearance is then handled by the
disconnect policy (an attached process is detached and runs on, a started one is killed,
unless ``on_disconnect`` says otherwise). Any failure while serving a packet becomes an
``E01`` reply and one line on the log, never a traceback on the wire or a lost target.
"""
from __future__ import annotations

import fcntl
import os
import select
import signal
import socket
import threading
from typing import Callable, Optional

from .. import records as rec
from ..errors import HwdbgError, UsageError
from .packets import Ack, Interrupt, Malformed, Packet, Reader, frame
from .stub import NO_REPLY, Resume, Stub


class Closed(Exception):
    """The client went away."""


class Connection:
    def __init__(self, rfd: int, wfd: int, sock: Optional[socket.socket] = None) -> None:
        self.rfd, self.wfd, self.sock = rfd, wfd, sock

    def recv(self) -> bytes:
        try:
            return os.read(self.rfd, 65536)
        except OSError:
            return b""

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.wfd, view):]
        except OSError:
            raise Closed() from None

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass


def is_loopback(host: str) -> bool:
    if host in ("", "localhost"):
        return True
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    import ipaddress
    return all(ipaddress.ip_address(info[4][0]).is_loopback for info in infos)


def listen(host: str, port: int, *, any_address: bool) -> socket.socket:
    if not any_address and not is_loopback(host):
        raise UsageError(f"refusing to listen on {host}: the remote protocol has no authentication and lets "
                         "its client write any memory and register of the target; use --listen-any to allow it")
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host or "127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {host or '127.0.0.1'}:{port}: {exc.strerror}") from None
    sock.listen(1)
    return sock


def accept(listener: socket.socket) -> Connection:
    sock, _ = listener.accept()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # one small packet per round trip
    return Connection(sock.fileno(), sock.fileno(), sock)


class _Watch:
    """Collects what the client sends while the target runs: 0x03 or end of file interrupt it."""

    def __init__(self, conn: Connection, interrupt: Callable[[], None]) -> None:
        self.conn, self.interrupt = conn, interrupt
        self.lost = False
        self.data = bytearray()

    def take(self, chunk: bytes) -> bool:
        """Handles one read; False at end of file."""
        if not chunk:
            self.lost = True
            self.interrupt()
            return False
        if b"\x03" in chunk:
            self.interrupt()
        self.data += chunk.replace(b"\x03", b"")
        return True


class _SignalWatch(_Watch):
    """The kernel sends SIGIO when the client writes; the handler runs in the main thread between
    two bytecodes (waitpid is retried after it, PEP 475), and interrupting is signal-safe."""

    def __init__(self, conn: Connection, interrupt: Callable[[], None]) -> None:
        super().__init__(conn, interrupt)
        self.armed = False

    def on_signal(self, _signo: int, _frame: object) -> None:
        if self.armed:
            self.drain()

    def drain(self) -> None:
        while self.armed and select.select([self.conn.rfd], [], [], 0)[0]:
            if not self.take(self.conn.recv()):
                self.armed = False

    def start(self) -> None:
        flags = fcntl.fcntl(self.conn.rfd, fcntl.F_GETFL)
        fcntl.fcntl(self.conn.rfd, fcntl.F_SETFL, flags | os.O_ASYNC)
        self.armed = True
        self.drain()  # what arrived before O_ASYNC was set raised no signal

    def finish(self) -> bytes:
        self.armed = False
        flags = fcntl.fcntl(self.conn.rfd, fcntl.F_GETFL)
        fcntl.fcntl(self.conn.rfd, fcntl.F_SETFL, flags & ~os.O_ASYNC)
        data, self.data = bytes(self.data), bytearray()
        return data


class _ThreadWatch(_Watch):
    """The same from a thread, when serve() runs outside the main thread (no signal handlers)."""

    thread: Optional[threading.Thread] = None

    def start(self) -> None:
        self.lost, self.data = False, bytearray()
        self.wake_r, self.wake_w = os.pipe2(os.O_CLOEXEC)
        self.thread = threading.Thread(target=self._run, daemon=True, name="hwdbg-serve-watcher")
        self.thread.start()

    def _run(self) -> None:
        while True:
            ready, _, _ = select.select([self.conn.rfd, self.wake_r], [], [])
            if self.wake_r in ready or not self.take(self.conn.recv()):
                return

    def finish(self) -> bytes:
        if self.thread is None:
            return b""
        os.write(self.wake_w, b"x")
        self.thread.join()
        self.thread = None
        os.close(self.wake_r)
        os.close(self.wake_w)
        return bytes(self.data)


class Server:
    def __init__(self, stub: Stub, *, on_disconnect: Optional[str] = None,
                 log: Callable[[str], None] = lambda line: None) -> None:
        self.stub, self.on_disconnect, self.log = stub, on_disconnect, log
        trace = os.environ.get("HWDBG_SERVE_TRACE")  # a file to log every packet to (debugging a client)
        self.trace = open(trace, "a", buffering=1) if trace else None

    # ------------------------------------------------------------ one connection

    def serve(self, conn: Connection) -> None:
        """Serves one client until it detaches, kills (outside --multi) or goes away."""
        reader = Reader()
        stub = self.stub
        old_handler = None
        if threading.current_thread() is threading.main_thread():
            self.watch: _Watch = _SignalWatch(conn, stub.session.interrupt)
            old_handler = signal.signal(signal.SIGIO, self.watch.on_signal)  # type: ignore[attr-defined]
            fcntl.fcntl(conn.rfd, fcntl.F_SETOWN, os.getpid())
        else:
            self.watch = _ThreadWatch(conn, stub.session.interrupt)
        try:
            while not (stub.ended or stub.exit_requested):
                data = conn.recv()
                if not data:
                    break
                previous = None
                for item in reader.feed(data):
                    if isinstance(item, Packet) and not stub.no_ack and item == previous:
                        # a retransmission sent because our ack was late (a slow start): it got the ack
                        # and the reply of the first copy already
                        continue
                    previous = item
                    more = self._item(conn, item)
                    if more:
                        for extra in reader.feed(more):
                            self._item(conn, extra)
                    if stub.ended or stub.exit_requested:
                        break
        except Closed:
            pass
        finally:
            self.let_go()
            conn.close()
            if old_handler is not None:
                signal.signal(signal.SIGIO, old_handler)

    def _item(self, conn: Connection, item: object) -> bytes:
        """Handles one thing read; returns bytes the watcher read meanwhile (to be parsed next)."""
        stub = self.stub
        if isinstance(item, (Ack, Interrupt)):
            return b""  # an interrupt while stopped has nothing to stop
        if isinstance(item, Malformed):
            if not stub.no_ack and item.reason == "bad checksum":
                conn.send(b"-")
            else:
                conn.send(frame(b"E01"))
            return b""
        assert isinstance(item, Packet)
        if not stub.no_ack:
            conn.send(b"+")
        try:
            reply = stub.handle(item.data)
        except Exception as exc:  # a bug: the client gets an error, the target stays safe
            self.log(f"internal error on packet {item.data[:40]!r}: {type(exc).__name__}: {exc}")
            reply = b"E01"
        if isinstance(reply, Resume):
            reply, more = self._run(conn, reply)
        else:
            more = b""
        if self.trace:
            self.trace.write(f"<- {item.data[:200]!r}\n-> {reply if reply is None else reply!r:.300}\n")
        if reply is NO_REPLY:
            return more
        for packet in reply if isinstance(reply, list) else [reply]:
            conn.send(frame(packet))
        return more

    def _run(self, conn: Connection, resume: Resume) -> tuple[Optional[bytes], bytes]:
        stub, session = self.stub, self.stub.session
        watcher = self.watch
        watcher.lost = False
        try:
            stub.points.sync()
            inf = session.require_stopped()
            signals = dict(resume.signals)
            for tid in {session.current_tid, *signals}:
                if tid in inf.threads:
                    inf.threads[tid].signal = signals.get(tid, 0)  # the client decides what is delivered
            watcher.start()
            if resume.step_tid is None:
                result = session.cont()
            else:  # the session's step with scheduler-locking off when the others run: all-stop at
                # whichever event comes first; another thread's stop is kept and reported next time
                result = session.go(resume.step_tid, step=True, lock=not resume.others)
        except HwdbgError as exc:
            self.log(f"resume failed: {exc}")
            result = self._after_failure()
        finally:
            more = watcher.finish()
        if watcher.lost:
            raise Closed()
        return stub.stopped(result), more

    def _after_failure(self) -> rec.Stopped | rec.Exited | rec.Killed:
        """A resume never gets an error reply (clients give up on one): report where it is."""
        session = self.stub.session
        if session.alive:
            inf = session.inferior
            if not inf.all_stopped:
                inf.stop_all()
            tid = session.current_tid if session.current_tid in inf.threads else inf.pid
            return rec.Stopped(reason="signal", tid=tid, pc=session.arch.get_pc(inf.get_regs(tid)))
        return rec.Exited(code=0)

    # ------------------------------------------------------------ letting go

    def let_go(self) -> None:
        """The client is gone without D or k: apply the disconnect policy."""
        stub, session = self.stub, self.stub.session
        stub.release_forks()
        stub.hostio.close_all()
        if not session.alive:
            return
        try:
            stub.points.clear()
            policy = self.on_disconnect or ("kill" if session.inferior.spawned else "detach")
            if policy == "kill":
                session.kill()
            else:
                session.detach()
        except HwdbgError as exc:
            self.log(f"letting the target go failed: {exc}")
            session.close()
        stub.last = None
