"""``python -m hwdbg`` and the ``hwdbg`` command: ``hwdbg serve ...`` is the remote stub
(hwdbg.remote), anything else the debugger (hwdbg.ui). Both front ends sit in one layer and
do not import each other; this dispatcher sits above them."""
from __future__ import annotations

import sys
from typing import Optional, Sequence


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["serve"]:
        from .remote.cli import main as serve
        return serve(args[1:])
    from .ui.cli import main as debug
    return debug(args)


if __name__ == "__main__":
    sys.exit(main())
