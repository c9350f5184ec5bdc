"""The value a function returned, read where the SysV x86-64 ABI puts it (psABI 3.2.3).

Scalars come back in rax (integers, pointers, char, bool, enums; rdx holds the high half of
16-byte integers), xmm0 (float, double) or st(0) (long double). A struct or union of at most
16 bytes is split in eightbytes, each classed INTEGER (next of rax, rdx) or SSE (next of xmm0, xmm1) by the fields
that overlap it, or X87 (a struct of one long double: st(0)); _Complex long double comes back in
st(0) and st(1); a bigger one (or one the registers cannot carry) is MEMORY: the caller passed a
buffer and rax holds its address. The bytes are then printed as ``print`` would.
"""
from __future__ import annotations

import struct
from typing import Any, Callable, Optional

from .. import expr
from ..expr.values import decode_float
from ..arch.sysv_abi import COMPLEX_X87, INTEGER, MEMORY, SSE, ST0_OFFSET, X87, X87UP, XMM0_OFFSET, classify  # noqa: F401 (re-exported)
from ..symbols.types import CType

_FAKE_ADDRESS = 0xFFFF_FF00_0000_0000  # where returned bytes are served from: not user memory


def returned_bytes(ctype: CType, regs: Any, fpregs: Callable[[], bytes],
                   read_memory: Callable[[int, int], bytes]) -> tuple[bytes, Optional[int]]:
    """The returned object's bytes, and its address when it came back in memory (MEMORY class)."""
    classes = classify(ctype)
    if classes == [MEMORY]:
        return read_memory(regs.rax, ctype.size), regs.rax
    if classes[0] == X87:  # long double, alone or in a struct: st(0)
        return fpregs()[ST0_OFFSET:ST0_OFFSET + 10].ljust(ctype.size, b"\0"), None
    if classes[0] == COMPLEX_X87:  # the real part in st(0), the imaginary one in st(1)
        fp = fpregs()
        return b"".join(fp[ST0_OFFSET + 16 * i:ST0_OFFSET + 16 * i + 10].ljust(16, b"\0") for i in (0, 1)), None
    integers = [regs.rax, regs.rdx]
    data = b""
    fp = fpregs() if SSE in classes else b""
    sse = 0
    for cls in classes:
        if cls == INTEGER:
            data += struct.pack("<Q", integers.pop(0) & (2**64 - 1))
        else:
            data += fp[XMM0_OFFSET + 16 * sse:XMM0_OFFSET + 16 * sse + 8]
            sse += 1
    return data[:ctype.size], None


class _Served:
    """An expression environment that serves the returned bytes at a fixed address and passes
    every other read (a char * member's string) to the process."""

    def __init__(self, env: Any, data: bytes) -> None:
        self._env, self._data = env, data

    def read_memory(self, addr: int, size: int) -> bytes:
        offset = addr - _FAKE_ADDRESS
        if 0 <= offset and offset + size <= len(self._data):
            return self._data[offset:offset + size]
        return self._env.read_memory(addr, size)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._env, name)


def format_returned(ctype: CType, regs: Any, fpregs: Callable[[], bytes], env: Any,
                    pretty: bool = False) -> tuple[str, Any]:
    """The returned value as ``print`` spells it (gdb's "Value returned is $N = ..."; ``pretty``:
    as with set print pretty on), and the number itself for a scalar; for an aggregate, a copy of
    its bytes (gdb's value history keeps the value returned, not a place in memory)."""
    data, address = returned_bytes(ctype, regs, fpregs, env.read_memory)
    if ctype.kind in ("struct", "union", "array"):
        where = address if address is not None else _FAKE_ADDRESS
        served = env if address is not None else _Served(env, data)
        return (expr.format_value(expr.Value(where, ctype, where), served, pretty=pretty),
                expr.Value(0, ctype, data=data))
    if ctype.kind == "float":
        number: Any = decode_float(data[:ctype.size])
    else:
        number = int.from_bytes(data, "little", signed=ctype.signed and ctype.kind != "pointer")
    return expr.format_value(expr.Value(number, ctype), env), number
