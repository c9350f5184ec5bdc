"""The variables a pc can see: its function's DIE, the lexical blocks around the pc, their
DW_TAG_formal_parameter and DW_TAG_variable children, innermost block first.

Only the unit of the pc is read (the name index leads to the function's DIE); each
function's tree of blocks is decoded once. An inlined subroutine is a block of its own kind:
its variables belong to the inlined function, which gdb shows as a frame of its own
(``inline_chain``), so the blocks around it do not see them.
"""
from __future__ import annotations

from dataclasses import field
from typing import Any, Optional

from elftools.dwarf.dwarf_expr import DWARFExprParser
from elftools.dwarf.ranges import BaseAddressEntry, RangeEntry

from hwdbg.recordtype import record
from hwdbg.symbols.dwarf import DwarfInfo
from hwdbg.symbols.dwarf_types import (
    PARSE_ERRORS, VOID, _attr_value, _inherited, _is_constant, _text, function_name,
)
from hwdbg.symbols.types import CType

_CALL_SITES = ("DW_TAG_call_site", "DW_TAG_GNU_call_site")
_CALL_PARAMETERS = ("DW_TAG_call_site_parameter", "DW_TAG_GNU_call_site_parameter")


@record(frozen=True)
class ScopeVariable:
    """A parameter or local: its DIE carries the location (or DW_AT_const_value)."""

    name: str
    die: Any
    ctype: CType
    is_argument: bool


@record
class _Block:
    ranges: list[tuple[int, int]]  # link-time [low, high)
    variables: list[ScopeVariable] = field(default_factory=list)
    blocks: list["_Block"] = field(default_factory=list)
    call_sites: list[Any] = field(default_factory=list)  # DW_TAG_call_site DIEs
    inlines: list["_Block"] = field(default_factory=list)  # DW_TAG_inlined_subroutine blocks
    inline: Optional["InlineCall"] = None  # set on an inlined subroutine's block

    def contains(self, link_pc: int) -> bool:
        return any(low <= link_pc < high for low, high in self.ranges)


@record(frozen=True)
class InlineCall:
    """Where an inlined subroutine was called from, and the function it is."""

    name: str
    die: Any  # the DW_TAG_inlined_subroutine
    call_file: Optional[str]
    call_line: Optional[int]
    entry: int  # link-time: the first address of its first range (gdb's BLOCK_ENTRY_PC)


@record
class FunctionScope:
    """One function as DWARF describes it."""

    name: str
    die: Any
    low: int  # link-time entry address
    top: _Block
    parser: DWARFExprParser
    outer: Optional["FunctionScope"] = None  # an inlined subroutine's: the function it lies in

    @property
    def frame_base(self) -> Any:
        """The DW_AT_frame_base attribute (usually DW_OP_call_frame_cfa), or None; an inlined
        subroutine's is that of the function it was inlined into."""
        if self.outer is not None:
            return self.outer.frame_base
        return self.die.attributes.get("DW_AT_frame_base")

    @property
    def inline(self) -> Optional[InlineCall]:
        return self.top.inline

    def inline_chain(self, link_pc: int) -> list["FunctionScope"]:
        """The inlined subroutines around ``link_pc``, outermost first, each as a scope of its
        own (arguments, locals, blocks); [] where no inlined code is."""
        chain, block = [], self.top
        while True:
            inner = next((b for b in block.blocks + block.inlines if b.contains(link_pc)), None)
            if inner is None:
                return chain
            if inner.inline is not None:
                chain.append(FunctionScope(inner.inline.name, inner.inline.die, inner.inline.entry, inner,
                                           self.parser, self.outer or self))
            block = inner

    @property
    def arguments(self) -> list[ScopeVariable]:
        return [v for v in self.top.variables if v.is_argument]

    def _blocks_at(self, link_pc: int) -> list[_Block]:
        """The blocks around ``link_pc``, outermost (the function's) first."""
        chain = [self.top]
        while True:
            inner = next((b for b in chain[-1].blocks if b.contains(link_pc)), None)
            if inner is None:
                return chain
            chain.append(inner)

    def locals_at(self, link_pc: int) -> list[ScopeVariable]:
        """Locals visible at ``link_pc``, innermost block first (gdb's ``info locals`` order)."""
        return [v for block in reversed(self._blocks_at(link_pc)) for v in block.variables if not v.is_argument]

    def declaring_ranges(self, var: ScopeVariable, link_pc: int) -> list[tuple[int, int]]:
        """The link-time ranges of the block that declares ``var`` as seen from ``link_pc``
        (the function's for an argument): where gdb evaluates a display that reads it."""
        return next((b.ranges for b in reversed(self._blocks_at(link_pc)) if var in b.variables), self.top.ranges)

    def visible(self, name: str, link_pc: int) -> Optional[ScopeVariable]:
        """``name`` as C sees it at ``link_pc``: the innermost declaration wins, arguments last."""
        for var in self.locals_at(link_pc) + self.arguments:
            if var.name == name:
                return var
        return None

    def call_site_value(self, return_pc: int, register: int, callee: str) -> Optional[list[int]]:
        """DW_AT_call_value of the parameter passed in ``register`` at the call of ``callee``
        returning to ``return_pc`` (link-time): what the callee's DW_OP_entry_value(register)
        stands for. Only direct calls count (gdb does not trust an indirect call's target)."""
        for site in self.call_sites():
            if _call_return_pc(site) != return_pc or _call_origin(site) != callee:
                continue
            for parameter in site.iter_children():
                if parameter.tag not in _CALL_PARAMETERS:
                    continue
                location = _attr_value(parameter, "DW_AT_location")
                value = (_attr_value(parameter, "DW_AT_call_value")
                         or _attr_value(parameter, "DW_AT_GNU_call_site_value"))
                if location and value and _register_of(location) == register:
                    return list(value)
        return None

    def call_site_at(self, return_pc: int) -> Optional[Any]:
        """The DW_TAG_call_site DIE whose call returns to ``return_pc`` (link-time), or None."""
        return next((site for site in self.call_sites() if _call_return_pc(site) == return_pc), None)

    def call_sites(self) -> list[Any]:
        """Every call site of the function, those of the code inlined into it included."""
        out, stack = [], [self.top]
        while stack:
            block = stack.pop()
            stack += block.blocks + block.inlines
            out += block.call_sites
        return out

    def tail_calls(self) -> list[Any]:
        """The call sites that are tail calls (a jump: DW_AT_call_tail_call)."""
        return [site for site in self.call_sites()
                if "DW_AT_call_tail_call" in site.attributes or "DW_AT_GNU_tail_call" in site.attributes]


def call_target(site: Any) -> Optional[int]:
    """The link-time entry address of the function a call site calls directly, or None (an
    indirect call, or a callee without code of its own here)."""
    for name in ("DW_AT_call_origin", "DW_AT_abstract_origin"):
        if name in site.attributes:
            try:
                origin = site.get_DIE_from_attribute(name)
            except PARSE_ERRORS:
                return None
            low = origin.attributes.get("DW_AT_low_pc")
            return low.value if low is not None else None
    return None


def call_return_pc(site: Any) -> Optional[int]:
    return _call_return_pc(site)


def _register_of(expr: list[int]) -> Optional[int]:
    """N for a one-operation DW_OP_regN expression."""
    if len(expr) == 1 and 0x50 <= expr[0] <= 0x6F:
        return expr[0] - 0x50
    return None


def _call_origin(site: Any) -> Optional[str]:
    """The name of the function a call site calls directly, or None (an indirect call)."""
    for name in ("DW_AT_call_origin", "DW_AT_abstract_origin"):
        if name in site.attributes:
            try:
                origin = _inherited(site.get_DIE_from_attribute(name), "DW_AT_name")
            except PARSE_ERRORS:
                return None
            return _text(_attr_value(origin, "DW_AT_name")) if origin is not None else None
    return None


def _call_return_pc(site: Any) -> Optional[int]:
    for name in ("DW_AT_call_return_pc", "DW_AT_low_pc"):  # DWARF 5, then GNU's DWARF 4 extension
        attr = site.attributes.get(name)
        if attr is not None:
            return attr.value
    return None


def function_scope(dwarf: DwarfInfo, link_pc: int) -> Optional[FunctionScope]:
    """The scope of the function containing ``link_pc`` in this file, or None (no DWARF there)."""
    try:
        die = dwarf.function_die_at(link_pc)
    except PARSE_ERRORS:
        return None
    if die is None:
        return None
    cache = dwarf.scopes  # not a module-level map: its types refer back to ``dwarf``
    scope = cache.get(die.offset)
    if scope is None:
        try:
            scope = cache[die.offset] = _build(dwarf, die)
        except PARSE_ERRORS:
            return None
    return scope


def function_ranges(dwarf: DwarfInfo, link_pc: int) -> list[tuple[int, int]]:
    """The [low, high) ranges of the function containing ``link_pc`` (its scope's top block's),
    without reading its body as ``function_scope`` does; [] without DWARF there."""
    try:
        die = dwarf.function_die_at(link_pc)
        return _ranges(dwarf, die) if die is not None else []
    except PARSE_ERRORS:
        return []


def _build(dwarf: DwarfInfo, die: Any) -> FunctionScope:
    name = function_name(die) or "??"
    ranges = _ranges(dwarf, die)
    top = _Block(ranges)
    _fill(dwarf, die, top)
    return FunctionScope(name, die, min(low for low, _ in ranges) if ranges else 0, top,
                         DWARFExprParser(die.cu.structs))


def _fill(dwarf: DwarfInfo, parent: Any, block: _Block) -> None:
    for child in parent.iter_children():
        tag = child.tag
        if tag in ("DW_TAG_formal_parameter", "DW_TAG_variable"):
            if "DW_AT_declaration" in child.attributes:
                continue  # `extern int x;` inside a function: the global is found by name
            name_die = _inherited(child, "DW_AT_name")
            if name_die is None:
                continue  # unnamed: artificial or an unused parameter
            type_die = _inherited(child, "DW_AT_type")
            ctype = dwarf.type_of(type_die) if type_die is not None else VOID
            block.variables.append(ScopeVariable(_text(_attr_value(name_die, "DW_AT_name")), child, ctype,
                                                 tag == "DW_TAG_formal_parameter"))
        elif tag == "DW_TAG_lexical_block":
            inner = _Block(_ranges(dwarf, child))
            _fill(dwarf, child, inner)
            block.blocks.append(inner)
        elif tag in _CALL_SITES:
            block.call_sites.append(child)
        elif tag == "DW_TAG_inlined_subroutine":
            inner = _Block(_ranges(dwarf, child))
            if inner.ranges:
                inner.inline = _inline_call(dwarf, child, inner.ranges[0][0])
                _fill(dwarf, child, inner)
                _inherit(dwarf, child, inner)
                block.inlines.append(inner)


def _inherit(dwarf: DwarfInfo, die: Any, block: _Block) -> None:
    """gdb's inherit_abstract_dies: the inlined function's own parameters and variables that no
    direct child of ``die`` stands for (often ones the concrete tree has in a nested block) are
    variables of its block too, with no location."""
    try:
        origin = die.get_DIE_from_attribute("DW_AT_abstract_origin")
    except (KeyError, *PARSE_ERRORS):
        return
    referenced = set()
    for child in die.iter_children():
        attr = child.attributes.get("DW_AT_abstract_origin")
        if attr is not None:
            try:
                referenced.add(child.get_DIE_from_attribute("DW_AT_abstract_origin").offset)
            except PARSE_ERRORS:
                pass
    for child in origin.iter_children():
        if child.tag not in ("DW_TAG_formal_parameter", "DW_TAG_variable") or child.offset in referenced:
            continue
        name, type_die = _attr_value(child, "DW_AT_name"), _inherited(child, "DW_AT_type")
        if name is None or "DW_AT_declaration" in child.attributes:
            continue
        ctype = dwarf.type_of(type_die) if type_die is not None else VOID
        block.variables.append(ScopeVariable(_text(name), child, ctype, child.tag == "DW_TAG_formal_parameter"))


def _inline_call(dwarf: DwarfInfo, die: Any, entry: int) -> InlineCall:
    name = function_name(die) or "??"
    index, line = _attr_value(die, "DW_AT_call_file"), _attr_value(die, "DW_AT_call_line")
    files = dwarf._files_of(die.cu) if index is not None else []  # the unit's line-table file names
    call_file = files[index] if index is not None and 0 <= index < len(files) else None
    return InlineCall(name, die, call_file or None, line, entry)


def _ranges(dwarf: DwarfInfo, die: Any) -> list[tuple[int, int]]:
    """Link-time [low, high) ranges of a function or block (DW_AT_low_pc/high_pc or DW_AT_ranges)."""
    low, high = die.attributes.get("DW_AT_low_pc"), die.attributes.get("DW_AT_high_pc")
    if low is not None and high is not None:
        return [(low.value, low.value + high.value if _is_constant(high) else high.value)]
    attr = die.attributes.get("DW_AT_ranges")
    lists = dwarf.range_lists
    if attr is None or lists is None or attr.form == "DW_FORM_rnglistx":
        return []
    top_low = die.cu.get_top_DIE().attributes.get("DW_AT_low_pc")
    base = top_low.value if top_low is not None else 0
    out = []
    for entry in lists.get_range_list_at_offset(attr.value, cu=die.cu):
        if isinstance(entry, BaseAddressEntry):
            base = entry.base_address
        elif isinstance(entry, RangeEntry):
            begin, end = entry.begin_offset, entry.end_offset
            out.append((begin, end) if entry.is_absolute else (base + begin, base + end))
    return out


def const_value(var: ScopeVariable) -> Optional[bytes]:
    """The bytes of a variable the compiler folded into DW_AT_const_value, or None."""
    attr = var.die.attributes.get("DW_AT_const_value")
    if attr is None:
        return None
    value = attr.value
    if isinstance(value, (list, bytes)):
        return bytes(value)
    size = var.ctype.size or 8
    return (int(value) & ((1 << 8 * size) - 1)).to_bytes(size, "little")
