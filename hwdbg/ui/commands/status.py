"""The process and the debugger: info registers, info proc, info slots (threads: threads.py)."""
from __future__ import annotations

import argparse
from typing import Any, Optional

from ...errors import UsageError
from ...linux.procfs import read_maps
from . import Category, CommandParser, Result, command, current_tid, number, printable, symbolic
from ...hw import debugregs
from ...session.pagewatch import backend_text

S = Category.STATUS


# ------------------------------------------------------------------ registers

GENERAL_REGISTERS = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11", "r12",
                     "r13", "r14", "r15", "rip", "eflags", "cs", "ss", "ds", "es", "fs", "gs", "fs_base", "gs_base",
                     "orig_rax")
_EFLAGS = ((0, "CF"), (2, "PF"), (4, "AF"), (6, "ZF"), (7, "SF"), (8, "TF"), (9, "IF"), (10, "DF"), (11, "OF"),
           (16, "RF"))


def _natural(ctx: Any, name: str, value: int) -> str:
    if name == "rip":
        sym = symbolic(ctx, value)
        return f"{value:#x}" + (f" {sym}" if sym else "")
    if name in ("rsp", "rbp", "fs_base", "gs_base"):
        return f"{value:#x}"
    if name == "eflags":
        return "[ " + " ".join(flag for bit, flag in _EFLAGS if value >> bit & 1) + " ]"
    if name in ("cs", "ss", "ds", "es", "fs", "gs"):
        return str(value)
    return str(value - (1 << 64) if value >> 63 else value)


_regs_parser = CommandParser("info registers")
_regs_parser.add_argument("regs", nargs="*", metavar="REG")


@command(_regs_parser, category=S, group="info", name="registers", aliases=("all-registers",))
def info_registers(ctx: Any, args: argparse.Namespace) -> Result:
    """info registers [REG...]

    The general registers of the current thread (or only REG: rip, $rsp, pc, eflags...)."""
    session = ctx.session
    session.require_stopped()
    names = []
    for word in args.regs:
        name = session.arch.register_name(word)
        if name not in GENERAL_REGISTERS:
            raise UsageError(f"invalid register {printable(word)!r}; see `info registers`")
        names.append(name)
    tid = current_tid(ctx)
    regs = session.inferior.get_regs(tid)
    values = {name: int(getattr(regs, name)) for name in (names or GENERAL_REGISTERS)}
    lines = [f"{name:<15}{f'{value:#x}':<19} {_natural(ctx, name, value)}" for name, value in values.items()]
    return Result("info registers", {"tid": tid, "registers": values}, "\n".join(lines))


# ------------------------------------------------------------------ mappings

_proc_parser = CommandParser("info proc")
_proc_parser.add_argument("what", nargs="?", choices=("mappings",), default="mappings")


@command(_proc_parser, category=S, group="info", name="proc")
def info_proc(ctx: Any, args: argparse.Namespace) -> Result:
    """info proc [mappings]

    The process's memory map (/proc/PID/maps): start, end, size, offset,
    permissions and file of every mapping."""
    pid = ctx.session.require_process().pid
    maps = read_maps(pid)
    lines = [f"process {pid}", "Mapped address spaces:", "",
             f"{'Start Addr':>18} {'End Addr':>18} {'Size':>10} {'Offset':>10} Perms  objfile"]
    rows = []
    for m in maps:
        rows.append({"start": m.start, "end": m.end, "perms": m.perms, "offset": m.offset, "path": m.path})
        lines.append(f"{m.start:#18x} {m.end:#18x} {m.end - m.start:#10x} {m.offset:#10x} {m.perms:<6} {m.path}")
    return Result("info proc mappings", {"pid": pid, "mappings": rows}, "\n".join(lines))


# ------------------------------------------------------------------ debug registers

_slots_parser = CommandParser("info slots")
_slots_parser.add_argument("tids", nargs="*", type=number, metavar="TID")


def _slot_owner(ctx: Any, tid: int, slot: int) -> Optional[Any]:
    for bp in ctx.session.breakpoints.values():
        if slot in bp.slots().get(tid, ()):
            return bp
    return None


@command(_slots_parser, category=S, group="info", name="slots", aliases=("debug-registers",))
def info_slots(ctx: Any, args: argparse.Namespace) -> Result:
    """info slots [TID...]

    What every thread's debug registers really hold, read back from the kernel:
    DR0-DR3 (addresses), DR6 (status: which slot fired) and DR7 (control: type and
    length per slot), decoded, with the breakpoint owning each slot; then the
    watches too large for them, which page protection took."""
    session = ctx.session
    inf = session.require_stopped()
    arch = session.arch
    tids = args.tids or sorted(inf.threads)
    for tid in tids:
        if tid not in inf.threads:
            raise UsageError(f"no thread {tid} in process {inf.pid}; see `info threads`")
    out, lines = [], []
    for tid in tids:
        regs = debugregs.read_all(tid)
        control = arch.decode_control(regs[7])
        status = arch.decode_status(regs[6])
        slots = []
        lines.append(f"Thread {tid}:")
        for n in range(arch.nslots):
            decoded = control[n] if n < len(control) else None
            owner = _slot_owner(ctx, tid, n)
            entry: dict[str, Any] = {"slot": n, "address": regs[n], "enabled": decoded is not None,
                                     "type": decoded[0].label if decoded else None,
                                     "length": decoded[1] if decoded else None,
                                     "breakpoint": owner.id if owner is not None else None}
            slots.append(entry)
            what = f"{_TYPE_WORDS[decoded[0].label]:<6} len {decoded[1]}" if decoded else "off"
            who = f"  breakpoint {owner.id} ({owner.expr})" if owner is not None else ""
            lines.append(f"  DR{n}  {regs[n]:#018x}  {what}{who}")
        fired = ", ".join(f"DR{n}" for n in status.slots) or "none"
        step = "; single-step" if status.single_step else ""
        lines.append(f"  DR6  {regs[6]:#018x}  fired: {fired}{step}")
        used = sum(1 for s in slots if s["enabled"])
        lines.append(f"  DR7  {regs[7]:#018x}  {used}/{arch.nslots} slots enabled")
        out.append({"tid": tid, "dr0": regs[0], "dr1": regs[1], "dr2": regs[2], "dr3": regs[3], "dr6": regs[6],
                    "dr7": regs[7], "slots": slots, "fired": list(status.slots),
                    "single_step": status.single_step})
    paged = [bp for bp in session.breakpoints.values() if bp.paged]
    for bp in paged:  # not in any debug register: say where they are
        lines.append(f"Watch {bp.id} ({bp.expr}, {bp.length} bytes): {backend_text(bp)}")
    return Result("info slots", {"threads": out, "pages": [{"breakpoint": bp.id, "address": bp.addr,
                                                           "length": bp.length, "protected": bp.armed_pages}
                                                          for bp in paged]}, "\n".join(lines))


_TYPE_WORDS = {"x": "exec", "w": "write", "rw": "rw", "r": "read"}
