"""The symbol view of a whole process: the executable plus every mapped shared object.

Addresses handed out here are runtime addresses: link-time address + the module's
bias. Before a process exists only the executable is known, at bias 0, which is
right for a non-PIE executable and unknowable for a PIE.
"""
from __future__ import annotations

import os
from dataclasses import field
from typing import Callable, Optional

from hwdbg.errors import LibraryNotLoaded, SymbolError, UsageError
from hwdbg.recordtype import record
from hwdbg.symbols import index as name_index
from hwdbg.symbols import tls
from hwdbg.symbols.dwarf import DwarfInfo
from hwdbg.symbols.inlines import function_copies, inline_sites
from hwdbg.symbols import plt
from hwdbg.symbols.prologue import function_start
from hwdbg.symbols.prologue_facts import function_facts, line_span
from hwdbg.symbols.elf import ElfImage, suggest
from hwdbg.symbols.elfsym import Symbol
from hwdbg.linux import procfs
from hwdbg.linux.procfs import Mapping, read_maps
from hwdbg.symbols.types import CType

ELF_MAGIC = b"\x7fELF"
DESCRIBE_CACHE_LIMIT = 1 << 16


@record(frozen=True)
class Variable:
    """A named piece of the process: a function or a data object, at its runtime address."""

    name: str
    addr: int
    size: int
    ctype: Optional[CType]
    module: str
    kind: str  # 'func' | 'object' | 'tls' (a thread-local: addr is its offset in the module's TLS block)


@record(frozen=True)
class Location:
    """What is at a runtime address: function+offset and source line when known."""

    addr: int
    function: Optional[str]
    offset: int
    file: Optional[str]
    line: Optional[int]
    module: Optional[str]

    def __str__(self) -> str:
        text = f"{self.addr:#x}"
        if self.function:
            text += f" <{self.function}+{self.offset}>" if self.offset else f" <{self.function}>"
        if self.file and self.line:
            text += f" at {os.path.basename(self.file)}:{self.line}"
        return text


@record(frozen=True)
class LineEntry:
    """One entry of the line table at runtime addresses: [start, end) is ``line`` of ``file``."""

    start: int
    end: int
    file: str
    line: int
    is_stmt: bool


@record
class Module:
    """One ELF file in the process and where it is mapped."""

    path: str
    image: ElfImage
    dwarf: Optional[DwarfInfo]
    bias: int
    ranges: list[tuple[int, int]] = field(default_factory=list)  # runtime [start, end)

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    def contains(self, runtime_addr: int) -> bool:
        return any(start <= runtime_addr < end for start, end in self.ranges)

    def matches(self, lib: str) -> bool:
        """Does the user's ``lib`` (e.g. "libfoo" or "libfoo.so") name this module?"""
        return self.name == lib or self.name.startswith(lib) or self.path == lib


class _Images:
    """ElfImage/DwarfInfo per file version, so refresh after dlopen or exec re-reads only new files."""

    def __init__(self) -> None:
        self._cache: dict[tuple, Optional[tuple[ElfImage, Optional[DwarfInfo]]]] = {}

    def get(self, path: str) -> Optional[tuple[ElfImage, Optional[DwarfInfo]]]:
        """(image, dwarf) for an ELF file, None for anything else (fonts, locale archives)."""
        try:
            st = os.stat(path)
        except OSError:
            return None
        key = (path, st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)
        if key not in self._cache:
            self._cache[key] = self._load(path)
        return self._cache[key]

    @staticmethod
    def _load(path: str) -> Optional[tuple[ElfImage, Optional[DwarfInfo]]]:
        try:
            with open(path, "rb") as f:
                if f.read(4) != ELF_MAGIC:
                    return None
            image = ElfImage(path)
        except (OSError, SymbolError):
            return None
        return image, _dwarf_for(image)


def _dwarf_for(image: ElfImage) -> Optional[DwarfInfo]:
    """The file's own DWARF, or that of its separate debug file (whose .symtab it also adopts).

    A debug file that is unreadable or belongs to another build is skipped with one notice:
    the image's own symbols still work."""
    if image.has_dwarf():
        return DwarfInfo(image, image.build_id())
    debug_path = image.separate_debug_path()
    if debug_path is None:
        return None
    try:
        debug_image = ElfImage(debug_path)
    except SymbolError as e:
        name_index.notice(f"{e}; using the symbols of {image.path} only")
        return None
    wanted, found = image.build_id(), debug_image.build_id()
    if wanted and found and wanted != found:
        name_index.notice(
            f"{debug_path} has build-id {found}, but {image.path} has {wanted}; ignoring that debug file"
        )
        return None
    image.adopt_symbols_from(debug_image)
    return DwarfInfo(debug_image, found or wanted) if debug_image.has_dwarf() else None


class SymbolTable:
    """Name <-> address for a program, and after ``refresh(pid)`` for its running process."""

    def __init__(self, exe_path) -> None:
        self.exe_path = os.fspath(exe_path)
        self._images = _Images()
        loaded = self._images.get(os.path.realpath(self.exe_path))
        if loaded is None:
            # Let ElfImage say why (missing file, not ELF).
            ElfImage(self.exe_path)
            raise SymbolError(f"{self.exe_path} is not an ELF executable")
        image, dwarf = loaded
        exe = Module(self.exe_path, image, dwarf, 0, list(image.load_ranges()))
        self.modules: list[Module] = [exe]
        self.pid: Optional[int] = None
        self._describe_cache: dict[int, Location] = {}

    @property
    def executable(self) -> Module:
        return self.modules[0]

    @property
    def resolved(self) -> bool:
        """Are runtime addresses known (non-PIE, or a process has been seen)? Before, a PIE's
        addresses are its link-time ones (bias 0), as gdb shows them: a break or watch set then is
        resolved again when the program starts (SessionTable.rearm)."""
        return self.pid is not None or not self.executable.image.is_pie

    # -- process layout ---------------------------------------------------

    def refresh(self, pid: int) -> None:
        """Rebuild the module list from the process's mappings (after start, exec, dlopen)."""
        maps = read_maps(pid)
        exe_real = self._exe_of(pid)
        by_path: dict[str, list[Mapping]] = {}
        for mapping in maps:
            if mapping.is_file:
                by_path.setdefault(mapping.file_path, []).append(mapping)
        modules = []
        for path, mappings in by_path.items():
            loaded = self._images.get(self._readable_path(pid, path, mappings[0]))
            if loaded is None:
                continue
            image, dwarf = loaded
            first = next((m for m in mappings if m.offset == 0), mappings[0])
            bias = first.start - first.offset - image.load_base_vaddr
            # The loaded segments too: the tail of .bss is anonymous memory, not the file's.
            ranges = [(m.start, m.end) for m in mappings]
            ranges += [(start + bias, end + bias) for start, end in image.load_ranges()]
            module = Module(path, image, dwarf, bias, ranges)
            if os.path.realpath(path) == exe_real:
                modules.insert(0, module)
            else:
                modules.append(module)
        if not modules or os.path.realpath(modules[0].path) != exe_real:
            # The executable is not visible in the maps (should not happen); keep what we had.
            modules.insert(0, self.executable)
        self.modules = modules
        self.pid = pid
        self._describe_cache.clear()

    def _exe_of(self, pid: int) -> str:
        try:
            return procfs.real_exe(pid)
        except OSError:
            return os.path.realpath(self.exe_path)

    @staticmethod
    def _readable_path(pid: int, path: str, mapping: Mapping) -> str:
        # A rebuilt (deleted) file or one in another mount namespace is still reachable
        # through the process's own view of it.
        if not mapping.deleted and os.path.exists(path):
            return path
        return procfs.mapped_file(pid, mapping.start, mapping.end, path)

    def module_for(self, addr: int) -> Optional[Module]:
        return next((m for m in self.modules if m.contains(addr)), None)

    def modules_named(self, lib: Optional[str]) -> list[Module]:
        """The modules ``lib`` names (every module when None); LibraryNotLoaded when none does."""
        return self._modules_named(lib)

    def _modules_named(self, lib: Optional[str]) -> list[Module]:
        if lib is None:
            return self.modules
        chosen = [m for m in self.modules if m.matches(lib)]
        if not chosen:
            known = ", ".join(m.name for m in self.modules)
            hint = "" if self.pid is not None else "; shared libraries are known once the program runs (e.g. `start`)"
            raise LibraryNotLoaded(f"no loaded module matches '{lib}' (loaded: {known}){hint}")
        return chosen

    # -- names -> addresses -------------------------------------------------

    def lookup(self, name: str, lib: Optional[str] = None) -> Variable:
        """A function or data object by name: the executable first, then libraries in map order."""
        if not name:
            raise UsageError("empty symbol name")
        modules = self._modules_named(lib)
        for module in modules:
            found = self._lookup_in(module, name)
            if found is not None:
                return found
        where = f" in {', '.join(m.name for m in modules)}" if lib else ""
        names = {n for m in modules for n in m.image.names()}
        for module in modules:
            if module.dwarf is not None and (module is self.executable or module.dwarf.indexed):
                names.update(module.dwarf.variable_names())
        raise SymbolError(f"no symbol '{name}'{where}{suggest(name, names)}")

    def inline_sites(self, name: str, lib: Optional[str] = None) -> list[int]:
        """Run-time addresses where ``break name`` stops besides the function's own symbol, in
        every module (without the C scanner: the executable and small or indexed libraries): its
        inlined copies' entries and, after their prologues, its out-of-line copies (clones)."""
        out: list[int] = []
        for module in self._modules_named(lib):
            if module.dwarf is not None:
                slow_ok = self._types_cheap(module)
                out += [addr + module.bias for addr in inline_sites(module.dwarf, name, slow_ok)]
                for entry, end in function_copies(module.dwarf, name, slow_ok):
                    facts = function_facts(module.image, module.dwarf, entry, end - entry)
                    out.append(function_start(facts, line_span(module.dwarf)) + module.bias)
        return out

    def _lookup_in(self, module: Module, name: str) -> Optional[Variable]:
        sym = module.image.find_symbol(name)
        if sym is not None and sym.kind in ("func", "object"):
            return self._from_symbol(module, sym, self._types_cheap(module))
        if sym is not None and sym.kind == "tls":
            found = module.dwarf.tls_variable(name) if self._types_cheap(module) else None
            ctype = found[1] if found is not None else None
            return Variable(name, sym.value, sym.size or (ctype.size if ctype else 0), ctype, module.name, "tls")
        if module is self.executable and module.dwarf is not None:
            # A variable the symbol table lacks (stripped .symtab, DWARF kept).
            found = module.dwarf.variable(name)
            if found is not None:
                link_addr, ctype = found
                return Variable(name, link_addr + module.bias, ctype.size, ctype, module.name, "object")
            found = module.dwarf.tls_variable(name)
            if found is not None:
                offset, ctype = found
                return Variable(name, offset, ctype.size, ctype, module.name, "tls")
        return None

    def _types_cheap(self, module: Module) -> bool:
        """May a lookup index all of the module's DWARF? Not for a big library (libc with
        its debug package takes seconds): there data objects get no type unless asked
        for with ``ctype_of``."""
        dwarf = module.dwarf
        return dwarf is not None and (module is self.executable or dwarf.small or dwarf.indexed)

    @staticmethod
    def _from_symbol(module: Module, sym: Symbol, index_data: bool) -> Variable:
        ctype = None
        if module.dwarf is not None:
            if sym.kind == "func":
                ctype = module.dwarf.function_type(sym.name, at=sym.value)
            elif index_data:
                found = module.dwarf.variable(sym.name, at=sym.value)
                ctype = found[1] if found is not None else None
        size = sym.size or (ctype.size if ctype is not None and sym.kind == "object" else 0)
        return Variable(sym.name, sym.value + module.bias, size, ctype, module.name, sym.kind)

    def ctype_of(self, var: Variable) -> Optional[CType]:
        """The DWARF type of a looked-up variable, indexing a big library if need be."""
        if var.ctype is not None:
            return var.ctype
        module = next((m for m in self.modules if m.name == var.module and m.contains(var.addr)), None)
        if module is None:
            module = next((m for m in self.modules if m.name == var.module), None)
        if module is None or module.dwarf is None:
            return None
        link_addr = var.addr - module.bias
        if var.kind == "tls":
            found = module.dwarf.tls_variable(var.name)
            return found[1] if found is not None else None
        if var.kind == "func":
            return module.dwarf.function_type(var.name, at=link_addr)
        found = module.dwarf.variable(var.name, at=link_addr)
        return found[1] if found is not None else None

    def type_named(self, name: str) -> Optional[CType]:
        """A type by its C spelling ('struct node', 'pair_t'): the executable's first, then those of
        libraries whose DWARF is small or indexed already (a miss never indexes all of libc)."""
        for module in self.modules:
            if module.dwarf is not None and self._types_cheap(module):
                found = module.dwarf.type_named(name)
                if found is not None:
                    return found
        return None

    def thread_local_address(self, var: Variable, thread_pointer: int, read_memory) -> int:
        """The address of thread-local ``var`` in the thread whose thread pointer (fs_base) is given."""
        module = next((m for m in self.modules if m.name == var.module), None)
        if module is None:
            raise SymbolError(f"module {var.module} of thread-local '{var.name}' is not loaded")
        return tls.block_address(self, module, thread_pointer, read_memory) + var.addr

    def address_of_line(self, file: str, line: int) -> int:
        """Runtime address of the first statement of file:line."""
        # Big libraries last: finding a file in them means reading every unit's line header.
        with_dwarf = sorted(
            (m for m in self.modules if m.dwarf is not None),
            key=lambda m: not (m is self.executable or m.dwarf.small),
        )
        for module in with_dwarf:
            link_addr = module.dwarf.address_of_line(file, line)
            if link_addr is not None:
                return link_addr + module.bias
        lines = sorted({n for m in with_dwarf for n in m.dwarf.lines_in(file)})
        if not lines:
            if not with_dwarf:
                raise SymbolError(f"no debug info (compile with -g) to find {file}:{line}")
            raise SymbolError(f"no source file '{file}' in the debug info")
        before = [n for n in lines if n < line]
        after = [n for n in lines if n > line]
        nearest = " and ".join(str(n) for n in (before[-1:] + after[:1]))
        raise SymbolError(f"no code at {file}:{line}; nearest lines with code: {nearest}")

    def after_prologue(self, var: Variable) -> int:
        """Where a breakpoint on function ``var`` goes: after the prologue, by gdb's rule
        (symbols/prologue.py)."""
        module = next((m for m in self.modules if m.name == var.module and m.contains(var.addr)), None)
        if module is None:
            return var.addr
        link_addr = var.addr - module.bias
        facts = function_facts(module.image, module.dwarf, link_addr, var.size)
        return function_start(facts, line_span(module.dwarf)) + module.bias

    def line_with_code(self, file: str, line: int) -> tuple[int, int]:
        """(address, line) of file:line, or of the next line with code after it (gdb moves there too)."""
        try:
            return self.address_of_line(file, line), line
        except SymbolError as exc:
            later = sorted({n for m in self.modules if m.dwarf is not None for n in m.dwarf.lines_in(file) if n > line})
            if not later:
                raise exc
            return self.address_of_line(file, later[0]), later[0]

    def names(self, prefix: str = "") -> list[str]:
        """Sorted function and object names starting with ``prefix``, for completion."""
        found = {n for m in self.modules for n in m.image.names() if n.startswith(prefix)}
        return sorted(found)

    # -- addresses -> names -------------------------------------------------

    def describe(self, addr: int) -> Location:
        """Function+offset and file:line at a runtime address (cached: called on every hit)."""
        location = self._describe_cache.get(addr)
        if location is None:
            if len(self._describe_cache) >= DESCRIBE_CACHE_LIMIT:
                self._describe_cache.clear()  # single-stepping can visit endless addresses
            location = self._describe_uncached(addr)
            self._describe_cache[addr] = location
        return location

    def _describe_uncached(self, addr: int) -> Location:
        module = self.module_for(addr)
        if module is None:
            return Location(addr, None, 0, None, None, None)
        link_addr = addr - module.bias
        hit = module.image.function_at(link_addr) or module.image.object_at(link_addr)
        function, offset = (hit[0].name, hit[1]) if hit else (None, 0)
        source = module.dwarf.line_at(link_addr) if module.dwarf is not None else None
        file, line = source if source else (None, None)
        return Location(addr, function, offset, file, line, module.name)

    # -- stepping -----------------------------------------------------------

    def line_entry(self, addr: int) -> Optional[LineEntry]:
        """The line-table entry holding a runtime address (gdb's find_pc_line), or None."""
        module = self.module_for(addr)
        if module is None or module.dwarf is None:
            return None
        found = module.dwarf.line_entry(addr - module.bias)
        if found is None:
            return None
        start, end, file, line, is_stmt = found
        return LineEntry(start + module.bias, end + module.bias, file, line, is_stmt)

    def function_at(self, addr: int) -> Optional[Variable]:
        """The function whose code holds a runtime address (from the ELF symbols), or None."""
        module = self.module_for(addr)
        if module is None:
            return None
        hit = module.image.function_at(addr - module.bias)
        return None if hit is None else self._from_symbol(module, hit[0], False)

    def return_type(self, addr: int) -> Optional[CType]:
        """The DWARF return type of the function holding ``addr`` (kind "void" for void), or None."""
        var = self.function_at(addr)
        ctype = self.ctype_of(var) if var is not None else None
        return ctype.target if ctype is not None and ctype.kind == "func" else None

    def plt_target(self, addr: int, read_word: Callable[[int], int], by_name: bool = True) -> Optional[int]:
        """Where the PLT stub at a runtime address leads: the GOT's address once the dynamic linker
        resolved it (an IFUNC's choice included), else (``by_name``) the function of that name in
        another module."""
        module = self.module_for(addr)
        found = plt.stub_target(module.image, addr - module.bias) if module is not None else None
        if found is None:
            return None
        name, slot = found
        resolved = read_word(slot + module.bias)
        if self.module_for(resolved) not in (None, module):
            return resolved
        if not by_name:
            return None
        for other in self.modules:
            sym = other.image.find_symbol(name) if other is not module else None
            if sym is not None and sym.kind == "func" and sym.value:
                return sym.value + other.bias
        return None

    def in_plt(self, addr: int) -> bool:
        module = self.module_for(addr)
        return module is not None and plt.in_plt(module.image, addr - module.bias)
