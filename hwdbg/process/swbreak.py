"""Software breakpoints: int3 bytes in the target's code, and the original bytes they hide.

A site is one address with one saved byte, shared by every breakpoint there (owners).
Reads through ``mask`` see the original bytes; writes through ``store`` update the saved
byte and keep the int3. ``lift``/``drop`` take a site out for one single step and put it
back (the step-over); ``remove_all`` restores every byte before the process is let go.
No debug registers are involved: only memory reads and writes of the process.
"""
from __future__ import annotations

import os
from dataclasses import field
from typing import Callable, Iterable

from ..linux import procfs
from ..recordtype import record

INT3 = 0xCC


@record
class Site:
    addr: int
    original: int
    owners: set[int] = field(default_factory=set)
    inserted: bool = False


class SoftwareBreakpoints:
    def __init__(self, read: Callable[[int, int], bytes], write: Callable[[int, bytes], None]) -> None:
        self._read, self._write = read, write
        self.sites: dict[int, Site] = {}
        self.ever: set[int] = set()  # every address that held one of our int3s in this image

    def __bool__(self) -> bool:
        return bool(self.sites)

    def insert(self, addr: int, owner: int) -> None:
        """Adds ``owner`` at addr, writing the int3 if it is the first (raises if unwritable)."""
        site = self.sites.get(addr)
        if site is None:
            original = self._read(addr, 1)[0]
            self._write(addr, bytes([INT3]))
            site = self.sites[addr] = Site(addr, original, inserted=True)
            self.ever.add(addr)
        site.owners.add(owner)

    def remove(self, addr: int, owner: int) -> None:
        """Takes ``owner`` off addr; the last one out restores the original byte."""
        site = self.sites.get(addr)
        if site is None:
            return
        site.owners.discard(owner)
        if not site.owners:
            del self.sites[addr]
            if site.inserted:
                self._write(addr, bytes([site.original]))

    def is_ours(self, addr: int) -> bool:
        return addr in self.sites and self.sites[addr].inserted

    def owners(self, addr: int) -> set[int]:
        site = self.sites.get(addr)
        return set(site.owners) if site is not None else set()

    def lift(self, addr: int) -> bool:
        """Restores the original byte for a step-over; True if there was an int3 to lift."""
        site = self.sites.get(addr)
        if site is None or not site.inserted:
            return False
        self._write(addr, bytes([site.original]))
        site.inserted = False
        return True

    def drop(self, addr: int) -> None:
        """Puts a lifted int3 back (if the site still exists)."""
        site = self.sites.get(addr)
        if site is not None and not site.inserted:
            self._write(addr, bytes([INT3]))
            site.inserted = True

    def lift_all(self) -> None:
        for addr in list(self.sites):
            self.lift(addr)

    def drop_all(self) -> None:
        for addr in list(self.sites):
            self.drop(addr)

    def remove_all(self) -> None:
        """Restores every original byte (detach, quit): the process must run on without us."""
        for site in list(self.sites.values()):
            if site.inserted:
                self._write(site.addr, bytes([site.original]))
                site.inserted = False
        self.sites.clear()

    def forget(self) -> None:
        """The image is gone (exec, exit): nothing to restore."""
        self.sites.clear()
        self.ever.clear()

    def strip(self, write: Callable[[int, bytes], None]) -> None:
        """Writes the original bytes through another writer: a forked child's copy of our memory."""
        for site in self.sites.values():
            if site.inserted:
                write(site.addr, bytes([site.original]))

    def in_range(self, addr: int, size: int) -> Iterable[Site]:
        if not self.sites:
            return ()
        return [s for s in self.sites.values() if addr <= s.addr < addr + size]

    def mask(self, addr: int, data: bytes) -> bytes:
        """``data`` read from addr, with the original bytes in place of our int3s."""
        sites = [s for s in self.in_range(addr, len(data)) if s.inserted]
        if not sites:
            return data
        out = bytearray(data)
        for site in sites:
            out[site.addr - addr] = site.original
        return bytes(out)

    def store(self, addr: int, data: bytes) -> bytes:
        """What to write for ``data`` at addr: the new bytes become the saved ones, the int3s stay."""
        sites = [s for s in self.in_range(addr, len(data))]
        if not sites:
            return data
        out = bytearray(data)
        for site in sites:
            site.original = data[site.addr - addr]
            if site.inserted:
                out[site.addr - addr] = INT3
        return bytes(out)


def read_child(pid: int, addr: int, size: int) -> bytes:
    """Reads a (stopped, traced) forked child's memory."""
    fd = os.open(procfs.mem_path(pid), os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.pread(fd, size, addr)
    finally:
        os.close(fd)


def write_child(pid: int, addr: int, data: bytes) -> None:
    """Writes a (stopped, traced) forked child's memory."""
    fd = os.open(procfs.mem_path(pid), os.O_RDWR | os.O_CLOEXEC)
    try:
        os.pwrite(fd, data, addr)
    finally:
        os.close(fd)
