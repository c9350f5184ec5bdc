"""The packet handlers: one method per packet, over the Session.

A handler returns the reply's data, ``NO_REPLY`` (``k``), or a ``Resume`` the server runs
(it must watch the connection for an interrupt meanwhile). Packet facts from the gdb
manual ("Packets", "Stop Reply Packets"); the queries are in queries.py.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from .. import records as rec
from ..errors import HwdbgError
from ..linux import ptrace as sc
from ..recordtype import record
from ..session import Session
from .forks import Forks
from .hostio import HostIO
from .packets import MAX_PACKET, escape, unescape
from .points import ClientPoints, Key
from .queries import PacketError, Queries, hex_int, thread
from .regs import EXPEDITED, REGISTERS, RegisterFile
from .stopreply import exit_reply, host_signal, stop_reply

NO_REPLY = None


@record(frozen=True)
class Resume:
    step_tid: Optional[int]  # the thread to single-step, or None: continue every thread
    signals: tuple[tuple[int, int], ...] = ()  # (tid, Linux signal) to deliver
    others: bool = False  # while step_tid steps, the other threads run (vCont;s:TID;c)


class Stub(Forks, Queries):
    def __init__(self, session: Session, *, program: Optional[list[str]] = None, multi: bool = False,
                 spawn_options: Optional[dict] = None) -> None:
        self.session = session
        # Every breakpoint of a client stops: the C hit loop would take none, and starting its
        # publisher thread at each resume cost about half a millisecond per stop.
        session.fast_path = False
        self.points = ClientPoints(session)
        self.program = program
        self.multi = multi
        self.spawn_options = spawn_options or {}
        self.no_ack = False
        self.client_swbreak = self.client_hwbreak = False
        self.g_thread: Optional[int] = None
        self.last: Optional[bytes] = None  # the last stop reply, for `?` and qThreadStopInfo
        self.last_stop: Optional[rec.Stopped] = None  # what it said (written again once ids are pPID.TID)
        self.last_end: Optional[bytes] = None  # W/X when the process is gone
        self.ended = False  # D or k outside --multi, or `monitor exit`: serve no more
        self.exit_requested = False
        self.forks = {}
        self.hostio = HostIO()  # vFile: the client's open files
        self.lldb = False  # lldb waits for a reply to `k` (lldb-server sends one), gdb must get none
        self._simple: dict[bytes, Callable[[], Any]] = {
            b"?": self._status, b"g": self._read_registers, b"k": self._kill, b"!": self._extended}
        self._handlers: dict[bytes, Callable[[bytes], Any]] = {
            b"G": self._write_registers, b"p": self._read_register, b"P": self._write_register,
            b"m": self._read_memory, b"M": self._write_memory, b"x": self._read_binary, b"X": self._write_binary,
            b"c": self._continue, b"C": self._continue_signal, b"s": self._step, b"S": self._step_signal,
            b"H": self._set_thread, b"T": self._thread_alive, b"Z": self._insert, b"z": self._remove,
            b"D": self._detach, b"q": self._query, b"Q": self._set, b"v": self._v,
        }

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
        simple = self._simple.get(data)
        if simple is not None:
            return simple()
        handler = self._handlers.get(data[:1])
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
            self.last_stop = result
            self.last = stop_reply(result, expedite=self._expedite, address_of=self.points.address_of,
                                   swbreak=self.client_swbreak, hwbreak=self.client_hwbreak, ident=self.ident,
                                   event=self.event_text(result))
            self.g_thread = None
            return self.last
        self.points.clear()
        self.last, self.last_end = None, exit_reply(result, result.pid if self.multiprocess and result.pid else None)
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
        num = hex_int(num_text)
        tid = thread(rest[len(b"thread:"):].rstrip(b";")) if rest.startswith(b"thread:") else None
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
        return hex_int(addr), hex_int(length)

    def _read(self, addr: int, length: int) -> bytes:
        """The readable prefix of [addr, addr + length) (a short read is allowed), int3s hidden."""
        self._inferior()
        length = min(length, MAX_PACKET // 2)
        if self.parked():
            return self.read_parked(addr, length)
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
            signo = host_signal(hex_int(text))
        except ValueError:
            raise PacketError() from None
        tid = self._tid()
        return self._resume(tid if step else None, ((tid, signo),) if signo else ())

    def _continue_signal(self, args: bytes) -> Resume:
        return self._with_signal(args, step=False)

    def _step_signal(self, args: bytes) -> Resume:
        return self._with_signal(args, step=True)

    def _vcont(self, args: bytes) -> Any:
        """vCont;ACTION[:TID]...: the leftmost action naming a thread wins; a stepping thread
        steps while the threads given a continue action run (gdb's `next` with scheduler-locking
        off: vCont;s:TID;c), or alone; otherwise every thread continues."""
        if not args.startswith(b";"):
            raise PacketError()
        inf = self._inferior()
        step_tid, signals, stop_only, others = None, [], True, False
        for action in args[1:].split(b";"):
            verb, _, tid_text = action.partition(b":")
            tid = thread(tid_text) if tid_text else None
            if not verb or verb[:1] not in b"cCsSt":
                raise PacketError()
            if verb[:1] != b"t":
                stop_only = False
            if verb[:1] in b"cC" and (tid is None or tid != step_tid):
                others = True
            if verb[:1] in b"sS" and step_tid is None:
                step_tid = tid or self._tid()
            if verb[:1] in b"CS":
                try:
                    signo = host_signal(hex_int(verb[1:]))
                except ValueError:
                    raise PacketError() from None
                if signo:
                    signals.append((tid or self._tid(), signo))
        if stop_only:  # all-stop: every thread is already stopped
            return self.last or b"OK"
        if step_tid is not None and step_tid not in inf.threads:
            raise PacketError()
        return Resume(step_tid, tuple(signals), others=others and step_tid is not None)

    def _set_thread(self, args: bytes) -> bytes:
        op, tid = args[:1], thread(args[1:])
        inf = self._inferior() if self.session.alive else None
        if tid is not None and (inf is None or tid not in inf.threads) and tid not in self.forks:
            raise PacketError()
        if op == b"g":
            self.g_thread = tid
        elif op != b"c":
            raise PacketError()
        return b"OK"

    def _thread_alive(self, args: bytes) -> bytes:
        tid = thread(args)
        if not self.session.alive or tid is None or tid not in self.session.inferior.threads:
            raise PacketError()
        return b"OK"

    # ------------------------------------------------------------ breakpoints

    def _key(self, args: bytes) -> Key:
        fields = args.split(b";", 1)[0].split(b",")
        if len(fields) != 3:
            raise PacketError()
        return Key(hex_int(fields[0]), hex_int(fields[1]), hex_int(fields[2]))

    def _insert(self, args: bytes) -> bytes:
        key = self._key(args)
        self._inferior()
        if key.type > 4:
            return b""
        if self.parked():
            return b"OK"  # a kept child: cleaned when kept, and it does not run
        self.points.insert(key)
        return b"OK"

    def _remove(self, args: bytes) -> bytes:
        key = self._key(args)
        if key.type > 4:
            return b""
        if not self.parked():
            self.points.remove(key)
        return b"OK"

    # ------------------------------------------------------------ ending

    def _status(self) -> bytes:
        if self.session.alive:
            return self.last or b"S05"
        return self.last_end or b"W00"

    def _kill(self) -> Optional[bytes]:
        self.release_forks()
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
        if args.startswith(b"File:"):
            return self.hostio.handle(args[len(b"File:"):])
        name, _, rest = args.partition(b";")
        if name == b"Cont?":
            return b"vCont;c;C;s;S;t"
        if name == b"Cont":
            return self._vcont(b";" + rest if rest else b"")
        if name == b"Kill" and (self.multi or self.multiprocess):  # a multiprocess client's `k`
            self._kill()
            return b"OK"
        if not self.multi:
            return b""
        if name == b"Run":
            return self._run(rest)
        if name == b"Attach":
            return self._attach(hex_int(rest))
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
