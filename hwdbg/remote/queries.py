"""The query packets (``q``/``Q``): features, target objects (``qXfer``), threads, ``monitor``,
and the ones lldb asks (qHostInfo, qProcessInfo, qWatchpointSupportInfo, qThreadStopInfo), as
the gdb manual ("General Query Packets") and lldb-server answer them. A mixin of the Stub:
it reads the same state."""
from __future__ import annotations

import struct
from typing import Any, Optional

from ..errors import HwdbgError
from ..linux import procfs
from . import monitor
from .libraries import svr4_xml
from .packets import MAX_PACKET, escape
from .regs import target_xml
from .stopreply import host_signal

TRIPLE = b"x86_64-pc-linux-gnu".hex()


class PacketError(Exception):
    """A packet we understood but cannot honour: the reply is ``E NN``."""

    def __init__(self, code: int = 1) -> None:
        super().__init__(code)
        self.code = code


def hex_int(text: bytes) -> int:
    try:
        return int(text, 16)
    except ValueError:
        raise PacketError() from None


def thread(text: bytes) -> Optional[int]:
    """A thread id: -1 (all) and 0 (any) are None; ``pPID.TID`` is accepted too."""
    if text.startswith(b"p") and b"." in text:
        text = text.split(b".", 1)[1]
    if text in (b"-1", b"0", b""):
        return None
    return hex_int(text)


class Queries:
    """The q/Q handlers; the Stub provides the state and _tid, _inferior, _addr_len."""

    session: Any
    points: Any
    last: Optional[bytes]

    def _query(self, args: bytes) -> Any:
        name, _, rest = args.partition(b":")
        if name == b"Supported":
            return self._supported(rest)
        if name == b"Xfer":
            return self._xfer(rest)
        if args == b"C":
            return b"QC" + self.ident(self._tid()).encode() if self.session.alive else b"QC0"
        if args == b"fThreadInfo":
            if not self.session.alive:
                return b"l"
            return b"m" + b",".join(self.ident(t).encode() for t in self._thread_order())
        if args == b"sThreadInfo":
            return b"l"
        if name == b"Attached":
            return b"0" if self.session.alive and self.session.inferior.spawned else b"1"
        if name.startswith(b"Rcmd,"):
            return self._monitor(name[5:])
        if args == b"Symbol::":
            return b"OK"
        if args == b"HostInfo":
            self.lldb = True
            return (f"triple:{TRIPLE};ptrsize:8;endian:little;ostype:linux;vendor:pc;"
                    "watchpoint_exceptions_received:after;").encode()
        if args == b"ProcessInfo" and self.session.alive:
            pid = self.session.inferior.pid
            return f"pid:{pid:x};ptrsize:8;endian:little;ostype:linux;vendor:pc;triple:{TRIPLE};".encode()
        if args == b"WatchpointSupportInfo" or name == b"WatchpointSupportInfo":
            return f"num:{self.session.arch.nslots};".encode()
        if name.startswith(b"ThreadStopInfo") and self.session.alive:
            tid = hex_int(name[len(b"ThreadStopInfo"):])
            if tid not in self.session.inferior.threads:
                raise PacketError()
            if self.last and f"thread:{self.ident(tid)};".encode() in self.last:
                return self.last
            return f"T00thread:{self.ident(tid)};".encode()
        return b""

    def _thread_order(self) -> list[int]:
        """The stopped thread first: gdb selects the first thread listed."""
        threads = sorted(self.session.inferior.threads)
        current = self.session.current_tid
        return ([current] if current in threads else []) + [t for t in threads if t != current]

    def _supported(self, features: bytes) -> bytes:
        offered = set(features.split(b";"))
        self.client_swbreak = b"swbreak+" in offered
        self.client_hwbreak = b"hwbreak+" in offered
        events = self.negotiate(offered)
        if self.last_stop is not None and self.session.alive:
            self.stopped(self.last_stop)  # `?` answers with the thread ids the client now reads
        return (f"PacketSize={MAX_PACKET:x};QStartNoAckMode+;qXfer:features:read+;qXfer:auxv:read+;"
                "qXfer:exec-file:read+;qXfer:threads:read+;qXfer:libraries-svr4:read+;QPassSignals+;swbreak+;hwbreak+;"
                f"vContSupported+{events}").encode()

    def _set(self, args: bytes) -> bytes:
        if args == b"StartNoAckMode":
            self.no_ack = True  # the server sends this OK with an ack, then stops acking
            return b"OK"
        if args.startswith(b"PassSignals:"):
            self._pass_signals(args[len(b"PassSignals:"):])
            return b"OK"
        if args.startswith(b"NonStop:"):
            return b"OK" if args == b"NonStop:0" else b"E01"  # all-stop only
        if args == b"ThreadSuffixSupported":
            self.lldb = True
            return b"OK"
        return b""

    def _pass_signals(self, numbers: bytes) -> None:
        """QPassSignals: the client handles every other signal itself, so those stop the target
        (the session's handle table becomes the client's)."""
        passed = set()
        for text in filter(None, numbers.split(b";")):
            try:
                passed.add(host_signal(hex_int(text)))
            except ValueError:
                continue
        self.session.signals.follow_client(passed)

    def _xfer(self, rest: bytes) -> bytes:
        parts = rest.split(b":")
        if len(parts) != 4 or parts[1] != b"read":
            return b""
        obj, annex, (offset, length) = parts[0], parts[2], self._addr_len(parts[3])
        if obj == b"features":
            if annex != b"target.xml":
                raise PacketError()
            data = target_xml()
        elif obj == b"auxv":
            data = self._proc_file("auxv")
        elif obj == b"libraries-svr4":
            try:
                data = svr4_xml(self.session.read_memory, self._proc_file("auxv"))
            except (HwdbgError, struct.error):
                raise PacketError() from None
        elif obj == b"exec-file":
            pid = hex_int(annex) if annex else None
            data = procfs.exe_path(pid or self._inferior().pid).encode()
        elif obj == b"threads":
            data = self._threads_xml()
        else:
            return b""
        chunk = data[offset:offset + min(length, MAX_PACKET // 2)]
        return (b"m" if offset + len(chunk) < len(data) else b"l") + escape(chunk)

    def _proc_file(self, name: str) -> bytes:
        pid = self._inferior().pid
        try:
            with open(f"/proc/{pid}/{name}", "rb") as fh:
                return fh.read()
        except OSError:
            raise PacketError() from None

    def _threads_xml(self) -> bytes:
        """The thread list, read again only when the thread set or the stopped thread changed
        (gdb asks at every stop; a name the program changes later shows at the next change)."""
        inf = self._inferior()
        order = self._thread_order()
        key = (inf.pid, inf.generation, tuple(order), self.multiprocess)
        cached = getattr(self, "_threads_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        rows = []
        for tid in order:
            comm = procfs.read_text(f"/proc/{inf.pid}/task/{tid}/comm").strip()
            name = "".join(c for c in comm if c.isalnum() or c in "-_.")
            rows.append(f'<thread id="{self.ident(tid)}" name="{name}"/>')
        data = ("<?xml version=\"1.0\"?><threads>" + "".join(rows) + "</threads>").encode()
        self._threads_cache = (key, data)
        return data

    def _monitor(self, hexcmd: bytes) -> bytes:
        try:
            command = bytes.fromhex(hexcmd.decode()).decode()
        except (ValueError, UnicodeDecodeError):
            raise PacketError() from None

        def stop_serving() -> None:
            self.exit_requested = True

        try:
            text = monitor.run(command, self.session, self.points, stop_serving)
        except HwdbgError as exc:
            text = f"{exc}\n"
        return [b"O" + text.encode().hex().encode(), b"OK"] if text else b"OK"
