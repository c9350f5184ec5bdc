"""Framing of gdb's remote serial protocol: ``$data#cc``, acks, escaping, run-length.

Pure functions and one incremental reader; no I/O. Facts from the gdb manual, "Overview"
of the remote protocol: the checksum is the sum of the data bytes mod 256; ``}`` escapes the
next byte XORed with 0x20; ``#``, ``$``, ``}`` (and ``*`` in replies) are always escaped;
``X*N`` repeats X ``ord(N) - 29`` more times; a lone 0x03 outside a packet is an interrupt.
"""
from __future__ import annotations

import re
from typing import Iterator, Union

from ..recordtype import record

ESCAPE = 0x7D
INTERRUPT = 0x03
MAX_PACKET = 0x4000  # what qSupported announces as PacketSize; anything longer is refused
MUST_ESCAPE = b"#$}*"  # in binary data we send
_SPECIAL = re.compile(rb"[#$}*]")


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def frame(data: bytes) -> bytes:
    """One packet as it goes on the wire (data must already be escaped where binary)."""
    return b"$" + data + b"#" + b"%02x" % checksum(data)


def escape(data: bytes) -> bytes:
    """Binary payloads (``X``, ``x``, ``qXfer`` and ``vFile`` replies); a regular expression, as
    a byte loop took ~3 ms per 16 KiB (gdb reads the libraries through vFile:pread)."""
    return _SPECIAL.sub(lambda m: bytes((ESCAPE, m[0][0] ^ 0x20)), data)


def unescape(data: bytes) -> bytes:
    out = bytearray()
    it = iter(data)
    for byte in it:
        if byte == ESCAPE:
            nxt = next(it, None)
            if nxt is None:
                raise ValueError("escape character at the end of the data")
            out.append(nxt ^ 0x20)
        else:
            out.append(byte)
    return bytes(out)


def run_length_decode(data: bytes) -> bytes:
    """Expands ``X*N``: what a client does with our replies. Packets we read are not decoded,
    as gdb and lldb never encode theirs and a raw ``*`` may be data in them."""
    out = bytearray()
    i = 0
    while i < len(data):
        byte = data[i]
        if byte == ord("*"):
            if not out or i + 1 >= len(data):
                raise ValueError("run-length marker without a byte to repeat or a count")
            count = data[i + 1] - 29
            if count < 0:
                raise ValueError("run-length count below zero")
            out += bytes((out[-1],)) * count
            i += 2
            continue
        out.append(byte)
        i += 1
    return bytes(out)


def run_length_encode(data: bytes) -> bytes:
    """The reply encoding, for text replies: runs of 4 or more become ``X*N``; counts that would
    give ``#`` or ``$`` (6 and 7 repeats) are avoided, as the manual requires."""
    out = bytearray()
    i = 0
    while i < len(data):
        byte = data[i]
        run = 1
        while i + run < len(data) and data[i + run] == byte and run < 61:
            run += 1
        repeat = run - 1
        if repeat in (6, 7):
            repeat = 5
        if repeat >= 3 and byte not in b"#$*}":
            out.append(byte)
            out += bytes((ord("*"), repeat + 29))
            i += repeat + 1
        else:
            out.append(byte)
            i += 1
    return bytes(out)


@record(frozen=True)
class Packet:
    data: bytes  # binary payloads still escaped (the handler knows which)


@record(frozen=True)
class Ack:
    good: bool  # '+' or '-'


@record(frozen=True)
class Interrupt:
    pass


@record(frozen=True)
class Malformed:
    reason: str  # bad checksum, oversized: the caller NAKs (ack mode) or answers E


Item = Union[Packet, Ack, Interrupt, Malformed]


class Reader:
    """Cuts a byte stream into packets, acks and interrupts; garbage between packets is skipped."""

    def __init__(self, max_packet: int = MAX_PACKET) -> None:
        self.max_packet = max_packet
        self._buf = bytearray()

    def feed(self, data: bytes) -> Iterator[Item]:
        self._buf += data
        while self._buf:
            first = self._buf[0]
            if first == ord("$"):
                end = self._buf.find(b"#")
                if end < 0:
                    if len(self._buf) > self.max_packet + 4:
                        self._buf.clear()
                        yield Malformed("packet too long")
                    return
                if len(self._buf) < end + 3:
                    return
                body = bytes(self._buf[1:end])
                sent = bytes(self._buf[end + 1:end + 3])
                del self._buf[:end + 3]
                yield self._packet(body, sent)
            elif first in b"+-":
                del self._buf[0]
                yield Ack(first == ord("+"))
            elif first == INTERRUPT:
                del self._buf[0]
                yield Interrupt()
            else:
                start = self._buf.find(b"$")
                junk = [b for b in (self._buf if start < 0 else self._buf[:start]) if b == INTERRUPT]
                del self._buf[:len(self._buf) if start < 0 else start]
                for _ in junk[:1]:
                    yield Interrupt()

    def _packet(self, body: bytes, sent: bytes) -> Item:
        if len(body) > self.max_packet:
            return Malformed("packet too long")
        try:
            good = int(sent, 16) == checksum(body)
        except ValueError:
            good = False
        if not good:
            return Malformed("bad checksum")
        return Packet(body)
