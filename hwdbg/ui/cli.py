"""The ``hwdbg`` command: options, then the REPL, a batch run, or commands from a pipe."""
from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
from typing import Any, Iterator, Optional, Sequence

from ..errors import HwdbgError
from ..version import __version__
from .argformat import RawDescriptionHelpFormatter

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
EXIT_NO_PTRACE, EXIT_NO_HW = 3, 4
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer killed by SIGPIPE

DESCRIPTION = """\
A Linux debugger built around the CPU's hardware breakpoints and watchpoints: watch
variables, fields and addresses for writes, reads or any access, and break on code
without modifying it. Commands follow gdb (watch, rwatch, awatch, hbreak, run,
continue, print, x...); type "help" at the prompt."""

EPILOG = """\
By default a program hwdbg starts is killed by the kernel if hwdbg itself is killed
with SIGKILL (PTRACE_O_EXITKILL): a SIGKILLed debugger cannot clear the debug
registers, and the program would otherwise die of SIGTRAP at its next watched
access. --no-exitkill turns that off. Processes attached with -p are detached, with
their debug registers cleared, on every normal exit, error or SIGTERM/SIGHUP.

exit status: 0 normally; with --batch (or commands from a pipe), 1 if the last
command failed (as gdb -batch: a failing command is reported and the next one runs;
a -x file stops at its first failing line and counts as one command), otherwise the
program's own exit status when it ran to its end (128+N if signal N killed it);
2 for bad usage; --probe: 0 works, 3 tracing not permitted, 4 debug registers do
not work. See hwdbg(1)."""


class _Script(argparse.Action):
    """-ex and -x keep their relative order, as in gdb."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: Optional[str] = None) -> None:
        script = list(getattr(namespace, self.dest, None) or [])
        script.append((self.const, values))
        setattr(namespace, self.dest, script)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hwdbg", usage="hwdbg [options] [--] PROGRAM [ARGS...]\n       hwdbg [options] -p PID\n"
              "       hwdbg serve [HOST:]PORT PROGRAM [ARGS...] | -p PID   (gdb's remote protocol: "
              "hwdbg serve --help)",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=RawDescriptionHelpFormatter,
        allow_abbrev=False)
    parser.add_argument("-ex", "--eval-command", dest="script", action=_Script, const="ex", metavar="CMD",
                        default=[], help="run CMD after loading the program (repeatable; in order with -x)")
    parser.add_argument("-x", "--command", dest="script", action=_Script, const="x", metavar="FILE",
                        help="run the commands in FILE, one per line (repeatable)")
    parser.add_argument("-p", "--pid", type=int, metavar="PID",
                        help="attach to the running process PID and all its threads")
    parser.add_argument("--batch", action="store_true",
                        help="run the -ex/-x commands, then exit: kill a program hwdbg started, detach "
                             "from one it attached to; a failing command is reported and the next runs "
                             "(gdb -batch); exit 1 if the last one failed")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON object per line for every event and command result; the "
                             "program's standard output goes to standard error")
    parser.add_argument("-q", "--quiet", action="store_true", help="no banner or informational messages")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--probe", action="store_true",
                        help="check that this machine can trace a process and trap on a hardware "
                             "watchpoint; exit 0 if so, 3 if tracing is not permitted, 4 if debug "
                             "registers do not work")
    parser.add_argument("--pin", action="store_true",
                        help="run hwdbg and the program on one CPU: several times faster hits, but the "
                             "program loses its parallelism")
    parser.add_argument("--no-exitkill", action="store_true",
                        help="do not have the kernel kill a started program when hwdbg is SIGKILLed "
                             "(see below)")
    parser.add_argument("--summary", action="store_true",
                        help="at the end, print who wrote each watch (info writers)")
    parser.add_argument("--report", metavar="FILE.html",
                        help="at the end, write the writers of each watch and a timeline of their writes "
                             "to FILE.html, one self-contained page")
    parser.add_argument("--no-index-cache", action="store_true",
                        help="neither read nor write the symbol index cache ($XDG_CACHE_HOME/hwdbg; "
                             "also HWDBG_NO_INDEX_CACHE=1)")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks of internal errors")
    parser.add_argument("program", nargs="?", metavar="PROGRAM", help="the program to debug")
    parser.add_argument("args", nargs=argparse.REMAINDER, metavar="ARGS", help="its arguments")
    return parser


def _probe(json_output: bool) -> int:
    from ..probe import REFUSED, WORKS, probe
    result = probe()
    if json_output:
        import json
        print(json.dumps({"event": "probe", "verdict": result.verdict, "reason": result.reason,
                          "ptrace": result.ptrace_ok, "hw_watchpoints": result.hw_ok}))
    else:
        print(f"hwdbg probe: {result}")
    if result.verdict == WORKS:
        return EXIT_OK
    return EXIT_NO_PTRACE if result.verdict == REFUSED else EXIT_NO_HW


def _program_path(name: str) -> str:
    """A name as the shell would find it; a missing one is left for `run` to report."""
    # Local: the process layer brings ctypes and the C library, which --help and --version do without.
    from ..process.launch import find_program
    try:
        return find_program(name)
    except HwdbgError:
        return name


def _stdin_is_tty() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):
        return False


def _silence_stdout() -> None:
    """After EPIPE: point stdout at /dev/null so the interpreter's final flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


@contextlib.contextmanager
def _first_imports() -> Iterator[None]:
    """The debugger's modules are imported with the garbage collector paused, then frozen.

    They make tens of thousands of objects that live as long as the program, and no garbage:
    the collector would walk them again and again (~10 ms of a start), then at every full
    collection of a long session."""
    if "hwdbg.session" in sys.modules or not gc.isenabled():
        yield  # imported already, or the collector is someone else's to manage
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    try:
        opts = parser.parse_args(argv)
        if opts.program and opts.pid is not None:
            parser.error("give a PROGRAM or -p PID, not both")
        if opts.args and not opts.program:
            parser.error("program arguments without a program")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if opts.version:
        print(f"hwdbg {__version__}")
        return EXIT_OK
    if opts.probe:
        try:
            return _probe(opts.json)
        except BrokenPipeError:
            _silence_stdout()
            return EXIT_BROKEN_PIPE

    # Imported here, not at the top: `--help`, `--version` and `--probe` start without them.
    with _first_imports():
        from ..session import Session, install_signal_cleanup
        from . import progress
        from .context import Context, Quit
        from .render import JsonOutput, TextOutput

    stdin_tty = _stdin_is_tty()
    batch = opts.batch or not stdin_tty
    output = JsonOutput(sys.stdout) if opts.json else TextOutput(sys.stdout)
    progress.install(output, quiet=opts.quiet, json=opts.json, cache=not opts.no_index_cache)
    session = Session()
    session.pin = opts.pin
    if not batch:
        # At the prompt, --trace lines must appear as the hits happen; the C hit loop reports
        # them in batches of up to 1024 (hwdbg.hw.fastpath), so it is for batch runs only.
        session.fast_path = False
    ctx = Context(session, output, interactive=not batch, debug=opts.debug, exitkill=not opts.no_exitkill)
    install_signal_cleanup()
    try:
        return _run(ctx, opts, batch=batch, read_stdin=not stdin_tty and not opts.batch)
    except Quit as exc:
        _summarize(ctx, opts)
        _close(ctx)
        return exc.code if exc.code is not None else (ctx.exit_status() if batch else EXIT_OK)
    except BrokenPipeError:
        _silence_stdout()
        _close(ctx)
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        _close(ctx)
        return 130
    except Exception as exc:  # a bug: one line, and the target is let go safely
        _close(ctx)
        if opts.debug:
            import traceback  # here: only --debug prints one
            traceback.print_exc()
        message = str(exc) if isinstance(exc, HwdbgError) else f"internal error: {type(exc).__name__}: {exc}"
        print(f"hwdbg: {message} (rerun with --debug for a traceback)", file=sys.stderr)
        return EXIT_ERROR
    finally:
        _close(ctx)


def _close(ctx: Any) -> None:
    try:
        ctx.close()
    except BrokenPipeError:
        _silence_stdout()
    except Exception:
        pass


def _run(ctx: Any, opts: argparse.Namespace, *, batch: bool, read_stdin: bool) -> int:
    from .batch import run_script, run_stream

    if opts.program:
        program = [_program_path(opts.program), *opts.args]
        if ctx.interactive and not opts.quiet and not opts.json:
            ctx.message(f"Reading symbols from {program[0]}...")
        # A program that cannot be loaded or attached to fails like a first command: gdb
        # reports it and runs the commands all the same.
        ctx.last_failed = not ctx._guarded(lambda: ctx.session.load(program), None)
    if opts.pid is not None:
        ctx.last_failed = not ctx.dispatch(f"attach {opts.pid}")
    run_script(ctx, opts.script or [])
    if batch:
        if read_stdin:
            run_stream(ctx, sys.stdin)
        _summarize(ctx, opts)
        _close(ctx)
        return ctx.exit_status()
    from .repl import Repl
    code = Repl(ctx, quiet=opts.quiet).run()
    _summarize(ctx, opts)
    return code


def _summarize(ctx: Any, opts: argparse.Namespace) -> None:
    """--summary and --report, once, whichever way the run ended (the last run's writers stay)."""
    if getattr(ctx, "summarized", False):
        return
    ctx.summarized = True
    if opts.summary:
        ctx.dispatch("info writers")
    if opts.report:
        from .report import write_report
        ctx._guarded(lambda: write_report(opts.report, ctx.session, ctx.session.program), None)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
