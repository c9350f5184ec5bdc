"""Examining the program's data: print, set var, x, disassemble (backtrace: frames.py)."""
from __future__ import annotations

import argparse
import functools
import re
from typing import Any, Optional

from ... import expr
from ...errors import HwdbgError, OptimizedOut, TargetError, UsageError
from ...locations import resolve_code
from ...session.assign import store_in_register
from .printopts import pretty, print_options
from . import Category, CommandParser, Result, command, current_tid, printable, raw_split, symbolic
from ...disasm import disassemble as decode
from ...disasm import disassemble_function

D = Category.DATA

MAX_EXAMINE_BYTES = 1 << 16
MAX_STRING_BYTES = 4096  # x/s reads at most this much of one string
PAGE = 4096


def _raw_parser(name: str, metavar: str = "EXPR") -> CommandParser:
    parser = CommandParser(name)
    parser.add_argument("text", nargs="?", metavar=metavar)
    return parser


# ------------------------------------------------------------------ print

def _json_value(value: expr.Value) -> Any:
    ctype = value.ctype
    if ctype is not None and ctype.kind in ("struct", "union", "array", "func"):
        return None
    number_ = value.value
    if isinstance(number_, float) and number_ != number_:  # NaN is not JSON
        return None
    if isinstance(number_, float) and number_ in (float("inf"), float("-inf")):
        return None
    return number_


@command(_raw_parser("print"), category=D, split=raw_split, aliases=("p", "inspect"), complete="symbols")
def print_(ctx: Any, args: argparse.Namespace) -> Result:
    """print [-pretty [on|off] --] [/F] EXPR

    Evaluates EXPR (the expression language, see EXPRESSIONS) and shows its value as
    gdb does; /F formats every number in it, array elements and struct members too:
    x hex, z zero-padded hex, d signed, u unsigned, o octal, t binary, c character,
    a address (a floating-point value's bits), f floating point (an integer's bits as
    a float or double of its size, as gdb 13); s shows it as without /F (char
    arrays and pointers are strings anyway). Values are numbered $1, $2, ... and
    can be used in later expressions ($ is the last one, $$ the one before, $$N the
    Nth before). EXPR@N shows N objects from EXPR on (print *arr@4, print arr[1]@2);
    sizeof(TYPE) and sizeof EXPR are sizes in bytes; casts take the program's types
    ((struct node *)p, *(pair_t *)addr, (enum color)1). $_exitcode is the exit code
    of the program that ran last (void until one has exited). FUNCTION(ARGS) calls
    a function of the program, as the call command does; a void one prints
    "$N = void". -pretty (or set print pretty on) shows structs on several lines."""
    options, rest = print_options(args.text or "")
    fmt, text = format_and_expression(rest, "print")
    if text == "$_exitcode" and ctx.exit_code() is None:
        ctx.values.append(None)  # gdb's void: the program has not exited
        return Result("print", {"expr": text, "history": len(ctx.values), "value": None, "text": "void"},
                      f"${len(ctx.values)} = void")
    try:
        value = ctx.evaluate(text)
    except OptimizedOut:
        if not re.fullmatch(r"[A-Za-z_]\w*", text):
            raise
        ctx.values.append(None)  # gdb: a local with no location here prints as <optimized out>
        return Result("print", {"expr": text, "history": len(ctx.values), "value": None,
                                "text": "<optimized out>"}, f"${len(ctx.values)} = <optimized out>")
    return shown_value(ctx, "print", text, fmt, value, pretty(ctx, options))


def shown_value(ctx: Any, name: str, text: str, fmt: Optional[str], value: expr.Value, pretty_: bool) -> Result:
    """print's result: the value entered in the history ($N) and shown ("$N = void" for a void call)."""
    if is_void(value):
        ctx.values.append(None)
        return Result(name, {"expr": text, "history": len(ctx.values), "value": None, "text": "void"},
                      f"${len(ctx.values)} = void")
    shown = expr.format_value(value, ctx.session.env(), fmt, functools.partial(symbolic, ctx), pretty_)
    ctx.values.append(value)
    number_ = len(ctx.values)
    return Result(name, {"expr": text, "history": number_, "value": _json_value(value), "text": shown},
                  f"${number_} = {shown}")


def is_void(value: expr.Value) -> bool:
    """What a call of a void function gives."""
    return value.ctype is not None and value.ctype.kind == "void"


def format_and_expression(given: Optional[str], name: str) -> tuple[Optional[str], str]:
    """``/x expr`` -> ("x", "expr"): print's and output's format letter and expression."""
    text = (given or "").strip()
    fmt = None
    match = re.match(r"/(\w*)", text)
    if match:
        fmt = match.group(1)
        text = text[match.end():].strip()
        if fmt == "s":  # gdb: as a string where it can be, i.e. as print shows it anyway
            fmt = None
        elif len(fmt) != 1 or fmt not in expr.PRINT_FORMATS:
            raise UsageError(f"bad format /{printable(fmt)}: use one letter of {expr.PRINT_FORMATS}s")
    if not text:
        raise UsageError(f"{name} needs an expression")
    return fmt, text


@command(_raw_parser("output"), category=D, split=raw_split, complete="symbols")
def output(ctx: Any, args: argparse.Namespace) -> Result:
    """output[/F] EXPR

    Shows the value of EXPR as print does, without "$N = " and without entering it
    in the value history (gdb's output, for breakpoint commands and scripts with
    echo). As in gdb, the line is left open (echo \\n ends it)."""
    options, rest = print_options(args.text or "")
    fmt, text = format_and_expression(rest, "output")
    value = ctx.evaluate(text)
    shown = expr.format_value(value, ctx.session.env(), fmt, functools.partial(symbolic, ctx), pretty(ctx, options))
    return Result("output", {"expr": text, "value": _json_value(value), "text": shown}, shown, raw=True)


# ------------------------------------------------------------------ set var

_set_parser = _raw_parser("set var", "LVALUE = EXPR")


@command(_set_parser, category=D, split=raw_split, group="set", name="var", aliases=("variable",),
         complete="symbols")
def set_var(ctx: Any, args: argparse.Namespace) -> Result:
    """set var LVALUE = EXPR

    Writes the value of EXPR into the memory LVALUE names, converted to its type as
    C does (truncated, like gdb): set var counter = 0, set var config.flags = 4.
    The watched values are re-read, so the next hit shows the right old value.
    A local or argument the compiler keeps in a register (-O1, -O2) is written
    there, as the selected frame sees it: frame #0's register, or for an outer
    frame the stack slot where a function it called saved that register (the
    thread's register when none did), as gdb does."""
    text = (args.text or "").strip()
    if not text:
        raise UsageError("set var needs LVALUE = EXPR")
    session = ctx.session
    session.require_stopped()
    target, source = expr.parse_assignment(text)
    env = session.env()
    value = expr.evaluate(source, env, ctx.bindings())
    if value.ctype is not None and value.ctype.kind in ("struct", "union"):
        raise UsageError(f"cannot assign a {value.ctype.kind}; assign its fields one by one")
    where, data = expr.assign_target(target, value.value, env)
    if isinstance(where, expr.Held):  # a variable in a register: the one the selected frame sees
        frame = env.frame_used
        placed = store_in_register(session, frame, env.tid or session.require_process().pid, where.register, data)
        return Result("set var", {**placed, "bytes": data.hex()})
    session.write_memory(where, data)  # watches over these bytes take them as their value
    return Result("set var", {"address": where, "bytes": data.hex()})


# ------------------------------------------------------------------ x

_UNITS = {"b": 1, "h": 2, "w": 4, "g": 8}
_PER_LINE = {1: 8, 2: 8, 4: 4, 8: 2}


def parse_examine_spec(spec: str, last: tuple[str, str]) -> tuple[int, str, str]:
    """``4xg`` -> (4, "x", "g"): count, then format and unit letters in any order."""
    match = re.fullmatch(r"(\d*)([a-z]*)", spec)
    if match is None:
        raise UsageError(f"bad x format /{printable(spec)}: use /NFU, e.g. /4xg")
    count = int(match.group(1)) if match.group(1) else 1
    fmt, unit = last
    seen_fmt = seen_unit = False
    for letter in match.group(2):
        if letter in _UNITS and not seen_unit:
            unit, seen_unit = letter, True
        elif letter in "xduotcasif" and not seen_fmt:
            fmt, seen_fmt = letter, True
        else:
            raise UsageError(f"bad x format /{printable(spec)}: formats x d u o t c a f s i, units b h w g")
    if fmt == "a" and not seen_unit:
        unit = "g"
    if fmt == "f" and not seen_unit and unit not in "wg":  # gdb: floats are words or giants
        unit = "g"
    if fmt == "c" and not seen_unit:
        unit = "b"
    if count < 1:
        raise UsageError("x: the count must be at least 1")
    return count, fmt, unit


def read_code(ctx: Any, addr: int, size: int) -> bytes:
    """Code bytes from the process, or from the executable file before it runs (link-time addresses)."""
    session = ctx.session
    if session.alive:
        return _read_some(session.inferior, addr, size)
    symbols = session.symbols
    if symbols is None:
        raise TargetError("the program is not being run and no executable is loaded")
    data = symbols.executable.image.read_bytes(addr, size)
    if not data:
        raise TargetError(f"{addr:#x} is not in the program's file; start the program to read it")
    return data


def _read_some(inf: Any, addr: int, size: int) -> bytes:
    """As much of [addr, addr+size) as is readable from addr on (at least one byte)."""
    try:
        return inf.read_memory(addr, size)
    except TargetError:
        if size <= 1:
            raise
    end_of_page = (addr // PAGE + 1) * PAGE
    first = inf.read_memory(addr, min(size, end_of_page - addr))
    return first


def _instruction_json(ctx: Any, insn: Any) -> dict:
    op_str = insn.op_str
    if insn.mnemonic.startswith(("call", "j")) and re.fullmatch(r"0x[0-9a-f]+", op_str):
        sym = symbolic(ctx, int(op_str, 16))
        if sym:
            op_str += f" {sym}"
    return {"address": insn.address, "bytes": insn.bytes.hex(), "mnemonic": insn.mnemonic, "operands": op_str}


def disassemble_bytes(ctx: Any, code: bytes, addr: int, count: Optional[int] = None) -> list[dict]:
    return [_instruction_json(ctx, insn) for insn in decode(code, addr, count)]


def _insn_text(insn: dict, marker: str, label: str) -> str:
    return f"{marker:<3}{insn['address']:#x}{label}:\t{insn['mnemonic']:<6} {insn['operands']}".rstrip()


def _current_pc(ctx: Any) -> Optional[int]:
    session = ctx.session
    if not session.alive or not session.inferior.all_stopped:
        return None
    try:
        return session.arch.get_pc(session.inferior.get_regs(current_tid(ctx)))
    except HwdbgError:
        return None


@command(_raw_parser("x", "ADDRESS"), category=D, split=raw_split, repeatable=True, complete="symbols")
def x(ctx: Any, args: argparse.Namespace) -> Result:
    """x[/NFU] ADDRESS

    Examines memory at ADDRESS (an expression: &counter, 0x404040, $sp, an array
    name): N units (default 1) of size U (b 1, h 2, w 4, g 8 bytes; default w) in
    format F: x hex, d signed, u unsigned, o octal, t binary, c character, a
    address, f floating point (w a float, g a double; other units as integers),
    s C string, i machine instruction (AT&T syntax, via capstone). Format
    and unit are remembered; without ADDRESS, x goes on where the last one ended."""
    text = (args.text or "").strip()
    spec = ""
    match = re.match(r"/(\S*)", text)
    if match:
        spec, text = match.group(1), text[match.end():].strip()
    count, fmt, unit = parse_examine_spec(spec, ctx.x_format)
    session = ctx.session
    if text:
        value = ctx.evaluate(text)
        if isinstance(value.value, float):
            raise UsageError("x needs an address, not a floating-point value")
        addr = int(value.value) & ((1 << 64) - 1)
    elif ctx.x_next is not None:
        addr = ctx.x_next
    else:
        raise UsageError("x needs an address")
    size = _UNITS[unit]
    if fmt == "i":
        if count > 4096:
            raise UsageError(f"x/{count}i: at most 4096 instructions at a time")
        code = read_code(ctx, addr, min(count * 15, MAX_EXAMINE_BYTES))
        insns = disassemble_bytes(ctx, code, addr, count)
        pc = _current_pc(ctx)
        lines = [_insn_text(i, "=>" if i["address"] == pc else "", f" {symbolic(ctx, i['address'])}".rstrip())
                 for i in insns]
        ctx.x_format, ctx.x_next = (fmt, unit), (insns[-1]["address"] + len(insns[-1]["bytes"]) // 2
                                                  if insns else addr)
        return Result("x", {"address": addr, "format": fmt, "instructions": insns}, "\n".join(lines))
    inf = session.require_process()
    if fmt == "s":
        if count > 4096:
            raise UsageError(f"x/{count}s: at most 4096 strings at a time")
        strings, lines = [], []
        here = addr
        for _ in range(count):
            data = expr.read_c_string(inf, here, MAX_STRING_BYTES)
            label = symbolic(ctx, here)
            strings.append({"address": here, "text": data.decode("latin-1")})
            lines.append(f"{here:#x}{' ' + label if label else ''}:\t{expr.string_literal(data, repeats=None)}")
            here += len(data) + 1
        ctx.x_format, ctx.x_next = (fmt, "b"), here  # gdb: strings leave the unit at bytes
        return Result("x", {"address": addr, "format": "s", "strings": strings}, "\n".join(lines))
    total = count * size
    if total > MAX_EXAMINE_BYTES:
        raise UsageError(f"x: {total} bytes is too much at once (at most {MAX_EXAMINE_BYTES})")
    data = inf.read_memory(addr, total)
    values = [int.from_bytes(data[i:i + size], "little") for i in range(0, total, size)]
    per_line = _PER_LINE[size]
    lines = []
    for start in range(0, count, per_line):
        here = addr + start * size
        label = symbolic(ctx, here)
        cells = [expr.format_float_bits(v, size) if fmt == "f" else
                 expr.format_integer(v, fmt, size, full_width=True, symbol=functools.partial(symbolic, ctx))
                 for v in values[start:start + per_line]]
        lines.append(f"{here:#x}{' ' + label if label else ''}:\t" + "\t".join(cells))
    ctx.x_format, ctx.x_next = (fmt, unit), addr + total
    return Result("x", {"address": addr, "format": fmt, "unit": size, "values": values}, "\n".join(lines))


# ------------------------------------------------------------------ disassemble

@command(_raw_parser("disassemble", "LOCATION"), category=D, split=raw_split, complete="symbols")
def disassemble(ctx: Any, args: argparse.Namespace) -> Result:
    """disassemble [LOCATION]

    Disassembles the function containing LOCATION (FUNCTION, FILE:LINE, *ADDRESS;
    default: the current pc), in AT&T syntax like gdb; => marks the current pc."""
    session = ctx.session
    text = (args.text or "").strip()
    pc = _current_pc(ctx)
    if text:
        addr = resolve_code(session.symbols, session.env(), text)
    elif pc is not None:
        addr = pc
    else:
        raise UsageError("no location given and the program is not stopped; disassemble FUNCTION")
    insns = [_instruction_json(ctx, insn) for insn in disassemble_function(session.symbols, session.read_memory if session.alive else None, addr)]
    start = insns[0]["address"] if insns else addr
    frame = session.describe(start)
    name = frame.function or f"{start:#x}"
    lines = [f"Dump of assembler code for function {name}:"]
    for insn in insns:
        offset = f" <+{insn['address'] - start}>"
        lines.append(_insn_text(insn, "=>" if insn["address"] == pc else "", offset))
    lines.append("End of assembler dump.")
    return Result("disassemble", {"function": frame.function, "address": start, "instructions": insns},
                  "\n".join(lines))
