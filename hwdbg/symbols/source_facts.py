"""What a compilation unit says about itself, for gdb's `info source`: its compilation
directory, language, producer, DWARF version and whether it carries macro information."""
from __future__ import annotations

from typing import Any, Optional

from hwdbg.recordtype import record
from hwdbg.symbols.dwarf_types import PARSE_ERRORS, _attr_value, _text

# DW_AT_language -> the name gdb gives the language (DWARF 5, 7.12)
LANGUAGES = {
    0x01: "c", 0x02: "c", 0x0c: "c", 0x1d: "c", 0x2c: "c",
    0x04: "c++", 0x19: "c++", 0x1a: "c++", 0x21: "c++", 0x2a: "c++", 0x2b: "c++",
    0x07: "fortran", 0x08: "fortran", 0x0e: "fortran", 0x22: "fortran", 0x23: "fortran",
    0x03: "ada", 0x0d: "ada", 0x2e: "ada", 0x09: "pascal", 0x0a: "modula-2", 0x10: "objective-c",
    0x13: "d", 0x15: "opencl", 0x16: "go", 0x1c: "rust", 0x8001: "asm",
}
MACRO_ATTRIBUTES = ("DW_AT_macros", "DW_AT_GNU_macros", "DW_AT_macro_info")


@record(frozen=True)
class SourceFacts:
    comp_dir: str
    language: str  # as gdb names it: "c", "c++", "asm", ... ("unknown")
    producer: Optional[str]
    dwarf_version: int
    has_macros: bool


def facts_of(cu: Any) -> Optional[SourceFacts]:
    """The facts of one unit (a pyelftools CompileUnit), or None if its first DIE cannot be read."""
    try:
        top = cu.get_top_DIE()
    except PARSE_ERRORS:
        return None
    language = _attr_value(top, "DW_AT_language")
    producer = _attr_value(top, "DW_AT_producer")
    return SourceFacts(comp_dir=_text(_attr_value(top, "DW_AT_comp_dir")),
                       language=LANGUAGES.get(language, "unknown") if isinstance(language, int) else "unknown",
                       producer=None if producer is None else _text(producer),
                       dwarf_version=cu["version"], has_macros=any(name in top.attributes for name in MACRO_ATTRIBUTES))
