"""SysV x86-64 return classes (psABI 3.2.3) and where finish reads a returned value."""
from __future__ import annotations

import struct
from types import SimpleNamespace

from hypothesis import given, strategies as st

from hwdbg.session.returns import INTEGER, MEMORY, SSE, X87, X87UP, XMM0_OFFSET, classify, returned_bytes
from hwdbg.symbols.types import CType, Field

INT = CType("int", "int", 4, signed=True)
LONG = CType("int", "long", 8, signed=True)
CHAR = CType("char", "char", 1, signed=True)
FLOAT = CType("float", "float", 4, signed=True)
DOUBLE = CType("float", "double", 8, signed=True)
LONG_DOUBLE = CType("float", "long double", 16, signed=True)
PTR = CType("pointer", "char *", 8, target=CHAR)


def struct_of(*types: CType) -> CType:
    """A C struct of these members, laid out with natural alignment."""
    fields, offset = [], 0
    for n, ctype in enumerate(types):
        align = min(ctype.size, 8) or 1
        offset = (offset + align - 1) // align * align
        fields.append(Field(f"f{n}", offset, ctype))
        offset += ctype.size
    align = max((min(t.size, 8) for t in types), default=1)
    return CType("struct", "struct s", (offset + align - 1) // align * align, fields=tuple(fields))


def test_scalars():
    assert classify(INT) == [INTEGER] and classify(PTR) == [INTEGER] and classify(CHAR) == [INTEGER]
    assert classify(DOUBLE) == [SSE] and classify(FLOAT) == [SSE]
    assert classify(CType("int", "__int128", 16, signed=True)) == [INTEGER, INTEGER]
    assert classify(LONG_DOUBLE) == [X87, X87UP]  # in st(0) when returned, on the stack when passed


def test_structs_as_the_abi_examples():
    assert classify(struct_of(INT, INT)) == [INTEGER]
    assert classify(struct_of(DOUBLE, LONG)) == [SSE, INTEGER]
    assert classify(struct_of(FLOAT, FLOAT, FLOAT)) == [SSE, SSE]
    assert classify(struct_of(FLOAT, INT)) == [INTEGER]  # one eightbyte with an integer in it
    assert classify(struct_of(LONG, LONG, LONG)) == [MEMORY]  # over 16 bytes
    assert classify(struct_of(LONG_DOUBLE)) == [X87, X87UP]  # returned in st(0), as gcc does (was MEMORY)
    array = CType("array", "long [5]", 40, target=LONG, count=5)
    assert classify(struct_of(array)) == [MEMORY]


@given(st.lists(st.sampled_from([INT, LONG, CHAR, FLOAT, DOUBLE, PTR]), min_size=1, max_size=6))
def test_an_eightbyte_is_sse_only_when_all_it_holds_is_floating_point(members):
    ctype = struct_of(*members)
    classes = classify(ctype)
    if ctype.size > 16:
        assert classes == [MEMORY]
        return
    assert len(classes) == (ctype.size + 7) // 8
    for word, cls in enumerate(classes):
        inside = [f.ctype for f in ctype.fields if f.offset // 8 == word]
        assert cls == (SSE if inside and all(t.kind == "float" for t in inside) else INTEGER)


def test_bytes_come_from_rax_rdx_xmm0_xmm1_in_class_order():
    regs = SimpleNamespace(rax=0x1111111122222222, rdx=0x3333333344444444)
    fp = bytearray(512)
    fp[XMM0_OFFSET:XMM0_OFFSET + 8] = struct.pack("<d", 1.5)
    fp[XMM0_OFFSET + 16:XMM0_OFFSET + 24] = struct.pack("<d", 2.5)

    def no_memory(addr, size):
        raise AssertionError("read memory")

    data, where = returned_bytes(struct_of(DOUBLE, LONG), regs, lambda: bytes(fp), no_memory)
    assert where is None and struct.unpack("<dq", data) == (1.5, 0x1111111122222222)
    data, _ = returned_bytes(struct_of(DOUBLE, DOUBLE), regs, lambda: bytes(fp), no_memory)
    assert struct.unpack("<dd", data) == (1.5, 2.5)
    data, _ = returned_bytes(struct_of(INT, INT), regs, lambda: bytes(fp), no_memory)
    assert data == struct.pack("<Q", regs.rax)
    big = struct_of(LONG, LONG, LONG)
    data, where = returned_bytes(big, regs, lambda: bytes(fp), lambda addr, size: bytes(range(size)))
    assert where == regs.rax and data == bytes(range(24))
