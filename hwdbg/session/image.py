"""The program as this process maps it: symbols, pcs described as places, backtraces and the
expression environment. Libraries come and go (exec, dlopen): the map is re-read when a pc or
a name is not found, once each."""
from __future__ import annotations

from typing import Any, Callable, Optional

from .. import records as rec
from ..arch import ArchSpec
from ..errors import HwdbgError, SymbolError
from ..linux import procfs
from ..process.control import Inferior
from .env import ExpressionEnv, MissingNames
from ..symbols import SymbolTable
from ..symbols.unwind import unwind


def load_symbols(path: str) -> Any:
    try:
        return SymbolTable(path)
    except (OSError, ValueError) as exc:
        raise SymbolError(f"cannot read symbols from {path}: {exc}") from None


class ProgramImage:
    def __init__(self, arch: ArchSpec, inferior: Callable[[], Optional[Inferior]],
                 process: Callable[[], Inferior]) -> None:
        self.arch = arch
        self.symbols: Any = None  # hwdbg.symbols.SymbolTable, when the program is known
        self._inferior, self._process = inferior, process
        self._frames: dict[int, rec.Frame] = {}
        self._unmapped_pcs: set[int] = set()
        self._missing = MissingNames()

    def _alive(self) -> bool:
        inf = self._inferior()
        return inf is not None and inf.alive

    def describe(self, pc: int) -> rec.Frame:
        frame = self._frames.get(pc)
        if frame is None:
            if len(self._frames) > 65536:
                self._frames.clear()
            frame = self._frames[pc] = self._describe(pc)
        return frame

    def _describe(self, pc: int) -> rec.Frame:
        if self.symbols is not None:
            try:
                loc = self.symbols.describe(pc)
                if loc.module is None and pc not in self._unmapped_pcs and self._alive():
                    # Libraries are mapped after exec (and by dlopen): re-read the map once per pc.
                    self._unmapped_pcs.add(pc)
                    self.refresh()
                    loc = self.symbols.describe(pc)
                return rec.Frame(pc=pc, function=loc.function, offset=loc.offset, file=loc.file, line=loc.line,
                                 module=loc.module)
            except HwdbgError:
                pass
        return rec.Frame(pc=pc)

    def backtrace(self, tid: int, limit: int = 64) -> tuple[rec.Frame, ...]:
        inf = self._process()
        pcs = unwind(inf.get_regs(tid), inf.read_memory, lambda: self.symbols, self.refresh, limit)
        return tuple(self.describe(pc) for pc in pcs)

    def env(self, tid: Optional[int]) -> ExpressionEnv:
        def get_regs(thread: Optional[int]) -> Any:
            inf = self._process()
            return inf.get_regs(thread or inf.pid)

        return ExpressionEnv(self.arch, tid, symbols=lambda: self.symbols, alive=self._alive, refresh=self.refresh,
                             missing=self._missing, read_memory=self._read_memory,
                             get_regs=get_regs)

    def _read_memory(self, addr: int, size: int) -> bytes:
        """The process's memory; before it runs, the executable's initial data at its link-time
        addresses (gdb reads the file too, so ``print table`` works before ``run``)."""
        if self._alive() or self.symbols is None:
            return self._process().read_memory(addr, size)
        data = self.symbols.executable.image.read_initial(addr, size)
        return data if len(data) == size else self._process().read_memory(addr, size)

    def new_process(self) -> None:
        """A new process of the same program (start, attach): re-read its map."""
        self._unmapped_pcs.clear()
        self.refresh()

    def after_exec(self) -> None:
        """The process runs a new program: its symbols, and nothing remembered of the old one."""
        self._unmapped_pcs.clear()
        self._missing.names.clear()
        inf = self._inferior()
        if inf is not None:
            try:
                self.symbols = load_symbols(procfs.exe_path(inf.pid))
            except HwdbgError:
                self.symbols = None
        self.refresh()

    def refresh(self) -> None:
        """Re-reads the memory map (after dlopen, or for a pc or name not found)."""
        self._frames.clear()
        inf = self._inferior()
        if inf is None or self.symbols is None:
            return
        try:
            self.symbols.refresh(inf.pid)
        except (HwdbgError, OSError):
            pass
