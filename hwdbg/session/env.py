"""What the expression language may see: symbols, memory and the registers of one thread."""
from __future__ import annotations

from typing import Any, Callable, Optional

from ..arch import ArchSpec
from ..errors import LibraryNotLoaded, SymbolError, TargetError, UsageError
from ..symbols.types import CType
from .frames import HELD_BASE

# A function the debug info does not describe: called only with a cast giving its return type.
NO_DEBUG_FUNCTION = CType("func", "<text variable, no debug info>", 1)


class MissingNames:
    """Names looked up in vain since the last exec: the map is re-read for each once, not at every
    hit (a condition may ask at every hit, and a library mapped since the last look may have it)."""

    def __init__(self) -> None:
        self.names: set[tuple[str, Optional[str]]] = set()

    def first_miss(self, name: str, lib: Optional[str]) -> bool:
        key = (name, lib)
        if key in self.names:
            return False
        self.names.add(key)
        return True


class ExpressionEnv:
    """The ``expr.Env`` of a session: one thread's view, with the session's symbols and memory."""

    def __init__(self, arch: ArchSpec, tid: Optional[int], *, symbols: Callable[[], Any],
                 alive: Callable[[], bool], refresh: Callable[[], None], missing: MissingNames,
                 read_memory: Callable[[int, int], bytes], get_regs: Callable[[Optional[int]], Any]) -> None:
        self.arch, self.tid = arch, tid
        self._symbols, self._alive, self._refresh, self._missing = symbols, alive, refresh, missing
        self._read_memory, self._get_regs = read_memory, get_regs
        # The frame names are looked up in first (session/frames.py), set by the session; called
        # with a name, it may answer None when that frame has no local of that name.
        self.frame: Optional[Callable[..., Any]] = None
        self.frame_used: Any = None  # the frame whose locals the last expressions used (scoped watches)
        self.locals_used: list[tuple[Any, Any]] = []  # (frame, ScopeVariable) of each local read (display)
        self.symbolic: Optional[Callable[[int], str]] = None  # names addresses in frame texts (ui sets it)

    def _local(self, name: str) -> Any:
        frame = self.frame(name) if self.frame is not None and self._alive() else None
        var = frame.visible(name) if frame is not None else None
        if var is None:
            return None
        self.frame_used = frame
        self.locals_used.append((frame, var))
        return frame.found(var)

    def _elsewhere(self, name: str) -> bool:
        """Is ``name`` a local of another frame of the stack (gdb: not in the current context)?"""
        # (Called with the name: while the target runs, a condition's unknown name costs no unwinding.)
        frame = self.frame(name) if self.frame is not None and self._alive() else None
        return frame is not None and any(other.visible(name) is not None
                                         for other in frame.whole_stack() if other.level != frame.level)

    def lookup(self, name: str, lib: Optional[str]) -> Any:
        if lib is None:
            found = self._local(name)
            if found is not None:
                return found
        try:
            return self._lookup_symbol(name, lib)
        except SymbolError as exc:
            if lib is None and not isinstance(exc, LibraryNotLoaded) and self._elsewhere(name):
                raise SymbolError(f'No symbol "{name}" in current context.') from None
            raise

    def _lookup_symbol(self, name: str, lib: Optional[str]) -> tuple[int, Any]:
        symbols = self._symbols()
        if symbols is None:
            raise SymbolError(f"no symbol table loaded; cannot look up {name!r}")
        try:
            var = symbols.lookup(name, lib)
        except SymbolError:
            if not self._alive() or not self._missing.first_miss(name, lib):
                raise
            self._refresh()  # a library mapped since the last look (dlopen)
            var = symbols.lookup(name, lib)
        if var.kind == "tls":  # a thread-local: this thread's instance, typed even in a big library
            if not self._alive():
                raise TargetError(f"Cannot read `{name}' without registers")
            fs_base = self.register("fs_base")
            return symbols.thread_local_address(var, fs_base, self.read_memory), symbols.ctype_of(var)
        if var.kind == "func" and var.ctype is None:
            return var.addr, NO_DEBUG_FUNCTION
        return var.addr, var.ctype

    def lookup_type(self, name: str, lib: Optional[str]) -> Any:
        """The type of a variable, for whatis and sizeof: a thread-local has one before it has an address."""
        try:
            return self.lookup(name, lib)[1]
        except TargetError:
            symbols = self._symbols()
            var = symbols.lookup(name, lib)
            if var.kind != "tls":
                raise
            return symbols.ctype_of(var)

    def read_memory(self, addr: int, size: int) -> bytes:
        if addr >= HELD_BASE and self.frame is not None:  # a struct of the frame held in registers
            frame = self.frame()
            data = frame.held.read(addr, size) if frame is not None else None
            if data is not None:
                return data
        return self._read_memory(addr, size)

    def type_named(self, name: str) -> Optional[Any]:
        """A type the program's debug info names ('struct node', a typedef), for casts and sizeof."""
        symbols = self._symbols()
        return symbols.type_named(name) if symbols is not None else None

    def register(self, name: str) -> int:
        if name == "tid":
            return self.tid or 0
        # $pc, $sp, ... of the selected frame, as gdb (no local is named "$x": while the target
        # runs, this reads no frame at all)
        frame = self.frame(f"${name}") if self.frame is not None and self._alive() else None
        if frame is not None and frame.level > 0:
            value = frame.register(self.arch.register_name(name))
            if value is not None:
                return value
        regs = self._get_regs(self.tid)
        field_name = self.arch.register_name(name)
        if field_name not in {f[0] for f in regs._fields_}:
            raise UsageError(f"unknown register ${name}")
        return int(getattr(regs, field_name))
