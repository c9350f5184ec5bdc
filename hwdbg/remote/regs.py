"""The amd64 target description (``qXfer:features:read:target.xml``) and the register file
behind ``g``/``G``/``p``/``P``: one table gives both, so the numbering of ``g`` is the XML's.

Features and register numbers as gdb's amd64 GNU/Linux descriptions use them
(org.gnu.gdb.i386.core, .sse, .linux, .segments): 0-15 general registers, 16 rip,
17 eflags, 18-23 segment selectors, 24-31 st0-st7, 32-39 the x87 control registers,
40-55 xmm0-xmm15, 56 mxcsr, 57 orig_rax, 58-59 fs_base/gs_base. x87/SSE values come from
the FXSAVE area (PTRACE_GETFPREGS): fcw at 0, fsw 2, abridged tag 4, fop 6, fip 8, fdp 16,
mxcsr 24, st(i) at 32 + 16i, xmm(i) at 160 + 16i (Intel SDM vol. 1, 10.5.1).
"""
from __future__ import annotations

from typing import Callable, Optional

from ..recordtype import record

GPRS = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")
SEGMENTS = ("cs", "ss", "ds", "es", "fs", "gs")
X87_CONTROL = ("fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop")


@record(frozen=True)
class Reg:
    name: str
    bits: int
    type: str
    feature: str
    group: Optional[str] = None

    @property
    def size(self) -> int:
        return self.bits // 8


def _table() -> tuple[Reg, ...]:
    core, sse = "org.gnu.gdb.i386.core", "org.gnu.gdb.i386.sse"
    regs = [Reg(n, 64, "data_ptr" if n in ("rbp", "rsp") else "int64", core) for n in GPRS]
    regs.append(Reg("rip", 64, "code_ptr", core))
    regs.append(Reg("eflags", 32, "i386_eflags", core))
    regs += [Reg(n, 32, "int32", core) for n in SEGMENTS]
    regs += [Reg(f"st{i}", 80, "i387_ext", core) for i in range(8)]
    regs += [Reg(n, 32, "int", core, "float") for n in X87_CONTROL]
    regs += [Reg(f"xmm{i}", 128, "vec128", sse) for i in range(16)]
    regs.append(Reg("mxcsr", 32, "i386_mxcsr", sse, "vector"))
    regs.append(Reg("orig_rax", 64, "int", "org.gnu.gdb.i386.linux", "system"))
    regs += [Reg(n, 64, "int", "org.gnu.gdb.i386.segments") for n in ("fs_base", "gs_base")]
    return tuple(regs)


REGISTERS = _table()
BY_NAME = {r.name: n for n, r in enumerate(REGISTERS)}
EXPEDITED = (BY_NAME["rbp"], BY_NAME["rsp"], BY_NAME["rip"])  # sent in every stop reply, as gdbserver does

_EFLAGS = ("CF", 0), ("", 1), ("PF", 2), ("AF", 4), ("ZF", 6), ("SF", 7), ("TF", 8), ("IF", 9), ("DF", 10), \
    ("OF", 11), ("NT", 14), ("RF", 16), ("VM", 17), ("AC", 18), ("VIF", 19), ("VIP", 20), ("ID", 21)
_MXCSR = ("IE", 0), ("DE", 1), ("ZE", 2), ("OE", 3), ("UE", 4), ("PE", 5), ("DAZ", 6), ("IM", 7), ("DM", 8), \
    ("ZM", 9), ("OM", 10), ("UM", 11), ("PM", 12), ("FZ", 15)


def _flags(ident: str, fields: tuple) -> str:
    body = "".join(f'<field name="{n}" start="{b}" end="{b}"/>' for n, b in fields)
    return f'<flags id="{ident}" size="4">{body}</flags>'


_TYPES = {
    "org.gnu.gdb.i386.core": _flags("i386_eflags", _EFLAGS),
    "org.gnu.gdb.i386.sse": (
        '<vector id="v8bf16" type="bfloat16" count="8"/><vector id="v4f" type="ieee_single" count="4"/>'
        '<vector id="v2d" type="ieee_double" count="2"/><vector id="v16i8" type="int8" count="16"/>'
        '<vector id="v8i16" type="int16" count="8"/><vector id="v4i32" type="int32" count="4"/>'
        '<vector id="v2i64" type="int64" count="2"/>'
        '<union id="vec128"><field name="v8_bfloat16" type="v8bf16"/><field name="v4_float" type="v4f"/>'
        '<field name="v2_double" type="v2d"/><field name="v16_int8" type="v16i8"/>'
        '<field name="v8_int16" type="v8i16"/><field name="v4_int32" type="v4i32"/>'
        '<field name="v2_int64" type="v2i64"/><field name="uint128" type="uint128"/></union>'
        + _flags("i386_mxcsr", _MXCSR)),
}


def target_xml() -> bytes:
    parts = ['<?xml version="1.0"?><!DOCTYPE target SYSTEM "gdb-target.dtd"><target version="1.0">'
             "<architecture>i386:x86-64</architecture><osabi>GNU/Linux</osabi>"]
    feature = None
    for num, reg in enumerate(REGISTERS):
        if reg.feature != feature:
            if feature is not None:
                parts.append("</feature>")
            feature = reg.feature
            parts.append(f'<feature name="{feature}">{_TYPES.get(feature, "")}')
        group = f' group="{reg.group}"' if reg.group else ""
        parts.append(f'<reg name="{reg.name}" bitsize="{reg.bits}" type="{reg.type}" regnum="{num}"{group}/>')
    parts.append("</feature></target>")
    return "".join(parts).encode()


G_SIZE = sum(r.size for r in REGISTERS)


# ---------------------------------------------------------------- values of one stopped thread


def _tag_of(value: bytes) -> int:
    """A full x87 tag for a register FXSAVE marks in use: 0 valid, 1 zero, 2 special."""
    exponent = int.from_bytes(value[8:10], "little") & 0x7FFF
    mantissa = int.from_bytes(value[:8], "little")
    if exponent == 0 and mantissa == 0:
        return 1
    if exponent == 0x7FFF or exponent == 0 or not mantissa >> 63:
        return 2
    return 0


def full_tag(abridged: int, fsw: int, st_space: bytes) -> int:
    top = (fsw >> 11) & 7
    tag = 0
    for phys in range(8):
        if abridged >> phys & 1:
            st = (phys - top) % 8
            value = _tag_of(st_space[16 * st:16 * st + 10])
        else:
            value = 3
        tag |= value << (2 * phys)
    return tag


def abridged_tag(full: int) -> int:
    return sum(1 << p for p in range(8) if (full >> (2 * p)) & 3 != 3)


class RegisterFile:
    """The registers of one stopped thread, read once, written back only if changed."""

    def __init__(self, tid: int, *, get: Callable, set_: Callable, get_fp: Callable[[int], bytes],
                 set_fp: Callable[[int, bytes], None], set_pc: Callable) -> None:
        self.tid = tid
        self._get, self._set, self._get_fp, self._set_fp, self._set_pc = get, set_, get_fp, set_fp, set_pc
        self._gpr = None
        self._fp: Optional[bytearray] = None
        self._dirty_gpr = self._dirty_fp = False

    @property
    def gpr(self):  # a user_regs_struct
        if self._gpr is None:
            self._gpr = self._get(self.tid)
        return self._gpr

    @property
    def fp(self) -> bytearray:
        if self._fp is None:
            self._fp = bytearray(self._get_fp(self.tid))
        return self._fp

    def read(self, num: int) -> bytes:
        reg = REGISTERS[num]
        name = reg.name
        if num < 24 or num >= 57:
            return (getattr(self.gpr, name) & ((1 << reg.bits) - 1)).to_bytes(reg.size, "little")
        fp = self.fp
        if name.startswith("st"):
            i = int(name[2:])
            return bytes(fp[32 + 16 * i:42 + 16 * i])
        if name.startswith("xmm"):
            i = int(name[3:])
            return bytes(fp[160 + 16 * i:176 + 16 * i])
        return _fp_control(fp, name).to_bytes(4, "little")

    def write(self, num: int, data: bytes) -> None:
        reg = REGISTERS[num]
        if len(data) != reg.size:
            raise ValueError(f"{reg.name} takes {reg.size} bytes")
        name, value = reg.name, int.from_bytes(data, "little")
        if num < 24 or num >= 57:
            if name == "rip":
                self._set_pc(self.gpr, value)  # clears RF: an execute breakpoint at the new pc must trap
            else:
                setattr(self.gpr, name, value)
            self._dirty_gpr = True
            return
        fp = self.fp
        if name.startswith("st"):
            i = int(name[2:])
            fp[32 + 16 * i:42 + 16 * i] = data
        elif name.startswith("xmm"):
            i = int(name[3:])
            fp[160 + 16 * i:176 + 16 * i] = data
        else:
            _set_fp_control(fp, name, value)
        self._dirty_fp = True

    def read_all(self) -> bytes:
        return b"".join(self.read(n) for n in range(len(REGISTERS)))

    def write_all(self, data: bytes) -> None:
        if len(data) != G_SIZE:
            raise ValueError(f"the register block is {G_SIZE} bytes")
        offset = 0
        for num, reg in enumerate(REGISTERS):
            chunk = data[offset:offset + reg.size]
            offset += reg.size
            if chunk != self.read(num):
                self.write(num, chunk)

    def flush(self) -> None:
        if self._dirty_gpr:
            self._set(self.tid, self.gpr)
        if self._dirty_fp:
            self._set_fp(self.tid, bytes(self.fp))
        self._dirty_gpr = self._dirty_fp = False


def _u(fp: bytearray, offset: int, size: int) -> int:
    return int.from_bytes(fp[offset:offset + size], "little")


def _fp_control(fp: bytearray, name: str) -> int:
    if name == "fctrl":
        return _u(fp, 0, 2)
    if name == "fstat":
        return _u(fp, 2, 2)
    if name == "ftag":
        return full_tag(_u(fp, 4, 1), _u(fp, 2, 2), bytes(fp[32:160]))
    if name == "fop":
        return _u(fp, 6, 2) & 0x7FF
    if name == "fioff":
        return _u(fp, 8, 4)
    if name == "fiseg":
        return _u(fp, 12, 4)
    if name == "fooff":
        return _u(fp, 16, 4)
    if name == "foseg":
        return _u(fp, 20, 4)
    return _u(fp, 24, 4)  # mxcsr


_FP_FIELDS = {"fctrl": (0, 2), "fstat": (2, 2), "fop": (6, 2), "fioff": (8, 4), "fiseg": (12, 4),
              "fooff": (16, 4), "foseg": (20, 4), "mxcsr": (24, 4)}


def _set_fp_control(fp: bytearray, name: str, value: int) -> None:
    if name == "ftag":
        fp[4] = abridged_tag(value)
        return
    offset, size = _FP_FIELDS[name]
    fp[offset:offset + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
