"""The function a hit names: DWARF's innermost function at the hit's pc (an inlined function
when the pc is in inlined code), as a stop's frame 0 and gdb/MI name it, not the ELF symbol
around the pc; the ELF symbol where there is no DWARF.

The file and line of a place already are the inlined code's (the line table's). Names are
looked up once per place: the C loop's hits come in bursts from a few pcs."""
from __future__ import annotations

from typing import Any, Callable, Optional

from .. import records as rec
from ..errors import HwdbgError
from ..symbols.scopes import function_scope

_MAX_PLACES = 65536


class InnermostFunctions:
    def __init__(self, symbols: Callable[[], Any]) -> None:
        self._symbols = symbols
        # Keyed by what the ELF says too: after an exec or a dlopen the same pc is another place.
        self._names: dict[tuple[int, Optional[str], Optional[str]], Optional[str]] = {}

    def name(self, pc: int, where: rec.Frame) -> Optional[str]:
        """The name for ``where`` (the place of ``pc`` as the symbol table describes it)."""
        key = (pc, where.function, where.module)
        if key not in self._names:
            if len(self._names) > _MAX_PLACES:
                self._names.clear()
            self._names[key] = self._lookup(pc) or where.function
        return self._names[key]

    def _lookup(self, pc: int) -> Optional[str]:
        symbols = self._symbols()
        try:
            module = symbols.module_for(pc) if symbols is not None else None
            dwarf = module.dwarf if module is not None else None
        except HwdbgError:
            return None
        if dwarf is None:
            return None
        link_pc = pc - module.bias
        scope = function_scope(dwarf, link_pc)
        if scope is None:
            return None
        chain = scope.inline_chain(link_pc)
        return chain[-1].name if chain else scope.name
