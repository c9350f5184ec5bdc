"""The interactive prompt (prompt_toolkit): history, completion, a status toolbar.

The loop survives anything a command or the completer throws (one line is printed);
Ctrl-C at the prompt clears the line, Ctrl-C while the program runs stops it (the
handler is installed by ``Context.resume``), Ctrl-D leaves (killing a program we
started, detaching from one we attached to). A blank line repeats ``continue``,
``stepi`` and ``x`` as in gdb.
"""
from __future__ import annotations

import os
from typing import Any, Iterable, Optional

from prompt_toolkit import PromptSession
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory, History, InMemoryHistory

from ..version import __version__
from .commands import Command
from .context import Context, Quit, split_name

DEFAULT_HISTORY = "~/.hwdbg_history"
MAX_SYMBOL_COMPLETIONS = 500


def history_path() -> str:
    """$HWDBG_HISTORY or ~/.hwdbg_history, with ~ expanded (FileHistory does not)."""
    return os.path.expanduser(os.environ.get("HWDBG_HISTORY") or DEFAULT_HISTORY)


def make_history(path: Optional[str] = None) -> History:
    """A FileHistory in a file created with mode 0600; in memory if it cannot be written."""
    path = path or history_path()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.close(fd)
        return FileHistory(path)
    except OSError:
        return InMemoryHistory()


class HwdbgCompleter(Completer):
    """Commands, subcommands, options, breakpoint numbers and symbol names."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterable[Completion]:
        try:
            words = list(self._complete(document.text_before_cursor))
        except Exception:  # a completer must never take the prompt down
            return
        for word, start in words:
            yield Completion(word, start_position=start)

    def _complete(self, text: str) -> Iterable[tuple[str, int]]:
        registry = self.ctx.registry
        stripped = text.lstrip()
        if not stripped or (" " not in stripped and "/" not in stripped):
            for name in registry.names(with_aliases=False):
                if name.startswith(stripped):
                    yield name, -len(stripped)
            return
        name, rest = split_name(stripped)
        cmd = registry.find(name)
        if cmd is None:
            return
        words = rest.split()
        current = "" if rest.endswith((" ", "\t")) or not words else words[-1]
        before = words[:-1] if current else words
        if cmd.subcommands is not None:
            if not before:
                for sub in cmd.subcommands.names(with_aliases=False):
                    if sub.startswith(current):
                        yield sub, -len(current)
                return
            sub = cmd.subcommands.find(before[0])
            if sub is None:
                return
            cmd, before = sub, before[1:]
        yield from self._arguments(cmd, before, current)

    def _arguments(self, cmd: Command, before: list[str], current: str) -> Iterable[tuple[str, int]]:
        session = self.ctx.session
        if current.startswith("-"):
            for option in sorted(set(cmd.parser.option_strings())):
                if option.startswith(current):
                    yield option, -len(current)
            return
        if before and before[-1] == "--thread" and session.inferior is not None:
            for tid in sorted(session.inferior.threads):
                if str(tid).startswith(current):
                    yield str(tid), -len(current)
            return
        if cmd.complete == "commands":
            for name in self.ctx.registry.names(with_aliases=False):
                if name.startswith(current):
                    yield name, -len(current)
            return
        if cmd.name in ("delete", "disable", "enable", "condition", "ignore", "commands", "breakpoints"):
            for bp_id in sorted(session.breakpoints):
                if str(bp_id).startswith(current):
                    yield str(bp_id), -len(current)
            return
        if cmd.complete == "symbols" and session.symbols is not None:
            # complete the identifier at the end of the word: "&coun", "*ptr->", "config."
            head = len(current)
            while head > 0 and (current[head - 1].isalnum() or current[head - 1] == "_"):
                head -= 1
            prefix = current[head:]
            if not prefix and head != 0:
                return
            for name in (local_names(session, prefix) + session.symbols.names(prefix))[:MAX_SYMBOL_COMPLETIONS]:
                yield name, -len(prefix)


def local_names(session: Any, prefix: str) -> list[str]:
    """The locals and arguments of the selected frame starting with ``prefix`` (first: they shadow)."""
    if not session.alive or not session.inferior.all_stopped:
        return []
    frame = session.frames.selected(session.current_tid or session.inferior.pid)
    if frame is None:
        return []
    return sorted({var.name for var in frame.locals() + frame.arguments() if var.name.startswith(prefix)})


class Repl:
    def __init__(self, ctx: Context, *, quiet: bool = False, history: Optional[History] = None) -> None:
        self.ctx = ctx
        self.quiet = quiet
        self.completer = HwdbgCompleter(ctx)
        self.prompt_session: PromptSession = PromptSession(
            history=history if history is not None else make_history(), completer=self.completer,
            bottom_toolbar=self.toolbar, complete_while_typing=False)
        self.repeat: Optional[str] = None

    def toolbar(self) -> str:
        """``pid 1234 stopped · slots 2/4 · 3 breakpoints``."""
        try:
            return status_line(self.ctx)
        except Exception:
            return "hwdbg"

    def run(self) -> int:
        ctx = self.ctx
        if not self.quiet:
            ctx.message(f'hwdbg {__version__}: hardware breakpoints and watchpoints. Type "help" for commands.')
        while True:
            try:
                line = self.prompt_session.prompt(ctx.prompt)
            except KeyboardInterrupt:
                ctx.cancel_collecting()
                continue
            except EOFError:
                if ctx.collecting is not None:
                    ctx.cancel_collecting()
                    continue
                break
            try:
                self.handle(line)
            except Quit as exc:
                ctx.close()
                return exc.code or 0
            except KeyboardInterrupt:
                ctx.message("Quit")
            except BrokenPipeError:
                raise
            except Exception as exc:  # never let a bug end the session
                ctx.fail("InternalError", f"internal error: {type(exc).__name__}: {exc} "
                                          "(rerun with --debug for a traceback)")
        ctx.close()
        return 0

    def handle(self, line: str) -> None:
        ctx = self.ctx
        if ctx.collecting is None:
            if not line.strip():
                if self.repeat is None:
                    return
                line = self.repeat
            else:
                self.repeat = self._repeatable(line)
        ctx.feed(line)

    def _repeatable(self, line: str) -> Optional[str]:
        try:
            name, _ = split_name(line.strip())
        except Exception:
            return None
        cmd = self.ctx.registry.find(name)
        if cmd is None or not cmd.repeatable:
            return None
        return cmd.name if cmd.name in ("x", "list") else line  # both go on where they ended, as in gdb


def status_line(ctx: Context) -> str:
    session = ctx.session
    parts = []
    inf = session.inferior
    if inf is not None and inf.alive:
        state = "stopped" if inf.all_stopped else "running"
        threads = len(inf.threads)
        parts.append(f"pid {inf.pid} {state}" + (f" ({threads} threads)" if threads > 1 else ""))
        manager = session.manager
        used = max((manager.armed_slot_count(tid) for tid in manager.threads), default=0)
        parts.append(f"slots {used}/{session.arch.nslots}")
    else:
        parts.append("no process")
    count = len(session.breakpoints)
    parts.append(f"{count} breakpoint{'s' if count != 1 else ''}")
    return " · ".join(parts)
