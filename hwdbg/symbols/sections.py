"""pyelftools' DWARFInfo with every debug section read (and decompressed) on first use.

``ELFFile.get_dwarf_info()`` copies all of them into memory up front: for a pc in libc
with its debug package, describing one address would decompress all of libc's DWARF.
Here a section costs nothing until a query reads it (.debug_aranges and one unit's line
table, say). Relocatable objects and the legacy .zdebug_* sections keep pyelftools' path.
"""
from __future__ import annotations

import functools
import io
import zlib
from typing import Optional

from elftools.common.exceptions import ELFError
from elftools.dwarf.dwarfinfo import DebugSectionDescriptor

from hwdbg.symbols import abbrev, filewindow, inflated
from hwdbg.symbols.filewindow import FileWindow

# The BytesIO methods pyelftools and hwdbg use on a section's stream.
STREAM_METHODS = ("read", "readinto", "readline", "seek", "tell", "getbuffer", "getvalue")
INFLATE_STEP = 256 << 10  # compressed bytes read per step of a partial decompression


class LazySection(io.BytesIO):
    """A debug section's bytes, read from the ELF file at the first call on the stream."""

    def __init__(self, section, build_id: Optional[str] = None) -> None:
        super().__init__()
        self._section = section
        self._build_id = build_id  # the inflated start is cached under it
        for name in STREAM_METHODS:
            setattr(self, name, functools.partial(self._first_use, name))

    def _first_use(self, name: str, *args):
        section, self._section = self._section, None
        for method in STREAM_METHODS:  # from now on BytesIO's own methods, at full speed
            delattr(self, method)
        if section is not None:
            if section.compressed and section._compression_type == "ELFCOMPRESS_ZLIB":
                _Inflating(self, section, self._build_id)
                return getattr(self, name)(*args)
            window = _window(section)
            if window is not None:  # a big section: read in pieces as reads reach them
                self._window = window
                for method in ("read", "readinto", "readline", "seek", "tell"):
                    setattr(self, method, getattr(window, method))
                for method in ("getbuffer", "getvalue"):
                    setattr(self, method, functools.partial(self._read_whole, method))
                return getattr(self, name)(*args)
            # The file's bytes become the stream's buffer, shared rather than copied (BytesIO
            # copies only when written to).
            self._data = section.data()
            io.BytesIO.__init__(self, self._data)
        return getattr(self, name)(*args)

    def _read_whole(self, name: Optional[str] = None, *args):
        """From a window to the whole section in the stream's own buffer, at the same position."""
        window = self.__dict__.pop("_window")
        for method in STREAM_METHODS:
            self.__dict__.pop(method, None)
        self._data = window.whole()
        io.BytesIO.__init__(self, self._data)
        io.BytesIO.seek(self, window.pos)
        return getattr(self, name)(*args) if name else None

    def prefix(self, end: int):
        """The section's first ``end`` bytes, not copied when they are the file's own."""
        self.seek(0)  # read now, if not yet; a compressed section is inflated that far only
        data = self.__dict__.get("_data")
        if data is not None:
            return memoryview(data)[:end]
        window = self.__dict__.get("_window")
        return window.prefix(end) if window is not None else self.read(end)

    def whole(self):
        """All the section's bytes, as ``getbuffer()`` but never a copy: BytesIO's getbuffer
        copies a buffer it shares (the file's bytes, or the cached inflated ones)."""
        self.seek(0)
        if "_window" in self.__dict__:
            self._read_whole()
        data = self.__dict__.get("_data")
        return memoryview(data) if data is not None else self.getbuffer()


def _window(section) -> Optional[FileWindow]:
    """A window on a big uncompressed section of a real file, or None (read it whole)."""
    if section.data_size < filewindow.MIN_SIZE:
        return None
    try:
        section.stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None  # not a real file (a test's BytesIO, say)
    return FileWindow(section.stream, section["sh_offset"], section.data_size, section.data)


class _Inflating:
    """A zlib-compressed section decompressed only as far as reads reach: one unit of libc's
    debug file (its line table, its DIEs) costs the bytes before it, not the whole section.
    Reads and seeks go through here until the end is reached, then BytesIO's own methods."""

    def __init__(self, stream: io.BytesIO, section, build_id: Optional[str] = None) -> None:
        self._stream, self._section = stream, section
        header = section.structs.Elf_Chdr.sizeof()
        self._next = section["sh_offset"] + header  # file offset of the compressed bytes still to read
        self._end = section["sh_offset"] + section["sh_size"]
        self._size = section.data_size
        self._inflater = zlib.decompressobj()
        self._have = 0  # bytes out of the inflater; those of the cache may be more
        self.cache_key = inflated.key(build_id, section.stream, section, self._size)
        self.stored = 0  # bytes read from the cache (the inflater starts again at 0 past them)
        if self.cache_key is not None:
            start = inflated.load(self.cache_key)
            if start:
                io.BytesIO.__init__(stream, start)  # shared, not copied, until the inflater writes past it
                self.stored = len(start)
                if self.stored >= self._size:
                    stream._data = start  # the whole section: whole() and prefix() view it
            inflated.keep(self)
            stream._inflating = self  # alive as long as the stream, for the store at exit
        for name, method in (("read", self.read), ("readinto", self.readinto), ("seek", self.seek)):
            setattr(stream, name, method)
        for name in ("readline", "getbuffer", "getvalue"):
            setattr(stream, name, functools.partial(self._whole, name))
        if self.stored >= self._size:
            self._done()

    @property
    def known(self) -> int:
        """How many bytes of the section's start are known (inflated or read from the cache)."""
        return max(self._have, self.stored)

    def start(self) -> memoryview:
        """The section's start known so far: a view of the stream's buffer, not a copy (the
        stream cannot grow while it is held: release it, a ``with`` block does)."""
        return io.BytesIO.getbuffer(self._stream)[:self.known]

    def _done(self) -> None:
        for name in STREAM_METHODS:  # all there: BytesIO's own methods from now on
            self._stream.__dict__.pop(name, None)
        self._section = None

    def _reach(self, end: int) -> None:
        stream = self._stream
        end = min(end, self._size)
        if self._have >= end or self.stored >= end:
            return
        pos = io.BytesIO.tell(stream)
        io.BytesIO.seek(stream, self._have)
        file = self._section.stream
        while self._have < end and not self._inflater.eof:
            pending = self._inflater.unconsumed_tail
            if not pending:
                if self._next >= self._end:
                    break
                file.seek(self._next)
                pending = file.read(min(INFLATE_STEP, self._end - self._next))
                if not pending:
                    break
                self._next += len(pending)
            # Output as far as asked (a step at least): the rest of the input waits in the tail.
            want = min(self._size - self._have, max(end - self._have, INFLATE_STEP))
            try:
                data = self._inflater.decompress(pending, want)
            except zlib.error as e:  # what pyelftools' own DWARF errors are caught as
                raise ELFError(f"corrupt compressed section {self._section.name}: {e}") from None
            io.BytesIO.write(stream, data)
            self._have += len(data)
        io.BytesIO.seek(stream, pos)
        if self._have >= self._size or self._inflater.eof or (
                self._next >= self._end and not self._inflater.unconsumed_tail):
            self._done()

    def read(self, size: int = -1) -> bytes:
        pos = io.BytesIO.tell(self._stream)
        self._reach(self._size if size is None or size < 0 else pos + size)
        return io.BytesIO.read(self._stream, size)

    def readinto(self, buffer) -> int:
        self._reach(io.BytesIO.tell(self._stream) + len(buffer))
        return io.BytesIO.readinto(self._stream, buffer)

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence == 2:
            self._reach(self._size)
        return io.BytesIO.seek(self._stream, pos, whence)

    def _whole(self, name: str, *args):
        self._reach(self._size)
        return getattr(io.BytesIO, name)(self._stream, *args)


def dwarf_info(elf, build_id: Optional[str] = None):
    """``elf.get_dwarf_info()``, reading each section only when it is first used; the inflated
    start of a compressed one is cached under ``build_id`` (symbols/inflated.py)."""
    if elf["e_type"] == "ET_REL" or elf.has_phantom_bytes() or elf.has_section(".zdebug_info"):
        return elf.get_dwarf_info()
    def lazy(section, relocate):
        return DebugSectionDescriptor(
            stream=LazySection(section, build_id), name=section.name, global_offset=section["sh_offset"],
            size=section.data_size, address=section["sh_addr"],
        )

    elf._read_dwarf_section = lazy
    try:
        dwarf = elf.get_dwarf_info(relocate_dwarf_sections=False)
    finally:
        del elf._read_dwarf_section  # the class's method again
    if dwarf.debug_abbrev_sec is not None:
        abbrev.install(dwarf)
    return dwarf
