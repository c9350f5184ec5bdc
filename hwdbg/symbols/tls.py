"""Thread-local variables on x86-64 (TLS variant II): where one thread's instance of a module's
TLS block is.

The thread pointer (fs_base) points at the thread's TCB; the static TLS blocks of the modules
loaded at start lie just below it, module M's at ``fs_base - l_tls_offset`` (``l_tls_offset`` is
the dynamic linker's choice, kept in M's ``struct link_map``). A module dlopen()ed later gets
its block on first use, in dynamic TLS: the TCB's dynamic thread vector (DTV) points at it,
``dtv[l_tls_modid]``. The loader's link_map list is reached through ``_r_debug``; the offsets of
the private link_map fields come from the ``_thread_db_*`` descriptors libc exports for
libthread_db (what gdb reads through it), so no glibc version is hard-wired. Without them
(a static or non-glibc program) the executable's block is placed as the loader places the
first module: just below the TCB, rounded up to its alignment.
"""
from __future__ import annotations

import struct
from typing import Callable, Optional

from hwdbg.errors import SymbolError, TargetError

MASK64 = (1 << 64) - 1
NO_TLS_OFFSET, FORCED_DYNAMIC_TLS_OFFSET = 0, MASK64  # l_tls_offset of a module in dynamic TLS
TLS_DTV_UNALLOCATED = MASK64  # a DTV slot whose block is not allocated yet
MAX_MODULES = 4096  # a link_map list longer than this is corrupt (or a loop)
# struct link_map's public head: l_addr, l_name, l_ld, l_next (<link.h>)
LINK_MAP_HEAD = struct.Struct("<QQQQ")
R_MAP_OFFSET = 8  # struct r_debug { int r_version; struct link_map *r_map; ... }

Reader = Callable[[int, int], bytes]


def _word(read: Reader, addr: int) -> int:
    return int.from_bytes(read(addr, 8), "little")


def _descriptor(symbols, name: str) -> Optional[int]:
    """Byte offset of a field from libc's ``_thread_db_NAME`` descriptor ({bits, count, offset})."""
    for module in symbols.modules:
        sym = module.image.find_symbol(f"_thread_db_{name}")
        if sym is not None and sym.kind == "object":
            data = module.image.read_bytes(sym.value, 12)
            if len(data) == 12:
                return struct.unpack("<3I", data)[2]
    return None


def loaded_names(symbols, read: Reader) -> list[tuple[int, str]]:
    """(l_ld, l_name) of every module of the loader's link_map list, in its order: the names it
    gave them (the path it opened: /lib64/ld-linux-x86-64.so.2 where /proc says /usr/lib/...)."""
    try:
        r_debug = symbols.lookup("_r_debug").addr
    except SymbolError:
        return []
    found, entry = [], _word(read, r_debug + R_MAP_OFFSET)
    for _ in range(MAX_MODULES):
        if not entry:
            break
        _, name, l_ld, entry = LINK_MAP_HEAD.unpack(read(entry, LINK_MAP_HEAD.size))
        found.append((l_ld, _c_string(read, name).decode("utf-8", errors="replace") if name else ""))
    return found


def _c_string(read: Reader, addr: int, limit: int = 4096) -> bytes:
    """A NUL-terminated string, read a page at a time (its end may be the mapping's)."""
    data = b""
    while len(data) < limit:
        chunk = read(addr + len(data), 4096 - (addr + len(data)) % 4096)
        if b"\0" in chunk:
            return data + chunk.split(b"\0", 1)[0]
        data += chunk
    return data


def _link_map_of(symbols, module, read: Reader) -> Optional[int]:
    """The address of the loader's link_map for ``module`` (matched by l_ld, its dynamic section)."""
    dynamic = module.image.dynamic_vaddr()
    if dynamic is None:
        return None
    try:
        r_debug = symbols.lookup("_r_debug").addr
    except SymbolError:
        return None
    entry = _word(read, r_debug + R_MAP_OFFSET)
    for _ in range(MAX_MODULES):
        if not entry:
            return None
        _, _, l_ld, l_next = LINK_MAP_HEAD.unpack(read(entry, LINK_MAP_HEAD.size))
        if l_ld == (dynamic + module.bias) & MASK64:
            return entry
        entry = l_next
    return None


def first_module_offset(vaddr: int, memsz: int, align: int) -> int:
    """``l_tls_offset`` of the first module with TLS, as glibc's _dl_determine_tlsoffset sets it."""
    firstbyte = -(vaddr & (align - 1)) & (align - 1)
    return -(-(memsz - firstbyte) // align) * align + firstbyte


def block_address(symbols, module, thread_pointer: int, read: Reader) -> int:
    """Where ``module``'s TLS block is for the thread whose fs_base is ``thread_pointer``."""
    segment = module.image.tls_segment()
    if segment is None:
        raise SymbolError(f"{module.name} has no thread-local storage")
    if not thread_pointer:
        raise TargetError("Cannot access thread-local variables: this thread has no thread pointer yet "
                          "(its C library is not initialised)")
    link_map = _link_map_of(symbols, module, read)
    offset_field, modid_field = _descriptor(symbols, "link_map_l_tls_offset"), _descriptor(symbols, "link_map_l_tls_modid")
    if link_map is None or offset_field is None or modid_field is None:
        if module is not symbols.executable:
            raise TargetError(f"Cannot find thread-local storage of {module.name}: "
                              "the dynamic linker's module list is not readable")
        return (thread_pointer - first_module_offset(*segment)) & MASK64
    tls_offset = _word(read, link_map + offset_field)
    if tls_offset not in (NO_TLS_OFFSET, FORCED_DYNAMIC_TLS_OFFSET):
        return (thread_pointer - tls_offset) & MASK64
    return _dynamic_block(symbols, module, _word(read, link_map + modid_field), thread_pointer, read)


def _dynamic_block(symbols, module, modid: int, thread_pointer: int, read: Reader) -> int:
    """The block of a dlopen()ed module: ``dtv[modid]`` of the thread's DTV."""
    dtv_field = _descriptor(symbols, "pthread_dtvp")
    dtv = _word(read, thread_pointer + (8 if dtv_field is None else dtv_field))
    entry = 16  # dtv_t: a union of a counter and {void *val; void *to_free}
    slots = _word(read, dtv - entry)  # dtv[-1].counter: the number of slots
    block = _word(read, dtv + modid * entry) if 0 < modid <= slots else TLS_DTV_UNALLOCATED
    if block in (0, TLS_DTV_UNALLOCATED):
        raise TargetError(f"The inferior thread has not yet allocated storage for thread-local variables "
                          f"in the shared library `{module.path}'")
    return block
