"""pyelftools' DWARFInfo with every debug section read (and decompressed) on first use.

``ELFFile.get_dwarf_info()`` copies all of them into memory up front: for a pc in libc
with its debug package, describing one address would decompress all of libc's DWARF.
Here a section costs nothing until a query reads it (.debug_aranges and one unit's line
table, say). The DWARFInfo is made from the section headers hwdbg reads itself, without
pyelftools' ELFFile (whose import and structs an attach to python3.11d need not pay: ~6 ms).
Relocatable objects, the legacy .zdebug_* sections, supplementary files and other odd
cases keep pyelftools' path.
"""
from __future__ import annotations

import functools
import io
import zlib
from typing import Any, Iterator, Optional

from elftools.common.exceptions import ELFError
from elftools.dwarf.dwarfinfo import DebugSectionDescriptor, DWARFInfo, DwarfConfig

from hwdbg.symbols import abbrev, filewindow, inflated
from hwdbg.symbols.elfheaders import ET_REL, SHF_COMPRESSED, SHT_NOBITS, SectionHeader, read_section
from hwdbg.symbols.filewindow import FileWindow

# The sections of ELFFile.get_dwarf_info(), as DWARFInfo's keywords name them.
DWARF_SECTIONS = {
    "debug_info_sec": ".debug_info", "debug_aranges_sec": ".debug_aranges", "debug_abbrev_sec": ".debug_abbrev",
    "debug_frame_sec": ".debug_frame", "eh_frame_sec": ".eh_frame", "debug_str_sec": ".debug_str",
    "debug_loc_sec": ".debug_loc", "debug_ranges_sec": ".debug_ranges", "debug_line_sec": ".debug_line",
    "debug_pubtypes_sec": ".debug_pubtypes", "debug_pubnames_sec": ".debug_pubnames", "debug_addr_sec": ".debug_addr",
    "debug_str_offsets_sec": ".debug_str_offsets", "debug_line_str_sec": ".debug_line_str",
    "debug_loclists_sec": ".debug_loclists", "debug_rnglists_sec": ".debug_rnglists", "debug_sup_sec": ".debug_sup",
    "gnu_debugaltlink_sec": ".gnu_debugaltlink", "debug_types_sec": ".debug_types",
}
MACHINES = {62: "x64", 3: "x86", 183: "AArch64"}  # e_machine -> pyelftools' get_machine_arch()
ELFCOMPRESS_ZLIB = 1

# The BytesIO methods pyelftools and hwdbg use on a section's stream.
STREAM_METHODS = ("read", "readinto", "readline", "seek", "tell", "getbuffer", "getvalue")
INFLATE_STEP = 256 << 10  # compressed bytes read per step of a partial decompression


class LazySection(io.BytesIO):
    """A debug section's bytes, read from the ELF file at the first call on the stream."""

    def __init__(self, section, build_id: Optional[str] = None) -> None:
        super().__init__()
        self._section = section
        self._build_id = build_id  # a compressed section's inflated blocks are cached under it
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

    def span(self, start: int, end: int):
        """The section's bytes [start, end), not copied when they are the file's own."""
        self.seek(start)  # read now, if not yet; a compressed section is read that far only
        data = self.__dict__.get("_data")
        if data is not None:
            return memoryview(data)[start:end]
        window = self.__dict__.get("_window")
        return window.span(start, end) if window is not None else self.read(end - start)

    def whole(self):
        """All the section's bytes, as ``getbuffer()`` but never a copy: BytesIO's getbuffer
        copies a buffer it shares (the file's bytes, or the cached inflated ones)."""
        self.seek(0)
        if "_window" in self.__dict__:
            self._read_whole()
        if "_inflating" in self.__dict__:
            self._inflating.complete()
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
    With the cache (symbols/inflated.py) a read takes the cached blocks it covers, and nothing
    before them is inflated; bytes no block holds are inflated from the section's start (zlib
    cannot begin in the middle). Reads and seeks go through here until the stream holds the
    whole section, then BytesIO's own methods."""

    def __init__(self, stream: io.BytesIO, section, build_id: Optional[str] = None) -> None:
        self._stream, self._section = stream, section
        header = section.chdr_size if isinstance(section, FileSection) else section.structs.Elf_Chdr.sizeof()
        self._next = section["sh_offset"] + header  # file offset of the compressed bytes still to read
        self._end = section["sh_offset"] + section["sh_size"]
        self._size = section.data_size
        self._inflater = zlib.decompressobj()
        self._have = 0  # bytes out of the inflater, in the stream from its start
        self._blocks: dict[int, bytes] = {}  # cached blocks read so far, past those bytes
        self._cached: Optional[inflated.Blocks] = None
        self.cache_key = inflated.key(build_id, section.stream, section, self._size)
        if self.cache_key is not None:
            self._cached = inflated.load(self.cache_key)
            inflated.keep(self)
            stream._inflating = self  # alive as long as the stream, for the store at exit
        for name, method in (("read", self.read), ("readinto", self.readinto), ("seek", self.seek)):
            setattr(stream, name, method)
        for name in ("readline", "getbuffer", "getvalue"):
            setattr(stream, name, functools.partial(self._whole, name))

    @property
    def stored(self) -> int:
        """How many of the section's bytes its cache file holds."""
        return self._cached.stored if self._cached is not None else 0

    def _known_blocks(self) -> set[int]:
        """The blocks whose bytes are all known (inflated, or read from the cache)."""
        whole = -(-self._size // inflated.BLOCK) if self._have >= self._size else self._have // inflated.BLOCK
        return set(range(whole)) | set(self._blocks)

    def _trusted(self) -> set[int]:
        cached = self._cached
        return set(cached.table) if cached is not None and not cached.damaged else set()

    @property
    def known(self) -> int:
        """How many of the section's bytes a store would keep."""
        return sum(inflated.block_length(n, self._size) for n in self._known_blocks() | self._trusted())

    def worth_storing(self) -> bool:
        """Are blocks known that the cache file lacks (or is it damaged), and enough of them?"""
        fresh = self._known_blocks() - self._trusted()
        damaged = self._cached is not None and self._cached.damaged
        return (bool(fresh) or damaged) and self.known >= inflated.MIN_BYTES

    def blocks_to_store(self, view: memoryview) -> Iterator[tuple[int, Any]]:
        """(number, bytes) of every block a store keeps; ``view`` is the stream's buffer."""
        known = self._known_blocks()
        for number in sorted(known | self._trusted()):
            start = number * inflated.BLOCK
            if number in self._blocks:
                yield number, self._blocks[number]
            elif number in known:
                yield number, view[start:start + inflated.block_length(number, self._size)]
            else:
                data = self._cached.read(number)  # kept from the file being replaced
                if data is not None:
                    yield number, data

    def view(self) -> memoryview:
        """The stream's buffer, not a copy (the stream cannot grow while it is held: release
        it, a ``with`` block does)."""
        return io.BytesIO.getbuffer(self._stream)

    def _done(self) -> None:
        for name in STREAM_METHODS:  # all there: BytesIO's own methods from now on
            self._stream.__dict__.pop(name, None)
        self._section = None
        self._blocks.clear()

    def _from_cache(self, start: int, end: int) -> bool:
        """Are bytes [start, end) past the inflated ones in cached blocks (read now if need be)?"""
        cached = self._cached
        if cached is None:
            return False
        block = inflated.BLOCK
        for number in range(max(start, self._have) // block, -(-end // block)):
            if number not in self._blocks:
                data = cached.read(number)
                if data is None:
                    return False
                self._blocks[number] = data
        return True

    def _reach(self, end: int) -> None:
        stream = self._stream
        end = min(end, self._size)
        if self._have >= end:
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
        for number in [n for n in self._blocks if (n + 1) * inflated.BLOCK <= self._have]:
            del self._blocks[number]  # the inflated bytes have them now
        if self._have >= self._size or self._inflater.eof or (
                self._next >= self._end and not self._inflater.unconsumed_tail):
            self._done()

    def read(self, size: int = -1) -> bytes:
        stream = self._stream
        pos = io.BytesIO.tell(stream)
        end = self._size if size is None or size < 0 else min(pos + size, self._size)
        if pos >= end:
            return b""
        if end <= self._have or not self._from_cache(pos, end):
            self._reach(end)
            return io.BytesIO.read(stream, size)
        parts = [io.BytesIO.read(stream, self._have - pos)] if pos < self._have else []
        at = max(pos, self._have)
        while at < end:
            number, offset = divmod(at, inflated.BLOCK)
            piece = self._blocks[number][offset:offset + end - at]
            parts.append(piece)
            at += len(piece)
        io.BytesIO.seek(stream, end)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence == 2:  # from the section's end, which the stream may not have reached
            return io.BytesIO.seek(self._stream, max(self._size + pos, 0))
        return io.BytesIO.seek(self._stream, pos, whence)

    def complete(self) -> None:
        """All the section in the stream: in one read when the cache holds every block (the
        bytes read become the stream's buffer, not copied: ``_data``), else inflated."""
        if self._section is None:
            return  # all there already
        stream = self._stream
        data = self._cached.read_all() if self._cached is not None else None
        if data is not None:
            pos = io.BytesIO.tell(stream)
            io.BytesIO.__init__(stream, data)
            io.BytesIO.seek(stream, pos)
            stream._data = data
            self._have = self._size
            self._done()
        else:
            self._reach(self._size)

    def _whole(self, name: str, *args):
        self.complete()
        return getattr(io.BytesIO, name)(self._stream, *args)


class FileSection:
    """One section of an ELF file as LazySection reads it (what it reads of pyelftools' Section),
    from the header hwdbg read: no ELFFile is made."""

    def __init__(self, stream, header: SectionHeader, elfclass: int, little_endian: bool) -> None:
        self.stream, self.name, self._header = stream, header.name, header
        self.compressed = bool(header.flags & SHF_COMPRESSED)
        self.chdr_size = 24 if elfclass == 64 else 12  # Elf64_Chdr / Elf32_Chdr
        self.data_size, self._compression_type = header.size, None
        if self.compressed:  # ch_type, then (ELF64: after 4 reserved bytes) ch_size
            stream.seek(header.offset)
            chdr = stream.read(self.chdr_size)
            order = "little" if little_endian else "big"
            if len(chdr) == self.chdr_size:
                self.data_size = int.from_bytes(chdr[8:16] if elfclass == 64 else chdr[4:8], order)
                if int.from_bytes(chdr[0:4], order) == ELFCOMPRESS_ZLIB:
                    self._compression_type = "ELFCOMPRESS_ZLIB"

    def __getitem__(self, field: str) -> int:
        header = self._header
        return {"sh_offset": header.offset, "sh_size": header.size, "sh_addr": header.addr}[field]

    def data(self) -> bytes:
        return read_section(self.stream, self._header)  # only an uncompressed section is read so


def _direct(image, build_id: Optional[str]):
    """The DWARFInfo of an ElfImage from its own section headers, or None where pyelftools'
    ELFFile must make it (see the module's docstring)."""
    header, headers = image.file_header, image.headers
    machine = MACHINES.get(header.e_machine)
    if header.e_type == ET_REL or machine is None or not headers.complete or any(
            name in headers.sections for name in (".zdebug_info", ".gnu_debugaltlink", ".debug_sup")):
        return None
    found = {key: headers.section(name) for key, name in DWARF_SECTIONS.items()}
    sections: dict[str, Any] = {}
    for key, section_header in found.items():
        if section_header is None or section_header.type == SHT_NOBITS:  # a debug file's .eh_frame has no bytes
            sections[key] = None
            continue
        section = FileSection(image.stream, section_header, header.elfclass, header.little_endian)
        if section.compressed and section._compression_type is None:
            return None  # zstd, say: pyelftools knows it or says why
        sections[key] = DebugSectionDescriptor(
            stream=LazySection(section, build_id), name=section.name, global_offset=section_header.offset,
            size=section.data_size, address=section_header.addr)
    config = DwarfConfig(little_endian=header.little_endian, default_address_size=header.elfclass // 8,
                         machine_arch=machine)
    dwarf = DWARFInfo(config=config, **sections)
    dwarf.supplementary_dwarfinfo = None  # none without a .debug_sup or .gnu_debugaltlink
    return dwarf


def dwarf_info(source, build_id: Optional[str] = None):
    """``elf.get_dwarf_info()`` for an ElfImage (or pyelftools' ELFFile), reading each section
    only when it is first used; the inflated blocks of a compressed one are cached under
    ``build_id`` (symbols/inflated.py)."""
    if hasattr(source, "file_header"):  # an ElfImage
        dwarf = _direct(source, build_id)
        if dwarf is not None:
            if dwarf.debug_abbrev_sec is not None:
                abbrev.install(dwarf)
            return dwarf
        source = source.elf
    elf = source
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
