"""From what the user typed to (address, length): watch expressions and code locations.

Watch: ``counter``, ``config.flags``, ``table[3]``, ``cache->size``, ``*0xADDR``, ``0xADDR``,
``&symbol``, ``symbol+OFFSET``, ``LIB:symbol``. The length comes from the DWARF type or the
symbol size; an untyped address watches an ``int`` (4 bytes), as gdb's ``*ADDR`` does.
Code (hbreak): ``function``, ``function+OFFSET``, ``*0xADDR``, ``0xADDR``, ``FILE:LINE``,
``LIB:function``. Software breakpoints (break): the same, with ``LINE`` for a line number and a
function meaning its first line after the prologue.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Optional

from . import expr
from .errors import HwdbgError, LibraryNotLoaded, SymbolError, UsageError
from .recordtype import record
from .symbols.function_sites import Site, function_sites
from .symbols.line_sites import line_sites

UNTYPED_LENGTH = 4
_FILE_LINE = re.compile(r"^(?P<file>[^:\s]+\.[A-Za-z0-9_+]+):(?P<line>\d+)$")
_NUMBER = re.compile(r"^\*?\s*(0[xX][0-9a-fA-F]+|\d+)$")
_SYMBOL_OFFSET = re.compile(r"^(?:(?P<lib>[\w.+-]+):)?(?P<name>[A-Za-z_]\w*)(?:\s*\+\s*(?P<off>0[xX][0-9a-fA-F]+|\d+))?$")


def _number(text: str) -> int:
    """A location's number: decimal or 0x hex; a leading zero is refused, as in expressions."""
    if len(text) > 1 and text[0] == "0" and text[1] not in "xX":
        raise UsageError(f"{text!r}: a number with a leading zero is ambiguous; write {int(text):d} for "
                         f"decimal, or 0o{text.lstrip('0') or '0'} for octal")
    return int(text, 0)


@record(frozen=True)
class Resolved:
    addr: int
    length: int
    signed: bool = False
    ctype: Any = None


def resolve_watch(symbols: Any, env: expr.Env, text: str, length: Optional[int] = None) -> Resolved:
    """The memory a watch expression names (``symbols``: the symbol table, or None)."""
    text = text.strip()
    if not text:
        raise UsageError("nothing to watch: give a variable, an expression or an address")
    number = _NUMBER.match(text)
    if number:
        return Resolved(_number(number.group(1)), UNTYPED_LENGTH if length is None else length)
    symbol_offset = _SYMBOL_OFFSET.match(text)
    if symbol_offset and symbol_offset.group("off"):  # sym+N: N bytes into sym's storage
        var = _lookup(symbols, symbol_offset.group("name"), symbol_offset.group("lib"))
        return Resolved(var.addr + _number(symbol_offset.group("off")), UNTYPED_LENGTH if length is None else length)
    if text.startswith("&"):  # &sym: the symbol's storage, as `sym`
        text = text[1:].strip()
    node = expr.parse(text, getattr(env, "type_named", None))
    if isinstance(node, expr.Binary) and node.op == "@":  # gdb's LEFT@COUNT: COUNT objects from LEFT on
        value = expr.evaluate(node, env)
        addr, ctype = int(value.value), value.ctype
    else:
        addr, ctype = expr.lvalue(node, env)
    size = _size_of(symbols, text, ctype) if length is None else length
    return Resolved(addr, size, signed=bool(getattr(ctype, "signed", False)), ctype=ctype)


def _size_of(symbols: Any, text: str, ctype: Any) -> int:
    if ctype is not None and getattr(ctype, "size", 0):
        return int(ctype.size)
    if symbols is not None and re.fullmatch(r"[A-Za-z_][\w.]*(:[A-Za-z_]\w*)?", text):
        lib, _, name = text.rpartition(":")
        size = _lookup(symbols, name, lib or None).size
        if size:
            return int(size)
    return 8  # a symbol without size or type: a machine word


def resolve_code(symbols: Any, env: expr.Env, text: str) -> int:
    """The address an execute breakpoint goes to (``symbols``: the symbol table, or None)."""
    text = text.strip()
    if not text:
        raise UsageError("no location given: use FUNCTION, FILE:LINE or *ADDRESS")
    number = _NUMBER.match(text)
    if number:
        return _number(number.group(1))
    file_line = _FILE_LINE.match(text)
    if file_line:
        if symbols is None:
            raise SymbolError("no symbol table loaded; cannot find a line")
        return int(symbols.address_of_line(file_line.group("file"), int(file_line.group("line"))))
    symbol_offset = _SYMBOL_OFFSET.match(text)
    if symbol_offset:
        var = _lookup(symbols, symbol_offset.group("name"), symbol_offset.group("lib"))
        if not symbol_offset.group("off") and var.kind == "func":
            return int(symbols.after_prologue(var))  # gdb's FUNCTION: after the prologue
        return var.addr + _number(symbol_offset.group("off") or "0")
    if text.startswith("*"):
        return int(expr.evaluate(expr.parse(text[1:]), env).value)
    raise UsageError(f"cannot break at {text!r}: use FUNCTION[+OFFSET], FILE:LINE or *ADDRESS")


@record(frozen=True)
class CodeSite:
    addr: int
    note: Optional[str] = None  # said to the user: the line moved to the next one with code
    more: tuple[int, ...] = ()  # further locations, by address: a function's inlined copies
    line: Optional[int] = None  # FILE:LINE: the line gdb reports (the one asked, unless moved)
    sites: tuple = ()  # FUNCTION: each location as gdb shows it (symbols/function_sites.py Site), by address


_LINE = re.compile(r"^\d+$")


def resolve_break(symbols: Any, env: expr.Env, text: str, default_file: Optional[str] = None) -> CodeSite:
    """Where a software breakpoint goes, by gdb's rules: FUNCTION and LIB:FUNCTION after the
    prologue, *ADDRESS (or *FUNCTION) exactly, FILE:LINE and LINE (in ``default_file``) at the
    line, or at the next line with code when it has none."""
    text = text.strip()
    if not text:
        raise UsageError("no location given: use FUNCTION, FILE:LINE, LINE or *ADDRESS")
    file_line = _FILE_LINE.match(text)
    if _LINE.match(text) or file_line:
        if symbols is None:
            raise SymbolError("no symbol table loaded; cannot find a line")
        if file_line:
            file, line = file_line.group("file"), int(file_line.group("line"))
        elif default_file is None:
            raise SymbolError(f"no default source file for line {text}; use FILE:LINE")
        else:
            file, line = default_file, _number(text)
        sites, found = line_sites(symbols, file, line)
        note = None if found == line else f"line {line} of {file} has no code; using line {found}"
        return CodeSite(sites[0].addr, note, tuple(site.addr for site in sites[1:]), sites[0].line)
    if text.startswith("*"):
        return CodeSite(resolve_code(symbols, env, text))
    symbol_offset = _SYMBOL_OFFSET.match(text)
    if symbol_offset:
        name, lib = symbol_offset.group("name"), symbol_offset.group("lib")
        if symbol_offset.group("off"):
            var = _function(symbols, name, lib)
            return CodeSite(var.addr + _number(symbol_offset.group("off")))
        inlined = symbols.inline_sites(name, lib) if symbols is not None else []
        found = function_sites(symbols, name, lib, _word_reader(env)) if symbols is not None else []
        if not found:
            try:
                found = [Site(symbols.after_prologue(_function(symbols, name, lib)))]
            except LibraryNotLoaded:
                raise
            except SymbolError:
                if not inlined:
                    raise
        by_addr = {site.addr: site for site in found}
        for addr in inlined:  # a copy inlined elsewhere: its row names the function itself
            by_addr.setdefault(addr, Site(addr, name))
        ordered = sorted(by_addr)
        return CodeSite(ordered[0], more=tuple(ordered[1:]), sites=tuple(by_addr[addr] for addr in ordered))
    raise UsageError(f"cannot break at {text!r}: use FUNCTION, FILE:LINE, LINE or *ADDRESS")


def _function(symbols: Any, name: str, lib: Optional[str]) -> Any:
    var = _lookup(symbols, name, lib)
    if var.kind != "func":
        raise SymbolError(f"'{var.name}' is a data symbol, not a function; to stop when it changes, use "
                          f"watch {var.name}")
    return var


def _word_reader(env: Any) -> Callable[[int], Optional[int]]:
    """Reads a pointer of the process (a GOT slot), None when there is no process to read."""
    def read(addr: int) -> Optional[int]:
        try:
            return int.from_bytes(env.read_memory(addr, 8), "little")
        except (HwdbgError, AttributeError):
            return None
    return read


def _lookup(symbols: Any, name: str, lib: Optional[str]) -> Any:
    if symbols is None:
        raise SymbolError(f"no symbol table loaded; cannot look up {name!r}")
    return symbols.lookup(name, lib)
