"""The expression language, against an in-memory Env: pure logic, no target process."""
from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwdbg.errors import HwdbgError, SymbolError, TargetError, UsageError
from hwdbg.expr import (
    Binary, Cast, Conditional, Index, Member, Name, Num, Register, Unary, Value, assign_bytes, evaluate, evaluate_text,
    format_value, lvalue, parse, parse_assignment, referenced_names, truth,
)
from hwdbg.symbols.types import CType, Field

INT = CType("int", "int", 4, signed=True)
UINT = CType("int", "unsigned int", 4)
LONG = CType("int", "long", 8, signed=True)
ULONG = CType("int", "unsigned long", 8)
CHAR = CType("char", "char", 1, signed=True)
SCHAR = CType("char", "signed char", 1, signed=True)
UCHAR = CType("char", "unsigned char", 1)
SHORT = CType("int", "short", 2, signed=True)
BOOL = CType("bool", "_Bool", 1)
DOUBLE = CType("float", "double", 8, signed=True)
FLOAT = CType("float", "float", 4, signed=True)
COLOR = CType("enum", "enum color", 4, enumerators=(("RED", 0), ("GREEN", 1), ("BLUE", 2)))
FUNC = CType("func", "int (void)", 1)


def array(element: CType, count: int) -> CType:
    return CType("array", "", element.size * count, target=element, count=count)


def pointer(target: CType | None) -> CType:
    return CType("pointer", "", 8, target=target)


POINT = CType("struct", "struct point", 8, fields=(Field("x", 0, INT), Field("y", 4, INT)))
# struct flags { unsigned a:1, b:3; int c:4; unsigned d:12; unsigned short e:9 at byte 3 bit 1 }
FLAGS = CType("struct", "struct flags", 8, fields=(
    Field("a", 0, UINT, bit_size=1, bit_offset=0),
    Field("b", 0, UINT, bit_size=3, bit_offset=1),
    Field("c", 0, INT, bit_size=4, bit_offset=4),
    Field("d", 0, UINT, bit_size=12, bit_offset=8),
    Field("e", 3, SHORT, bit_size=9, bit_offset=1),
))
NUMBER = CType("union", "", 4, fields=(Field("as_int", 0, INT), Field("as_float", 0, FLOAT)))
CONFIG = CType("struct", "struct config", 56, fields=(
    Field("id", 0, INT),
    Field("origin", 4, POINT),
    Field("flags", 12, FLAGS),
    Field("name", 20, array(CHAR, 8)),
    Field("color", 28, COLOR),
    Field("values", 32, pointer(INT)),
    Field("next", 40, pointer(None)),
    Field("", 48, NUMBER),  # an anonymous union
))
object.__setattr__(CONFIG.field_named("next").ctype, "target", CONFIG)  # struct config *next, as DWARF builds it

BASE = 0x10000


class FakeEnv:
    """Symbols in a dict, memory in a bytearray at BASE; reads outside it fail like a real target."""

    def __init__(self) -> None:
        self.memory = bytearray(0x4000)
        self.symbols: dict[tuple[str, str | None], tuple[int, CType | None]] = {}
        self.registers = {"rip": 0x401136, "rax": 42, "rsp": 0x7FFE0000, "eflags": 0x246, "tid": 1234}
        self.reads = 0
        self.next_free = BASE

    def lookup(self, name: str, lib: str | None) -> tuple[int, CType | None]:
        try:
            return self.symbols[name, lib]
        except KeyError:
            raise SymbolError(f"no symbol '{name}'") from None

    def read_memory(self, addr: int, size: int) -> bytes:
        self.reads += 1
        offset = addr - BASE
        if offset < 0 or offset + size > len(self.memory):
            raise TargetError(f"Cannot access memory at address {addr:#x}")
        return bytes(self.memory[offset:offset + size])

    def register(self, name: str) -> int:
        try:
            return self.registers[name]
        except KeyError:
            raise UsageError(f"unknown register '${name}'") from None

    def write(self, addr: int, data: bytes) -> None:
        self.memory[addr - BASE:addr - BASE + len(data)] = data

    def define(self, name: str, ctype: CType | None, data: bytes, lib: str | None = None) -> int:
        addr = self.next_free
        self.next_free += (len(data) + 15) // 16 * 16
        self.write(addr, data)
        self.symbols[name, lib] = (addr, ctype)
        return addr


def i32(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}i", *values)


def u64(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}Q", *values)


def make_env() -> FakeEnv:
    env = FakeEnv()
    env.define("counter", INT, i32(-5))
    env.define("ucounter", UINT, struct.pack("<I", 0xFFFFFFFF))
    env.define("schar", SCHAR, b"\xff")
    env.define("uchar", UCHAR, b"\xff")
    env.define("big", ULONG, u64(0xFFFFFFFFFFFFFFFF))
    env.define("letter", CHAR, b"A")
    env.define("flag", BOOL, b"\x01")
    env.define("color", COLOR, i32(2))
    env.define("odd_color", COLOR, i32(7))
    env.define("ratio", DOUBLE, struct.pack("<d", 2.5))
    env.define("half", FLOAT, struct.pack("<f", 0.5))
    table = env.define("table", array(INT, 8), i32(*range(0, 80, 10)))
    env.define("zeros", array(INT, 16), bytes(64))
    env.define("many", array(INT, 300), i32(*range(300)))
    env.define("points", array(POINT, 2), i32(1, 2, 3, 4))
    env.define("matrix", array(array(INT, 3), 2), i32(1, 2, 3, 4, 5, 6))
    env.define("p0", POINT, i32(1, -2))
    # a=1, b=5, c=-3, d=0xabc; e=-100 at byte 3, bit 1 (spans bytes 3 and 4)
    flags = 1 | 5 << 1 | (-3 & 0xF) << 4 | 0xABC << 8 | (-100 & 0x1FF) << 25
    env.define("flags", FLAGS, flags.to_bytes(8, "little"))
    greeting = env.define("greeting_text", array(CHAR, 8), b"hello\n\0\0")
    env.define("greeting", pointer(CHAR), u64(greeting))
    env.define("buf", array(CHAR, 16), b"hi".ljust(16, b"\0"))
    env.define("word", array(CHAR, 6), b"hello\0")
    env.define("int_ptr", pointer(INT), u64(table + 8))
    env.define("void_ptr", pointer(None), u64(table))
    env.define("null_ptr", pointer(INT), u64(0))
    env.define("wild_ptr", pointer(CHAR), u64(0xDEAD0000))
    env.define("no_dwarf", None, u64(0x1122334455667788))
    env.define("new", INT, i32(999))
    env.define("lib_counter", INT, i32(77), lib="libfoo.so")
    env.symbols["lib_counter", "libfoo"] = env.symbols["lib_counter", "libfoo.so"]
    env.symbols["main", None] = (0x401136, FUNC)
    config = env.next_free
    cfg = bytearray(56)
    cfg[0:4] = i32(7)
    cfg[4:12] = i32(10, 20)
    cfg[12:20] = (1 | 2 << 1).to_bytes(8, "little")
    cfg[20:28] = b"cfg\0\0\0\0\0"
    cfg[28:32] = i32(1)
    cfg[32:40] = u64(table)
    cfg[40:48] = u64(config)
    cfg[48:52] = i32(0x3F800000)
    env.define("config", CONFIG, bytes(cfg))
    env.define("cfg_ptr", pointer(CONFIG), u64(config))
    return env


@pytest.fixture
def env() -> FakeEnv:
    return make_env()


def value(text: str, env: FakeEnv, **bindings: int) -> int | float:
    return evaluate_text(text, env, bindings).value


def address(name: str, env: FakeEnv) -> int:
    return env.symbols[name, None][0]


# --- parsing -----------------------------------------------------------------

def test_parse_builds_the_tree_by_precedence():
    assert parse("1 + 2 * 3") == Binary("+", Num(1), Binary("*", Num(2), Num(3)))
    assert parse("a - b - c") == Binary("-", Binary("-", Name("a"), Name("b")), Name("c"))
    assert parse("-*p") == Unary("-", Unary("*", Name("p")))
    assert parse("&s.a[1]->b") == Unary("&", Member(Index(Member(Name("s"), "a"), Num(1)), "b", arrow=True))
    assert parse("not a == b and c or d") == Binary(
        "||", Binary("&&", Unary("!", Binary("==", Name("a"), Name("b"))), Name("c")), Name("d"))
    assert parse("!a && !b") == parse("(not a) and (not b)")
    assert parse("$rip") == Register("rip")
    assert parse("libfoo.so:lib_counter") == Name("lib_counter", "libfoo.so")
    assert parse("libstdc++.so.6:x") == Name("x", "libstdc++.so.6")
    assert parse("(long)x") == Cast(LONG, Name("x"))


def test_parse_keeps_the_source_text_of_each_node():
    node = parse("  cfg_ptr->origin.x  +  1")
    assert node.text == "cfg_ptr->origin.x  +  1"
    assert node.left.text == "cfg_ptr->origin.x"
    assert node.left.base.text == "cfg_ptr->origin"


@pytest.mark.parametrize("text, number", [
    ("42", 42), ("0x2A", 42), ("0o52", 42), ("0b101010", 42), ("0", 0),
    ("'a'", 97), ("'\\n'", 10), ("'\\0'", 0), ("'\\x41'", 65), ("'\\101'", 65), ("'\\''", 39), ("'\\377'", -1),
    ("0xffffffffffffffff", 2**64 - 1),
])
def test_literals(text, number):
    assert parse(text) == Num(number, parse(text).ctype)
    assert parse(text).value == number


@pytest.mark.parametrize("text, message", [
    ("a + (b", "syntax error at column 7: expected ')' in 'a + (b'"),
    ("1 +", "syntax error at column 4: expected an expression in '1 +'"),
    ("a # b", "syntax error at column 3: unexpected character '#' in 'a # b'"),
    ("a\x07", "syntax error at column 2: unexpected character '\\x07' in 'a\\x07'"),
    ("x é", "syntax error at column 3: unexpected character 'é' in 'x é'"),
    ("a < b < c", "syntax error at column 7: comparisons do not chain (join them with 'and') in 'a < b < c'"),
    ("1_000", "syntax error at column 1: invalid number '1_000' in '1_000'"),
    ("010", "syntax error at column 1: invalid number '010' (octal is written 0o17) in '010'"),
    ("x = 1", "syntax error at column 3: unexpected '=' (use '==' to compare) in 'x = 1'"),
    ("s.", "syntax error at column 3: expected a field name after '.' in 's.'"),
    ("libfoo:", "syntax error at column 8: expected a symbol name after 'libfoo:' in 'libfoo:'"),
    ("a + !b", "syntax error at column 5: expected an expression, found '!' (parenthesise the negation) in 'a + !b'"),
    ("(struct foo *)p", "syntax error at column 13: unknown type 'struct foo' in '(struct foo *)p'"),
    ("", "empty expression"),
])
def test_syntax_errors_name_the_column(text, message):
    with pytest.raises(UsageError) as excinfo:
        parse(text)
    assert str(excinfo.value) == message


@pytest.mark.parametrize("text", [
    "0x", "0b2", "0o8", "12abc", "1.2.3", "1.", "'ab'", "'", "$", "a b", "()", "a[1", "(int", "(unsigned double)1",
    "(void)1", "1 == 2 != 3", "x->", "a ? b", "a ? : c", "1,", "a::b", "0x1_0", "1e", "99999999999999999999999",
])
def test_malformed_input_is_a_usage_error(text):
    with pytest.raises(UsageError, match="^syntax error at column \\d+: "):
        parse(text)


def test_long_and_deep_input_is_refused_cleanly():
    with pytest.raises(UsageError, match="too long"):
        parse("1+" * 3000 + "1")
    for text in ("(" * 1000 + "1" + ")" * 1000, "-" * 1000 + "1", "*" * 1000 + "p", "1" + "+1" * 500,
                 "a" + "[0]" * 200, "!" * 1000 + "1", "(int)" * 300 + "1"):
        with pytest.raises(UsageError, match="^expression nested too deeply$"):
            parse(text)
    assert value("(" * 20 + "1" + ")" * 20, make_env()) == 1


def test_referenced_names():
    node = parse("new > old and counter + libfoo:lib_counter != $tid && cfg_ptr->origin.x")
    assert referenced_names(node) == {"new", "old", "counter", "libfoo:lib_counter", "$tid", "cfg_ptr"}


def test_parse_assignment():
    target, source = parse_assignment("config.origin.x = counter + 1")
    assert target == Member(Member(Name("config"), "origin"), "x")
    assert source == Binary("+", Name("counter"), Num(1))
    assert parse_assignment("x = y == 2")[1] == Binary("==", Name("y"), Num(2))
    with pytest.raises(UsageError, match="expected '='"):
        parse_assignment("x == 2")


# --- arithmetic --------------------------------------------------------------

@pytest.mark.parametrize("text, number", [
    ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9), ("10 - 4 - 3", 3), ("2 * 3 % 4", 2), ("1 << 2 + 1", 8),
    ("1 | 2 ^ 3 & 1", 3), ("6 & 3 == 2", 1), ("6 & (3 == 2)", 0), ("1 + 1 << 1 | 1", 5),
    ("7 / 2", 3), ("-7 / 2", -3), ("7 / -2", -3), ("-7 % 2", -1), ("7 % -2", 1),
    ("5 - 7", -2), ("~0", -1), ("-(3)", -3), ("+3", 3), ("- -3", 3), ("~~5", 5),
    ("0xff ^ 0x0f", 0xF0), ("0xf0 | 0x0f", 0xFF), ("12 & 10", 8), ("256 >> 4", 16), ("-16 >> 2", -4),
    ("1 < 2", 1), ("2 < 1", 0), ("2 <= 2", 1), ("3 > 2", 1), ("2 >= 3", 0), ("1 == 1", 1), ("1 != 1", 0),
    ("1 && 2", 1), ("1 && 0", 0), ("0 || 3", 1), ("0 or 0", 0), ("2 and 3", 1), ("!5", 0), ("not 0", 1),
    ("!0 && 0 || 1", 1), ("not 1 == 2", 1), ("'a' + 1", 98),
])
def test_operators(text, number, env):
    assert value(text, env) == number


@pytest.mark.parametrize("text, number", [
    ("0x7fffffffffffffff + 1", -2**63), ("1 << 63", -2**63), ("-0x7fffffffffffffff - 2", 2**63 - 1),
    ("0x7fffffffffffffff * 2", -2), ("(-0x7fffffffffffffff - 1) / -1", -2**63),
    ("0xffffffffffffffff", 2**64 - 1), ("0xffffffffffffffff + 1", 0), ("big + 0", 2**64 - 1), ("-big", 1),
    ("ucounter + 1", 2**32), ("(unsigned char)0x1ff", 255), ("(char)0x80", -128), ("(unsigned)-1", 2**32 - 1),
    ("(long)ucounter", 2**32 - 1), ("(int)ucounter", -1), ("(bool)7", 1), ("(short)70000", 4464),
    ("(uint8_t)300", 44), ("(long long unsigned int)-1", 2**64 - 1),
])
def test_integers_wrap_like_c(text, number, env):
    assert value(text, env) == number


def test_floats(env):
    assert value("1.5 + 1", env) == 2.5
    assert value("3 / 2.0", env) == 1.5
    assert value("ratio * 2", env) == 5.0
    assert value("half < ratio", env) == 1
    assert value("(double)1 / 4", env) == 0.25
    assert value("(int)ratio", env) == 2
    assert value("-ratio", env) == -2.5
    assert value("2e3", env) == 2000.0
    assert evaluate_text("1e300", env) == Value(1e300)  # a float, however large, is not an unsigned long
    assert value("1.0 / 0", env) == float("inf") and value("-1.0 / 0", env) == float("-inf")  # IEEE, as gdb
    for text, message in (("1.5 & 1", "'&' needs integers"), ("~ratio", "'~' needs an integer"),
                          ("table[1.0]", "needs an integer"),
                          ("(int)(1e308 * 10)", "cannot convert inf"), ("*ratio", "floating-point")):
        with pytest.raises(UsageError, match=message):
            evaluate_text(text, env)


@pytest.mark.parametrize("text, message", [
    ("1 / 0", "division by zero"), ("1 % (2 - 2)", "division by zero"),
    ("1 << 64", "shift count 64 is out of range 0..63"), ("1 >> -1", "shift count -1 is out of range 0..63"),
    ("p0 == 1", "cannot compare a struct"), ("p0 + 1", "cannot apply '+' to a struct"),
    ("-p0", "cannot apply '-' to a struct"), ("!p0", "cannot use a struct as a condition"),
    ("counter[1]", "cannot subscript 'counter'"), ("counter.x", "'counter' is not a struct or union"),
    ("no_dwarf.x", "'no_dwarf' has no type information"), ("(int)p0", "cannot convert a struct to int"),
])
def test_evaluation_errors(text, message, env):
    with pytest.raises(UsageError) as excinfo:
        evaluate_text(text, env)
    assert str(excinfo.value) == message


def test_logic_short_circuits(env):
    assert value("0 && 1 / 0", env) == 0
    assert value("1 || 1 / 0", env) == 1
    assert value("0 and nosuchsymbol", env) == 0
    with pytest.raises(UsageError, match="division by zero"):
        evaluate_text("1 && 1 / 0", env)


# --- memory, symbols, types --------------------------------------------------

@pytest.mark.parametrize("text, number", [
    ("counter", -5), ("ucounter", 0xFFFFFFFF), ("schar", -1), ("uchar", 255), ("big", 2**64 - 1),
    ("letter", 65), ("flag", 1), ("color", 2), ("no_dwarf", 0x1122334455667788),
    ("counter * 2 + 1", -9), ("counter < 0 and ucounter > 0", 1), ("schar == -1", 1),
])
def test_scalars_read_with_their_size_and_signedness(text, number, env):
    assert value(text, env) == number


def test_bitfields(env):
    assert [value(f"flags.{name}", env) for name in "abcde"] == [1, 5, -3, 0xABC, -100]
    assert value("config.flags.b", env) == 2
    assert value("cfg_ptr->flags.a + cfg_ptr->flags.b", env) == 3


def test_struct_array_and_pointer_chains(env):
    table = address("table", env)
    config = address("config", env)
    assert value("table[3]", env) == 30
    assert value("table[3]", env) == value("*(table + 3)", env) == value("*(&table[1] + 2)", env)
    assert value("matrix[1][2]", env) == 6
    assert value("points[1].y", env) == 4
    assert value("config.origin.y", env) == 20
    assert value("cfg_ptr->origin.x", env) == 10
    assert value("cfg_ptr->next->next->id", env) == 7
    assert value("config.values[2]", env) == 20
    assert value("*config.values", env) == 0
    assert value("config.name[1]", env) == ord("f")
    assert value("config.as_int", env) == 0x3F800000  # through the anonymous union
    assert value("config.as_float", env) == 1.0
    assert value("cfg_ptr.id", env) == value("config->id", env) == 7  # gdb accepts either spelling
    assert value("*int_ptr", env) == 20
    assert value("int_ptr[-1]", env) == 10
    assert value("int_ptr + 1", env) == table + 12
    assert value("1 + int_ptr", env) == table + 12
    assert value("int_ptr - 2", env) == table
    assert value("&table[5] - &table[1]", env) == 4
    assert value("&table[1] - &table[5]", env) == -4
    assert value("&table", env) == value("table", env) == value("&table[0]", env) == table
    assert value("void_ptr + 1", env) == table + 1  # void * counts bytes
    assert value("*void_ptr", env) == 0  # and dereferences as int
    assert value("&config.origin.y", env) == config + 8
    assert value("&cfg_ptr->color", env) == config + 28
    assert value("*(int *)(&config.origin)", env) == 10
    assert value(f"*{table + 4:#x}", env) == 10  # an untyped address reads a 4-byte int
    assert value("*(char *)&ucounter", env) == -1
    assert value("main", env) == 0x401136
    with pytest.raises(SymbolError, match="^struct point has no field 'z'$"):
        evaluate_text("config.origin.z", env)


def test_symbols_registers_and_bindings(env):
    assert value("libfoo.so:lib_counter", env) == 77
    assert value("libfoo:lib_counter + 1", env) == 78
    assert value("$rax + 1", env) == 43
    assert value("$eflags & 0x40", env) == 0x40
    assert value("$tid != 1234", env) == 0
    assert value("$tid", env, **{"$tid": 5}) == 5
    assert value("new", env) == 999  # a symbol, when nothing is bound
    assert value("new > 5 and old < 5", env, new=6, old=1) == 1
    assert value("new - old", env, new=10, old=3) == 7
    assert value("counter + delta", env, delta=5) == 0
    with pytest.raises(SymbolError, match="no symbol 'nosuch'"):
        evaluate_text("nosuch + 1", env)
    with pytest.raises(SymbolError):
        evaluate_text("lib_counter", env)  # only inside libfoo
    with pytest.raises(UsageError, match="unknown register"):
        evaluate_text("$nosuch", env)
    with pytest.raises(SymbolError, match="^'old' does not name memory$"):
        evaluate_text("&old", env, {"old": 1})


def test_a_variable_of_unreadable_type_is_a_usage_error(env):
    env.symbols["mystery", None] = (BASE, CType("void", "<unreadable type>", 0))
    with pytest.raises(UsageError, match="^cannot read a value of type <unreadable type>$"):
        evaluate_text("mystery + 1", env)
    assert lvalue(parse("mystery"), env) == (BASE, CType("void", "<unreadable type>", 0))


def test_unreadable_memory_is_a_target_error(env):
    with pytest.raises(TargetError, match="0xdead0000"):
        evaluate_text("*0xdead0000", env)
    with pytest.raises(TargetError):
        evaluate_text("null_ptr[2]", env)


def test_values_keep_their_type_and_address(env):
    counter = evaluate_text("counter", env)
    assert counter == Value(-5, INT, address("counter", env))
    pointer_value = evaluate_text("&counter", env)
    assert pointer_value.value == address("counter", env)
    assert pointer_value.ctype.kind == "pointer" and pointer_value.ctype.target == INT
    assert evaluate_text("1 + 2", env) == Value(3)
    assert evaluate_text("p0", env).address == address("p0", env)


def test_lvalue(env):
    config = address("config", env)
    assert lvalue(parse("counter"), env) == (address("counter", env), INT)
    assert lvalue(parse("config.origin"), env) == (config + 4, POINT)
    assert lvalue(parse("table[3]"), env) == (address("table", env) + 12, INT)
    assert lvalue(parse("cfg_ptr->color"), env) == (config + 28, COLOR)
    assert lvalue(parse("*0x404040"), env) == (0x404040, CType("int", "int", 4, signed=True))
    assert lvalue(parse("*(int_ptr + 1)"), env) == (address("table", env) + 12, INT)
    assert lvalue(parse("no_dwarf"), env) == (address("no_dwarf", env), None)
    assert lvalue(parse("flags.d"), env) == (address("flags", env), UINT)  # the storage unit
    assert lvalue(parse("main"), env) == (0x401136, FUNC)
    assert lvalue(parse("libfoo:lib_counter"), env)[0] == env.symbols["lib_counter", "libfoo"][0]
    for text in ("1 + 2", "$rax", "&counter", "(long)counter", "-counter"):
        with pytest.raises(SymbolError) as excinfo:
            lvalue(parse(text), env)
        assert str(excinfo.value) == f"'{text}' does not name memory"
    with pytest.raises(UsageError, match="^cannot take the address of bit-field 'flags.c'$"):
        evaluate_text("&flags.c", env)


# --- assignment --------------------------------------------------------------

def assign(text: str, number: int | float, env: FakeEnv) -> tuple[int, bytes]:
    addr, data = assign_bytes(parse(text), number, env)
    env.write(addr, data)
    return addr, data


def test_assign_bytes(env):
    assert assign("counter", -1, env) == (address("counter", env), b"\xff\xff\xff\xff")
    assert assign("uchar", 0x1FF, env) == (address("uchar", env), b"\xff")  # truncated, as gdb does
    assert assign("table[2]", 0x01020304, env) == (address("table", env) + 8, bytes([4, 3, 2, 1]))
    assert assign("cfg_ptr->origin.y", -7, env)[1] == i32(-7)
    assert assign("no_dwarf", 1, env)[1] == u64(1)
    assert assign("flag", 2, env)[1] == b"\x01"
    assert assign("ratio", 0.25, env)[1] == struct.pack("<d", 0.25)
    assert assign("half", 3, env)[1] == struct.pack("<f", 3.0)
    assert assign("int_ptr", -8, env)[1] == u64(2**64 - 8)
    assert value("table[2] + counter + cfg_ptr->origin.y + ratio", env) == 0x01020304 - 8 + 0.25
    for text, message in (("p0", "cannot assign to 'p0' of type struct point"), ("1 + 2", "does not name memory")):
        with pytest.raises(HwdbgError, match=message):
            assign_bytes(parse(text), 1, env)


def test_assign_bitfields_leave_their_neighbours_alone(env):
    before = [value(f"flags.{name}", env) for name in "abcde"]
    addr, data = assign("flags.c", -8, env)
    assert addr == address("flags", env) and len(data) == 1
    assign("flags.d", 0x1FFF, env)  # truncated to 12 bits
    assign("flags.e", -1, env)  # 9 signed bits, across a byte boundary
    assert [value(f"flags.{name}", env) for name in "abcde"] == [before[0], before[1], -8, 0xFFF, -1]


@settings(max_examples=150, deadline=None)
@given(name=st.sampled_from("abcde"), number=st.integers(-2**70, 2**70))
def test_assigned_bitfields_read_back_truncated(name, number):
    env = make_env()
    member = FLAGS.field_named(name)
    others = {other: value(f"flags.{other}", env) for other in "abcde" if other != name}
    assign(f"flags.{name}", number, env)
    bits = number & ((1 << member.bit_size) - 1)
    if member.ctype.signed and bits >> (member.bit_size - 1):
        bits -= 1 << member.bit_size
    assert value(f"flags.{name}", env) == bits
    assert {other: value(f"flags.{other}", env) for other in others} == others


# --- truth and printing ------------------------------------------------------

def test_truth(env):
    assert truth(Value(3)) and not truth(Value(0)) and truth(Value(-0.5))
    assert truth(evaluate_text("table", env))
    with pytest.raises(UsageError, match="cannot use a union as a condition"):
        truth(Value(0, NUMBER, 0))


def show(text: str, env: FakeEnv) -> str:
    return format_value(evaluate_text(text, env), env)


def test_format_scalars(env):
    assert show("counter", env) == "-5"
    assert show("big", env) == "18446744073709551615"
    assert show("letter", env) == "65 'A'"
    assert show("schar", env) == "-1 '\\377'"
    assert show("'\\n'", env) == "10 '\\n'"
    assert show("flag", env) == "true"
    assert show("color", env) == "BLUE"
    assert show("odd_color", env) == "(GREEN | BLUE | unknown: 0x4)"  # 0, 1, 2: a flag enum to gdb
    assert show("ratio", env) == "2.5"
    assert show("half", env) == "0.5"
    assert show("1.0 / 3", env) == "0.33333333333333331"  # %.17g, as gdb prints a double
    assert show("(float)0.1", env) == "0.100000001"  # %.9g, as gdb prints a float
    assert show("1 == 1", env) == "1"
    assert show("no_dwarf", env) == str(0x1122334455667788)


def test_format_pointers(env):
    table = address("table", env)
    assert show("int_ptr", env) == f"(int *) {table + 8:#x}"
    assert show("null_ptr", env) == "(int *) 0x0"
    assert show("&counter", env) == f"(int *) {address('counter', env):#x}"
    assert show("&table", env) == f"(int (*)[8]) {table:#x}"
    assert show("&int_ptr", env) == f"(int **) {address('int_ptr', env):#x}"
    assert show("(char *)0", env) == "0x0"
    assert show("greeting", env) == f"{address('greeting_text', env):#x} \"hello\\n\""
    assert show("wild_ptr", env) == "0xdead0000 <error: Cannot access memory at address 0xdead0000>"
    assert show("$rsp", env) == "(void *) 0x7ffe0000"
    assert show("main", env) == show("*main", env) == "{int (void)} 0x401136"
    assert show("&main", env) == show("main + 0", env) == "(int (*)(void)) 0x401136"


def test_format_aggregates(env):
    config = address("config", env)
    table = address("table", env)
    assert show("p0", env) == "{x = 1, y = -2}"
    assert show("table", env) == "{0, 10, 20, 30, 40, 50, 60, 70}"
    assert show("matrix", env) == "{{1, 2, 3}, {4, 5, 6}}"
    assert show("points", env) == "{{x = 1, y = 2}, {x = 3, y = 4}}"
    assert show("zeros", env) == "{0 <repeats 16 times>}"
    assert show("flags", env) == "{a = 1, b = 5, c = -3, d = 2748, e = -100}"
    assert show("*cfg_ptr", env) == show("config", env) == (
        "{id = 7, origin = {x = 10, y = 20}, flags = {a = 1, b = 2, c = 0, d = 0, e = 0}, "
        f"name = \"cfg\\000\\000\\000\\000\", color = GREEN, values = {table:#x}, next = {config:#x}, "
        "{as_int = 1065353216, as_float = 1}}")
    many = show("many", env)
    assert many.startswith("{0, 1, 2, ") and many.endswith(", 198, 199...}")
    assert many.count(",") == 199
    assert show("buf", env) == "\"hi\", '\\000' <repeats 13 times>"
    assert show("word", env) == '"hello"'


def test_format_reads_an_aggregate_at_once(env):
    node = parse("config")
    config = evaluate(node, env)
    env.reads = 0
    format_value(config, env)
    assert env.reads == 1


def test_format_of_deeply_nested_structs_is_capped():
    inner = CType("struct", "struct leaf", 4, fields=(Field("v", 0, INT),))
    for _ in range(30):
        inner = CType("struct", "struct node", 4, fields=(Field("n", 0, inner),))
    env = make_env()
    env.symbols["deep", None] = (BASE, inner)
    assert "{...}" in format_value(evaluate_text("deep", env), env)


# --- properties --------------------------------------------------------------

TOKENS = [
    "1", "0", "7", "0x10", "0b1", "0o7", "'a'", "1.5", "2e3", "0xffffffffffffffff", "-", "+", "*", "/", "%", "<<",
    ">>", "&", "|", "^", "~", "!", "not", "and", "or", "&&", "||", "==", "!=", "<", "<=", ">", ">=", "(", ")", "[",
    "]", ".", "->", "=", "x", "y", "counter", "ucounter", "big", "table", "matrix", "p0", "flags", "config",
    "cfg_ptr", "int_ptr", "void_ptr", "null_ptr", "wild_ptr", "greeting", "ratio", "half", "main", "no_dwarf",
    "color", "buf", "new", "old", "$rax", "$tid", "$nosuch", "libfoo:lib_counter", "lib:", "(int)", "(char *)",
    "(double)", "(unsigned long)", "(struct x *)", "origin", "values", "next", "a", "c", "'", "$", "\x00", "é", " ",
]


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.text(max_size=40),
    st.lists(st.sampled_from(TOKENS), max_size=14).map("".join),
    st.lists(st.sampled_from(TOKENS), max_size=14).map(" ".join),
))
def test_any_text_parses_or_is_a_usage_error_and_evaluates_or_is_a_hwdbg_error(text):
    env = make_env()
    try:
        node = parse(text)
    except UsageError:
        return
    for call in (lambda: evaluate(node, env, {"new": 3, "old": -1}),
                 lambda: format_value(evaluate(node, env), env),
                 lambda: lvalue(node, env),
                 lambda: assign_bytes(node, -1, env),
                 lambda: truth(evaluate(node, env))):
        try:
            call()
        except HwdbgError:
            pass


MASK = (1 << 64) - 1
PRECEDENCE = {"||": 1, "&&": 2, "|": 5, "^": 6, "&": 7, "<<": 8, ">>": 8, "+": 9, "-": 9, "*": 10, "/": 10, "%": 10}
COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")


class Undefined(Exception):
    """Division by zero or an out-of-range shift in the reference evaluator."""


def wrap(number: int) -> int:
    number &= MASK
    return number - (1 << 64) if number >> 63 else number


def reference(tree) -> int:
    """An independent evaluator of C semantics on 64-bit two's complement longs."""
    op = tree[0]
    if op == "num":
        return tree[1]
    if len(tree) == 2:
        operand = reference(tree[1])
        return {"-": lambda: wrap(-operand), "~": lambda: wrap(~operand), "!": lambda: int(operand == 0)}[op]()
    left = reference(tree[1])
    if op in ("&&", "||"):
        if (left != 0) == (op == "||"):
            return int(op == "||")
        return int(reference(tree[2]) != 0)
    right = reference(tree[2])
    if op in ("/", "%"):
        if right == 0:
            raise Undefined
        quotient = int(abs(left) // abs(right)) * (1 if (left < 0) == (right < 0) else -1)
        return wrap(quotient if op == "/" else left - right * quotient)
    if op in ("<<", ">>"):
        if not 0 <= right < 64:
            raise Undefined
        return wrap(left << right) if op == "<<" else left >> right
    if op in COMPARISONS:
        return int({"==": left == right, "!=": left != right, "<": left < right,
                    "<=": left <= right, ">": left > right, ">=": left >= right}[op])
    return wrap({"+": left + right, "-": left - right, "*": left * right,
                 "&": left & right, "|": left | right, "^": left ^ right}[op])


def render(tree) -> str:
    if tree[0] == "num":
        return str(tree[1])
    if len(tree) == 2:
        return f"({tree[0]}{render(tree[1])})"
    return f"({render(tree[1])} {tree[0]} {render(tree[2])})"


def check(text: str, tree) -> None:
    try:
        expected = reference(tree)
    except Undefined:
        with pytest.raises(UsageError):
            evaluate_text(text, FakeEnv())
        return
    assert evaluate_text(text, FakeEnv()).value == expected, text


small = st.one_of(st.integers(0, 70), st.sampled_from([2**31, 2**32 - 1, 2**62, 2**63 - 1])).map(lambda n: ("num", n))
trees = st.recursive(
    small,
    lambda sub: st.one_of(
        st.tuples(st.sampled_from(["-", "~", "!"]), sub),
        st.tuples(st.sampled_from([*PRECEDENCE, *COMPARISONS]), sub, sub),
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(trees)
def test_arithmetic_matches_a_reference(tree):
    check(render(tree), tree)


def precedence_tree(items: list):
    """Shunting-yard over ``n op n op n ...`` with the documented precedence table."""
    output, pending = [], []

    def reduce() -> None:
        right, left = output.pop(), output.pop()
        output.append((pending.pop(), left, right))

    for position, item in enumerate(items):
        if position % 2 == 0:
            output.append(("num", item))
            continue
        while pending and PRECEDENCE[pending[-1]] >= PRECEDENCE[item]:
            reduce()
        pending.append(item)
    while pending:
        reduce()
    return output[0]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(list(PRECEDENCE)), st.integers(0, 40)), max_size=10),
       st.integers(0, 40))
def test_unparenthesised_chains_follow_c_precedence(pairs, first):
    items = [first]
    for op, number in pairs:
        items += [op, number]
    text = " ".join(map(str, items))
    check(text, precedence_tree(items))


@given(st.integers(-3, 3), st.integers(-1000, 1000), st.integers(-1000, 1000), st.integers(-3, 3))
def test_conditional_and_comma_follow_c(c, a, b, d):
    """``c ? a : d ? b : a`` nests to the right and evaluates one branch; ``x, y`` is y."""
    env = FakeEnv()
    assert evaluate_text(f"{c} ? {a} : {d} ? {b} : {a}", env).value == (a if c else (b if d else a))
    assert evaluate_text(f"({a}, {b}) + {c}", env).value == b + c
    assert evaluate_text(f"{c} > 0 ? {a}, {b} : {d}", env).value == (b if c > 0 else d)
    # the branch not taken is not evaluated: a division by zero there is no error
    assert evaluate_text(f"1 ? {a} : {b} / 0", env).value == a


def test_conditional_parses_below_or_and_above_comma():
    node = parse("a || b ? c : d, e")
    assert isinstance(node, Binary) and node.op == ","
    assert isinstance(node.left, Conditional) and node.left.condition.op == "||"
