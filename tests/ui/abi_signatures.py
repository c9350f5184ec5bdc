"""A C program generated from a table of types, for differential tests of the SysV x86-64 calling
convention (psABI 3.2.3) against gdb: for each type T a global g_T, make_T(k) returning a T
built from k, sum_T(x) adding T's parts (a double), and mix_T(a, x, d, y) taking T twice among
an int and a double and returning a T (x's parts plus d and y's). Types cover each class:
INTEGER, SSE (two floats in one eightbyte), mixed eightbytes, X87 (long double, alone or in a
struct: st(0)), COMPLEX_X87 (st(0) and st(1)), complex float and double, and MEMORY (over 16
bytes: the hidden pointer in rdi; a long double with an int). (A union of a long double and an int,
MEMORY by the psABI's post-merger rule, makes gdb 13 fail an assertion in amd64_return_value.)"""
from __future__ import annotations

import subprocess
from pathlib import Path

# name -> (declaration of the type, its parts as C lvalue suffixes of a variable, the parts' C type)
TYPES: dict[str, tuple[str, list[str], str]] = {
    "ld": ("typedef long double ld;", [""], "long double"),
    "sld": ("typedef struct { long double x; } sld;", [".x"], "long double"),
    "cd": ("typedef _Complex double cd;", ["RE", "IM"], "double"),
    "cf": ("typedef _Complex float cf;", ["RE", "IM"], "float"),
    "cld": ("typedef _Complex long double cld;", ["RE", "IM"], "long double"),
    "ff": ("typedef struct { float a, b; } ff;", [".a", ".b"], "float"),
    "fff": ("typedef struct { float a, b, c; } fff;", [".a", ".b", ".c"], "float"),
    "di": ("typedef struct { double d; int i; } di;", [".d", ".i"], "double"),
    "ifd": ("typedef struct { int i; float f; double d; } ifd;", [".i", ".f", ".d"], "double"),
    "fl": ("typedef struct { float f; long l; } fl;", [".f", ".l"], "double"),
    "dd": ("typedef struct { double x, y; } dd;", [".x", ".y"], "double"),
    "big": ("typedef struct { long a, b, c; } big;", [".a", ".b", ".c"], "long"),
    "ldi": ("typedef struct { long double x; int i; } ldi;", [".x", ".i"], "long double"),
}


def _part(var: str, part: str) -> str:
    if part == "RE":
        return f"__real__ {var}"
    if part == "IM":
        return f"__imag__ {var}"
    return var + part


def source(types: dict = TYPES) -> str:
    lines = ["#include <stdio.h>", ""]
    calls = []
    for name, (decl, parts, scalar) in types.items():
        lines.append(decl)
        init = "; ".join(f"{_part('v', p)} = ({scalar})(k * {i + 2}) / 4" for i, p in enumerate(parts))
        mix = "; ".join(f"{_part('r', p)} = {_part('x', p)} + d * {i + 1} + {_part('y', p)}"
                        for i, p in enumerate(parts))
        total = " + ".join(f"(double){_part('x', p)}" for p in parts)
        lines += [
            f"{name} g_{name};",
            f"{name} make_{name}(int k) {{ {name} v; __builtin_memset(&v, 0, sizeof v); {init}; return v; }}",
            f"double sum_{name}({name} x) {{ return {total}; }}",
            f"{name} mix_{name}(int a, {name} x, double d, {name} y) {{ {name} r; __builtin_memset(&r, 0, sizeof r); "
            f"{mix}; (void)a; return r; }}",
            "",
        ]
        calls.append(f"    g_{name} = make_{name}(7);")
    lines += ["int checkpoint(int v) { return v + 1; }", "", "int main(void)", "{", *calls,
              "    checkpoint(1);", "    return 0;", "}", ""]
    return "\n".join(lines)


def build(directory: Path, types: dict = TYPES) -> Path:
    path = directory / "abi_signatures.c"
    path.write_text(source(types))
    exe = directory / "abi_signatures"
    subprocess.run(["gcc", "-g", "-O0", "-no-pie", "-o", str(exe), str(path)], check=True)
    return exe
