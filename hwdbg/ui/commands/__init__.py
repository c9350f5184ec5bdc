"""The command registry: one decorator, one argparse parser per command, one dispatcher.

A command is a function ``handler(ctx, args) -> record | None`` registered with
:func:`command`. Its docstring's first line is the usage line (shown after a usage
error, by ``help`` and in the man page); the rest is the help text. Handlers never
print: they return (or ``ctx.emit``) records, and ``hwdbg.ui.render`` turns them into
text or JSON. The same :meth:`hwdbg.ui.context.Context.dispatch` serves the REPL,
``-ex``, ``-x`` files and commands read from a pipe.

Arguments reach argparse in one of two ways: most commands split their argument text
like a shell (``shell_split``); commands whose argument is an expression take it
verbatim (``raw_split``), so that ``print 'a' + 1`` or ``set var x = (int) y`` survive.
"""
from __future__ import annotations

import argparse
import enum
import re
import shlex
from dataclasses import field
from typing import Any, Callable, Optional, Sequence

from ...errors import UsageError
from ...recordtype import record
from ..argformat import HelpFormatter


class Category(str, enum.Enum):
    BREAKPOINTS = "breakpoints"
    RUNNING = "running"
    DATA = "data"
    STATUS = "status"
    SUPPORT = "support"

    @property
    def title(self) -> str:
        return {
            "breakpoints": "Breakpoints and watchpoints",
            "running": "Running the program",
            "data": "Examining data",
            "status": "Status",
            "support": "Support",
        }[self.value]


class CommandParser(argparse.ArgumentParser):
    """An ArgumentParser that raises UsageError instead of printing and exiting.

    Built on first use: a start makes one of each of the ~60 commands and runs two or three,
    and an argparse parser costs ~0.15 ms (gettext looks for translations at each). Until
    then ``add_argument`` and ``set_defaults`` are recorded; any other use builds the parser
    (``__getattr__``: its attributes do not exist yet) and replays them."""

    def __init__(self, prog: str, **kwargs: Any) -> None:
        kwargs.setdefault("add_help", False)
        kwargs.setdefault("formatter_class", HelpFormatter)
        kwargs.setdefault("allow_abbrev", False)
        self.declared: tuple[dict, list[tuple[str, tuple, dict]]] = (dict(prog=prog, **kwargs), [])
        self._built = False

    def add_argument(self, *args: Any, **kwargs: Any) -> Any:
        if not self._built:
            self.declared[1].append(("add_argument", args, kwargs))
            return None
        return super().add_argument(*args, **kwargs)

    def set_defaults(self, **kwargs: Any) -> None:
        if not self._built:
            self.declared[1].append(("set_defaults", (), kwargs))
            return
        super().set_defaults(**kwargs)

    def __getattr__(self, name: str) -> Any:
        if self.__dict__.get("_built", True) or name.startswith("__"):
            raise AttributeError(name)
        self._built = True  # from here the parser's own methods
        init, calls = self.declared
        super().__init__(**init)
        for method, args, kwargs in calls:
            getattr(self, method)(*args, **kwargs)
        return getattr(self, name)

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")

    def exit(self, status: int = 0, message: Optional[str] = None) -> Any:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {(message or 'bad arguments').strip()}")

    def option_strings(self) -> list[str]:
        out = []
        for action in self._actions:
            if action.help is argparse.SUPPRESS:
                continue
            out.extend(s for s in action.option_strings)
        return out


@record(frozen=True)
class Result:
    """What a command produced: ``data`` for --json, ``text`` for people ("" prints nothing).

    JSON form: ``{"event": "result", "command": COMMAND, **data}``.
    """

    command: str
    data: dict = field(default_factory=dict)
    text: str = ""
    raw: bool = False  # text written as it is, no line end added (echo, output, printf: gdb's)

    def to_json(self) -> dict[str, Any]:
        return {"event": "result", "command": self.command, **self.data}


# ------------------------------------------------------------------ argument helpers

def number(text: str) -> int:
    """An integer argument: decimal, 0x hex, 0o octal, 0b binary, optionally negative."""
    try:
        return int(text, 0)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"invalid number {printable(text)!r}") from None


def printable(text: str, limit: int = 60) -> str:
    """User text made safe to echo in a one-line message."""
    out = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
    return out if len(out) <= limit else out[: limit - 3] + "..."


def shell_split(rest: str) -> list[str]:
    try:
        return shlex.split(rest, comments=False, posix=True)
    except ValueError as exc:
        raise UsageError(f"cannot split arguments: {exc}") from None


def raw_split(rest: str) -> list[str]:
    """The whole argument text is one positional (the parser declares one ``nargs='?'``)."""
    rest = rest.strip()
    return ["--", rest] if rest else []


def first_then_raw(rest: str) -> list[str]:
    """``N REST...``: the first word, then the rest verbatim (``condition N EXPR``)."""
    rest = rest.strip()
    if not rest:
        return []
    first, _, tail = rest.partition(" ")
    tail = tail.strip()
    # "--" first: a first word such as "-1" must reach the positional, not the option parser
    return ["--", first, tail] if tail else ["--", first]


_IF = re.compile(r"(?:^|\s)if(?:\s|$)")


def split_condition(rest: str) -> tuple[str, Optional[str]]:
    """``EXPR [options] if CONDITION``: the condition is taken verbatim (gdb syntax)."""
    match = _IF.search(rest)
    if match is None:
        return rest, None
    condition = rest[match.end():].strip()
    if not condition:
        raise UsageError("'if' needs a condition after it")
    return rest[: match.start()], condition


def parse_ids(words: Sequence[str], what: str = "breakpoint") -> list[int]:
    """``1 3 5-7`` -> [1, 3, 5, 6, 7] (gdb accepts ranges)."""
    ids: list[int] = []
    for word in words:
        low, dash, high = word.partition("-")
        try:
            if dash and low:
                first, last = int(low, 10), int(high, 10)
                if last < first or last - first > 10_000:
                    raise ValueError
                ids.extend(range(first, last + 1))
            else:
                ids.append(int(word, 10))
                if ids[-1] < 0:
                    raise ValueError
        except ValueError:
            raise UsageError(f"bad {what} number {printable(word)!r}: use numbers such as 2 or ranges such as 2-4") \
                from None
    return ids


# ------------------------------------------------------------------ context helpers

def current_tid(ctx: Any) -> int:
    """The thread commands act on: the current one, or the main thread once the current one is gone."""
    inf = ctx.session.require_process()
    tid = ctx.session.current_tid
    return tid if tid in inf.threads else inf.pid


def symbolic(ctx: Any, addr: int) -> str:
    """``<bump+4>`` for an address inside a known function or object ("" otherwise)."""
    return session_symbolic(ctx.session, addr)


def session_symbolic(session: Any, addr: int) -> str:
    """symbolic() where only the session is at hand (frame lines of a stop)."""
    frame = session.describe(addr)
    if not frame.function:
        return ""
    return f"<{frame.function}+{frame.offset}>" if frame.offset else f"<{frame.function}>"


# ------------------------------------------------------------------ the registry

Handler = Callable[[Any, argparse.Namespace], Any]


@record
class Command:
    name: str
    func: Handler
    parser: CommandParser
    category: Category
    aliases: tuple[str, ...] = ()
    split: Callable[[str], list[str]] = shell_split
    repeatable: bool = False  # a blank line in the REPL repeats it (gdb)
    complete: str = ""  # what the REPL completes for arguments: "symbols", "commands", ""
    subcommands: Optional["Registry"] = None
    group: Optional[str] = None  # the prefix command this one belongs to ("info", "set")

    @property
    def full_name(self) -> str:
        return f"{self.group} {self.name}" if self.group else self.name

    @property
    def usage(self) -> str:
        return _doc_lines(self.func)[0]

    @property
    def help(self) -> str:
        return "\n".join(_doc_lines(self.func)[1:]).strip()

    @property
    def summary(self) -> str:
        text = self.help
        return text.split("\n\n")[0].replace("\n", " ") if text else ""

    def parse(self, rest: str) -> argparse.Namespace:
        argv = self.split(rest)
        if self.split in (raw_split, first_then_raw):
            return self.parser.parse_args(argv)
        return self.parser.parse_intermixed_args(argv)


def _doc_lines(func: Handler) -> list[str]:
    doc = (func.__doc__ or "").strip("\n")
    lines = doc.splitlines() or [func.__name__]
    first = lines[0].strip()
    rest = lines[1:]
    indent = min((len(line) - len(line.lstrip()) for line in rest if line.strip()), default=0)
    return [first] + [line[indent:] for line in rest]


class Registry:
    """Commands by name; aliases and unique prefixes resolve as in gdb."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self.commands: dict[str, Command] = {}
        self._names: dict[str, Command] = {}

    def add(self, cmd: Command) -> None:
        for name in (cmd.name, *cmd.aliases):
            if name in self._names:
                where = f"{self.name} " if self.name else ""
                raise ValueError(f"duplicate command name {where}{name!r} "
                                 f"({cmd.func.__module__} and {self._names[name].func.__module__})")
        self.commands[cmd.name] = cmd
        for name in (cmd.name, *cmd.aliases):
            self._names[name] = cmd

    def names(self, with_aliases: bool = True) -> list[str]:
        return sorted(self._names if with_aliases else self.commands)

    def find(self, word: str) -> Optional[Command]:
        if word in self._names:
            return self._names[word]
        matches = {c.name: c for n, c in self._names.items() if n.startswith(word)}
        return next(iter(matches.values())) if len(matches) == 1 else None

    def lookup(self, word: str) -> Command:
        found = self.find(word)
        if found is not None:
            return found
        prefix = f"{self.name} " if self.name else ""
        matches = sorted({c.name for n, c in self._names.items() if n.startswith(word)})
        if word and matches:
            raise UsageError(f'ambiguous command "{prefix}{printable(word)}": {", ".join(matches)}')
        import difflib  # here: only an unknown command needs it

        close = difflib.get_close_matches(word, self._names, n=1)
        hint = f'; did you mean "{prefix}{close[0]}"?' if close else f'; try "help{" " + self.name if self.name else ""}"'
        raise UsageError(f'undefined command: "{prefix}{printable(word)}"{hint}')

    def __iter__(self):
        return iter(sorted(self.commands.values(), key=lambda c: c.name))


REGISTRY = Registry()


def command(parser: Optional[CommandParser] = None, *, category: Category, aliases: Sequence[str] = (),
            name: Optional[str] = None, split: Callable[[str], list[str]] = shell_split, repeatable: bool = False,
            complete: str = "", group: Optional[str] = None) -> Callable[[Handler], Handler]:
    """Registers a handler. The registry refuses a name or alias that is already taken."""

    def register(func: Handler) -> Handler:
        cmd_name = name or func.__name__.rstrip("_").replace("_", "-")
        cmd = Command(name=cmd_name, func=func, parser=parser or CommandParser(cmd_name), category=category,
                      aliases=tuple(aliases), split=split, repeatable=repeatable, complete=complete, group=group)
        registry = REGISTRY if group is None else REGISTRY.commands[group].subcommands
        assert registry is not None, f"{group} is not a prefix command"
        registry.add(cmd)
        func.command = cmd  # type: ignore[attr-defined]
        return func

    return register


def prefix_command(name: str, *, category: Category, doc: str, aliases: Sequence[str] = ()) -> Command:
    """A command such as ``info`` whose first word picks a subcommand."""

    def handler(ctx: Any, args: argparse.Namespace) -> Any:
        rest = (args.rest or "").strip()
        if not rest:
            subs = ", ".join(c.name for c in cmd.subcommands)  # type: ignore[union-attr]
            raise UsageError(f'"{name}" must be followed by a subcommand: {subs}')
        word, _, tail = rest.partition(" ")
        sub = cmd.subcommands.lookup(word)  # type: ignore[union-attr]
        return ctx.run_command(sub, tail)

    handler.__doc__ = doc
    handler.__name__ = name
    parser = CommandParser(name)
    parser.add_argument("rest", nargs="?")
    cmd = Command(name=name, func=handler, parser=parser, category=category, aliases=tuple(aliases),
                  split=raw_split, subcommands=Registry(name))
    REGISTRY.add(cmd)
    return cmd


def load_all() -> Registry:
    """Imports every command module (each registers its commands once) and returns the registry."""
    from . import (  # noqa: F401
        bpenable, bpinfo, breakpoints, calls, data, display, frameops, frames, misc, printf, printopts, running, signals, source,
        status, symbolinfo,
        threads,
        stepping,
        typeinfo,
    )
    return REGISTRY


INFO = prefix_command("info", category=Category.STATUS, aliases=("i",), doc="""info SUBCOMMAND [ARGS]

    Shows what the debugger knows: breakpoints, slots, registers, threads, mappings.
    Subcommands may be abbreviated to a unique prefix (info b, info reg).""")
SET = prefix_command("set", category=Category.DATA, doc="""set SUBCOMMAND [ARGS]

    Changes things; today only the program's memory: set var LVALUE = EXPR.""")
SHOW = prefix_command("show", category=Category.STATUS, doc="""show SUBCOMMAND

    Shows a setting: scheduler-locking.""")
