"""What the symbols say about a name, an address or a line: info symbol, info address, info line,
info sharedlibrary, in gdb's words."""
from __future__ import annotations

import argparse
import os
import re
from typing import Any, Optional

from ...errors import HwdbgError, SymbolError, UsageError
from ...symbols.tls import loaded_names
from . import Category, CommandParser, Result, command, printable, raw_split, symbolic

S = Category.STATUS
_SHF_ALLOC = 0x2


def _raw(name: str, metavar: str) -> CommandParser:
    parser = CommandParser(name)
    parser.add_argument("text", nargs="?", metavar=metavar)
    return parser


def _symbols(ctx: Any) -> Any:
    symbols = ctx.session.symbols
    if symbols is None:
        raise SymbolError("No symbol table is loaded.  Use the \"file\" command.")
    return symbols


def _section_of(module: Any, link_addr: int) -> Optional[str]:
    for header in module.image.headers.sections.values():
        if header.flags & _SHF_ALLOC and header.size and header.addr <= link_addr < header.addr + header.size:
            return header.name
    return None


@command(_raw("info symbol", "ADDRESS"), category=S, group="info", name="symbol", split=raw_split,
         complete="symbols")
def info_symbol(ctx: Any, args: argparse.Namespace) -> Result:
    """info symbol ADDRESS

    The symbol at ADDRESS (an expression) and the section it is in, as gdb says it:
    "counter + 4 in section .data of /path/prog"."""
    text = (args.text or "").strip()
    if not text:
        raise UsageError("Argument required (address).")
    addr = int(ctx.evaluate(text).value) & (2**64 - 1)
    symbols = _symbols(ctx)
    module = symbols.module_for(addr) if ctx.session.alive else symbols.executable
    where = ctx.session.describe(addr) if module is not None else None
    section = _section_of(module, addr - module.bias) if module is not None else None
    if where is None or not where.function or section is None:
        return Result("info symbol", {"address": addr, "symbol": None}, f"No symbol matches {text}.")
    name = where.function + (f" + {where.offset}" if where.offset else "")
    of = f" of {os.path.realpath(module.path)}" if ctx.session.alive else ""  # gdb names the file once there are several
    return Result("info symbol", {"address": addr, "symbol": where.function, "offset": where.offset,
                                  "section": section, "file": module.path}, f"{name} in section {section}{of}")


@command(_raw("info address", "SYMBOL"), category=S, group="info", name="address", split=raw_split,
         complete="symbols")
def info_address(ctx: Any, args: argparse.Namespace) -> Result:
    """info address SYMBOL

    Where SYMBOL lives, as gdb says it: a function or static storage at an address, a
    thread-local, or a local of the selected frame (its DWARF location)."""
    name = (args.text or "").strip()
    if not name:
        raise UsageError("Argument required.")
    session = ctx.session
    frame = session.frames.selected(session.current_tid or session.inferior.pid, name) if session.alive else None
    var = frame.visible(name) if frame is not None else None
    if var is not None:
        return Result("info address", {"symbol": name, "kind": "local"}, _local_text(name, var))
    try:
        found = _symbols(ctx).lookup(name)
    except SymbolError:
        raise SymbolError(f'No symbol "{printable(name)}" in current context.') from None
    if found.kind == "func":
        text = f'Symbol "{name}" is a function at address {found.addr:#x}.'
    elif found.kind == "tls":
        text = f'Symbol "{name}" is a thread-local variable at offset {found.addr:#x} in the thread-local ' \
               f"storage for `{found.module}'."
    else:
        text = f'Symbol "{name}" is static storage at address {found.addr:#x}.'
    return Result("info address", {"symbol": name, "kind": found.kind, "address": found.addr}, text)


def _local_text(name: str, var: Any) -> str:
    """gdb 13's words for a local's DWARF location: an fbreg offset is its "complex DWARF expression"."""
    attr = var.die.attributes.get("DW_AT_location")
    if attr is None:
        return f'Symbol "{name}" is optimized out.'
    if attr.form == "DW_FORM_exprloc" and attr.value and attr.value[0] == 0x91:  # DW_OP_fbreg SLEB128
        offset, shift = 0, 0
        for byte in attr.value[1:]:
            offset |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                if byte & 0x40:
                    offset -= 1 << shift
                break
        return f'Symbol "{name}" is a complex DWARF expression:\n     0: DW_OP_fbreg {offset}\n.'
    return f'Symbol "{name}" is a variable with a location list or a complex DWARF expression.'


@command(_raw("info line", "LOCATION"), category=S, group="info", name="line", split=raw_split, complete="symbols")
def info_line(ctx: Any, args: argparse.Namespace) -> Result:
    """info line [LOCATION]

    The code of a source line: 'Line 12 of "t.c" starts at address 0x... <f> and ends
    at 0x... <f+7>.' LOCATION is FUNCTION (its first line), FILE:LINE, LINE or *ADDRESS;
    without it, the line where the program stopped."""
    text = (args.text or "").strip()
    symbols = _symbols(ctx)
    if not text:
        from .source import _stop_line
        stop = _stop_line(ctx)
        if stop is None:
            raise UsageError("No line number information available.")
        text = f"{stop[0]}:{stop[1]}"
    if text.startswith("*"):
        addr = int(ctx.evaluate(text[1:]).value)
    else:
        file_line = re.fullmatch(r"(?:(.+):)?(\d+)", text)
        if file_line:
            from .source import _current_file
            file = file_line.group(1) or _current_file(ctx)
            addr = symbols.address_of_line(file, int(file_line.group(2)))
        else:
            var = symbols.lookup(text)
            if var.kind != "func":
                raise SymbolError(f'"{printable(text)}" is not a function')
            addr = var.addr
    entry = symbols.line_entry(addr)
    if entry is None:
        return Result("info line", {"address": addr, "line": None},
                      f"No line number information available for address {addr:#x} {symbolic(ctx, addr)}".rstrip())
    module = symbols.module_for(addr)
    shown = module.dwarf.display_name(entry.file) if module is not None and module.dwarf is not None else entry.file
    start, end = f"{entry.start:#x} {symbolic(ctx, entry.start)}".rstrip(), f"{entry.end:#x} {symbolic(ctx, entry.end)}".rstrip()
    message = f'Line {entry.line} of "{shown}" starts at address {start} and ends at {end}.'
    return Result("info line", {"address": addr, "file": entry.file, "line": entry.line, "start": entry.start,
                                "end": entry.end}, message)


def _as_loaded(ctx: Any, libraries: list[Any]) -> list[tuple[Any, str]]:
    """(module, the loader's name for it) in gdb's order: the dynamic loader first (gdb finds it
    at the start), then as the loader's list has them; /proc's path where the list says nothing."""
    symbols, inferior = ctx.session.symbols, ctx.session.inferior
    if not libraries:
        return []
    try:
        names = loaded_names(symbols, inferior.read_memory)
        loader = symbols.module_for(symbols.lookup("_r_debug").addr)
    except HwdbgError:
        names, loader = [], None
    order = {l_ld: (n, name) for n, (l_ld, name) in enumerate(names)}

    def key(module: Any) -> tuple[int, int]:
        dynamic = module.image.dynamic_vaddr()
        known = order.get((dynamic + module.bias) & (2**64 - 1)) if dynamic is not None else None
        return (module is not loader, known[0] if known else len(order))

    shown = []
    for module in sorted(libraries, key=key):
        dynamic = module.image.dynamic_vaddr()
        known = order.get((dynamic + module.bias) & (2**64 - 1)) if dynamic is not None else None
        shown.append((module, known[1] if known and known[1] else module.path))
    return shown


@command(_raw("info sharedlibrary", "REGEX"), category=S, group="info", name="sharedlibrary",
         aliases=("dll",), split=raw_split)
def info_sharedlibrary(ctx: Any, args: argparse.Namespace) -> Result:
    """info sharedlibrary [REGEX]

    The shared libraries of the process (their names matching REGEX): where their
    code (.text) is, whether their symbols were read, and their paths, as gdb lists them."""
    pattern = re.compile((args.text or "").strip() or ".")
    session = ctx.session
    symbols = session.symbols
    rows, lines, missing = [], [], False
    if symbols is not None and session.alive:
        session.refresh_symbols()  # libraries mapped since the last look
    libraries = [m for m in symbols.modules[1:] if os.path.isabs(m.path)] if symbols is not None and session.alive else []
    for module, path in _as_loaded(ctx, libraries):
        if not pattern.search(path):
            continue
        text = module.image.headers.sections.get(".text")
        low, high = (text.addr + module.bias, text.addr + text.size + module.bias) if text else (0, 0)
        debug = module.image.has_dwarf() or module.image.separate_debug_path() is not None
        missing = missing or not debug
        rows.append({"from": low, "to": high, "symbols": True, "debug": debug, "path": path})
        lines.append(f"{low:#018x}  {high:#018x}  {'Yes' if debug else 'Yes (*)':<12}{path}")
    if not rows:
        return Result("info sharedlibrary", {"libraries": []}, "No shared libraries loaded at this time.")
    head = f"{'From':<20}{'To':<20}{'Syms Read':<12}Shared Object Library"
    tail = ["(*): Shared library is missing debugging information."] if missing else []
    return Result("info sharedlibrary", {"libraries": rows}, "\n".join([head, *lines, *tail]))


@command(CommandParser("info source"), category=S, group="info", name="source")
def info_source(ctx: Any, args: argparse.Namespace) -> Result:
    """info source

    The current source file (where the program stopped, or what `list` showed last): the
    name it was compiled as, its compilation directory, where it is and how many lines it
    has, its language, the compiler that made it and the DWARF version, as gdb says them."""
    from .data import _current_pc
    from .source import Listing, _read_lines, _stop_line

    path, pc = (ctx.listing.path, None) if isinstance(ctx.listing, Listing) else (None, None)
    if path is None:
        stop = _stop_line(ctx)
        if stop is not None:
            path, pc = stop[0], _current_pc(ctx)
    symbols = ctx.session.symbols
    found = _source_unit(symbols, path, pc) if path is not None and symbols is not None else None
    if found is None:
        return Result("info source", {"file": None}, "No current source file.")
    module, facts = found
    shown = module.dwarf.display_name(path, None if pc is None else pc - module.bias)
    lines = _read_lines(path)
    text = [f"Current source file is {shown}", f"Compilation directory is {facts.comp_dir}"]
    text += [f"Located in {path}"] if os.path.exists(path) else []
    text += [f"Contains {len(lines)} lines."] if lines is not None else []
    text += [f"Source language is {facts.language}."]
    text += [f"Producer is {facts.producer}."] if facts.producer is not None else []
    text += [f"Compiled with DWARF {facts.dwarf_version} debugging format.",
             "Includes preprocessor macro info." if facts.has_macros else "Does not include preprocessor macro info."]
    data = {"file": path, "name": shown, "comp_dir": facts.comp_dir, "lines": None if lines is None else len(lines),
            "language": facts.language, "producer": facts.producer, "dwarf_version": facts.dwarf_version,
            "macros": facts.has_macros}
    return Result("info source", data, "\n".join(text))


def _source_unit(symbols: Any, path: str, pc: Optional[int]) -> Optional[tuple[Any, Any]]:
    """(module, SourceFacts) of the unit the file belongs to: the module of ``pc`` first."""
    from ...symbols.source_facts import facts_of

    first = symbols.module_for(pc) if pc is not None else None
    for module in sorted(symbols.modules, key=lambda m: m is not first):  # stable: the rest in their order
        if module.dwarf is None:
            continue
        cu = module.dwarf.unit_of_source(path, None if pc is None or module is not first else pc - module.bias)
        facts = facts_of(cu) if cu is not None else None
        if facts is not None:
            return module, facts
    return None
