"""Helpers of the hwdbg serve tests: the stub's command line, a minimal protocol client."""
from __future__ import annotations

import os
import re
import shlex
import socket
import sys

from hwdbg.remote.packets import frame

STUB = [sys.executable, "-m", "hwdbg", "serve"]


def stdio_command(exe, *args) -> str:
    """gdb's `target remote | ...` command line for the stub on a pipe (gdb hands it to a shell)."""
    return shlex.join([*STUB, "--stdio", str(exe), *map(str, args)])


def env_without_debuginfod() -> dict:
    env = dict(os.environ)
    env.pop("DEBUGINFOD_URLS", None)
    return env


class Client:
    """Just enough of a client to send raw packets and read replies (no-ack mode after hello)."""

    def __init__(self, port: int, timeout: float = 120) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def hello(self) -> None:
        self.sock.sendall(frame(b"QStartNoAckMode"))
        assert self.reply() == b"OK"

    def raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, data: bytes) -> bytes:
        self.sock.sendall(frame(data))
        return self.reply()

    def reply(self) -> bytes:
        while True:
            match = re.search(rb"\$([^#]*)#[0-9a-f]{2}", self.buf)
            if match:
                self.buf = self.buf[match.end():]
                return match.group(1)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("the stub closed the connection")
            self.buf += chunk

    def close(self) -> None:
        self.sock.close()


def symbol_address(exe, name: str) -> int:
    """A symbol's link-time address (the tests' targets are built without PIE for these)."""
    from elftools.elf.elffile import ELFFile
    with open(exe, "rb") as fh:
        symbols = ELFFile(fh).get_section_by_name(".symtab").get_symbol_by_name(name)
        assert symbols, f"no symbol {name} in {exe}"
        return symbols[0]["st_value"]
