"""One ELF file on disk: its symbols, its load layout, whether it carries DWARF."""
from __future__ import annotations

import bisect
import io
import mmap
import os
import struct
from typing import TYPE_CHECKING, Any, Iterator, NamedTuple, Optional

from elftools.common.exceptions import ELFError

from hwdbg.errors import HwdbgError, SymbolError
from hwdbg.symbols.elfheaders import (
    ET_DYN, PT_DYNAMIC, PT_LOAD, PT_TLS, SHF_COMPRESSED, SHT_NOBITS, FileHeader, Headers, SectionHeader, Segment,
    build_id, file_header, read_section,
)
from hwdbg.symbols.elfsym import (
    BINDING_NAMES, SHN_ABS, SHN_UNDEF, STT_FILE, STT_SECTION, STT_TLS, Symbol, merge_named, preferred, symbol_kind,
)

if TYPE_CHECKING:
    from elftools.elf.elffile import ELFFile

PAGE_SIZE = mmap.PAGESIZE  # the granularity the kernel maps segments with
DEBUG_ROOT = "/usr/lib/debug"

# Lookups in one file answered by a pass in C over its symbol table, before the whole table
# is built in Python (tens of ms for a big program): a debugger that attaches and watches
# one variable makes a handful; stepping makes hundreds.
LAZY_QUERIES = 64


class _SymbolTable(NamedTuple):
    """A symbol table's bytes as in the file, and how to read an entry."""

    data: bytes
    strtab: bytes
    hidden: list[bool]  # per .dynsym entry: a non-default version
    fmt: str
    size: int


_NO_SCAN = object()  # a table-less query could not be made: build the table


def suggest(name: str, candidates) -> str:
    """'; did you mean 'x' or 'y'?' or '' when nothing is close."""
    import difflib  # here: only a failed lookup needs it
    close = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.7)
    if not close:
        return ""
    quoted = [f"'{c}'" for c in close]
    alternatives = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f"; did you mean {alternatives}?"




class _QuietFile(io.FileIO):
    """The file behind an image. It lives as long as anything reads it (the ELFFile, the
    DWARF parsed from it, which can outlive the ElfImage) and is then closed without a
    ResourceWarning, whatever order the garbage collector finalizes things in."""

    def __del__(self) -> None:
        self.close()


class _ImageFile(io.BufferedReader):
    def __del__(self) -> None:
        self.close()


class ElfImage:
    """Symbols and layout of one ELF file, at link-time addresses."""

    def __init__(self, path) -> None:
        self.path = os.fspath(path)
        try:
            # A plain file, read on demand: big DWARF stays on disk, and unlike mmap a
            # file rewritten in place (cp over it) cannot crash us with SIGBUS.
            self._stream = _ImageFile(_QuietFile(self.path, "rb"))
        except OSError as e:
            raise SymbolError(f"cannot open {self.path}: {e.strerror}") from None
        try:
            header = file_header(self._stream)
        except OSError as e:
            self._stream.close()
            raise SymbolError(f"cannot read {self.path}: {e.strerror}") from None
        if header is None:
            self._stream.close()
            raise SymbolError(f"{self.path} is not an ELF file")
        self._header = header
        self._elf: Optional[ELFFile] = None
        self.is_pie = header.e_type == ET_DYN
        self._symbol_file: Optional[ElfImage] = None  # a separate debug file with the full .symtab
        self._by_name: Optional[dict[str, Symbol]] = None
        self._funcs: list[Symbol] = []
        self._func_starts: list[int] = []
        self._objects: list[Symbol] = []
        self._object_starts: list[int] = []
        self._headers: Optional[Headers] = None
        self._raw: Any = None  # the raw symbol table (_SymbolTable), False when the file has none
        self._queries = 0  # lookups answered without building the table

    def __repr__(self) -> str:
        return f"ElfImage({self.path!r})"

    def close(self) -> None:
        self._stream.close()

    @property
    def elf(self) -> ELFFile:
        """pyelftools' view of the file, made at first use (~0.4 ms): the layout needs only the headers."""
        if self._elf is None:
            from elftools.elf.elffile import ELFFile  # here: an attach may need none (its import: ~5 ms)

            try:
                elf = ELFFile(self._stream)
            except ELFError as e:
                raise SymbolError(f"{self.path}: {e}") from None
            if self.headers.complete:
                # pyelftools builds its name -> index map (has_section, get_section_by_name) by making
                # an object of every section: ~5 ms a file that has DWARF. The same map, from here.
                elf.__dict__.setdefault("_section_name_map", {
                    name: header.index for name, header in self.headers.sections.items()})
            self._elf = elf
        return self._elf


    # -- layout ---------------------------------------------------------

    @property
    def headers(self) -> Headers:
        """Section and program headers, read once with struct (symbols/elfheaders.py)."""
        if self._headers is None:
            self._headers = Headers(self._header, self._stream)
        return self._headers

    def _loads(self) -> list[Segment]:
        return [seg for seg in self.headers.segments if seg.type == PT_LOAD]

    @property
    def load_base_vaddr(self) -> int:
        """Link-time address that the mapping at file offset 0 corresponds to."""
        loads = self._loads()
        if not loads:
            return 0
        first = min(loads, key=lambda seg: seg.vaddr)
        return (first.vaddr - first.offset) & ~(PAGE_SIZE - 1)

    def load_ranges(self) -> list[tuple[int, int]]:
        """Link-time [start, end) of each PT_LOAD segment."""
        return [(seg.vaddr, seg.vaddr + seg.memsz) for seg in self._loads()]

    def tls_segment(self) -> Optional[tuple[int, int, int]]:
        """(p_vaddr, p_memsz, p_align) of the PT_TLS segment (the thread-locals' template), or None."""
        for seg in self.headers.segments:
            if seg.type == PT_TLS:
                return seg.vaddr, seg.memsz, max(seg.align, 1)
        return None

    def dynamic_vaddr(self) -> Optional[int]:
        """Link-time address of the PT_DYNAMIC segment (what the loader's link_map calls l_ld)."""
        for seg in self.headers.segments:
            if seg.type == PT_DYNAMIC:
                return seg.vaddr
        return None

    def read_bytes(self, vaddr: int, size: int) -> bytes:
        """Up to ``size`` bytes at link-time address ``vaddr``, read from the file: they stop where
        the PT_LOAD segment holding ``vaddr`` ends on disk (b"" if no segment's file part holds it)."""
        for seg in self._loads():
            if seg.vaddr <= vaddr < seg.vaddr + seg.filesz:
                stream = self._stream
                stream.seek(seg.offset + vaddr - seg.vaddr)
                return stream.read(min(size, seg.vaddr + seg.filesz - vaddr))
        return b""

    def read_initial(self, vaddr: int, size: int) -> bytes:
        """The ``size`` bytes at ``vaddr`` as the program starts: the file's bytes, zeros in .bss
        (b"" unless one PT_LOAD segment holds all of them)."""
        for seg in self._loads():
            if seg.vaddr <= vaddr and vaddr + size <= seg.vaddr + seg.memsz:
                data = self.read_bytes(vaddr, size) if vaddr < seg.vaddr + seg.filesz else b""
                return data + bytes(size - len(data))
        return b""

    # -- debug info -------------------------------------------------------

    def _section_header(self, name: str) -> Optional[SectionHeader]:
        """The header of a section that has bytes in the file, or None."""
        if not self.headers.sections:  # extended numbering: let pyelftools read the table
            section = self.elf.get_section_by_name(name)
            if section is None:
                return None
            header = SectionHeader(-1, name, SHT_NOBITS if section["sh_type"] == "SHT_NOBITS" else 0,
                                   section["sh_flags"], section["sh_addr"], section["sh_offset"],
                                   section["sh_size"], section["sh_link"])
        else:
            header = self.headers.section(name)
        if header is None or header.type == SHT_NOBITS or header.size == 0:
            return None
        return header

    @property
    def file_header(self) -> FileHeader:
        return self._header

    @property
    def stream(self) -> Any:
        """The open file (a buffered reader: seek and read)."""
        return self._stream

    @property
    def little_endian(self) -> bool:
        return self._header.little_endian

    @property
    def elfclass(self) -> int:
        return self._header.elfclass

    def section_data(self, name: str) -> Optional[tuple[bytes, int]]:
        """(bytes, link-time address) of a section with bytes in the file, or None (pyelftools inflates)."""
        header = self._section_header(name)
        return None if header is None else (self._bytes_of(header), header.addr)

    def _bytes_of(self, header: SectionHeader) -> bytes:
        """A section's bytes: read by its header; pyelftools inflates a compressed one (and reads
        one past the headers hwdbg could read: extended numbering)."""
        if header.index >= 0 and not header.flags & SHF_COMPRESSED:
            return read_section(self._stream, header)
        return self._section(header.name).data()

    def has_dwarf(self) -> bool:
        return any(self._section_header(name) is not None for name in (".debug_info", ".zdebug_info"))

    def build_id(self) -> Optional[str]:
        if not self.headers.sections:
            for section in self.elf.iter_sections("SHT_NOTE"):
                for note in section.iter_notes():
                    if note["n_type"] == "NT_GNU_BUILD_ID":
                        return note["n_desc"]
            return None
        return build_id(self._stream, self.headers, self._header.little_endian)

    def separate_debug_path(self) -> Optional[str]:
        """A file holding this image's DWARF (by build-id or .gnu_debuglink), if installed."""
        candidates = []
        build = self.build_id()
        if build and len(build) > 2:
            candidates.append(f"{DEBUG_ROOT}/.build-id/{build[:2]}/{build[2:]}.debug")
        link = self._section_header(".gnu_debuglink")
        if link is not None:
            name = read_section(self._stream, link).split(b"\0", 1)[0].decode(errors="replace")
            directory = os.path.dirname(os.path.realpath(self.path))
            candidates += [
                os.path.join(directory, name),
                os.path.join(directory, ".debug", name),
                f"{DEBUG_ROOT}{directory}/{name}",
            ]
        own = os.path.realpath(self.path)
        for candidate in candidates:
            if os.path.isfile(candidate) and os.path.realpath(candidate) != own:
                return candidate
        return None

    # -- symbols ----------------------------------------------------------

    def _section(self, name: str):
        """The pyelftools section of that name, when it has bytes in the file (made alone, by index)."""
        header = self._section_header(name)
        if header is None:
            return None
        return self.elf.get_section(header.index) if header.index >= 0 else self.elf.get_section_by_name(name)

    def has_symtab(self) -> bool:
        return self._section_header(".symtab") is not None

    def adopt_symbols_from(self, debug: "ElfImage") -> None:
        """Take the full .symtab of this stripped file's separate debug file (same addresses)."""
        if self._by_name is None and not self.has_symtab() and debug.has_symtab():
            self._symbol_file, self._raw = debug, None

    def _table(self) -> Optional["_SymbolTable"]:
        """The raw symbol table: .symtab, a superset of .dynsym (a stripped file has only the latter)."""
        if self._raw is None:
            source = self._symbol_file or self  # no self-reference: the file closes without the gc
            header = source._section_header(".symtab") or source._section_header(".dynsym")
            if header is None:
                self._raw = False
                return None
            order = "<" if source.little_endian else ">"
            fmt = order + ("IBBHQQ" if source.elfclass == 64 else "IIIBBH")  # 32-bit: name, value, size, info, other, shndx
            size = struct.calcsize(fmt)
            data = source._bytes_of(header)
            self._raw = _SymbolTable(data[: len(data) - len(data) % size], source._linked_data(header),
                                     source._hidden_versions(header.name, order), fmt, size)
        return self._raw or None

    def raw_table(self) -> Optional["_SymbolTable"]:
        """The symbol table as in the file (for readers that need every entry of a name)."""
        return self._table()

    def indices_named(self, name: str) -> Optional[list[int]]:
        """Indices in ``raw_table()`` of its defined entries named ``name`` or ``name@VERSION``,
        by one pass in C; None where that cannot be done (no C module, not ELF64 LSB)."""
        found = self._c_table()
        if found is None:
            return None
        ffi, lib, table = found
        wanted = name.encode(errors="replace")
        return self._scan_indices(ffi, lambda out, n: lib.hwdbg_sym_named(
            table.data, len(table.data), table.strtab, len(table.strtab), wanted, len(wanted), out, n))

    def _raw_symbols(self, indices: Optional[list[int]] = None) -> Iterator[Symbol]:
        """The table's defined, named symbols (only those at ``indices`` when given)."""
        table = self._table()
        if table is None:
            return
        if indices is None:
            entries = enumerate(struct.iter_unpack(table.fmt, table.data))
        else:
            entries = ((i, struct.unpack_from(table.fmt, table.data, i * table.size)) for i in indices)
        if table.size != 24:
            entries = ((k, (n, i, o, x, v, z)) for k, (n, v, z, i, o, x) in entries)
        strtab, hidden = table.strtab, table.hidden
        # Kind by (type, is SHN_ABS), computed once rather than per symbol.
        kinds = {(t, a): "tls" if t == STT_TLS and not a else symbol_kind(t, SHN_ABS if a else 1)
                 for t in range(16) for a in (False, True)}
        skipped = (STT_SECTION, STT_FILE)
        find, bindings = strtab.find, BINDING_NAMES
        for index, (name_offset, info, _, shndx, value, size) in entries:
            sym_type = info & 0xF
            if shndx == SHN_UNDEF or sym_type in skipped or name_offset == 0:
                continue
            name = strtab[name_offset:find(b"\0", name_offset)].decode(errors="replace")
            if hidden and index < len(hidden) and hidden[index]:
                name += "@"  # spelled like .symtab spells a non-default version
            yield Symbol(name, value, size, kinds[sym_type, shndx == SHN_ABS], bindings.get(info >> 4, "global"))

    def _scan(self) -> Optional[tuple[Any, Any, "_SymbolTable"]]:
        """(ffi, lib, table) for a query without building the table; None when the table is built
        already, queried often enough that building it pays, not ELF64 LSB, or the C module is missing."""
        if self._by_name is not None or self._queries >= LAZY_QUERIES:
            return None
        self._queries += 1
        return self._c_table()

    def _c_table(self) -> Optional[tuple[Any, Any, "_SymbolTable"]]:
        """(ffi, lib, table) for the C scans of the raw table; None if not ELF64 LSB or no C module."""
        table = self._table()
        if table is None or table.size != 24 or table.fmt[0] != "<":
            return None
        try:
            from hwdbg.linux.native import ffi, lib  # here: the symbols layer works without the C build
        except HwdbgError:
            return None
        return ffi, lib, table

    @staticmethod
    def _scan_indices(ffi, call) -> list[int]:
        size = 16
        while True:
            out = ffi.new("int[]", size)
            count = call(out, size)
            if count <= size:
                return [out[i] for i in range(count)]
            size = count

    def _scan_named(self, name: str) -> Any:
        """``find_symbol`` by one pass in C over the table; _NO_SCAN when that cannot be done."""
        scan = self._scan()
        if scan is None:
            return _NO_SCAN
        ffi, lib, table = scan
        wanted = name.encode(errors="replace")
        indices = self._scan_indices(ffi, lambda out, n: lib.hwdbg_sym_named(
            table.data, len(table.data), table.strtab, len(table.strtab), wanted, len(wanted), out, n))
        by_name: dict[str, Symbol] = {}
        old_versions: set[str] = set()
        for sym in self._raw_symbols(indices):
            merge_named(by_name, old_versions, sym)
        return by_name.get(name)

    def _scan_covering(self, link_addr: int, kind: str) -> Any:
        """``function_at``/``object_at`` by one pass in C; _NO_SCAN when that cannot be done."""
        scan = self._scan()
        if scan is None:
            return _NO_SCAN
        ffi, lib, table = scan
        if not 0 <= link_addr < 1 << 64:
            return None
        indices = self._scan_indices(ffi, lambda out, n: lib.hwdbg_sym_covering(
            table.data, len(table.data), link_addr, 1 if kind == "func" else 2, out, n))
        best: Optional[Symbol] = None
        for sym in self._raw_symbols(indices):
            sym = sym._replace(name=sym.name.partition("@")[0])
            best = sym if best is None else preferred(best, sym)
        return None if best is None else self._containing([best], [best.value], link_addr)

    def _linked_data(self, header: SectionHeader) -> bytes:
        """The bytes of the section ``header`` links to (a symbol table's strings)."""
        by_index = self.headers.by_index
        if 0 <= header.index and header.link < len(by_index):
            return self._bytes_of(by_index[header.link])
        return self.elf.get_section(header.link).data()

    def _hidden_versions(self, name: str, order: str) -> list[bool]:
        """Per .dynsym entry: is it a non-default (hidden) symbol version?"""
        versions = self.section_data(".gnu.version") if name == ".dynsym" else None
        if versions is None:
            return []
        return [bool(v & 0x8000) for (v,) in struct.iter_unpack(order + "H", versions[0])]

    def _load(self) -> dict[str, Symbol]:
        if self._by_name is not None:
            return self._by_name
        by_name: dict[str, Symbol] = {}
        by_addr: dict[tuple[str, int], Symbol] = {}
        old_versions: set[str] = set()  # names held by a non-default symbol version
        for sym in self._raw_symbols():
            sym = merge_named(by_name, old_versions, sym)
            if sym.kind in ("func", "object"):
                key = (sym.kind, sym.value)
                old = by_addr.get(key)
                by_addr[key] = sym if old is None else preferred(old, sym)
        ordered = sorted(by_addr.values(), key=lambda s: s.value)
        self._funcs = [s for s in ordered if s.kind == "func"]
        self._func_starts = [s.value for s in self._funcs]
        self._objects = [s for s in ordered if s.kind == "object"]
        self._object_starts = [s.value for s in self._objects]
        self._by_name = by_name
        return by_name

    def find_symbol(self, name: str) -> Optional[Symbol]:
        found = self._scan_named(name)
        return self._load().get(name) if found is _NO_SCAN else found

    def get_symbol(self, name: str) -> Symbol:
        sym = self.find_symbol(name)
        if sym is None:
            raise SymbolError(f"no symbol '{name}' in {self.path}{suggest(name, self.names())}")
        return sym

    def iter_symbols(self) -> Iterator[Symbol]:
        return iter(self._load().values())

    def names(self) -> list[str]:
        """Sorted names of functions and objects."""
        return sorted(name for name, sym in self._load().items() if sym.kind in ("func", "object"))

    @staticmethod
    def _containing(symbols: list[Symbol], starts: list[int], link_addr: int) -> Optional[tuple[Symbol, int]]:
        i = bisect.bisect_right(starts, link_addr) - 1
        if i < 0:
            return None
        sym = symbols[i]
        # A zero-size symbol (hand-written assembly) only claims its first byte.
        if link_addr < sym.value + max(sym.size, 1):
            return sym, link_addr - sym.value
        return None

    def function_at(self, link_addr: int) -> Optional[tuple[Symbol, int]]:
        """(function, offset into it) for a link-time address, or None."""
        found = self._scan_covering(link_addr, "func")
        if found is not _NO_SCAN:
            return found
        self._load()
        return self._containing(self._funcs, self._func_starts, link_addr)

    def object_at(self, link_addr: int) -> Optional[tuple[Symbol, int]]:
        """(data object, offset into it) for a link-time address, or None."""
        found = self._scan_covering(link_addr, "object")
        if found is not _NO_SCAN:
            return found
        self._load()
        return self._containing(self._objects, self._object_starts, link_addr)
