"""Names and addresses: ELF symbols, DWARF lines and types, the process's mapped modules."""
from __future__ import annotations

from hwdbg.symbols.elf import ElfImage
from hwdbg.symbols.elfsym import Symbol
from hwdbg.linux.procfs import Mapping, read_maps
from hwdbg.symbols.resolver import Location, Module, SymbolTable, Variable

__all__ = ["ElfImage", "Location", "Mapping", "Module", "Symbol", "SymbolTable", "Variable", "read_maps"]
