"""x86-64 arch layer, checked against the Intel SDM (Vol. 3B 18.2.4) and the measured kernel facts
(/work/shared/notes/debug-registers.md). Pure: no process, no ptrace."""
from __future__ import annotations

import itertools
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hwdbg.arch import (HW_BREAKPOINT_LEN_1, HW_BREAKPOINT_LEN_2, HW_BREAKPOINT_LEN_4, HW_BREAKPOINT_LEN_8,
                        HW_BREAKPOINT_R, HW_BREAKPOINT_RW, HW_BREAKPOINT_W, HW_BREAKPOINT_X, BpType, Chunk,
                        current)
from hwdbg.arch import x86_64 as x86
from hwdbg.arch.x86_64 import X86_64, decode_rep_string, string_store_in_flight
from hwdbg.errors import (AddressError, AlignmentError, LengthError, UnsupportedError, ValidationError)

ARCH = X86_64()
BASE = 0x404040  # 64-aligned, like a .bss address of a non-PIE target

# Intel SDM Vol. 3B 18.2.4, written out independently of the module under test.
SDM_RW = {BpType.X: 0b00, BpType.W: 0b01, BpType.RW: 0b11}
SDM_LEN = {1: 0b00, 2: 0b01, 8: 0b10, 4: 0b11}
TYPES = (BpType.X, BpType.W, BpType.RW)
LENGTHS = (1, 2, 4, 8)


def field(value: int, lo: int, width: int) -> int:
    return (value >> lo) & ((1 << width) - 1)


# ---------------------------------------------------------------- DR7 encoding


@pytest.mark.parametrize("slot", range(4))
@pytest.mark.parametrize("bp_type", TYPES, ids=lambda t: t.label)
@pytest.mark.parametrize("length", LENGTHS)
def test_dr7_single_slot_matches_sdm(slot, bp_type, length):
    chunk = Chunk(BASE, length, bp_type)
    slots = [None] * 4
    slots[slot] = chunk
    dr7 = ARCH.encode_control(slots)
    assert field(dr7, 2 * slot, 1) == 1, "Ln (bit 2n) set"
    assert field(dr7, 2 * slot + 1, 1) == 0, "Gn is never used"
    assert field(dr7, 16 + 4 * slot, 2) == SDM_RW[bp_type]
    assert field(dr7, 18 + 4 * slot, 2) == SDM_LEN[length]
    expected = (1 << 2 * slot) | (SDM_RW[bp_type] << (16 + 4 * slot)) | (SDM_LEN[length] << (18 + 4 * slot))
    assert dr7 == expected, "no other bit set"
    decoded = ARCH.decode_control(dr7)
    assert decoded == [(bp_type, length) if n == slot else None for n in range(4)]


def test_dr7_validated_request_round_trip_all_combinations():
    """Every slot x type x length, through validate (X is forced to length 1)."""
    for slot, bp_type, length in itertools.product(range(4), TYPES, LENGTHS):
        chunk = ARCH.validate(BASE, length, bp_type)
        slots = [None] * 4
        slots[slot] = chunk
        want = 1 if bp_type == BpType.X else length
        assert ARCH.decode_control(ARCH.encode_control(slots))[slot] == (bp_type, want)


@pytest.mark.parametrize("value, slots", [
    (0x90001, [Chunk(BASE, 8, BpType.W)]),
    (0xD0001, [Chunk(BASE, 4, BpType.W)]),
    (0xB0001, [Chunk(BASE, 8, BpType.RW)]),
    (0x1, [Chunk(BASE, 1, BpType.X)]),
    (0x0, []),
    (0x0, [None, None, None, None]),
    # notes §2: all four slots enabled (W8, W4, RW1, W8)
    (0x93D90055, [Chunk(BASE, 8, BpType.W), Chunk(BASE + 8, 4, BpType.W), Chunk(BASE, 1, BpType.RW),
                  Chunk(BASE + 64, 8, BpType.W)]),
])
def test_dr7_known_values_from_notes(value, slots):
    assert ARCH.encode_control(slots) == value
    assert ARCH.decode_control(value) == [(c.type, c.length) if c else None
                                          for c in list(slots) + [None] * (4 - len(slots))]


def test_dr7_free_slot_leaves_its_bits_zero():
    dr7 = ARCH.encode_control([None, Chunk(BASE, 8, BpType.W), None, Chunk(BASE, 1, BpType.X)])
    assert dr7 == (1 << 2) | (0b1001 << 20) | (1 << 6)
    assert field(dr7, 0, 2) == 0 and field(dr7, 16, 4) == 0 and field(dr7, 24, 4) == 0


def test_dr7_too_many_slots():
    with pytest.raises(ValueError, match="4 debug-register slots, got 5"):
        ARCH.encode_control([Chunk(BASE, 1, BpType.W)] * 5)


@pytest.mark.parametrize("value, expected", [
    (0x90002, [(BpType.W, 8), None, None, None]),   # G0 counts as enabled (notes §4)
    (0x90003, [(BpType.W, 8), None, None, None]),   # L0|G0
    (0x90001 | (1 << 8) | (1 << 9) | (1 << 13), [(BpType.W, 8), None, None, None]),  # LE, GE, GD ignored
    (0xB0000, [None, None, None, None]),            # type bits of a disabled slot are not reported
])
def test_decode_control_enable_bits(value, expected):
    assert ARCH.decode_control(value) == expected


def test_decode_control_refuses_io_type():
    with pytest.raises(ValueError, match="slot 1 has the I/O type"):
        ARCH.decode_control(0x4 | (0b10 << 20))


slot_configs = st.lists(
    st.one_of(st.none(), st.tuples(st.sampled_from(TYPES), st.sampled_from(LENGTHS),
                                   st.integers(0, (x86.TASK_SIZE_MAX - 8) // 8))),
    min_size=0, max_size=4)


@given(slot_configs)
def test_dr7_round_trip_random_configurations(config):
    slots = []
    for item in config:
        if item is None:
            slots.append(None)
            continue
        bp_type, length, qword = item
        slots.append(ARCH.validate(qword * 8, length, bp_type))
    dr7 = ARCH.encode_control(slots)
    assert dr7 < (1 << 32)
    expected = 0
    for n, chunk in enumerate(slots):
        if chunk is not None:
            expected |= (1 << 2 * n) | (SDM_RW[chunk.type] << 16 + 4 * n) | (SDM_LEN[chunk.length] << 18 + 4 * n)
    assert dr7 == expected
    assert ARCH.decode_control(dr7) == [(c.type, c.length) if c else None for c in slots] + [None] * (4 - len(slots))


# ---------------------------------------------------------------- DR6


@pytest.mark.parametrize("value, slots, step", [
    (0xFFFF0FF0, (), False),
    (0xFFFF0FF1, (0,), False),
    (0xFFFF0FF2, (1,), False),
    (0xFFFF0FF4, (2,), False),
    (0xFFFF0FF8, (3,), False),
    (0xFFFF4FF1, (0,), True),
    (0xFFFF4FF0, (), True),
    (0xFFFF0FF7, (0, 1, 2), False),
    (0xFFFF4FFF, (0, 1, 2, 3), True),
    (0x1, (0,), False),
    (0x4000, (), True),
])
def test_decode_status(value, slots, step):
    status = ARCH.decode_status(value)
    assert status.slots == slots
    assert status.single_step is step


@pytest.mark.parametrize("n", range(4))
def test_decode_status_each_b_bit(n):
    assert ARCH.decode_status(1 << n).slots == (n,)
    assert ARCH.decode_status(0xFFFF0FF0 | (1 << n)).slots == (n,)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize("length", [3, 5, 0, 16, 6, 7, -8])
@pytest.mark.parametrize("bp_type", [BpType.W, BpType.RW])
def test_bad_length(length, bp_type):
    with pytest.raises(LengthError) as info:
        ARCH.validate(BASE, length, bp_type)
    msg = str(info.value)
    assert f"length {length} is not supported" in msg
    assert "1, 2, 4 or 8" in msg
    assert "SDM" in msg


@pytest.mark.parametrize("offset, length", [(1, 2), (2, 4), (4, 8), (1, 4), (3, 8), (7, 8), (1, 8)])
@pytest.mark.parametrize("bp_type", [BpType.W, BpType.RW])
def test_misaligned(offset, length, bp_type):
    addr = BASE + offset
    with pytest.raises(AlignmentError) as info:
        ARCH.validate(addr, length, bp_type)
    msg = str(info.value)
    base = addr - addr % length
    assert f"{addr:#x} is not {length}-byte aligned" in msg
    assert f"watch {base:#x} length {length}" in msg, "suggests the aligned base"
    assert "length 1" in msg


@pytest.mark.parametrize("addr, length", [
    (0xFFFFFFFF81000000, 8),   # kernel text
    (0xFFFF800000000000, 8),   # start of kernel half
    (0xFFFFFFFFFFFFFFF8, 8),
    (0x800000000000, 8),       # non-canonical
    (0x800000000000, 1),
    (0x7FFFFFFFF000, 1),       # last user page (TASK_SIZE_MAX)
    (0x7FFFFFFFF000, 8),
    (0x7FFFFFFFFFF8, 8),
    (0x7FFFFFFFEFFF, 2),       # would end past TASK_SIZE_MAX... and is misaligned: address wins
    (-8, 8),
    (-1, 1),
])
@pytest.mark.parametrize("bp_type", [BpType.W, BpType.RW])
def test_bad_address(addr, length, bp_type):
    with pytest.raises(AddressError) as info:
        ARCH.validate(addr, length, bp_type)
    msg = str(info.value)
    assert "is not a user-space address" in msg
    assert "0x7ffffffff000" in msg


@pytest.mark.parametrize("addr", [0xFFFFFFFF81000000, 0x800000000000, 0x7FFFFFFFF000, -4])
def test_bad_address_exec(addr):
    with pytest.raises(AddressError, match="not a user-space address"):
        ARCH.validate(addr, 1, BpType.X)


@pytest.mark.parametrize("addr, length", [
    (0x7FFFFFFFEFF8, 8),   # the highest 8-byte watch the kernel accepts (notes §3)
    (0x7FFFFFFFEFFF, 1),
    (0x7FFFFFFFEFFC, 4),
    (0x7FFFFFFFEFFE, 2),
    (0, 8),
    (0, 1),
])
def test_boundary_accepted(addr, length):
    assert ARCH.validate(addr, length, BpType.W) == Chunk(addr, length, BpType.W)
    assert ARCH.validate(addr, length, BpType.RW) == Chunk(addr, length, BpType.RW)


def test_last_user_byte_exec_accepted():
    assert ARCH.validate(0x7FFFFFFFEFFF, 1, BpType.X) == Chunk(0x7FFFFFFFEFFF, 1, BpType.X)


@pytest.mark.parametrize("length", [1, 2, 8])
def test_read_only_unsupported(length):
    with pytest.raises(UnsupportedError) as info:
        ARCH.validate(BASE, length, BpType.R)
    msg = str(info.value)
    assert "rw" in msg
    assert "read" in msg
    assert not ARCH.supports(BpType.R)


def test_unknown_type_unsupported():
    with pytest.raises(UnsupportedError, match="unknown breakpoint type"):
        ARCH.validate(BASE, 8, BpType.W | BpType.X)


@pytest.mark.parametrize("length", [1, 2, 3, 4, 8, 0, 16, 99])
def test_exec_forces_length_1(length):
    chunk = ARCH.validate(BASE + 3, length, BpType.X)  # also: any alignment for exec
    assert chunk == Chunk(BASE + 3, 1, BpType.X)


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("bp_type", [BpType.W, BpType.RW])
def test_valid_request_returned_unchanged(length, bp_type):
    assert ARCH.validate(BASE + length, length, bp_type) == Chunk(BASE + length, length, bp_type)


def test_validation_errors_share_a_base():
    for cls in (AlignmentError, LengthError, AddressError, UnsupportedError):
        assert issubclass(cls, ValidationError)


def test_length_checked_before_alignment():
    with pytest.raises(LengthError):
        ARCH.validate(BASE + 1, 3, BpType.W)


# ---------------------------------------------------------------- capabilities


def test_capabilities():
    assert ARCH.name == "x86-64"
    assert ARCH.nslots == 4
    assert ARCH.lengths == (1, 2, 4, 8)
    assert ARCH.max_length == 8
    assert ARCH.native_types == frozenset({BpType.X, BpType.W, BpType.RW})
    assert ARCH.exec_length == 1
    assert ARCH.max_user_address == 0x7FFFFFFFF000
    assert ARCH.control_register == 7
    assert ARCH.status_register == 6
    assert "SDM" in ARCH.manual
    for t in (BpType.X, BpType.W, BpType.RW):
        assert ARCH.supports(t)


def test_current_is_x86_64():
    assert isinstance(current(), X86_64)


def test_kernel_constants():
    # include/uapi/linux/hw_breakpoint.h
    assert (int(HW_BREAKPOINT_R), int(HW_BREAKPOINT_W), int(HW_BREAKPOINT_RW), int(HW_BREAKPOINT_X)) == (1, 2, 3, 4)
    assert HW_BREAKPOINT_RW == HW_BREAKPOINT_R | HW_BREAKPOINT_W
    assert (HW_BREAKPOINT_LEN_1, HW_BREAKPOINT_LEN_2, HW_BREAKPOINT_LEN_4, HW_BREAKPOINT_LEN_8) == (1, 2, 4, 8)


def test_kernel_constants_match_uapi_header():
    """Against the installed include/uapi/linux/hw_breakpoint.h when it is there."""
    header = Path("/usr/include/linux/hw_breakpoint.h")
    if not header.exists():
        pytest.skip("no linux/hw_breakpoint.h (linux-libc-dev) installed")
    text = header.read_text()
    enum = {name: value for name, value in re.findall(r"(HW_BREAKPOINT_\w+)\s*=\s*([^,\n]+)", text)}
    values: dict[str, int] = {}
    for name, expr in enum.items():  # values are numbers or ORs of earlier names
        values[name] = eval(expr, {}, dict(values))  # noqa: S307 - a trusted system header
    ours = {"HW_BREAKPOINT_R": HW_BREAKPOINT_R, "HW_BREAKPOINT_W": HW_BREAKPOINT_W,
            "HW_BREAKPOINT_RW": HW_BREAKPOINT_RW, "HW_BREAKPOINT_X": HW_BREAKPOINT_X,
            "HW_BREAKPOINT_LEN_1": HW_BREAKPOINT_LEN_1, "HW_BREAKPOINT_LEN_2": HW_BREAKPOINT_LEN_2,
            "HW_BREAKPOINT_LEN_4": HW_BREAKPOINT_LEN_4, "HW_BREAKPOINT_LEN_8": HW_BREAKPOINT_LEN_8}
    for name, value in ours.items():
        assert values[name] == int(value), name


def test_bptype_parse_and_label():
    for text, t in [("r", BpType.R), ("w", BpType.W), ("RW", BpType.RW), ("x", BpType.X)]:
        assert BpType.parse(text) == t
        assert t.label == text.lower()
    with pytest.raises(ValueError, match="unknown access type 'wx'"):
        BpType.parse("wx")


def test_chunk():
    c = Chunk(0x1000, 4, BpType.RW)
    assert str(c) == "0x1000/4/rw"
    assert c.contains(0x1000) and c.contains(0x1003)
    assert not c.contains(0xFFF) and not c.contains(0x1004)


# ---------------------------------------------------------------- rep string instructions


@pytest.mark.parametrize("code, expected", [
    (b"\xf3\xa4", (2, "movs", 1)),              # rep movsb
    (b"\xf3\xa5", (2, "movs", 4)),              # rep movsl
    (b"\xf3\x48\xa5", (3, "movs", 8)),          # rep movsq
    (b"\x66\xf3\xa5", (3, "movs", 2)),          # rep movsw
    (b"\xf3\x66\xa5", (3, "movs", 2)),
    (b"\xf3\xaa", (2, "stos", 1)),              # rep stosb
    (b"\xf3\xab", (2, "stos", 4)),              # rep stosl
    (b"\xf3\x48\xab", (3, "stos", 8)),          # rep stosq
    (b"\x66\xf3\xab", (3, "stos", 2)),          # rep stosw
    (b"\xf2\xa4", (2, "movs", 1)),              # F2 on movs acts as rep
    (b"\xf3\x48\xa4", (3, "movs", 1)),          # REX.W does not widen movsb
    (b"\xf3\x66\x48\xa5", (4, "movs", 8)),      # REX.W wins over 66
    (b"\xf3\xa4\x90\x90", (2, "movs", 1)),      # trailing bytes ignored
])
def test_decode_rep_string(code, expected):
    assert decode_rep_string(code) == expected


@pytest.mark.parametrize("code", [
    b"",
    b"\xf3",
    b"\xa4",                 # movsb without rep
    b"\x48\xa5",             # movsq without rep
    b"\xf3\xa6",             # repe cmpsb: not a store
    b"\xf3\xae",             # repe scasb
    b"\xf3\xac",             # rep lodsb: not a store
    b"\xf3\x90",             # pause
    b"\x48\x89\x05\x00\x00\x00\x00",  # mov %rax, x(%rip)
    b"\xf3\x0f\x1e\xfa",     # endbr64
])
def test_decode_rep_string_rejects(code):
    assert decode_rep_string(code) is None


def regs(rcx, rdi, rsi=0, eflags=0x246):
    return SimpleNamespace(rcx=rcx, rdi=rdi, rsi=rsi, eflags=eflags, rip=0x401000)


W8 = Chunk(0x5000, 8, BpType.W)
RW8 = Chunk(0x5000, 8, BpType.RW)


@pytest.mark.parametrize("rdi, hit", [
    (0x5001, True),    # byte 0x5000 was just written
    (0x5008, True),    # byte 0x5007 was just written
    (0x5000, False),   # byte 0x4fff
    (0x5009, False),   # byte 0x5008
])
def test_string_store_rep_movsb_forward(rdi, hit):
    r = regs(rcx=3000, rdi=rdi, rsi=0x9000)
    assert string_store_in_flight(b"\xf3\xa4", r, W8) == (2 if hit else None)
    assert ARCH.string_store_in_flight(b"\xf3\xa4", r, W8) == (2 if hit else None)


@pytest.mark.parametrize("rdi, hit", [
    (0x4FFF, True),    # DF=1: byte 0x5000 was just written, rdi decremented past it
    (0x5006, True),    # byte 0x5007
    (0x5007, False),   # byte 0x5008
    (0x4FFE, False),   # byte 0x4fff
])
def test_string_store_backwards(rdi, hit):
    r = regs(rcx=10, rdi=rdi, eflags=0x246 | x86.EFLAGS_DF)
    assert string_store_in_flight(b"\xf3\xaa", r, W8) == (2 if hit else None)


def test_string_store_qword_overlap():
    # rep stosq: element [rdi-8, rdi) overlaps the chunk partially
    assert string_store_in_flight(b"\xf3\x48\xab", regs(rcx=5, rdi=0x5004), Chunk(0x5000, 2, BpType.W)) == 3
    assert string_store_in_flight(b"\xf3\x48\xab", regs(rcx=5, rdi=0x5010), Chunk(0x5000, 8, BpType.W)) is None
    # rep movsq, RCX = 386 as in the notes (one stop on the watched qword)
    assert string_store_in_flight(b"\xf3\x48\xa5", regs(rcx=386, rdi=0x5008, rsi=0x9000), W8) == 3


def test_string_store_rcx_zero_means_finished():
    assert string_store_in_flight(b"\xf3\xa4", regs(rcx=0, rdi=0x5001), W8) is None


def test_string_store_not_a_string_instruction():
    assert string_store_in_flight(b"\x48\x89\x05\x00\x00\x00\x00", regs(rcx=5, rdi=0x5001), W8) is None


def test_string_store_source_counts_only_for_rw():
    # movs reading from the watched range: an RW watch sees it, a W watch does not
    r = regs(rcx=7, rdi=0x9001, rsi=0x5001)
    assert string_store_in_flight(b"\xf3\xa4", r, RW8) == 2
    assert string_store_in_flight(b"\xf3\xa4", r, W8) is None
    # stos has no source
    assert string_store_in_flight(b"\xf3\xaa", r, RW8) is None


def test_set_pc_clears_rf():
    r = SimpleNamespace(rip=0x401000, eflags=0x10246, rsp=0x7ffd0000, rbp=0x7ffd0010)
    ARCH.set_pc(r, 0x401100)
    assert r.rip == 0x401100
    assert r.eflags == 0x246
    assert ARCH.get_pc(r) == 0x401100
    assert ARCH.get_sp(r) == 0x7ffd0000
    assert ARCH.get_fp(r) == 0x7ffd0010
    assert x86.EFLAGS_RF == 0x10000


def test_module_tables_match_sdm():
    """The DR7 tables in the module agree with the SDM tables written out above."""
    assert x86.DR7_LEN_ENCODING == SDM_LEN
    assert x86.DR7_RW_ENCODING == SDM_RW
    assert x86.DR6_SINGLE_STEP == 0x4000
    assert x86.TASK_SIZE_MAX == 0x7FFFFFFFF000


@pytest.mark.parametrize("code, expected", [
    (b"\x48\xf3\xa5", (3, "movs", 4)),
    (b"\xf3\x48\x66\xa5", (4, "movs", 2)),
])
def test_decode_rep_string_misplaced_rex_is_ignored(code, expected):
    assert decode_rep_string(code) == expected


def _capstone_string_store(code: bytes):
    capstone = pytest.importorskip("capstone")
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    insn = next(md.disasm(code, 0x1000), None)
    if insn is None:
        return None
    words = insn.mnemonic.split()
    if len(words) != 2 or words[0] not in ("rep", "repne") or words[1][:4] not in ("movs", "stos"):
        return None
    return insn.size, words[1][:4], {"b": 1, "w": 2, "d": 4, "q": 8}[words[1][4]]


@pytest.mark.parametrize("opcode", [0xA4, 0xA5, 0xAA, 0xAB])
def test_decode_rep_string_agrees_with_capstone(opcode):
    """Every well-formed prefix combination (legacy prefixes in any order, REX last). F2 is left
    out: capstone mis-names f2 a5 as the SSE ``movsd``; F2 is covered by the table above."""
    legacy = [b"", b"\xf3", b"\x66", b"\xf3\x66", b"\x66\xf3", b"\xf3\x66\x66"]
    checked = 0
    for pre in legacy:
        for rex in [b""] + [bytes([r]) for r in range(0x40, 0x50)]:
            code = pre + rex + bytes([opcode]) + b"\x90"
            assert decode_rep_string(code) == _capstone_string_store(code), code.hex()
            checked += 1
    assert checked == len(legacy) * 17
