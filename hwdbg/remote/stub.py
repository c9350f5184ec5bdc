"""The packet handlers: one method per packet, over the Session.

A handler returns the reply's data, ``NO_REPLY`` (``k``), or a ``Resume`` the server runs
(it must watch the connection for an interrupt meanwhile). Packet facts from the gdb
manual ("Packets", "General Query Packets", "Stop Reply Packets"); lldb's extra queries
(qHostInfo, qProcessInfo, qWatchpointSupportInfo, qThreadStopInfo) as lldb-server answers them.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Callable, Optional

from .. import records as rec
from ..errors import HwdbgError
from ..linux import procfs
from ..linux import ptrace as sc
from ..session import Session
from . import monitor
from .libraries import svr4_xml
from .packets import MAX_PACKET, escape, unescape
from .points import ClientPoints, Key
from .regs import EXPEDITED, REGISTERS, RegisterFile, target_xml
from .stopreply import exit_reply, host_signal, stop_reply, thread_id

NO_REPLY = None
TRIPLE = b"x86_64-pc-linux-gnu".hex()


class PacketError(Exception):
    """A packet we understood but cannot honour: the reply is ``E NN``."""

    def __init__(self, code: int = 1) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Resume:
    step_tid: Optional[int]  # the thread to single-step, or None: continue every thread
    signals: tuple[tuple[int, int], ...] = ()  # (tid, Linux signal) to deliver


def _hex_int(text: bytes) -> int:
    try:
        return int(text, 16)
    except ValueError:
        raise PacketError() from None


def _thread(text: bytes) -> Optional[int]:
    """A thread id: -1 (all) and 0 (any) are None; ``pPID.TID`` is accepted too."""
    if text.startswith(b"p") and b"." in text:
        text = text.split(b".", 1)[1]
    if text in (b"-1", b"0", b""):
        return None
    return _hex_int(text)


class Stub:
    def __init__(self, session: Session, *, program: Optional[list[str]] = None, multi: bool = False,
                 spawn_options: Optional[dict] = None) -> None:
        self.session = session
        self.points = ClientPoints(session)
        self.program = program
        self.multi = multi
        self.spawn_options = spawn_options or {}
        self.no_ack = False
        self.client_swbreak = self.client_hwbreak = False
        self.g_thread: Optional[int] = None
        self.last: Optional[bytes] = None  # the last stop reply, for `?` and qThreadStopInfo
        self.last_end: Optional[bytes] = None  # W/X when the process is gone
        self.ended = False  # D or k outside --multi, or `monitor exit`: serve no more
        self.exit_requested = False
        self.lldb = False  # lldb waits for a reply to `k` (lldb-server sends one), gdb must get none

    # ------------------------------------------------------------ dispatch

    def handle(self, data: bytes) -> Any:
        try:
            return self._dispatch(data)
        except PacketError as exc:
            return b"E%02x" % exc.code
        except HwdbgError:  # a bad address, no slot left, a thread gone: the client says so
            return b"E01"

    def _dispatch(self, data: bytes) -> Any:
        if not data:
            return b""
        simple = {b"?": self._status, b"g": self._read_registers, b"k": self._kill, b"!": self._extended}
        if data in simple:
            return simple[data]()
        head = data[:1]
        handlers: dict[bytes, Callable[[bytes], Any]] = {
            b"G": self._write_registers, b"p": self._read_register, b"P": self._write_register,
            b"m": self._read_memory, b"M": self._write_memory, b"x": self._read_binary, b"X": self._write_binary,
            b"c": self._continue, b"C": self._continue_signal, b"s": self._step, b"S": self._step_signal,
            b"H": self._set_thread, b"T": self._thread_alive, b"Z": self._insert, b"z": self._remove,
            b"D": self._detach, b"q": self._query, b"Q": self._set, b"v": self._v,
        }
        handler = handlers.get(head)
        return handler(data[1:]) if handler else b""

    # ------------------------------------------------------------ state

    def _inferior(self) -> Any:
        if not self.session.alive:
            raise PacketError()
        return self.session.require_stopped()

    def _tid(self, wanted: Optional[int] = None) -> int:
        inf = self._inferior()
        tid = wanted or self.g_thread or self.session.current_tid or inf.pid
        if tid not in inf.threads:
            tid = self.session.current_tid if self.session.current_tid in inf.threads else inf.pid
        return tid

    def _registers(self, tid: int) -> RegisterFile:
        inf = self._inferior()
        return RegisterFile(tid, get=inf.get_regs, set_=inf.set_regs, get_fp=sc.getfpregs, set_fp=sc.setfpregs,
                            set_pc=self.session.arch.set_pc)

    def stopped(self, result: rec.Stopped | rec.Exited | rec.Killed) -> bytes:
        """The reply for the end of a resume; the client's breakpoints go with a dead process."""
        if isinstance(result, rec.Stopped):
            self.last = stop_reply(result, expedite=self._expedite, address_of=self.points.address_of,
                                   swbreak=self.client_swbreak, hwbreak=self.client_hwbreak)
            self.g_thread = None
            return self.last
        self.points.clear()
        self.last, self.last_end = None, exit_reply(result)
        return self.last_end

    def _expedite(self, tid: int) -> list[tuple[int, bytes]]:
        regs = self._registers(tid)
        return [(n, regs.read(n)) for n in EXPEDITED]

    def initial_stop(self) -> None:
        """The stop reply for a process just started or attached: a SIGTRAP (started), none
        (attached), as gdbserver reports them."""
        inf = self._inferior()
        stop = rec.Stopped(reason="step" if inf.spawned else "signal", tid=inf.pid,
                           pc=self.session.arch.get_pc(inf.get_regs(inf.pid)))
        self.last = self.stopped(stop)

    # ------------------------------------------------------------ registers

    def _read_registers(self) -> bytes:
        return self._registers(self._tid()).read_all().hex().encode()

    def _write_registers(self, args: bytes) -> bytes:
        try:
            data = bytes.fromhex(args.decode())
        except ValueError:
            raise PacketError() from None
        regs = self._registers(self._tid())
        try:
            regs.write_all(data)
        except ValueError:
            raise PacketError() from None
        regs.flush()
        return b"OK"

    def _reg_args(self, text: bytes) -> tuple[int, int]:
        """``n`` or ``n;thread:TID;`` (lldb's thread suffix)."""
        num_text, _, rest = text.partition(b";")
        num = _hex_int(num_text)
        tid = _thread(rest[len(b"thread:"):].rstrip(b";")) if rest.startswith(b"thread:") else None
        if not 0 <= num < len(REGISTERS):
            raise PacketError()
        return num, self._tid(tid)

    def _read_register(self, args: bytes) -> bytes:
        num, tid = self._reg_args(args)
        return self._registers(tid).read(num).hex().encode()

    def _write_register(self, args: bytes) -> bytes:
        spec, _, value = args.partition(b"=")
        value, _, suffix = value.partition(b";")
        num, tid = self._reg_args(spec + (b";" + suffix if suffix else b""))
        regs = self._registers(tid)
        try:
            regs.write(num, bytes.fromhex(value.decode()))
        except ValueError:
            raise PacketError() from None
        regs.flush()
        return b"OK"

    # ------------------------------------------------------------ memory

    def _addr_len(self, text: bytes) -> tuple[int, int]:
        addr, sep, length = text.partition(b",")
        if not sep:
            raise PacketError()
        return _hex_int(addr), _hex_int(length)

    def _read(self, addr: int, length: int) -> bytes:
        """The readable prefix of [addr, addr + length) (a short read is allowed), int3s hidden."""
        self._inferior()
        length = min(length, MAX_PACKET // 2)
        try:
            return self.session.read_memory(addr, length)
        except (HwdbgError, OverflowError, ValueError):
            pass
        out = b""
        while len(out) < length:
            cur = addr + len(out)
            piece = min(length - len(out), 4096 - cur % 4096)
            try:
                out += self.session.read_memory(cur, piece)
            except (HwdbgError, OverflowError, ValueError):
                break
        if not out and length:
            raise PacketError()
        return out

    def _read_memory(self, args: bytes) -> bytes:
        return self._read(*self._addr_len(args)).hex().encode()

    def _read_binary(self, args: bytes) -> bytes:
        addr, length = self._addr_len(args)
        if length == 0:
            return b"OK"  # lldb's probe for binary reads
        return escape(self._read(addr, length))

    def _write(self, addr: int, data: bytes) -> bytes:
        self._inferior()
        if data:
            try:
                self.session.write_memory(addr, data)
            except (OverflowError, ValueError):
                raise PacketError() from None
        return b"OK"

    def _write_memory(self, args: bytes) -> bytes:
        where, sep, payload = args.partition(b":")
        addr, length = self._addr_len(where)
        try:
            data = bytes.fromhex(payload.decode())
        except ValueError:
            raise PacketError() from None
        if not sep or len(data) != length:
            raise PacketError()
        return self._write(addr, data)

    def _write_binary(self, args: bytes) -> bytes:
        where, sep, payload = args.partition(b":")
        addr, length = self._addr_len(where)
        try:
            data = unescape(payload)
        except ValueError:
            raise PacketError() from None
        if not sep or len(data) != length:
            raise PacketError()
        return self._write(addr, data)

    # ------------------------------------------------------------ running

    def _resume(self, step_tid: Optional[int], signals: tuple = ()) -> Resume:
        inf = self._inferior()
        if step_tid is not None and step_tid not in inf.threads:
            raise PacketError()
        return Resume(step_tid, signals)

    def _continue(self, args: bytes) -> Resume:
        if args:
            raise PacketError()  # `c ADDR`: resuming elsewhere is not supported
        return self._resume(None)

    def _step(self, args: bytes) -> Resume:
        if args:
            raise PacketError()
        return self._resume(self._tid())

    def _with_signal(self, args: bytes, step: bool) -> Resume:
        text, _, _ = args.partition(b";")
        try:
            signo = host_signal(_hex_int(text))
        except ValueError:
            raise PacketError() from None
        tid = self._tid()
        return self._resume(tid if step else None, ((tid, signo),) if signo else ())

    def _continue_signal(self, args: bytes) -> Resume:
        return self._with_signal(args, step=False)

    def _step_signal(self, args: bytes) -> Resume:
        return self._with_signal(args, step=True)

    def _vcont(self, args: bytes) -> Any:
        """vCont;ACTION[:TID]...: the leftmost action naming a thread wins; one stepping thread
        steps alone (the others stay stopped), otherwise every thread continues."""
        if not args.startswith(b";"):
            raise PacketError()
        inf = self._inferior()
        step_tid, signals, stop_only = None, [], True
        for action in args[1:].split(b";"):
            verb, _, tid_text = action.partition(b":")
            tid = _thread(tid_text) if tid_text else None
            if not verb or verb[:1] not in b"cCsSt":
                raise PacketError()
            if verb[:1] != b"t":
                stop_only = False
            if verb[:1] in b"sS" and step_tid is None:
                step_tid = tid or self._tid()
            if verb[:1] in b"CS":
                try:
                    signo = host_signal(_hex_int(verb[1:]))
                except ValueError:
                    raise PacketError() from None
                if signo:
                    signals.append((tid or self._tid(), signo))
        if stop_only:  # all-stop: every thread is already stopped
            return self.last or b"OK"
        if step_tid is not None and step_tid not in inf.threads:
            raise PacketError()
        return Resume(step_tid, tuple(signals))

    def _set_thread(self, args: bytes) -> bytes:
        op, tid = args[:1], _thread(args[1:])
        inf = self._inferior() if self.session.alive else None
        if tid is not None and (inf is None or tid not in inf.threads):
            raise PacketError()
        if op == b"g":
            self.g_thread = tid
        elif op != b"c":
            raise PacketError()
        return b"OK"

    def _thread_alive(self, args: bytes) -> bytes:
        tid = _thread(args)
        if not self.session.alive or tid is None or tid not in self.session.inferior.threads:
            raise PacketError()
        return b"OK"

    # ------------------------------------------------------------ breakpoints

    def _key(self, args: bytes) -> Key:
        fields = args.split(b";", 1)[0].split(b",")
        if len(fields) != 3:
            raise PacketError()
        return Key(_hex_int(fields[0]), _hex_int(fields[1]), _hex_int(fields[2]))

    def _insert(self, args: bytes) -> bytes:
        key = self._key(args)
        self._inferior()
        if key.type > 4:
            return b""
        self.points.insert(key)
        return b"OK"

    def _remove(self, args: bytes) -> bytes:
        key = self._key(args)
        if key.type > 4:
            return b""
        self.points.remove(key)
        return b"OK"

    # ------------------------------------------------------------ ending

    def _status(self) -> bytes:
        if self.session.alive:
            return self.last or b"S05"
        return self.last_end or b"W00"

    def _detach(self, args: bytes) -> bytes:
        self._inferior()
        self.points.clear()
        self.session.detach()
        self.last, self.last_end = None, None
        self.ended = not self.multi
        return b"OK"

    def _kill(self) -> Optional[bytes]:
        if self.session.alive:
            self.points.clear()
            self.session.kill()
        self.last, self.last_end = None, b"X09"
        self.ended = not self.multi
        return self.last_end if self.lldb else NO_REPLY

    def _extended(self) -> bytes:
        return b"OK" if self.multi else b""

    # ------------------------------------------------------------ v packets

    def _v(self, args: bytes) -> Any:
        name, _, rest = args.partition(b";")
        if name == b"Cont?":
            return b"vCont;c;C;s;S;t"
        if name == b"Cont":
            return self._vcont(b";" + rest if rest else b"")
        if not self.multi:
            return b""
        if name == b"Run":
            return self._run(rest)
        if name == b"Attach":
            return self._attach(_hex_int(rest))
        if name == b"Kill":
            if self.session.alive:
                self.points.clear()
                self.session.kill()
            self.last, self.last_end = None, b"X09"
            return b"OK"
        return b""

    def _run(self, rest: bytes) -> bytes:
        if self.session.alive:
            self.points.clear()
            self.session.kill()
        try:
            words = [bytes.fromhex(w.decode()).decode() for w in rest.split(b";")] if rest else []
        except (ValueError, UnicodeDecodeError):
            raise PacketError() from None
        if not words or not words[0]:
            if not self.program:
                raise PacketError()
            words = [self.program[0], *(words[1:] or self.program[1:])]
        try:
            self.session.spawn(words, **self.spawn_options)
        except HwdbgError:
            raise PacketError() from None
        self.initial_stop()
        return self.last

    def _attach(self, pid: int) -> bytes:
        if self.session.alive:
            raise PacketError()
        self.session.attach(pid)
        self.initial_stop()
        return self.last

    # ------------------------------------------------------------ queries

    def _query(self, args: bytes) -> Any:
        name, _, rest = args.partition(b":")
        if name == b"Supported":
            return self._supported(rest)
        if name == b"Xfer":
            return self._xfer(rest)
        if args == b"C":
            return b"QC" + thread_id(self._tid()).encode() if self.session.alive else b"QC0"
        if args == b"fThreadInfo":
            if not self.session.alive:
                return b"l"
            return b"m" + b",".join(thread_id(t).encode() for t in self._thread_order())
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
            tid = _hex_int(name[len(b"ThreadStopInfo"):])
            if tid not in self.session.inferior.threads:
                raise PacketError()
            if self.last and f"thread:{thread_id(tid)};".encode() in self.last:
                return self.last
            return f"T00thread:{thread_id(tid)};".encode()
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
        return (f"PacketSize={MAX_PACKET:x};QStartNoAckMode+;qXfer:features:read+;qXfer:auxv:read+;"
                "qXfer:exec-file:read+;qXfer:threads:read+;qXfer:libraries-svr4:read+;swbreak+;hwbreak+;vContSupported+").encode()

    def _set(self, args: bytes) -> bytes:
        if args == b"StartNoAckMode":
            self.no_ack = True  # the server sends this OK with an ack, then stops acking
            return b"OK"
        if args.startswith(b"NonStop:"):
            return b"OK" if args == b"NonStop:0" else b"E01"  # all-stop only
        if args == b"ThreadSuffixSupported":
            self.lldb = True
            return b"OK"
        return b""

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
            pid = _hex_int(annex) if annex else None
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
        inf = self._inferior()
        rows = []
        for tid in self._thread_order():
            comm = procfs.read_text(f"/proc/{inf.pid}/task/{tid}/comm").strip()
            name = "".join(c for c in comm if c.isalnum() or c in "-_.")
            rows.append(f'<thread id="{thread_id(tid)}" name="{name}"/>')
        return ("<?xml version=\"1.0\"?><threads>" + "".join(rows) + "</threads>").encode()

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
