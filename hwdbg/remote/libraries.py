"""``qXfer:libraries-svr4:read``: the dynamic linker's list of loaded objects, read from the
target, so the client need not walk it over ``m`` packets at every library event.

Where it is (glibc's <link.h>, the ELF gABI): the auxiliary vector gives AT_PHDR and AT_PHNUM,
the program headers give PT_PHDR (hence the load bias) and PT_DYNAMIC; the dynamic section's
DT_DEBUG entry points at ``struct r_debug`` {int r_version; struct link_map *r_map; ...}, and
each ``struct link_map`` is {l_addr, l_name, l_ld, l_next, l_prev}, 8 bytes each. The format of
the reply is the gdb manual's "Library List Format for SVR4 Targets": the first entry (the
program itself) is named by ``main-lm`` and not listed; ``lmid`` (the namespace, gdb 13 needs
it) is the one r_debug of the default namespace.
"""
from __future__ import annotations

import struct
from typing import Callable
from xml.sax.saxutils import quoteattr

AT_PHDR, AT_PHNUM, AT_SYSINFO_EHDR = 3, 5, 33
PT_DYNAMIC, PT_PHDR = 2, 6
DT_NULL, DT_DEBUG = 0, 21
PHDR_SIZE = 56
MAX_OBJECTS = 4096  # a corrupt or cyclic list ends here

Read = Callable[[int, int], bytes]


def _auxv(data: bytes) -> dict[int, int]:
    out = {}
    for key, value in struct.iter_unpack("<QQ", data[:len(data) // 16 * 16]):
        if key == 0:
            break
        out[key] = value
    return out


def r_debug_address(read: Read, auxv: bytes) -> int:
    """Where the program's ``struct r_debug`` is, or 0 while the dynamic linker has not filled DT_DEBUG."""
    aux = _auxv(auxv)
    phdr, phnum = aux.get(AT_PHDR), aux.get(AT_PHNUM)
    if not phdr or not phnum:
        return 0
    headers = read(phdr, phnum * PHDR_SIZE)
    bias, dynamic = None, None
    for n in range(phnum):
        p_type, _, _, p_vaddr = struct.unpack_from("<IIQQ", headers, n * PHDR_SIZE)
        if p_type == PT_PHDR:
            bias = phdr - p_vaddr
        elif p_type == PT_DYNAMIC:
            dynamic = p_vaddr
    if dynamic is None:
        return 0  # a static program: no dynamic linker, no list
    addr = dynamic + (bias or 0)
    for _ in range(1024):
        tag, value = struct.unpack("<qQ", read(addr, 16))
        if tag == DT_NULL:
            return 0
        if tag == DT_DEBUG:
            return value
        addr += 16
    return 0


def _string(read: Read, addr: int, limit: int = 4096) -> str:
    out = b""
    while len(out) < limit:
        chunk = read(addr + len(out), 256 - (addr + len(out)) % 256)
        end = chunk.find(b"\0")
        if end >= 0:
            return (out + chunk[:end]).decode(errors="replace")
        out += chunk
    return out.decode(errors="replace")


def svr4_xml(read: Read, auxv: bytes) -> bytes:
    debug = r_debug_address(read, auxv)
    lm = struct.unpack("<Q", read(debug + 8, 8))[0] if debug else 0
    if not lm:
        return b'<library-list-svr4 version="1.0"/>'
    rows, main = [], lm
    vdso = _auxv(auxv).get(AT_SYSINFO_EHDR)  # the kernel's vDSO: no file to read, gdb leaves it out too
    seen: set[int] = set()
    while lm and lm not in seen and len(seen) < MAX_OBJECTS:
        seen.add(lm)
        l_addr, l_name, l_ld, l_next = struct.unpack("<QQQQ", read(lm, 32))
        if lm != main and not (vdso and l_addr == vdso):
            name = _string(read, l_name) if l_name else ""
            if name:
                rows.append(f"<library name={quoteattr(name)} lm=\"{lm:#x}\" l_addr=\"{l_addr:#x}\" "
                            f"l_ld=\"{l_ld:#x}\" lmid=\"{debug:#x}\"/>")
        lm = l_next
    return (f'<library-list-svr4 version="1.0" main-lm="{main:#x}">' + "".join(rows)
            + "</library-list-svr4>").encode()
