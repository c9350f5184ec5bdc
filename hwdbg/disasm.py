"""x86-64 disassembly (AT&T syntax, as gdb shows by default) with capstone.

capstone is optional: only disassembly needs it, so it is imported on first use.
"""
from __future__ import annotations

import functools
import re
from typing import Any, Callable, Optional, Union

from .errors import SymbolError, UnsupportedError
from .recordtype import record

_ADDRESS = re.compile(r"^\*?\s*(0[xX][0-9a-fA-F]+|\d+)$")


@record(frozen=True)
class Instruction:
    address: int
    size: int
    mnemonic: str
    op_str: str
    bytes: bytes

    def __str__(self) -> str:
        return f"{self.address:#x}:\t{self.mnemonic} {self.op_str}".rstrip()


@functools.lru_cache(maxsize=1)
def _decoder() -> Any:
    try:
        import capstone  # here: an optional dependency with a clear error, loaded on first use
    except ImportError:
        raise UnsupportedError("disassembly needs capstone: pip install capstone") from None
    decoder = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    decoder.syntax = capstone.CS_OPT_SYNTAX_ATT
    decoder.skipdata = True  # undecodable bytes become ".byte" lines instead of ending the listing
    return decoder


def disassemble(code: bytes, addr: int, count: Optional[int] = None) -> list[Instruction]:
    """Decodes ``code`` as if it sat at ``addr``: all of it, or the first ``count`` instructions."""
    if count is not None and count <= 0:
        return []
    return [Instruction(insn.address, insn.size, insn.mnemonic, insn.op_str, bytes(insn.bytes))
            for insn in _decoder().disasm(bytes(code), addr, count or 0)]


def disassemble_function(symbols: Any, read_memory: Optional[Callable[[int, int], bytes]],
                         name_or_addr: Union[str, int]) -> list[Instruction]:
    """The instructions of a function, by name or by an address inside it.

    Read with ``read_memory`` from the live process when there is one (runtime addresses),
    else from the ELF file (link-time addresses for a PIE that has not run yet).
    """
    if symbols is None:
        raise SymbolError("no symbol table loaded; cannot find a function")
    module, sym = _find_function(symbols, name_or_addr)
    if sym.size == 0:
        raise SymbolError(f"'{sym.name}' has no size in the symbol table; cannot tell where it ends")
    start = sym.value + module.bias
    if read_memory is not None:
        code = read_memory(start, sym.size)
    else:
        code = module.image.read_bytes(sym.value, sym.size)
        if len(code) < sym.size:
            raise SymbolError(f"{sym.value:#x} is not in a loaded part of {module.image.path}")
    return disassemble(code, start)


def _find_function(symbols: Any, name_or_addr: Union[str, int]) -> tuple[Any, Any]:
    """(module, function symbol) for a name or an address."""
    if isinstance(name_or_addr, str) and _ADDRESS.match(name_or_addr.strip()):
        name_or_addr = int(_ADDRESS.match(name_or_addr.strip()).group(1), 0)
    if isinstance(name_or_addr, int):
        module = symbols.module_for(name_or_addr)
        hit = module.image.function_at(name_or_addr - module.bias) if module is not None else None
        if hit is None:
            raise SymbolError(f"no function contains address {name_or_addr:#x}")
        return module, hit[0]
    for module in symbols.modules:
        sym = module.image.find_symbol(name_or_addr)
        if sym is not None and sym.kind == "func":
            return module, sym
    symbols.lookup(name_or_addr)  # an unknown name: its error suggests close names
    raise SymbolError(f"'{name_or_addr}' is not a function")
