"""Evaluation of the syntax tree against an :class:`Env`: values, memory loads, lvalues (C's operators: arithmetic)."""
from __future__ import annotations

import operator
from typing import Mapping, Optional, Protocol

from ..errors import EvaluationError, NotInMemory, SymbolError, UsageError
from ..symbols.types import CType, Field, type_name
from . import x87
from .arithmetic import (
    _arithmetic, _integer, _integer_result, _long_double, _no_address, _pointee, _pointer_arithmetic, _pointer_type,
    _scalar, _stride, _unsigned64, _LITERAL_ADDRESS, _NOT_IN_MEMORY,
)
from .parser import SIZE_TYPE, VOID, _pointer_to, parse
from .syntax import (
    _COMPARE, CHAR, Binary, Call, Cast, Str, Conditional, Index, Member, Name, Node, Num, Number, Register, SizeOf, Unary, _guard,
    _truncate,
)
from .values import (  # noqa: F401  (Held, LONG, _Memory, read_exact and untyped_type are re-exported)
    _AGGREGATES, _RECORDS, _SCALARS, INT, LONG, Held, Value, convert, encode_float, _float32, _load, _Memory,
    _Place, _place, read_exact, array_of, untyped_type,
)


class Env(Protocol):
    def lookup(self, name: str, lib: str | None) -> tuple[int, CType | None] | Held:
        """Runtime address and type of a variable or function (or a Held local); raises SymbolError."""

    def read_memory(self, addr: int, size: int) -> bytes:
        """Raises TargetError if unreadable."""

    def register(self, name: str) -> int:
        """A register or convenience value, name without '$'; raises UsageError if unknown."""

    # Optional: ``type_named(name) -> CType | None`` names the program's types for casts and sizeof;
    # ``lookup_type(name, lib) -> CType | None`` the type of a variable without its address;
    # ``call_function(callee, arguments, cast, name) -> Value`` runs a call in the process (``cast``:
    # the type a cast gives the call, the return type of a function without debug info), and
    # ``string_in_process(data) -> Value`` copies a string literal argument there (a char *).


_ADDRESS_REGISTERS = {"pc", "sp", "fp", "rip", "rsp", "rbp", "eip", "esp", "ebp"}
_VOID_POINTER = _pointer_to(VOID)
_CODE_POINTER = _pointer_to(CType("func", "void ()", 1, target=VOID))  # gdb's $pc: void (*)()


def _find_field(ctype: CType, name: str) -> tuple[int, Field] | None:
    """The field and its offset, looking inside anonymous struct and union members as C does."""
    for member in ctype.fields:
        if member.name == name:
            return member.offset, member
        if not member.name and member.ctype.kind in ("struct", "union"):
            inner = _find_field(member.ctype, name)
            if inner is not None:
                return member.offset + inner[0], inner[1]
    return None


def _field_place(address: int, offset: int, member: Field) -> _Place:
    bits = (member.bit_offset or 0, member.bit_size) if member.bit_size else None
    return _place(address + offset, member.ctype, bits)


def _copied_field(data: bytes, offset: int, member: Field) -> _Place:
    """A member of a struct that is a copy (a value ``finish`` returned): its bytes, not a place."""
    ctype = member.ctype
    if member.bit_size:
        raw = int.from_bytes(data[offset:offset + ctype.size].ljust(ctype.size, b"\0"), "little")
        field = (raw >> (member.bit_offset or 0)) & ((1 << member.bit_size) - 1)
        if ctype.signed and field >> (member.bit_size - 1):
            field -= 1 << member.bit_size
        return _Place(0, ctype, None, Held(field.to_bytes(ctype.size, "little", signed=field < 0), ctype, _NOT_IN_MEMORY))
    return _Place(0, ctype, None, Held(data[offset:offset + ctype.size], ctype, _NOT_IN_MEMORY))


def _bound(value: "int | Value") -> Value:
    """A binding is a number (``new``, ``$tid``) or a whole value (``$3`` of the value history)."""
    return value if isinstance(value, Value) else Value(int(value))


def _string_type(node: Str) -> CType:
    """A string literal's type, as in C: char [N + 1], the terminating NUL included."""
    return array_of(CHAR, len(node.data) + 1)


def _literal_element(literal: Value, index: int) -> _Place:
    """Element ``index`` of a string literal or of an array that is a copy (a member of a struct
    finish returned), which is not in memory (gdb: not an lvalue)."""
    data = literal.data or b""
    ctype = literal.ctype
    element = ctype.target if ctype is not None and ctype.kind == "array" and ctype.target is not None else CHAR
    size = max(element.size, 1)
    if not 0 <= index < len(data) // size:
        raise EvaluationError("no such vector element")
    return _Place(0, element, None, Held(data[index * size:(index + 1) * size], element, _NOT_IN_MEMORY))


class _Evaluator:
    def __init__(self, env: Env, bindings: Mapping[str, int] | None) -> None:
        self.env = env
        self.bindings = bindings or {}

    def bound(self, node: Node) -> bool:
        return isinstance(node, Name) and node.lib is None and node.name in self.bindings

    def value(self, node: Node) -> Value:
        if isinstance(node, Num):
            return Value(node.value, node.ctype)
        if isinstance(node, Register):
            return self.register(node.name)
        if self.bound(node):
            return _bound(self.bindings[node.name])
        if isinstance(node, Binary):
            return self.binary(node)
        if isinstance(node, Conditional):
            return self.value(node.then if truth(self.value(node.condition)) else node.otherwise)
        if isinstance(node, Cast):
            return self.cast(node)
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, Str):  # gdb's not_lval char array: its bytes, not in the program
            return Value(0, _string_type(node), data=node.data + b"\0")
        if isinstance(node, SizeOf):
            ctype = self.type_of(node.operand)
            if ctype.kind == "func":
                return Value(1, SIZE_TYPE)
            return Value(ctype.size, SIZE_TYPE)
        if isinstance(node, Unary) and node.op != "*":
            return self.unary(node)
        return _load(self.env, self.place(node))

    def type_of(self, node: Node) -> CType:
        """The type of ``node``'s value; memory is read only where the type depends on it."""
        if isinstance(node, Name) and not self.bound(node) and hasattr(self.env, "lookup_type"):
            return self.env.lookup_type(node.name, node.lib) or LONG
        if isinstance(node, (Name, Member, Index)) or (isinstance(node, Unary) and node.op == "*"):
            if not self.bound(node):
                return self.place(node).ctype or LONG
        if isinstance(node, Binary) and node.op == ",":
            return self.type_of(node.right)
        if isinstance(node, Str):
            return _string_type(node)
        if isinstance(node, Call):  # the return type, without running the call (gdb's whatis)
            callee = self.type_of(node.function)
            if callee.kind == "pointer" and callee.target is not None:
                callee = callee.target
            if callee.kind == "func" and callee.target is not None:
                return callee.target
            raise EvaluationError(f"'{node.function.text}' has unknown return type; "
                                  "cast the call to its declared return type")
        value = self.value(node)
        return value.ctype or untyped_type(value.value)

    def cast(self, node: Cast) -> Value:
        ctype = node.ctype
        if ctype.kind in ("struct", "union", "array"):
            # gdb's cast to an aggregate: the same bytes seen as that type, so they must be in memory
            operand = node.operand
            if isinstance(operand, (Name, Member, Index)) or (isinstance(operand, Unary) and operand.op == "*"):
                address = self.place(operand).address
            else:
                value = self.value(operand)
                if value.ctype is None or value.ctype.kind not in _AGGREGATES:
                    raise EvaluationError("Invalid cast.")
                address = value.value
            return Value(address, ctype, address)
        if isinstance(node.operand, Call):  # gdb: the cast names a return type debug info does not
            value = self.call(node.operand, ctype)
            return Value(0, ctype) if ctype.kind == "void" else convert(value, ctype)
        value = self.value(node.operand)
        if value.data is not None:
            raise UsageError(_LITERAL_ADDRESS)
        return convert(value, ctype)

    def call(self, node: Call, cast: CType | None = None) -> Value:
        """An inferior call: the callee and the arguments evaluated here, left to right, then run
        in the process by the environment."""
        function = node.function
        if isinstance(function, Name) and not self.bound(function):
            place = self.place(function)  # a function without debug info is its address, not a long
            callee = _load(self.env, place) if place.ctype is not None or place.held is not None \
                else Value(place.address, None, place.address)
        else:
            callee = self.value(function)
        run = getattr(self.env, "call_function", None)
        if run is None:
            raise EvaluationError("You can't do that without a process to debug.")
        arguments = [self.env.string_in_process(argument.data) if isinstance(argument, Str) else self.value(argument)
                     for argument in node.arguments]
        return run(callee, arguments, cast, function.text)

    def repeat(self, node: Binary) -> Value:
        """gdb's ``LEFT@COUNT``: an array of COUNT objects of LEFT's type, from LEFT's address on."""
        try:
            place = self.place(node.left)
        except SymbolError:
            if isinstance(node.left, Name):
                raise
            raise EvaluationError("Only values in memory can be extended with '@'.") from None
        if place.bits:
            raise EvaluationError("Only values in memory can be extended with '@'.")
        count = _integer(_scalar(self.value(node.right), "@"), "@")
        if count <= 0:
            raise EvaluationError(f"Invalid number {count} of repetitions.")
        ctype = array_of(place.ctype, count)
        return Value(place.address, ctype, place.address)

    def register(self, name: str) -> Value:
        if f"${name}" in self.bindings:
            return _bound(self.bindings[f"${name}"])
        number = self.env.register(name)
        if name in ("pc", "rip", "eip"):
            return Value(number, _CODE_POINTER)
        return Value(number, _VOID_POINTER) if name in _ADDRESS_REGISTERS else Value(number)

    def place(self, node: Node) -> _Place:
        if isinstance(node, (Name, Register)) and f"${getattr(node, 'name', '')}" in self.bindings:
            value = self.value(node)  # a value of the history that is a copy ($1 that finish returned)
            if value.data is not None:
                raise UsageError(_no_address(value))
        if isinstance(node, Name) and not self.bound(node):
            found = self.env.lookup(node.name, node.lib)
            if isinstance(found, Held):
                return _Place(0, found.ctype, None, found)
            address, ctype = found
            return _place(address, ctype)
        if isinstance(node, Member):
            return self.member(node)
        if isinstance(node, Index):
            return self.index(node)
        if isinstance(node, Unary) and node.op == "*":
            return self.dereference(node)
        raise SymbolError(f"'{node.text}' does not name memory")

    def member(self, node: Member) -> _Place:
        base = self.value(node.base)
        ctype = base.ctype
        if ctype is not None and ctype.kind == "pointer":  # like gdb, '.' and '->' both see through a pointer
            ctype = ctype.target
        if ctype is None:
            raise UsageError(f"'{node.base.text}' has no type information")
        if ctype.kind not in ("struct", "union"):
            raise UsageError(f"'{node.base.text}' is not a struct or union")
        found = _find_field(ctype, node.name)
        if found is None:
            raise SymbolError(f"{type_name(ctype)} has no field '{node.name}'")
        offset, member = found
        if base.data is not None and base.ctype is not None and base.ctype.kind in _RECORDS:
            return _copied_field(base.data, offset, member)
        return _field_place(base.value, offset, member)

    def index(self, node: Index) -> _Place:
        base = self.value(node.base)
        pointer = _pointer_type(base)
        if pointer is None:
            raise UsageError(f"cannot subscript '{node.base.text}'")
        count = _integer(_scalar(self.value(node.index), "[]"), "[]")
        if base.data is not None:
            return _literal_element(base, count)
        return _place(base.value + count * _stride(pointer), _pointee(pointer))

    def dereference(self, node: Unary) -> _Place:
        operand = self.value(node.operand)
        pointer = _pointer_type(operand)
        if operand.data is not None:
            return _literal_element(operand, 0)
        if pointer is not None:
            return _place(operand.value, _pointee(pointer))
        number = _scalar(operand, "*")
        if isinstance(number, float):
            raise UsageError(f"cannot dereference '{node.operand.text}': it is a floating-point value")
        return _place(number, INT)  # an untyped address reads as int, as in gdb

    def unary(self, node: Unary) -> Value:
        op = node.op
        if op == "&":
            place = self.place(node.operand)
            if place.held is not None:
                raise UsageError(place.held.why)
            if place.bits:
                raise UsageError(f"cannot take the address of bit-field '{node.operand.text}'")
            return Value(place.address, _pointer_to(place.ctype or LONG))
        operand = self.value(node.operand)
        if op == "!":
            return Value(int(not truth(operand)))
        number = _scalar(operand, op)
        if isinstance(number, float) and op in ("-", "+"):
            wide = _long_double(operand)  # gdb negates as 0 - x: -(0.0) is 0
            if wide is not None:
                return Value(x87.arithmetic("-", 0, number) if op == "-" else number, wide)
            return Value(0.0 - number if op == "-" else number)
        number = _integer(number, op)
        result = {"-": operator.neg, "+": operator.pos, "~": operator.invert}[op](number)
        return _integer_result(result, _unsigned64(operand))

    def binary(self, node: Binary) -> Value:
        op = node.op
        if op == "@":
            return self.repeat(node)
        left = self.value(node.left)
        if op == ",":
            return self.value(node.right)
        if op in ("&&", "||"):
            if truth(left) == (op == "||"):  # short-circuit
                return Value(int(op == "||"))
            return Value(int(truth(self.value(node.right))))
        right = self.value(node.right)
        if op in _COMPARE:
            a, b = _scalar(left, op), _scalar(right, op)
            if _long_double(left, right) is not None:
                return Value(int(x87.compare(_COMPARE[op], a, b)))
            return Value(int(_COMPARE[op](a, b)))
        if op in ("+", "-"):
            result = _pointer_arithmetic(op, left, right)
            if result is not None:
                return result
        return _arithmetic(op, left, right)


def evaluate(node: Node, env: Env, bindings: Mapping[str, int] | None = None) -> Value:
    """The value of ``node``. ``bindings`` (e.g. ``new``, ``old``, ``$tid``) shadow symbols and registers."""
    return _guard(lambda: _Evaluator(env, bindings).value(node))


def evaluate_text(text: str, env: Env, bindings: Mapping[str, int] | None = None) -> Value:
    return evaluate(parse(text, getattr(env, "type_named", None)), env, bindings)


def type_of(node: Node, env: Env, bindings: Mapping[str, int] | None = None) -> CType:
    """The C type of ``node`` (``whatis``): untyped numbers are int, long or double as in C."""
    return _guard(lambda: _Evaluator(env, bindings).type_of(node))


def truth(value: Value) -> bool:
    if value.data is not None:
        raise UsageError(_LITERAL_ADDRESS)
    ctype = value.ctype
    if ctype is not None and ctype.kind in _RECORDS:
        raise UsageError(f"cannot use a {ctype.kind} as a condition")
    return value.value != 0


def lvalue(node: Node, env: Env) -> tuple[int, CType | None]:
    """The address and type of the memory ``node`` names; SymbolError if it names none,
    NotInMemory if it names a variable held in a register.

    For a bit-field this is its containing storage unit.
    """
    place = _guard(lambda: _Evaluator(env, None).place(node))
    if place.held is not None:
        raise NotInMemory(place.held.why, place.held.register)
    return place.address, place.ctype


def assign_bytes(node: Node, value: Number, env: Env) -> tuple[int, bytes]:
    """What ``set var NODE = value`` writes: the address and its new little-endian bytes.

    The value is converted as C does (truncated, like gdb); a bit-field is merged
    into the bytes currently around it, so this reads memory but never writes it.
    A variable held in a register raises NotInMemory (see assign_target).
    """
    where, data = assign_target(node, value, env)
    if isinstance(where, Held):
        raise NotInMemory(where.why, where.register)
    return where, data


def assign_target(node: Node, value: Number, env: Env) -> tuple[int | Held, bytes]:
    """Like assign_bytes, but a variable held in a register is an answer too: (the Held, its
    new bytes: the register's low bytes); one the compiler computed (no register) is not."""
    def run() -> tuple[int | Held, bytes]:
        place = _Evaluator(env, None).place(node)
        held = place.held
        if held is not None and held.register is None:
            raise UsageError("Left operand of assignment is not an lvalue.")  # gdb's words
        ctype = place.ctype or LONG
        if ctype.kind not in _SCALARS:
            raise UsageError(f"cannot assign to '{node.text}' of type {type_name(ctype)}")
        number = convert(Value(value), ctype).value
        where: int | Held = held if held is not None else place.address
        if place.bits:
            bit_offset, bit_size = place.bits
            width = (bit_offset + bit_size + 7) // 8
            old = int.from_bytes(read_exact(env, place.address, width), "little")
            mask = ((1 << bit_size) - 1) << bit_offset
            new = old & ~mask | (number << bit_offset) & mask
            return where, new.to_bytes(width, "little")
        if ctype.kind == "float":
            return where, encode_float(number, ctype.size)
        return where, (number & ((1 << 8 * ctype.size) - 1)).to_bytes(ctype.size, "little")
    return _guard(run)
