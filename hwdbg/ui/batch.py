"""Commands that come from somewhere other than the prompt: -ex, -x FILE, a pipe on stdin.

Everything goes through ``Context.feed``, like the REPL. In batch mode the first
failing command stops the script (as gdb does for a -x file).
"""
from __future__ import annotations

import os
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


def run_file(ctx: Context, path: str, *, stop_on_error: bool = True) -> bool:
    """-x FILE / source FILE: one command per line, # comments, blank lines ignored."""
    try:
        with open(os.path.expanduser(path), encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError as exc:
        ctx.fail("UsageError", f"cannot read command file {path}: {exc.strerror}")
        return False
    ok = run_lines(ctx, text.splitlines(), stop_on_error=stop_on_error, origin=path)
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
