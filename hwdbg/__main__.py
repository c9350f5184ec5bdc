"""``python -m hwdbg`` and the ``hwdbg`` command: ``hwdbg serve ...`` is the remote stub
(hwdbg.remote), anything else the debugger (hwdbg.ui). Both front ends sit in one layer and
do not import each other; this dispatcher sits above them."""
from __future__ import annotations

import atexit
import os
import sys
import threading
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
    tens of milliseconds and does nothing for the user; everything else the interpreter's
    exit does still happens: threads joined, exit handlers run (the session's cleanup: no target
    is left armed), output flushed (a failed flush exits 120, as Python's own exit does)."""
    try:
        code = main()
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    # What the interpreter's exit does before the teardown, in its order: wait for the threads
    # that are not daemons, then run the exit handlers.
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = 120
    os._exit(code)


if __name__ == "__main__":
    run()
