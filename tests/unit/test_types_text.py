"""Types as text (whatis/ptype), type names in expressions, sizeof, casts to the program's
types and gdb's @, against an in-memory Env: pure logic, no target process."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hwdbg.errors import EvaluationError, SymbolError, UsageError
from hwdbg.expr import evaluate_text, format_value, parse, parse_type, ptype_text, type_of, whatis_text
from hwdbg.symbols.types import CType, Field, renamed

from test_expr import CHAR, COLOR, INT, LONG, POINT, UINT, FakeEnv, array, i32, make_env, pointer

PAIR_T = renamed(POINT, "pair_t")
BINOP = CType("func", "int (int, int)", 1, target=INT)
BINOP_T = renamed(pointer(BINOP), "binop_t")
NODE = CType("struct", "struct node", 40)
INNER = CType("union", "union {...}", 2, fields=(Field("s", 0, CType("int", "short", 2, signed=True)),
                                                 Field("c", 0, CHAR)))
object.__setattr__(NODE, "fields", (
    Field("value", 0, INT), Field("next", 8, pointer(NODE)), Field("name", 16, array(CHAR, 8)),
    Field("op", 24, pointer(BINOP)), Field("flag", 32, UINT, bit_size=1, bit_offset=0),
    Field("u", 34, INNER), Field("pair", 36, PAIR_T)))
TYPES = {"struct point": POINT, "pair_t": PAIR_T, "binop_t": BINOP_T, "struct node": NODE, "enum color": COLOR}


class TypedEnv(FakeEnv):
    def type_named(self, name: str):
        return TYPES.get(name)


@pytest.fixture
def env() -> TypedEnv:
    typed = TypedEnv()
    typed.__dict__.update(make_env().__dict__)
    return typed


@pytest.mark.parametrize("ctype, whatis, ptype", [
    (pointer(POINT), "struct point *", "struct point {\n    int x;\n    int y;\n} *"),
    (array(array(INT, 3), 2), "int [2][3]", None),
    (pointer(array(array(INT, 3), 2)), "int (*)[2][3]", None),
    (array(pointer(INT), 2), "int *[2]", None),
    (pointer(BINOP), "int (*)(int, int)", None),
    (BINOP_T, "binop_t", "int (*)(int, int)"),
    (pointer(PAIR_T), "pair_t *", "struct point {\n    int x;\n    int y;\n} *"),
    (COLOR, "enum color", "enum color {RED, GREEN, BLUE}"),
    (CType("enum", "enum {...}", 4, enumerators=(("A", 1), ("B", 2), ("C", 7))), "enum {...}", "enum {A = 1, B, C = 7}"),
    (NODE, "struct node", "struct node {\n    int value;\n    struct node *next;\n    char name[8];\n"
     "    int (*op)(int, int);\n    unsigned int flag : 1;\n    union {\n        short s;\n        char c;\n"
     "    } u;\n    pair_t pair;\n}"),
    (pointer(None), "void *", None),
])
def test_types_are_written_as_gdb_writes_them(ctype, whatis, ptype):
    assert whatis_text(ctype) == whatis
    assert ptype_text(ctype) == (ptype or whatis)


@given(st.lists(st.sampled_from(["*", "[2]", "[3]"]), max_size=6), st.sampled_from([INT, CHAR, LONG, POINT]))
def test_a_written_pointer_or_array_type_parses_back(suffixes, base):
    """Pointers first, then dimensions (the declarators the cast syntax has): text -> type -> text."""
    stars = [s for s in suffixes if s == "*"]
    dims = [s for s in suffixes if s != "*"]
    text = f"{base.name} {''.join(stars)}{''.join(dims)}".strip()
    ctype = parse_type(text, TYPES.get)
    assert ctype is not None
    assert whatis_text(ctype) == (text if stars or dims else base.name)
    size = 8 if stars else base.size
    for dim in dims:
        size *= int(dim[1:-1])
    assert ctype.size == size


def test_type_names_and_sizeof(env):
    assert parse_type("struct node *", env.type_named).target is NODE
    assert parse_type("counter", env.type_named) is None  # an expression, not a type
    assert parse_type("unsigned long int", env.type_named).name == "unsigned long"
    assert evaluate_text("sizeof(struct node)", env).value == 40
    assert evaluate_text("sizeof(pair_t)", env).value == 8
    assert evaluate_text("sizeof table / sizeof(table[0])", env).value == 8
    assert evaluate_text("sizeof(binop_t)", env).value == 8
    assert evaluate_text("sizeof counter + 1", env).value == 5
    before = env.reads
    assert evaluate_text("sizeof(config.name)", env).value == 8 and env.reads == before  # nothing read
    assert whatis_text(type_of(parse("sizeof(int)"), env)) == "int"
    assert whatis_text(type_of(parse("1 + 2"), env)) == "int"
    assert whatis_text(type_of(parse("1 << 40"), env)) == "long"
    assert whatis_text(type_of(parse("2.5 * 2"), env)) == "double"
    with pytest.raises(SymbolError, match="No struct type named nosuch."):
        parse_type("struct nosuch", env.type_named)


def test_casts_to_the_programs_types(env):
    assert format_value(evaluate_text("*(struct point *)&p0", env), env) == "{x = 1, y = -2}"
    assert format_value(evaluate_text("*(pair_t *)&p0", env), env) == "{x = 1, y = -2}"
    assert format_value(evaluate_text("(struct point)table", env), env) == "{x = 0, y = 10}"
    assert format_value(evaluate_text("(enum color)2", env), env) == "BLUE"
    assert format_value(evaluate_text("(enum color)9", env), env) == "(GREEN | unknown: 0x8)"  # 0, 1, 2: flags
    assert evaluate_text("((struct point *)&table[2])->y", env).value == 30
    with pytest.raises(EvaluationError, match="Invalid cast."):
        evaluate_text("(struct point)3", env)


@given(st.integers(1, 8), st.integers(0, 7))
def test_at_makes_an_array_from_memory(count, start):
    env = make_env()
    count = min(count, 8 - start)
    shown = format_value(evaluate_text(f"table[{start}]@{count}", env), env)
    assert shown == "{" + ", ".join(str(10 * i) for i in range(start, start + count)) + "}"
    assert format_value(evaluate_text(f"*&table[{start}]@{count}", env), env, "x") == \
        "{" + ", ".join(hex(10 * i) for i in range(start, start + count)) + "}"


def test_at_and_formats_on_aggregates(env):
    assert format_value(evaluate_text("points[0]@2", env), env) == "{{x = 1, y = 2}, {x = 3, y = 4}}"
    assert format_value(evaluate_text("p0", env), env, "x") == "{x = 0x1, y = 0xfffffffe}"
    assert format_value(evaluate_text("word", env), env, "d") == "{104, 101, 108, 108, 111, 0}"
    assert format_value(evaluate_text("zeros", env), env, "x") == "{0x0 <repeats 16 times>}"
    for text, message in (("table@0", "Invalid number 0 of repetitions."), ("3@2", "Only values in memory"),
                          ("table[0]@-1", "Invalid number -1 of repetitions.")):
        with pytest.raises(EvaluationError, match=message):
            evaluate_text(text, env)
    with pytest.raises(UsageError):
        parse("sizeof(")


@pytest.mark.parametrize("enumerators, number, shown", [
    ((("A", 1), ("B", 2), ("C", 4)), 3, "(A | B)"),
    ((("A", 1), ("B", 2), ("C", 4)), 9, "(A | unknown: 0x8)"),
    ((("A", 1), ("B", 2), ("C", 4)), 8, "(unknown: 0x8)"),
    ((("A", 1), ("B", 2), ("C", 4)), 0, "0"),
    ((("Z", 0), ("A", 1), ("B", 2)), 3, "(A | B)"),
    ((("A", 1), ("AB", 3)), 2, "2"),  # two bits in one value: not a flag enum
    ((("M", -1), ("P", 1)), 5, "5"),  # a negative value: not a flag enum
    ((("A", 1), ("A2", 1)), 3, "3"),  # a bit used twice
])
def test_enums_print_as_gdb_prints_them(enumerators, number, shown):
    env = make_env()
    ctype = CType("enum", "enum e", 4, enumerators=enumerators)
    assert format_value(evaluate_text("x", _With(env, ctype, number)), env) == shown


class _With:
    """``env`` plus one int-sized variable x of ``ctype`` holding ``number``."""

    def __init__(self, env, ctype, number):
        self.env, self.addr = env, env.define("x_enum", ctype, i32(number))
        self.ctype = ctype

    def lookup(self, name, lib):
        return (self.addr, self.ctype) if name == "x" else self.env.lookup(name, lib)

    def read_memory(self, addr, size):
        return self.env.read_memory(addr, size)

    def register(self, name):
        return self.env.register(name)
