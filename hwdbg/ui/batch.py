"""Commands that come from somewhere other than the prompt: -ex, -x FILE, a pipe on stdin.

Everything goes through ``Context.feed``, like the REPL. In batch mode the first
failing command stops the script (as gdb does for a -x file).
"""
from __future__ import annotations

import os
import stat
from typing import Iterable, TextIO

from .context import Context


def run_lines(ctx: Context, lines: Iterable[str], *, stop_on_error: bool = True, origin: str = "") -> bool:
    """Feeds lines in order; False if one failed (and, with stop_on_error, stops there)."""
    ok = True
    for line in lines:
        if not ctx.feed(line.rstrip("\r\n")):
            ok = False
            if stop_on_error:
                ctx.cancel_collecting()
                return False
    return ok


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


def run_file(ctx: Context, path: str, *, stop_on_error: bool = True) -> bool:
    """-x FILE / source FILE: one command per line, # comments, blank lines ignored."""
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
        ok = run_lines(ctx, text.splitlines(), stop_on_error=stop_on_error, origin=path)
    finally:
        ctx._source_depth = depth
    return finish(ctx, path) and ok


def run_script(ctx: Context, script: Iterable[tuple[str, str]], *, stop_on_error: bool) -> bool:
    """The -ex and -x options, in the order they were given."""
    ok = True
    for kind, value in script:
        done = run_file(ctx, value, stop_on_error=stop_on_error) if kind == "x" else ctx.feed(value)
        if not done:
            ok = False
            if stop_on_error:
                ctx.cancel_collecting()
                return False
    return finish(ctx, "-ex") and ok


def run_stream(ctx: Context, stream: TextIO, *, stop_on_error: bool = True) -> bool:
    """Commands read from a pipe (stdin not a terminal): no prompt, no prompt_toolkit."""
    ok = run_lines(ctx, stream, stop_on_error=stop_on_error, origin="<stdin>")
    return finish(ctx, "<stdin>") and ok
