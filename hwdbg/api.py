"""The Python API: spawn or attach, watch, run, read the hits. Built on the same Session as the CLI.

    with hwdbg.spawn(["./prog"]) as target:
        counter = target.watch("counter")
        target.run_until_exit()
        assert all(h.function == "bump" for h in counter.hits)
"""
from __future__ import annotations

from collections import deque
from typing import Any, Callable, Iterator, Mapping, Optional, Sequence, Union

from . import records as rec
from .errors import TargetError, UsageError
from .locations import resolve_code, resolve_watch
from .records import Kind
from .session import Session, UserBreakpoint, install_signal_cleanup, writers_of
from .session.frames import variable_value
from .session.scoped import scope_of
import time
from . import expr
from .hw import debugregs

ACCESS_KINDS = {"w": Kind.WATCH, "r": Kind.RWATCH, "rw": Kind.AWATCH}


class Breakpoint:
    """A logical breakpoint or watchpoint of one Target (hardware, or break_at's int3)."""

    def __init__(self, target: "Target", bp: UserBreakpoint) -> None:
        self._target = target
        self._bp = bp

    id = property(lambda self: self._bp.id)
    kind = property(lambda self: self._bp.kind)
    expr = property(lambda self: self._bp.expr)
    address = property(lambda self: self._bp.addr)
    length = property(lambda self: self._bp.length)
    status = property(lambda self: self._bp.status,
                      doc="INSTALLED (in the debug registers, or the int3 in the code), REGISTERED (waiting for "
                          "a slot), DISABLED, PENDING (no process), COUNTING, TRACING (no_stop)")
    hit_count = property(lambda self: self._bp.total, doc="hits so far (for a count watch: the CPU's count)")
    lost = property(lambda self: self._bp.lost, doc="no_stop: records the kernel dropped (its ring was full)")

    @property
    def hits(self) -> list[rec.Hit]:
        """The hits so far: the most recent ``keep`` (10,000 by default; ``hit_count`` counts them all)."""
        return list(self._bp.hits)

    @property
    def slots(self) -> dict[int, tuple[int, ...]]:
        """Per thread, the debug-register slots holding this breakpoint."""
        return self._bp.slots()

    def delete(self) -> None:
        self._target.session.delete(self._bp)

    def enable(self) -> None:
        self._target.session.set_enabled(self._bp, True)

    def disable(self) -> None:
        self._target.session.set_enabled(self._bp, False)

    @property
    def locations(self) -> list[dict[str, Any]]:
        """Its locations (gdb's N.1, N.2, ...: a function inlined in several places has one per
        copy), each {"number": "1.2", "address": ..., "enabled": ...}."""
        return self._bp.locations()

    def enable_location(self, number: int) -> None:
        """gdb's ``enable N.L``: location ``number`` (1-based) stops again."""
        self._target.session.set_location_enabled(self._bp, number, True)

    def disable_location(self, number: int) -> None:
        """gdb's ``disable N.L``: location ``number`` (1-based) alone no longer stops."""
        self._target.session.set_location_enabled(self._bp, number, False)

    def __repr__(self) -> str:
        return f"<Breakpoint {self.id} {self.kind} {self.expr} {self.status} hits={self.hit_count}>"


class Frame:
    """One frame of a stopped thread (``Target.frames()``): level 0 is the innermost."""

    def __init__(self, target: "Target", frame: Any, tid: int) -> None:
        self._target, self._frame, self.tid = target, frame, tid
        self.level: int = frame.level
        self.pc: int = frame.pc
        self.cfa: Optional[int] = frame.cfa
        self.function: Optional[str] = frame.function
        self.file: Optional[str] = frame.file
        self.line: Optional[int] = frame.line

    def _values(self, variables: list) -> dict[str, Any]:
        env = self._target.session.env(self.tid)
        out: dict[str, Any] = {}
        for var in variables:
            if var.name not in out:  # an inner block's variable shadows an outer one's
                out[var.name] = python_value(variable_value(self._frame, var, env), env)
        return out

    @property
    def args(self) -> dict[str, Any]:
        """Argument name -> Python value (int, float, dict for a struct, list for an array, None
        when optimized out)."""
        return self._values(self._frame.arguments())

    @property
    def locals(self) -> dict[str, Any]:
        """Local name -> Python value, innermost block first; a shadowed local is left out."""
        return self._values(self._frame.locals())

    def evaluate(self, text: str) -> Any:
        """An expression in this frame (its locals and arguments visible), as a Python value."""
        env = self._target.session.env(self.tid)
        env.frame = lambda name=None: self._frame
        return python_value(expr.evaluate_text(text, env), env)

    def __repr__(self) -> str:
        return f"<Frame #{self.level} {self.function} at {self.file}:{self.line}>"


def python_value(value: Optional[expr.Value], env: Any, depth: int = 0) -> Any:
    """A C value as Python data: numbers, a dict per struct, a list per array (bounded)."""
    if value is None or value.ctype is not None and value.ctype.kind == "void":  # a void call's
        return None
    ctype = value.ctype
    if ctype is None or ctype.kind not in ("struct", "union", "array") or depth > 8:
        return value.value
    if ctype.kind == "array":
        element = ctype.target
        if element is None or element.size <= 0:
            return []
        return [_object_at(env, value.value + i * element.size, element, depth)
                for i in range(min(ctype.count or 0, 200))]
    return {field.name: _object_at(env, value.value + field.offset, field.ctype, depth)
            for field in ctype.fields if field.name and not field.bit_size}


def _object_at(env: Any, address: int, ctype: Any, depth: int) -> Any:
    value = expr.evaluate(expr.Name("v", None, "v"), _AtEnv(env, address, ctype))
    return python_value(value, env, depth + 1)


class _AtEnv:
    """An Env whose one name is the object of type ``ctype`` at ``address``."""

    def __init__(self, env: Any, address: int, ctype: Any) -> None:
        self._env, self._found = env, (address, ctype)

    def lookup(self, name: str, lib: Optional[str]) -> Any:
        return self._found

    def read_memory(self, addr: int, size: int) -> bytes:
        return self._env.read_memory(addr, size)

    def register(self, name: str) -> int:
        return self._env.register(name)


class Target:
    """A process under hwdbg: a context manager that always lets go safely."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._ends_at: Optional[float] = None
        self.exit: Optional[Union[rec.Exited, rec.Killed]] = None

    @property
    def pid(self) -> int:
        return self.session.inferior.pid if self.session.inferior else 0

    @property
    def alive(self) -> bool:
        return self.session.alive

    @property
    def threads(self) -> list[int]:
        return sorted(self.session.require_process().threads)

    # -------------------------------------------------------------- breakpoints

    def watch(self, expr_or_address: Union[str, int], *, access: str = "w", length: Optional[int] = None,
              priority: int = 0, thread: Optional[int] = None, condition: Optional[str] = None,
              on_hit: Optional[Callable[[rec.Hit], Any]] = None, changes_only: bool = False,
              backtrace: bool = False, count: bool = False, keep: Optional[int] = 10_000,
              kernel: bool = False, scoped: bool = False, no_stop: bool = False) -> Breakpoint:
        """Watches memory: access "w" (writes), "rw" (any access) or "r" (reads, emulated on x86-64).

        Every trapped access is a hit unless ``changes_only`` (gdb's ``watch``: only value changes).
        The watch is on the address the expression names now (gdb's ``watch -location``); with
        ``scoped=True`` an expression that uses locals lives as long as their frame: when it
        returns, the watch is deleted (a "watchpoint-scope" stop; it leaves ``breakpoints``).
        ``count=True`` never stops: the CPU counts accesses (perf breakpoints) at native speed;
        ``hit_count`` reads the count, ``hits`` stays empty. ``keep`` bounds the hits kept in
        ``hits`` (the most recent ones; None keeps all). ``kernel=True`` (access "w" only) also
        reports writes the kernel makes into the range during the program's system calls: such
        hits have ``syscall``, ``syscall_args`` and ``syscall_result`` set (see ``watch --kernel``).
        ``no_stop=True`` never stops either: each
        access is a perf record (pc, tid, time, with ``backtrace`` the call chain) read while the
        target runs; its hits have ``old``/``new`` None (nothing was read) and every access counts
        (no ``changes_only``); ``lost`` counts records the kernel dropped. Not for access "r".
        """
        kind = ACCESS_KINDS.get(access)
        if kind is None:
            raise UsageError(f"unknown access {access!r}; use 'w', 'r' or 'rw'")
        text = expr_or_address if isinstance(expr_or_address, str) else f"*{expr_or_address:#x}"

        def resolve() -> tuple[int, int]:
            where = resolve_watch(self.session.symbols, self.session.env(), text, length)
            return where.addr, where.length

        env = self.session.env()
        where = resolve_watch(self.session.symbols, env, text, length)
        bp = self.session.add_breakpoint(kind, where.addr, where.length, expr=text, priority=priority,
                                         thread=thread, condition=condition, changes_only=changes_only,
                                         signed=where.signed, on_hit=on_hit, backtrace=backtrace, resolve=resolve,
                                         count=count, keep=keep, kernel=kernel, no_stop=no_stop,
                                         scope=scope_of(env.frame_used) if scoped else None)
        return Breakpoint(self, bp)

    def hbreak(self, location: Union[str, int], *, priority: int = 0, thread: Optional[int] = None,
               condition: Optional[str] = None, on_hit: Optional[Callable[[rec.Hit], Any]] = None,
               backtrace: bool = False, no_stop: bool = False) -> Breakpoint:
        """A hardware execute breakpoint: stops before the instruction at ``location`` runs
        (``no_stop``: records each execution without stopping, as ``watch(no_stop=True)``)."""
        text = location if isinstance(location, str) else f"*{location:#x}"
        def resolve() -> tuple[int, int]:
            return resolve_code(self.session.symbols, self.session.env(), text), 1

        bp = self.session.add_breakpoint(Kind.HBREAK, resolve()[0], 1, expr=text,
                                         priority=priority, thread=thread, condition=condition, on_hit=on_hit,
                                         backtrace=backtrace, resolve=resolve, no_stop=no_stop)
        return Breakpoint(self, bp)

    def break_at(self, location: Union[str, int], condition: Optional[str] = None, thread: Optional[int] = None,
                 temporary: bool = False, on_hit: Optional[Callable[[rec.Hit], Any]] = None) -> Breakpoint:
        """A software breakpoint (int3): FUNCTION (after its prologue), FILE:LINE, LINE, *ADDRESS
        (or an int), LIB:FUNCTION. ``cont()`` returns a ``Stopped`` with reason "breakpoint" and
        the hit; ``temporary`` deletes it at its first stop. No debug register is used."""
        text = location if isinstance(location, str) else f"*{location:#x}"
        bp, _note = self.session.add_break(text, condition=condition, thread=thread, temporary=temporary,
                                           on_hit=on_hit)
        return Breakpoint(self, bp)

    @property
    def breakpoints(self) -> list[Breakpoint]:
        return [Breakpoint(self, bp) for bp in self.session.breakpoints.values()]

    def writers(self, bp: Union[Breakpoint, int, None] = None) -> list[rec.Writer]:
        """Who wrote: the hits of the last run grouped by writing instruction, most writes first.

        For one breakpoint (a Breakpoint or its number), or for every watch; the counts are
        exact whatever ``keep`` was. A row's ``backtrace`` is its first hit's, for watches set
        with ``backtrace=True`` (None otherwise: the hit path takes none it was not asked for).
        """
        if bp is None:
            return writers_of(self.session.breakpoints.values())
        return writers_of([self.session.get_breakpoint(bp.id if isinstance(bp, Breakpoint) else bp)])

    # -------------------------------------------------------------- running

    def cont(self, timeout: Optional[float] = None) -> rec.Stopped | rec.Exited | rec.Killed:
        """Runs to the next stop (a hit, a signal, the exit) and returns it.

        With ``timeout`` (seconds), a target still running then is interrupted and
        ``hwdbg.TargetTimeout`` is raised; the target stays stopped and usable.
        """
        result = self.session.cont(timeout)
        if not isinstance(result, rec.Stopped):
            self.exit = result
        return result

    def run_to(self, location: Union[str, int], timeout: Optional[float] = None) -> rec.Stopped:
        """Runs until ``location`` (``main``, ``file.c:12``, an address) is reached, hits along the way included."""
        bp = self.hbreak(location)
        try:
            while True:
                result = self.cont(timeout)
                if not isinstance(result, rec.Stopped):
                    raise TargetError(f"the program ended before reaching {location} ({result.to_json()['event']})")
                if any(hit.id == bp.id for hit in result.hits):
                    return result
        finally:
            if bp.id in self.session.breakpoints:
                bp.delete()

    def _ended(self, result: Any) -> Any:
        if not isinstance(result, rec.Stopped):
            self.exit = result
        return result

    def step(self, count: int = 1, tid: Optional[int] = None) -> rec.Stopped | rec.Exited | rec.Killed:
        """gdb's ``step``: to the next source line, into called functions that have line info
        (after their prologue), over those without. Returns the stop: reason "step", or
        whatever ended it earlier (a breakpoint or watchpoint hit, a signal, the exit)."""
        return self._ended(self.session.stepper.line_step(tid, count, over=False))

    def next(self, count: int = 1, tid: Optional[int] = None) -> rec.Stopped | rec.Exited | rec.Killed:
        """gdb's ``next``: to the next source line of this frame, calls stepped over."""
        return self._ended(self.session.stepper.line_step(tid, count, over=True))

    def stepi(self, count: int = 1, tid: Optional[int] = None) -> rec.Stopped | rec.Exited | rec.Killed:
        """One machine instruction (``count`` of them) of one thread, into calls."""
        return self._ended(self.session.stepper.instruction_step(tid, count, over=False))

    def nexti(self, count: int = 1, tid: Optional[int] = None) -> rec.Stopped | rec.Exited | rec.Killed:
        """One machine instruction; a call runs to its return."""
        return self._ended(self.session.stepper.instruction_step(tid, count, over=True))

    def finish(self, tid: Optional[int] = None) -> tuple[rec.Stopped | rec.Exited | rec.Killed, Optional[str]]:
        """Runs until the current function returns: (the stop, reason "finish"; the returned value
        as ``print`` shows it, None for void or when something else stopped the program first)."""
        stop, value, _ = self.session.stepper.finish(tid)
        return self._ended(stop), value[0] if value is not None else None

    def until(self, location: Optional[str] = None, tid: Optional[int] = None) -> rec.Stopped | rec.Exited | rec.Killed:
        """gdb's ``until``: without location, ``next`` that does not go back in loops; with one,
        runs until it is reached in this frame (reason "until") or this function returns."""
        stepper = self.session.stepper
        if location is None:
            return self._ended(stepper.line_step(tid, 1, over=True, until=True))
        return self._ended(stepper.run_until(stepper.location(location), tid, anywhere=False))

    def advance(self, location: str, tid: Optional[int] = None) -> rec.Stopped | rec.Exited | rec.Killed:
        """gdb's ``advance``: runs until ``location`` is reached in any frame, or this function returns."""
        stepper = self.session.stepper
        return self._ended(stepper.run_until(stepper.location(location), tid, anywhere=True))

    def run_until_exit(self, timeout: Optional[float] = None) -> rec.Exited | rec.Killed:
        """Runs to the end without stopping at hits; they collect in each breakpoint's ``hits``.

        Signals that would stop the target are passed on, as they would be without a debugger.
        """
        self._ends_at = None
        with self.session.tracing():
            while self.exit is None:
                self.cont(timeout=None if timeout is None else max(0.0, self._deadline(timeout)))
        assert self.exit is not None
        return self.exit

    def events(self, timeout: Optional[float] = None) -> Iterator[Any]:
        """Every record until the target ends: hits, notices, stops (resumed automatically), the exit."""
        queue: deque = deque()
        self._ends_at = None
        self.session.listeners.append(queue.append)
        try:
            with self.session.tracing(batch=256):
                while self.exit is None:
                    result = self.cont(timeout=None if timeout is None else max(0.0, self._deadline(timeout)))
                    while queue:
                        yield queue.popleft()
                    if isinstance(result, rec.Stopped) and result.reason != "batch":
                        yield result
            yield self.exit
        finally:
            self.session.listeners.remove(queue.append)

    def _deadline(self, timeout: float) -> float:
        if self._ends_at is None:
            self._ends_at = time.monotonic() + timeout
        return self._ends_at - time.monotonic()

    def interrupt(self) -> None:
        self.session.interrupt()

    # -------------------------------------------------------------- inspecting

    def read_memory(self, addr: int, size: int) -> bytes:
        return self.session.require_process().read_memory(addr, size)

    def write_memory(self, addr: int, data: bytes) -> None:
        """Writes target memory; watches over those bytes take them as their value (as ``set var``)."""
        self.session.write_memory(addr, data)

    def evaluate(self, text: str, tid: Optional[int] = None) -> int:
        """The value of an expression (``counter``, ``config.flags``, ``$rip``) in the stopped target."""
        value = expr.evaluate_text(text, self.session.env(tid)).value
        try:
            return int(value)
        except (OverflowError, ValueError):
            raise UsageError(f"{text!r} is {value}, not a number that fits an integer") from None

    def frames(self, tid: Optional[int] = None) -> list[Frame]:
        """The frames of a stopped thread (default: the current one), innermost first, up to main."""
        session = self.session
        inf = session.require_stopped()
        thread = tid or session.current_tid or inf.pid
        if thread not in inf.threads:
            raise UsageError(f"no thread {thread}; see Target.threads")
        return [Frame(self, frame, thread) for frame in session.frames.stack(thread)]

    def address_of(self, name: str) -> int:
        if self.session.symbols is None:
            raise TargetError("no symbol table loaded")
        return self.session.symbols.lookup(name).addr

    def registers(self, tid: Optional[int] = None) -> dict[str, int]:
        inf = self.session.require_stopped()
        regs = inf.get_regs(tid or self.session.current_tid or inf.pid)
        return {name: int(getattr(regs, name)) for name, _ in regs._fields_}

    def set_register(self, name: str, value: int, tid: Optional[int] = None) -> None:
        """Sets a register (``rax``, ``pc``...); a new pc clears RF so a breakpoint there fires."""
        self.session.set_register(name, value, tid)

    def debug_registers(self, tid: Optional[int] = None) -> dict[int, int]:
        """What a thread's DR0-DR3, DR6, DR7 really hold (read from the kernel)."""
        inf = self.session.require_stopped()
        return debugregs.read_all(tid or inf.pid)

    # -------------------------------------------------------------- letting go

    def detach(self) -> None:
        self.session.detach()

    def kill(self) -> None:
        if self.session.alive:
            self.exit = self.session.kill()

    def close(self) -> None:
        """Kills a spawned target, detaches an attached one; debug registers are cleared first."""
        self.session.close()

    def __enter__(self) -> "Target":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def spawn(argv: Sequence[str], *, env: Optional[Mapping[str, str]] = None, cwd: Optional[str] = None,
          stdin: Optional[int] = None, stdout: Optional[int] = None, stderr: Optional[int] = None,
          exitkill: bool = True, pin: bool = False, kernel_writes: bool = False) -> Target:
    """Starts ``argv`` under hwdbg, stopped before its first instruction.

    ``exitkill`` (PTRACE_O_EXITKILL): if this Python process dies without cleaning up
    (SIGKILL), the kernel kills the target rather than leaving it with armed registers.
    ``pin`` runs debugger and target on one CPU: hits cost several times less, the
    target loses its parallelism. stdin/stdout/stderr take file descriptors.
    ``kernel_writes`` starts it under the kernel-write seccomp filter, so that ``watch(...,
    kernel=True)`` stops only at the system calls that write memory (else every call stops);
    such a target cannot be detached.
    """
    install_signal_cleanup()
    session = Session()
    session.pin = pin
    session.spawn(list(argv), env=dict(env) if env is not None else None, cwd=cwd, stdin=_fd(stdin),
                  stdout=_fd(stdout), stderr=_fd(stderr), exitkill=exitkill, kernel_writes=kernel_writes)
    return Target(session)


def attach(pid: int, *, pin: bool = False) -> Target:
    """Attaches to every thread of a running process (stops it; detach or close lets it go).

    ``pin`` moves this debugger to the CPU the target last ran on and keeps the target's
    threads there until detach (several times cheaper hits; the target loses parallelism).
    """
    install_signal_cleanup()
    session = Session()
    session.pin = pin
    session.attach(int(pid))
    return Target(session)


def _fd(stream: Any) -> Optional[int]:
    if stream is None or isinstance(stream, int):
        return stream
    return stream.fileno()
