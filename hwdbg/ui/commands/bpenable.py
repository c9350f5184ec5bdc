"""enable, disable: whole breakpoints (N, ranges N-M) or single locations of one (gdb's N.L and
N.L-M: the inlined copies of a function each have one)."""
from __future__ import annotations

import argparse
import re
from typing import Any

from ...errors import UsageError
from . import Category, Result, command, printable
from .breakpoints import _ids_parser, selected

B = Category.BREAKPOINTS
LOCATION = re.compile(r"^(\d+)\.(\d+)(?:-(\d+))?$")


def _locations(ctx: Any, words: list[str]) -> list[tuple[Any, int]]:
    """The (breakpoint, location number) pairs the N.L words name, every one checked first."""
    out = []
    for word in words:
        found = LOCATION.match(word)
        if found is None:
            raise UsageError(f"bad breakpoint location {printable(word)!r}: use N.L or N.L-M")
        bp = ctx.session.get_breakpoint(int(found.group(1)))
        first = int(found.group(2))
        last = int(found.group(3)) if found.group(3) is not None else first
        if last < first:
            raise UsageError(f"inverted breakpoint location range at '{found.group(3)}'")
        for number in (first, last):
            if not 1 <= number <= len(bp.addresses) or bp.kind.is_data:
                raise UsageError(f"Bad breakpoint location number '{number}'")
        out += [(bp, number) for number in range(first, last + 1)]
    return out


def _set_enabled(ctx: Any, args: argparse.Namespace, enabled: bool, name: str) -> Result:
    words = [w for w in args.ids if "." not in w]
    located = _locations(ctx, [w for w in args.ids if "." in w])
    bps = selected(ctx, words) if words or not located else []
    for bp in bps:
        ctx.session.set_enabled(bp, enabled)
    for bp, number in located:
        ctx.session.set_location_enabled(bp, number, enabled)
    return Result(name, {"ids": [bp.id for bp in bps], "locations": [f"{bp.id}.{n}" for bp, n in located]})


@command(_ids_parser("disable"), category=B)
def disable(ctx: Any, args: argparse.Namespace) -> Result:
    """disable [N...]

    Disables breakpoints N (all without N): they keep their number and settings but
    give their debug registers back. N.L disables location L of breakpoint N alone (a
    function inlined in several places has one location per copy, see info breakpoints);
    N.L-M locations L to M."""
    return _set_enabled(ctx, args, False, "disable")


@command(_ids_parser("enable"), category=B)
def enable(ctx: Any, args: argparse.Namespace) -> Result:
    """enable [N...]

    Enables breakpoints N (all without N) again; N.L (or N.L-M) enables locations of
    breakpoint N, as gdb does."""
    return _set_enabled(ctx, args, True, "enable")
