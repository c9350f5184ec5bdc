"""The state of one user-interface session and the one dispatcher every input goes through.

``Context.feed(text)`` takes what the user typed (REPL line, ``-ex`` argument, line
of a ``-x`` file or of a pipe), collects ``commands`` ... ``end`` blocks, and hands
every other line to ``Context.dispatch(line)``: look the command up, parse its
arguments, run it, render what it returns, and turn any error into one line.
"""
from __future__ import annotations

import contextlib
import re
import signal
import sys
import threading
import traceback
from dataclasses import field
from typing import Any, Callable, Iterator, Optional

from .. import records as rec
from ..errors import HwdbgError, UsageError
from ..recordtype import record
from ..session import Session, UserBreakpoint
from ..session.signal_table import signal_number
from .commands import Command, Result, load_all, printable
from .commands.display import show_displays
from .commands.frames import stop_frame_text
from .threads_shown import stop_thread
from .render import Output, TextOutput
from .. import expr

MAX_COMMAND_DEPTH = 32  # breakpoint commands that step, hitting breakpoints with commands...
_NAME = re.compile(r"\s*([A-Za-z_][\w-]*)")


class Quit(Exception):
    """``quit [CODE]``: leave the debugger."""

    def __init__(self, code: Optional[int] = None) -> None:
        super().__init__(code)
        self.code = code


class AlreadyReported(HwdbgError):
    """A failure whose error line was printed already (a failing command inside `source`)."""


@record
class _Collecting:
    """A ``commands`` block being typed: the breakpoints it is for and its lines so far."""

    bps: list[UserBreakpoint]
    lines: list[str] = field(default_factory=list)


def split_name(text: str) -> tuple[str, str]:
    """``x/4xg &counter`` -> ("x", "/4xg &counter"); ``info b`` -> ("info", " b")."""
    match = _NAME.match(text)
    if match is None:
        raise UsageError(f'undefined command: "{printable(text.strip())}"; try "help"')
    return match.group(1), text[match.end():]


class Context:
    """One debugger: a Session, an Output, and what the user interface remembers."""

    def __init__(self, session: Optional[Session] = None, output: Optional[Output] = None, *,
                 interactive: bool = False, debug: bool = False, exitkill: bool = True,
                 reraise: bool = False) -> None:
        self.session = session if session is not None else Session()
        self.out = output if output is not None else TextOutput(sys.stdout)
        self.registry = load_all()
        self.interactive = interactive
        self.debug = debug
        self.exitkill = exitkill
        self.reraise = reraise  # tests: let non-hwdbg exceptions escape
        self.temporary: set[int] = set()
        self.values: list[Any] = []  # print's value history, $1, $2, ...: expr.Value, None for void
        self.last_bp_id: Optional[int] = None
        self.last_exit: Optional[Any] = None  # Exited | Killed of the last run
        self.errors = 0
        self.last_failed = False  # the last -ex/-x/piped command (ui/batch.py): --batch exits 1
        self.x_format = ("x", "w")
        self.x_next: Optional[int] = None
        self.displays: list[Any] = []  # display EXPR: shown at every stop (commands/display.py)
        self.print_pretty = False  # set print pretty on|off (commands/printopts.py)
        self.next_display = 0
        self.listing: Optional[Any] = None  # where the next `list` goes on (commands/source.py)
        self.collecting: Optional[_Collecting] = None
        self.running = False
        self._active: list[Command] = []
        self._depth = 0
        self._source_depth = 0  # -x / source files being read (batch.run_file)
        self._output_failure: Optional[OSError] = None  # the listener could not write
        self._resume_request: Optional[Callable[[], Any]] = None
        self._resumed_from: Optional[int] = None  # the current thread when the target was resumed
        self.session.listeners.append(self._on_event)
        self.session.flushers.append(self._flush_output)
        self.session.calls.interruptible = self._interruptible  # Ctrl-C in a called function stops it

    # ------------------------------------------------------------ input

    @property
    def prompt(self) -> str:
        return ">" if self.collecting is not None else "(hwdbg) "

    def feed(self, text: str) -> bool:
        """One or more lines of input; False if any of them failed."""
        ok = True
        for line in text.split("\n"):
            ok = self._feed_line(line) and ok
        return ok

    def _feed_line(self, line: str) -> bool:
        if self.collecting is None:
            return self.dispatch(line)
        stripped = line.strip()
        if stripped == "end":
            block, self.collecting = self.collecting, None
            return self._guarded(lambda: self._finish_commands(block), None)
        if stripped and not stripped.startswith("#"):
            self.collecting.lines.append(stripped)
        return True

    def cancel_collecting(self) -> None:
        self.collecting = None

    def dispatch(self, line: str) -> bool:
        """Runs one command line; every failure becomes one reported error. True on success."""
        text = line.strip()
        if not text or text.startswith("#"):
            return True

        def run() -> None:
            name, rest = split_name(text)
            self.report(self.run_command(self.registry.lookup(name), rest))

        return self._guarded(run, text)

    def _guarded(self, run: Callable[[], Any], text: Optional[str]) -> bool:
        depth = len(self._active)
        try:
            run()
            return True
        except (Quit, KeyboardInterrupt, SystemExit, BrokenPipeError):
            raise
        except AlreadyReported:
            return False
        except HwdbgError as exc:
            cmd = self._active[-1] if len(self._active) > depth else None
            message = str(exc)
            if isinstance(exc, UsageError) and cmd is not None:
                message = f"{message}; usage: {cmd.usage}"
            self.fail(type(exc).__name__, message)
            return False
        except Exception as exc:
            if self.reraise:
                raise
            if self.debug:
                traceback.print_exc()
            self.fail("InternalError", f"internal error: {type(exc).__name__}: {exc} "
                                       "(rerun with --debug for a traceback)")
            return False
        finally:
            del self._active[depth:]

    def fail(self, kind: str, message: str) -> None:
        self.errors += 1
        self.out.error(kind, message)

    def run_command(self, cmd: Command, rest: str) -> Any:
        """Parses ``rest`` with the command's parser and runs it (prefix commands call this too)."""
        self._active.append(cmd)
        args = cmd.parse(rest)
        return cmd.func(self, args)

    # ------------------------------------------------------------ output

    def report(self, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, (list, tuple)):
            for item in value:
                self.report(item)
        elif isinstance(value, Result):
            self.out.result(value)
        elif isinstance(value, rec.Hit):
            self.out.hit(value, full=True)
        elif isinstance(value, rec.Notice):
            self.out.notice(value)
        elif isinstance(value, rec.Stopped):
            self.out.stopped(value, reported_hits=False)
        elif isinstance(value, (rec.Exited, rec.Killed)):
            self.out.ended(value)
        else:
            self.out.message(str(value))

    emit = report

    def message(self, text: str) -> None:
        self.out.message(text)

    def _on_event(self, event: Any) -> None:
        """Session listener: trace hits and notices appear as they happen.

        It runs inside the session's run loop, so it never raises: if the output is gone
        (a closed pipe), it stops the target and ``resume`` raises once the loop is done.
        """
        if self._output_failure is not None:
            return
        try:
            if type(event) is rec.Hit and (event.stopped is False or self.out.json):
                self.out.hit(event, full=False)  # the common case first: this is per hit
                return
            self._show_event(event)
        except OSError as exc:  # BrokenPipeError, EIO on a hung-up terminal...
            self._output_failure = exc
            self.session.interrupt()

    def _flush_output(self) -> None:
        """Session flusher: the hits of a burst were written without flushing; pass them on."""
        if self._output_failure is not None:
            return
        try:
            self.out.flush()
        except OSError as exc:
            self._output_failure = exc
            self.session.interrupt()

    def _show_event(self, event: Any) -> None:
        if isinstance(event, (rec.Stopped, rec.Exited, rec.Killed)):  # a called function's, before its error
            self._resumed_from = self.session.current_tid
            self._guarded(lambda: self.after_stop(event, commands=False), None)
            return
        if isinstance(event, rec.Hit):
            if self.out.json or not event.stopped:
                self.out.hit(event, full=False)
            return  # a hit that stops is reported with the stop
        if isinstance(event, rec.Notice):
            if event.routine and not self.out.json:
                return  # the session says it tells a person nothing new
            if event.what == "signal" and event.data.get("print") and not self.out.json \
                    and self.session.inferior is not None:
                self.out.notice(event, thread=self.session.thread_numbers.label(self.session.inferior.pid, event.tid))
                return
            if event.what in ("thread-created", "thread-exited") and event.tid is not None and not self.out.json:
                self.out.notice(event, thread=self.session.thread_numbers.target_id(event.tid))
                return
            self.out.notice(event)

    # ------------------------------------------------------------ running the target

    def spawn(self, args: Optional[list[str]] = None) -> None:
        session = self.session
        if not session.program:
            raise UsageError("no program to run: name it on the command line (hwdbg ./prog) or with `file PROGRAM`")
        argv = None if args is None else [session.program[0], *args]
        kwargs: dict[str, Any] = {"exitkill": self.exitkill}
        if self.out.json:
            kwargs["stdout"] = 2  # stdout carries only JSON: the program's output goes to stderr
        session.spawn(argv, **kwargs)
        self.last_exit = None
        self.report(Result("run", {"pid": session.inferior.pid, "argv": list(session.program or [])},
                           f"Starting program: {' '.join(session.program or [])}"))

    def resume(self, action: Callable[[], Any]) -> Any:
        """Runs ``action`` (cont/step) with Ctrl-C interrupting the target, reports the stop,
        runs the breakpoint commands; repeats while those commands say ``continue``."""
        if self._depth >= MAX_COMMAND_DEPTH:
            raise UsageError(f"breakpoint commands nested more than {MAX_COMMAND_DEPTH} deep; stopping here")
        self._depth += 1
        try:
            while True:
                self._resumed_from = self.session.current_tid
                with self._interruptible():
                    try:
                        result = action()
                    finally:
                        self._raise_output_failure()
                next_action = self.after_stop(result)
                if next_action is None:
                    return result
                action = next_action
        finally:
            self._depth -= 1

    def _raise_output_failure(self) -> None:
        failure, self._output_failure = self._output_failure, None
        if failure is not None:
            raise failure

    @contextlib.contextmanager
    def _interruptible(self) -> Iterator[None]:
        """Ctrl-C while the target runs stops the target (not hwdbg)."""
        self.running = True
        old = None
        if threading.current_thread() is threading.main_thread():
            session = self.session
            old = signal.signal(signal.SIGINT, lambda _signo, _frame: session.interrupt())
        try:
            yield
        finally:
            self.running = False
            if old is not None:
                signal.signal(signal.SIGINT, old)

    def after_stop(self, result: Any, commands: bool = True) -> Optional[Callable[[], Any]]:
        """Reports a stop or an exit; runs breakpoint commands (unless not ``commands``: the stop
        of a called function, shown with its error); returns the next action if they resume."""
        session = self.session
        if isinstance(result, (rec.Exited, rec.Killed)):
            self.last_exit = result
            self._drop_temporaries(all_of_them=True)
            self.out.ended(result)
            return None
        reported = False
        with_commands: list[UserBreakpoint] = []
        stopping = [hit for hit in result.hits if hit.stopped]  # the others were reported when they happened
        # Several code breakpoints at one pc: gdb announces the first only (its lowest number).
        code = sorted((hit for hit in stopping if not hit.kind.is_data), key=lambda hit: hit.id)
        thread, switched = stop_thread(session, result.tid, self._resumed_from) if not self.out.json else (None, None)
        for index, hit in enumerate(stopping):
            bp = session.breakpoints.get(hit.id)
            reported = True
            silent = bp is not None and bool(bp.commands) and bp.commands[0] == "silent"
            if not silent and not self.out.json and (hit.kind.is_data or hit is code[0]):
                # A watch's frame line comes once, after the last hit of the stop (gdb).
                last = not any(later.kind.is_data for later in stopping[index + 1:])
                frame = stop_frame_text(session, hit.tid) if not hit.kind.is_data or last else None
                several = bp is not None and bp.more and hit.pc in bp.addresses
                self.out.hit(hit, full=True, temporary=hit.id in self.temporary, frame=frame, frame_line=last,
                             location=bp.addresses.index(hit.pc) + 1 if several else None,
                             thread=thread, switched=switched)
                switched = None  # said once, before the first hit shown
            if commands and bp is not None and bp.commands and bp not in with_commands:
                with_commands.append(bp)
        if reported and switched:  # only silent hits: gdb says it all the same
            self.message(f"[Switching to {switched}]")
        frame = stop_frame_text(session, result.tid) if not (reported or self.out.json) else None
        self.out.stopped(result, reported_hits=reported, frame=frame, thread=thread, switched=switched)
        self.listing = None  # the next `list` centres on this stop
        self.report(show_displays(self))
        self._drop_temporaries(hit_ids={h.id for h in result.hits})
        for bp in with_commands:
            for line in bp.commands:
                if line == "silent":
                    continue
                self._resume_request = None
                ok = self.dispatch(line)
                if self._resume_request is not None:
                    request, self._resume_request = self._resume_request, None
                    return request
                if not ok or not session.alive:
                    break
        return None

    def request_resume(self, action: Callable[[], Any]) -> bool:
        """Called by ``continue``: inside breakpoint commands, resume from the outer loop
        (no recursion); returns False when the caller should run the target itself."""
        if self._depth == 0:
            return False
        self._resume_request = action
        return True

    def _drop_temporaries(self, hit_ids: Optional[set] = None, all_of_them: bool = False) -> None:
        for bp_id in list(self.temporary):
            if all_of_them or (hit_ids and bp_id in hit_ids):
                self.temporary.discard(bp_id)
                bp = self.session.breakpoints.get(bp_id)
                if bp is not None:
                    try:
                        self.session.delete(bp)
                    except HwdbgError:
                        self.session.breakpoints.pop(bp_id, None)

    # ------------------------------------------------------------ commands blocks

    def start_commands(self, bps: list[UserBreakpoint]) -> None:
        self.collecting = _Collecting(bps)
        if self.interactive:
            ids = " ".join(str(bp.id) for bp in bps)
            self.message(f'Type commands for breakpoint(s) {ids}, one per line.\nEnd with a line saying just "end".')

    def _finish_commands(self, block: _Collecting) -> None:
        lines = block.lines
        for n, line in enumerate(lines):
            if line == "silent":
                if n:
                    raise UsageError('"silent" must be the first line of a commands block; nothing was changed')
                continue
            name, _ = split_name(line)
            cmd = self.registry.find(name)
            if cmd is None:
                raise UsageError(f'undefined command "{printable(name)}" in commands block; nothing was changed')
            if cmd.name in ("commands", "end"):
                raise UsageError("commands blocks cannot be nested; nothing was changed")
        for bp in block.bps:
            bp.commands = list(lines)
        self.report(Result("commands", {"ids": [bp.id for bp in block.bps], "commands": list(lines)}))

    # ------------------------------------------------------------ lifetime

    def bindings(self) -> dict[str, int]:
        """``$N`` of the value history, for expressions (``evaluate`` spells ``$`` as ``$N``), and
        ``$_exitcode`` once the program has exited."""
        bound: dict[str, Any] = {f"${n}": v for n, v in enumerate(self.values, 1) if v is not None}
        code = self.exit_code()
        if code is not None:
            bound["$_exitcode"] = code
        return bound

    def exit_code(self) -> Optional[int]:
        """gdb's $_exitcode: the exit status of the program that ran last, if it exited."""
        return self.last_exit.code if isinstance(self.last_exit, rec.Exited) else None

    def history_text(self, text: str) -> str:
        """``text`` with gdb's history names spelt $N: ``$`` the last value, ``$$`` the one before,
        ``$$K`` the Kth before the last; raises for a value the history does not have."""
        last = len(self.values)

        def back(match: re.Match) -> str:
            n = last - int(match.group(1) or 1)
            if n < 1:
                raise UsageError("History has not yet reached $1.")
            return f"${n}"

        if self.values:
            text = re.sub(r"(?<!')\$\$(\d*)", back, text)
            text = re.sub(r"(?<!')\$(?![\w'$])", f"${last}", text)
        for match in re.finditer(r"\$(\d+)\b", text):
            n = int(match.group(1))
            if not 1 <= n <= last:
                raise UsageError(f"history has not yet reached ${n}")
            if self.values[n - 1] is None:
                raise UsageError(f"${n} is void")
        return text

    def evaluate(self, text: str) -> Any:
        """An expression in the current thread, with the value history bound ($1, $, $$)."""
        return expr.evaluate_text(self.history_text(text), self.session.env(), self.bindings())

    def close(self) -> None:
        """Kills a program we started, detaches from one we attached to (registers cleared)."""
        self.session.close()

    def exit_status(self) -> int:
        """For --batch: 1 if the last command failed (gdb -batch), else the program's own status if
        it ran to its end (128+N if signal N killed it), else 0."""
        if self.last_failed:
            return 1
        last = self.last_exit
        if isinstance(last, rec.Exited):
            return last.code
        if isinstance(last, rec.Killed):
            signo = signal_number(last.signal)
            return 128 + signo if signo is not None else 1
        return 0
