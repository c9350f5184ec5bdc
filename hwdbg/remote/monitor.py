"""``monitor`` commands (``qRcmd``): hwdbg's views that gdb and lldb have no command for."""
from __future__ import annotations

from typing import Callable

from ..errors import UsageError
from ..hw import debugregs
from ..records import writers_table
from ..session import Session, writers_of
from .points import ClientPoints

HELP = """\
monitor commands of hwdbg serve:
  info slots        what each thread's debug registers hold, and whose breakpoint each slot is
  info writers      every instruction that wrote a watched range since the program started
  priority N P      give hwdbg breakpoint N priority P (see info slots for the numbers)
  exit              end the stub after this connection (the target is let go as on disconnect)
  help              this list
"""

_TYPE_WORDS = {"x": "exec", "w": "write", "rw": "rw", "r": "read"}


def run(command: str, session: Session, points: ClientPoints, on_exit: Callable[[], None]) -> str:
    words = command.split()
    if not words or words == ["help"]:
        return HELP
    if words == ["info", "slots"]:
        return _slots(session)
    if words == ["info", "writers"]:
        return writers_table(writers_of(points.placed.values())) + "\n"
    if words[0] == "priority" and len(words) == 3:
        try:
            number, priority = int(words[1], 0), int(words[2], 0)
        except ValueError:
            raise UsageError("usage: monitor priority N P (two integers)") from None
        bp = points.breakpoint(number)
        if bp is None:
            raise UsageError(f"no hwdbg breakpoint number {number}; see `monitor info slots`")
        session.set_priority(bp, priority)
        return f"breakpoint {number} has priority {priority}\n"
    if words == ["exit"]:
        on_exit()
        return ""
    raise UsageError(f"unknown monitor command {command!r}; try `monitor help`")


def _slots(session: Session) -> str:
    inf = session.require_stopped()
    arch = session.arch
    owners = {}
    for bp in session.breakpoints.values():
        for tid, slots in bp.slots().items():
            for slot in slots:
                owners[tid, slot] = bp
    lines = []
    for tid in sorted(inf.threads):
        regs = debugregs.read_all(tid)
        control = arch.decode_control(regs[7])
        lines.append(f"Thread {tid}:")
        for n in range(arch.nslots):
            decoded = control[n] if n < len(control) else None
            what = f"{_TYPE_WORDS[decoded[0].label]:<6} len {decoded[1]}" if decoded else "off"
            bp = owners.get((tid, n))
            who = f"  breakpoint {bp.id} ({bp.kind} {bp.addr:#x} len {bp.length})" if bp is not None else ""
            lines.append(f"  DR{n}  {regs[n]:#018x}  {what}{who}")
    return "\n".join(lines) + "\n"
