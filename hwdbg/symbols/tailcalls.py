"""Frames that tail calls took off the stack, found again as gdb does (call_site_find_chain):
from the call site the caller returns to, through the DW_TAG_call_site entries marked
DW_AT_call_tail_call of each function it may reach, to the function that runs now. Each
function on the way gets a frame whose pc is its tail call's return pc. When several paths
fit, only the calls they all share are kept (the common start and the common end).
"""
from __future__ import annotations

from typing import Any

from hwdbg.symbols.scopes import call_return_pc, call_target, function_scope

MAX_DEPTH = 16
MAX_PATHS = 64


def tail_call_chain(dwarf: Any, caller_scope: Any, return_pc: int, callee_low: int) -> list[int]:
    """Link-time return pcs of the tail calls between the call returning to ``return_pc`` in
    ``caller_scope`` and the function entered at ``callee_low``, innermost first: [] when the
    caller called it directly or no path is known."""
    site = caller_scope.call_site_at(return_pc) if caller_scope is not None else None
    target = call_target(site) if site is not None else None
    if target is None or target == callee_low:
        return []
    paths: list[list[int]] = []
    _search(dwarf, target, callee_low, [], {target}, paths)
    if not paths:
        return []
    first = paths[0]
    if all(path == first for path in paths):
        chain = first
    else:
        prefix = _common(paths)
        suffix = _common([path[::-1] for path in paths])[::-1]
        keep = min(len(path) for path in paths)
        chain = prefix + suffix if len(prefix) + len(suffix) <= keep else prefix
    return chain[::-1]


def _common(paths: list[list[int]]) -> list[int]:
    out = []
    for items in zip(*paths):
        if any(item != items[0] for item in items):
            break
        out.append(items[0])
    return out


def _search(dwarf: Any, function_low: int, callee_low: int, path: list[int], seen: set[int],
            paths: list[list[int]]) -> None:
    """Depth first through the tail calls of the function at ``function_low``; ``path`` holds
    the return pcs taken so far, outermost first."""
    if len(path) >= MAX_DEPTH or len(paths) >= MAX_PATHS:
        return
    scope = function_scope(dwarf, function_low)
    if scope is None or scope.low != function_low:
        return
    for site in scope.tail_calls():
        pc, target = call_return_pc(site), call_target(site)
        if pc is None or target is None:
            continue
        if target == callee_low:
            paths.append(path + [pc])
        elif target not in seen:
            _search(dwarf, target, callee_low, path + [pc], seen | {target}, paths)
