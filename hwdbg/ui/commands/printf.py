"""printf "FORMAT", ARGS...: gdb's printf, C's conversions applied to values of the program."""
from __future__ import annotations

import argparse
import re
from typing import Any, Optional

from ... import expr
from ...errors import UsageError
from . import Category, CommandParser, Result, command, raw_split

MAX_STRING = 4096  # %s reads at most this much of one string
_WRONG_COUNT = "Wrong number of arguments for specified format-string"
# flags, width, precision, size modifier, conversion (gdb knows l, ll, z; not h or hh)
_SPEC = re.compile(r"%([-+ #0]*)(\*|\d*)(?:\.(\*|\d*))?(ll|l|z|L)?(.?)")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v", "e": "\x1b",
            '"': '"', "\\": "\\", "'": "'"}


def _format_string(text: str) -> tuple[str, str]:
    """The quoted format with its escapes turned into characters, and the text after it."""
    if not text.startswith('"'):
        raise UsageError("Bad format string")
    out, i = [], 1
    while i < len(text):
        char = text[i]
        if char == '"':
            return "".join(out), text[i + 1:]
        if char == "\\" and i + 1 < len(text):
            escaped = text[i + 1]
            octal = re.match(r"[0-7]{1,3}", text[i + 1:])
            if octal:
                out.append(chr(int(octal.group(0), 8)))
                i += 1 + len(octal.group(0))
                continue
            if escaped not in _ESCAPES:
                raise UsageError(f"Unrecognized escape character \\{escaped} in format string.")
            out.append(_ESCAPES[escaped])
            i += 2
            continue
        out.append(char)
        i += 1
    raise UsageError("Bad format string, non-terminated '\"'.")


def split_arguments(text: str) -> list[str]:
    """``a, f(b, c), "x,y"`` -> the three expressions: commas inside brackets and quotes do not split."""
    parts, depth, quote, start = [], 0, "", 0
    for i, char in enumerate(text):
        if quote:
            if char == quote and text[i - 1] != "\\":
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def _integer(value: expr.Value, size: str, conversion: str) -> int:
    number = value.value
    if value.data is not None or (value.ctype is not None and value.ctype.kind in ("struct", "union")):
        raise UsageError("Value can't be converted to integer.")
    number = int(number)
    bits = 64 if size in ("l", "ll", "z") else 32
    number &= (1 << bits) - 1
    if conversion in "di" and number >> (bits - 1):
        number -= 1 << bits
    return number


def _string(ctx: Any, value: expr.Value) -> str:
    ctype = value.ctype
    if value.data is not None:  # a string literal
        data = value.data.split(b"\0", 1)[0]
    elif ctype is not None and ctype.kind in ("struct", "union"):
        raise UsageError("Value can't be converted to integer.")
    elif ctype is not None and ctype.kind == "array" and 0 < ctype.size <= MAX_STRING:  # its bytes, no further
        data = ctx.session.env().read_memory(int(value.value), ctype.size).split(b"\0", 1)[0]
    else:
        address = int(value.value)
        if address == 0:
            return "(null)"
        data = expr.read_c_string(ctx.session.env(), address, MAX_STRING)
    return data.decode("utf-8", errors="replace")


def _convert(ctx: Any, value: expr.Value, flags: str, width: str, precision: str, size: str, conversion: str) -> str:
    spec = f"%{flags}{width}" + (f".{precision}" if precision is not None else "")
    if conversion == "s":
        return (spec + "s") % _string(ctx, value)
    if conversion == "c":
        return (spec + "c") % chr(_integer(value, "", "u") & 0xFF)
    if conversion == "p":
        number = _integer(value, "l", "u")
        return (f"%{flags.replace('0', '')}{width}s") % (f"{number:#x}" if number else "(nil)")
    if conversion in "eEfFgGaA":
        number = value.value
        if value.data is not None or isinstance(number, int) and value.ctype is not None \
                and value.ctype.kind in ("struct", "union", "array"):
            raise UsageError("Value can't be converted to float.")
        if conversion in "aA":
            text = float(number).hex()
            return (f"%{flags}{width}s") % (text.upper() if conversion == "A" else text)
        return (spec + conversion) % float(number)
    return _integer_text(_integer(value, size, conversion), flags, width, precision, conversion)


def _integer_text(number: int, flags: str, width: str, precision: Optional[str], conversion: str) -> str:
    """C's %d %i %u %o %x %X, spelt out: Python's % differs on #o, #x of 0, + on unsigned, 0 with a precision."""
    base = {"o": "o", "x": "x", "X": "X"}.get(conversion, "d")
    digits = format(abs(number), base)
    if precision is not None:
        digits = "" if int(precision or 0) == 0 and number == 0 else digits.rjust(int(precision or 0), "0")
    sign = ""
    if conversion in "di":
        sign = "-" if number < 0 else "+" if "+" in flags else " " if " " in flags else ""
    elif "#" in flags and conversion in "xX" and number:
        sign = "0" + conversion
    elif "#" in flags and conversion == "o" and not digits.startswith("0"):
        digits = "0" + digits
    wide = int(width or 0)
    if "-" in flags:
        return (sign + digits).ljust(wide)
    if "0" in flags and precision is None:
        return sign + digits.rjust(wide - len(sign), "0")
    return (sign + digits).rjust(wide)


def format_printf(ctx: Any, text: str) -> str:
    """The text printf prints: each conversion applied to the value of its argument."""
    fmt, rest = _format_string(text.strip())
    rest = rest.strip()
    if rest and not rest.startswith(","):
        raise UsageError("Invalid argument syntax")
    arguments = split_arguments(rest[1:]) if rest else []
    if any(not argument for argument in arguments):
        raise UsageError("Invalid argument syntax")
    specs = []
    for match in _SPEC.finditer(fmt):
        flags, width, precision, size, conversion = match.groups()
        if conversion == "%" and not (flags or width or precision is not None or size):
            continue
        if "*" in (width, precision):
            raise UsageError("`*' not supported for precision or width in printf")
        if conversion not in "diouxXcspeEfFgGaA" or not conversion or (size and conversion in "cs"):
            letter = size[0] if size and conversion in "cs" else (conversion or "%")
            raise UsageError(f"Unrecognized format specifier '{letter}' in printf")
        specs.append(match)
    if len(specs) != len(arguments):
        raise UsageError(_WRONG_COUNT)
    values = [ctx.evaluate(argument) for argument in arguments]  # all of them first: an error prints nothing
    out, at = [], 0
    for match, value in zip(specs, values):
        out.append(fmt[at:match.start()].replace("%%", "%"))
        out.append(_convert(ctx, value, *match.groups()))
        at = match.end()
    out.append(fmt[at:].replace("%%", "%"))
    return "".join(out)


_printf_parser = CommandParser("printf")
_printf_parser.add_argument("text", nargs="?", metavar="FORMAT")


@command(_printf_parser, category=Category.DATA, split=raw_split, complete="symbols")
def printf(ctx: Any, args: argparse.Namespace) -> Result:
    """printf "FORMAT", EXPR...

    Prints the values of the expressions with C's printf conversions, as gdb does:
    %d %i %u %x %X %o %c %s %p %f %e %g %a and %%, with flags, width, precision and
    the l, ll and z sizes (%s reads a char * or char array of the program; %p shows
    (nil) for 0). C escapes such as \\n work in FORMAT; nothing ends the line but \\n."""
    if not (args.text or "").strip():
        raise UsageError("Argument required (format-control string and values to print).")
    shown = format_printf(ctx, args.text)
    return Result("printf", {"text": shown}, shown, raw=True)
