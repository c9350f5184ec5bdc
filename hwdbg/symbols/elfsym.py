"""An ELF symbol as hwdbg keeps it, and which of several symbols a user means by a name.

The constants are those the symbol tables are decoded with by hand (much faster than letting
pyelftools build a construct Container per symbol on a big library)."""
from __future__ import annotations

from typing import NamedTuple

STT_OBJECT, STT_FUNC, STT_SECTION, STT_FILE, STT_COMMON, STT_TLS, STT_GNU_IFUNC = 1, 2, 3, 4, 5, 6, 10
STB_LOCAL, STB_GLOBAL, STB_WEAK, STB_GNU_UNIQUE = 0, 1, 2, 10
SHN_UNDEF, SHN_ABS = 0, 0xFFF1
BINDING_NAMES = {STB_LOCAL: "local", STB_GLOBAL: "global", STB_WEAK: "weak", STB_GNU_UNIQUE: "global"}
BINDING_RANK = {"global": 0, "weak": 1, "local": 2}


class Symbol(NamedTuple):
    """A defined symbol; ``value`` is its link-time address. A named tuple, not a frozen
    dataclass: a big program has tens of thousands, built at every start."""

    name: str
    value: int
    size: int
    kind: str  # 'func' | 'object' | 'tls' (value: offset in the TLS block) | 'other'
    binding: str = "global"  # 'global' | 'weak' | 'local'


def symbol_kind(sym_type: int, shndx: int) -> str:
    if shndx == SHN_ABS:
        return "other"  # absolute values are not addresses in the image
    if sym_type in (STT_FUNC, STT_GNU_IFUNC):
        return "func"
    if sym_type in (STT_OBJECT, STT_COMMON):
        return "object"
    return "other"  # NOTYPE labels, TLS offsets


def preferred(a: Symbol, b: Symbol) -> Symbol:
    """Of two symbols for the same name or address, the one a user means."""

    def rank(s: Symbol) -> tuple:
        return (s.kind in ("other", "tls"), BINDING_RANK[s.binding], s.name.startswith("_"), len(s.name))

    return b if rank(b) < rank(a) else a


def merge_named(by_name: dict[str, Symbol], old_versions: set[str], sym: Symbol) -> Symbol:
    """Enter ``sym`` under its name, as a user means it; returns it with the version cut off.

    "memcpy@@GLIBC_2.14" is the default memcpy; "memcpy@GLIBC_2.2.5" an old one, which
    names memcpy only when nothing else does."""
    is_old_version = False
    if "@" in sym.name:
        base, _, version = sym.name.partition("@")
        is_old_version = not version.startswith("@")
        sym = sym._replace(name=base)
    current = by_name.get(sym.name)
    if current is None or (sym.name in old_versions and not is_old_version):
        by_name[sym.name] = sym
        old_versions.discard(sym.name)
        if is_old_version:
            old_versions.add(sym.name)
    elif not is_old_version:
        by_name[sym.name] = preferred(current, sym)
    return sym
