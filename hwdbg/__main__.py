"""``python -m hwdbg`` and the ``hwdbg`` command: ``hwdbg serve ...`` is the remote stub
(hwdbg.remote), anything else the debugger (hwdbg.ui). Both front ends sit in one layer and
do not import each other; this dispatcher sits above them."""
from __future__ import annotations

import atexit
import os
import sys
from typing import Optional, Sequence


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["serve"]:
        from .remote.cli import main as serve
        return serve(args[1:])
    from .ui.cli import main as debug
    return debug(args)


def run() -> None:
    """The ``hwdbg`` program: ``main``, then an exit that skips the interpreter's teardown.

    Freeing every module and object (the symbol tables of a big program among them) takes
    tens of milliseconds and does nothing for the user; the exit handlers (the session's
    cleanup: no target is left armed) still run, and the output is flushed first."""
    try:
        code = main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 1
    os._exit(code)


if __name__ == "__main__":
    run()
