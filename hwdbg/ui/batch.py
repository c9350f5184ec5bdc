"""Commands that come from somewhere other than the prompt: -ex, -x FILE, a pipe on stdin.

Everything goes through ``Context.feed``, like the REPL. As in gdb, a failing -ex command
or line of a pipe is reported and the next one runs; a -x or `source` file stops at its own
first failing line. ``ctx.last_failed`` says whether the last command failed (the --batch
exit status, as gdb's).
"""
from __future__ import annotations

import os
import stat
from typing import Iterable, TextIO

from .context import Context


def run_lines(ctx: Context, lines: Iterable[str], *, stop_on_error: bool = True, origin: str = "") -> bool:
    """Feeds lines in order; False if one failed (and, with stop_on_error, stops there).
    ``ctx.last_failed`` follows each command (blank lines and comments are none)."""
    ok = True
    for line in lines:
        done = ctx.feed(line.rstrip("\r\n"))
        if _is_command(line):
            ctx.last_failed = not done
        if not done:
            ok = False
            if stop_on_error:
                ctx.cancel_collecting()
                return False
    return ok


def _is_command(line: str) -> bool:
    text = line.strip()
    return bool(text) and not text.startswith("#")


def finish(ctx: Context, origin: str) -> bool:
    """A commands block still open at the end of the input is an error (nothing is changed)."""
    if ctx.collecting is None:
        return True
    ctx.cancel_collecting()
    ctx.fail("UsageError", f"{origin}: a `commands` block was not ended by `end`; it was discarded")
    return False


MAX_FILE_BYTES = 16 << 20  # a command file is text typed by people, not a data set
MAX_SOURCE_DEPTH = 16  # `source` inside sourced files (gdb allows nesting, not infinite recursion)


def _read_command_file(path: str) -> str:
    """The text of a regular file of at most MAX_FILE_BYTES; OSError/ValueError otherwise.

    /dev/zero, a FIFO or a directory would read forever, block or fail obscurely: refused.
    """
    fd = os.open(os.path.expanduser(path), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise ValueError(f"larger than {MAX_FILE_BYTES >> 20} MiB")
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(MAX_FILE_BYTES + 1)
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"larger than {MAX_FILE_BYTES >> 20} MiB")
    return data.decode("utf-8", errors="replace")


def run_file(ctx: Context, path: str) -> bool:
    """-x FILE / source FILE: one command per line, # comments, blank lines ignored; the first
    failing line ends the file (gdb), at the prompt too."""
    depth = ctx._source_depth
    if depth >= MAX_SOURCE_DEPTH:
        ctx.fail("UsageError", f"{path}: command files nested more than {MAX_SOURCE_DEPTH} deep "
                               "(does it source itself?)")
        return False
    try:
        text = _read_command_file(path)
    except OSError as exc:
        ctx.fail("UsageError", f"cannot read command file {path}: {exc.strerror or exc}")
        return False
    except ValueError as exc:
        ctx.fail("UsageError", f"cannot read command file {path}: {exc}")
        return False
    ctx._source_depth = depth + 1
    try:
        ok = run_lines(ctx, text.splitlines(), stop_on_error=True, origin=path)
    finally:
        ctx._source_depth = depth
    return finish(ctx, path) and ok


def run_script(ctx: Context, script: Iterable[tuple[str, str]]) -> bool:
    """The -ex and -x options, in the order they were given, each run whatever the one before
    did (gdb -batch); True if all succeeded. A -x file is one command: it fails at its first
    failing line."""
    ok = True
    for kind, value in script:
        done = run_file(ctx, value) if kind == "x" else ctx.feed(value)
        if kind == "x" or _is_command(value):
            ctx.last_failed = not done
        ok = done and ok
    if not finish(ctx, "-ex"):
        ctx.last_failed = True
        return False
    return ok


def run_stream(ctx: Context, stream: TextIO) -> bool:
    """Commands read from a pipe (stdin not a terminal): no prompt, no prompt_toolkit; each runs
    whatever the one before did, as gdb reads them."""
    ok = run_lines(ctx, stream, stop_on_error=False, origin="<stdin>")
    if not finish(ctx, "<stdin>"):
        ctx.last_failed = True
        return False
    return ok
