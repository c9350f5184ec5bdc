"""``hwdbg serve``: the command line of the remote stub (gdbserver's, where it has one)."""
from __future__ import annotations

import argparse
import os
import sys
import traceback
from typing import Optional, Sequence

from ..errors import HwdbgError, UsageError

WARNING = """\
The remote protocol has no authentication: whoever connects can read and write any memory
and register of the target, run it, and read any file the stub can read (gdb's vFile
packets, as gdbserver serves them; writes, creates and deletes are refused). hwdbg serve
therefore listens on the loopback interface only; --listen-any allows other addresses (use
an SSH tunnel instead where you can)."""

DESCRIPTION = """\
Serve gdb's remote protocol over hwdbg's engine, so gdb (target remote / target
extended-remote), lldb (gdb-remote) and IDEs that drive them can debug the program with
hwdbg's breakpoints and watchpoints: exact splitting of unaligned ranges, every thread
armed, debug registers and int3s cleared on detach.

""" + WARNING

EPILOG = """\
examples:
  hwdbg serve :2345 ./prog arg           then: gdb ./prog -ex 'target remote :2345'
  hwdbg serve :2345 -p 4242              attach to a running process
  gdb ./prog -ex 'target remote | hwdbg serve --stdio ./prog'
  hwdbg serve --multi :2345              then: target extended-remote :2345, run / attach
monitor commands (from gdb: monitor help): info slots, info writers, priority N P, exit.
A client that disconnects without detaching or killing leaves an attached process detached
and running, and a started program killed (--on-disconnect changes that).
gdb's set follow-fork-mode parent|child and catch fork/vfork/exec work; set detach-on-fork off
(holding both processes) is not supported: the child waits, stopped, until the parent is detached."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hwdbg serve", description=DESCRIPTION, epilog=EPILOG, allow_abbrev=False,
        usage="hwdbg serve [options] [HOST:]PORT [--] PROGRAM [ARGS...]\n"
              "       hwdbg serve [options] [HOST:]PORT -p PID\n"
              "       hwdbg serve [options] --stdio PROGRAM [ARGS...]\n"
              "       hwdbg serve --multi [options] [HOST:]PORT",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stdio", action="store_true",
                        help="talk the protocol on standard input and output (gdb: target remote | hwdbg serve "
                             "--stdio PROGRAM); the program's output goes to standard error")
    parser.add_argument("-p", "--pid", "--attach", type=int, metavar="PID", dest="pid",
                        help="attach to the running process PID and all its threads")
    parser.add_argument("--multi", action="store_true",
                        help="extended-remote: the client may run, attach and kill several times (vRun, "
                             "vAttach, vKill), and the stub stays up between clients until `monitor exit`")
    parser.add_argument("--listen-any", action="store_true",
                        help="allow listening on an address other than loopback (no authentication: the "
                             "client can write any memory and register of the target)")
    parser.add_argument("--on-disconnect", choices=("detach", "kill"),
                        help="what a client that goes away without detaching leaves: default, an attached "
                             "process detached and running, a started program killed")
    parser.add_argument("--once", action="store_true", help="accepted for gdbserver compatibility (the default)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no messages on standard error but errors")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks of internal errors")
    parser.add_argument("words", nargs=argparse.REMAINDER, metavar="[HOST:]PORT PROGRAM ARGS",
                        help="where to listen (omitted with --stdio), then the program and its arguments")
    return parser


def parse_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "", text
    host = host.strip("[]")
    if not port.isdigit() or int(port) > 65535:
        raise UsageError(f"bad address {text!r}: give [HOST:]PORT, e.g. :2345 or 127.0.0.1:2345")
    return host, int(port)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    try:
        opts = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    words = list(opts.words)
    if words[:1] == ["--"]:
        words = words[1:]

    def say(line: str) -> None:
        if not opts.quiet:
            print(line, file=sys.stderr, flush=True)

    try:
        return _serve(opts, words, say)
    except HwdbgError as exc:
        print(f"hwdbg serve: {exc}", file=sys.stderr)
        return 1 if not isinstance(exc, UsageError) else 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if opts.debug:
            traceback.print_exc()
        print(f"hwdbg serve: internal error: {type(exc).__name__}: {exc} (rerun with --debug for a traceback)",
              file=sys.stderr)
        return 1


def _serve(opts: argparse.Namespace, words: list[str], say) -> int:
    from ..session import Session, install_signal_cleanup
    from .server import Connection, Server, accept, listen
    from .stub import Stub

    address = None
    if not opts.stdio:
        if not words:
            raise UsageError("give [HOST:]PORT to listen on, or --stdio; see hwdbg serve --help")
        address = parse_address(words.pop(0))
    if words[:1] in (["-p"], ["--pid"], ["--attach"]):  # `hwdbg serve :2345 -p PID`, gdbserver's order
        if opts.pid is not None or len(words) < 2 or not words[1].isdigit():
            raise UsageError("-p takes one process id: hwdbg serve [HOST:]PORT -p PID")
        opts.pid = int(words[1])
        words = words[2:]
    if words[:1] == ["--"]:
        words = words[1:]
    if words and opts.pid is not None:
        raise UsageError("give a PROGRAM or -p PID, not both")
    if not words and opts.pid is None and not opts.multi:
        raise UsageError("give a PROGRAM to run or -p PID to attach (or --multi to let the client choose)")
    spawn_options = {}
    if opts.stdio:  # the protocol owns stdin and stdout
        spawn_options = {"stdin": os.open(os.devnull, os.O_RDONLY), "stdout": 2}
    session = Session()
    install_signal_cleanup()
    stub = Stub(session, program=words or None, multi=opts.multi, spawn_options=spawn_options)
    try:
        if words:
            session.spawn(words, **spawn_options)
            say(f"Process {words[0]} created; pid = {session.inferior.pid}")
            stub.initial_stop()
        elif opts.pid is not None:
            session.attach(opts.pid)
            say(f"Attached; pid = {opts.pid}")
            stub.initial_stop()
        server = Server(stub, on_disconnect=opts.on_disconnect, log=lambda line: say(f"hwdbg serve: {line}"))
        if opts.stdio:
            server.serve(Connection(0, 1))
            return 0
        listener = listen(address[0], address[1], any_address=opts.listen_any)
        say(f"Listening on port {listener.getsockname()[1]}")
        try:
            while True:
                conn = accept(listener)
                say("Remote debugging connection accepted")
                server.serve(conn)
                if not opts.multi or stub.exit_requested:
                    return 0
                stub.ended = False
        finally:
            listener.close()
    finally:
        session.close()
