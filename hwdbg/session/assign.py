"""``set var`` on a variable held in a register: the register as the selected frame sees it
(gdb's put_frame_register). Frame #0's is the thread's register; an outer frame's is the stack
slot where a frame it called saved it, or, when none did, the thread's register too."""
from __future__ import annotations

from typing import Any

from ..errors import UnsupportedError
from ..symbols.dwarf_locations import REGISTER_NAMES

XMM0 = 17  # DWARF number of xmm0 on x86-64


def store_in_register(session: Any, frame: Any, tid: int, register: int, data: bytes) -> dict[str, Any]:
    """Writes ``data`` over the low bytes of ``register`` in ``frame`` of thread ``tid``; returns
    where it went (the record's "register" and "address", null when not in memory)."""
    name = REGISTER_NAMES[register] if register < len(REGISTER_NAMES) else f"dwarf register {register}"
    slot = frame.saved_slot(register)
    if slot is not None:
        old = session.read_memory(slot, 8)
        session.write_memory(slot, data + old[len(data):])
    elif register >= XMM0 or register >= len(REGISTER_NAMES):
        raise UnsupportedError(f"hwdbg cannot write ${name} (the variable's register): only general registers")
    else:
        inf = session.require_stopped()
        old = int(getattr(inf.get_regs(tid), session.arch.register_name(name)))
        new = int.from_bytes(data + old.to_bytes(8, "little")[len(data):], "little")
        session.set_register(name, new, tid, keep_frame=True)
    session.frames.changed()
    return {"register": name, "address": slot}
