"""Generates man/hwdbg.1 (mdoc): ``python -m hwdbg.ui.manpage > man/hwdbg.1``.

The prose is the template hwdbg.1.in next to this module; the synopsis and options
come from the option parser, the commands from the registry, the expression grammar
from hwdbg.expr.

A test regenerates the page and fails when the committed one differs.
"""
from __future__ import annotations

import argparse
import re
import sys
from importlib import resources
from typing import Callable, Iterable

from .. import expr
from ..version import __version__
from .commands import Category, Command, load_all

TEMPLATE = "hwdbg.1.in"  # the page's prose, next to this module; @NAME@ lines are generated

_CAPS = re.compile(r"^[A-Z][A-Z0-9_]*(\.\.\.)?$")


def escape(text: str) -> str:
    """Plain text for a roff line: backslashes, and a leading dot or quote."""
    text = text.replace("\\", "\\e")
    if text.startswith((".", "'")):
        text = "\\&" + text
    return text


def _arg(word: str) -> str:
    """An argument of a macro line: quoted when it holds spaces, escaped otherwise."""
    word = word.replace("\\", "\\e")
    if word in ("Ns", "Oo", "Oc", "Ar", "Fl", "Cm", "Ic", "Li", "Op", "No", "Pf", "Ql", "Sy", "Em", "Ev", "Pa"):
        return "\\&" + word
    return f'"{word}"' if " " in word else word


def usage_macros(usage: str) -> str:
    """``watch EXPR [-l N] [if CONDITION]`` -> ``Ic watch Ar EXPR Oo Fl l Ar N Oc Oo Cm if Ar CONDITION Oc``."""
    tokens = re.findall(r"\[|\]|[^\s\[\]]+", usage)
    out: list[str] = []
    first = True
    for token in tokens:
        if token == "[":
            out.append("Oo")
        elif token == "]":
            out.append("Oc")
        elif first:
            out += ["Ic", _arg(token)]
            first = False
            continue
        elif token.startswith("-") and len(token) > 1:
            out += ["Fl", _arg(token[1:]).replace("-", "\\-")]
        elif token == "...":
            out += ["No", "\\&..."]
        elif _CAPS.match(token):
            if token.endswith("..."):
                out += ["Ar", token[:-3], "No", "\\&..."]
            else:
                out += ["Ar", token]
        elif token.startswith("/"):
            out += ["Li", _arg(token)]
        else:
            out += ["Cm", _arg(token)]
        first = False
    return " ".join(out)


def _text_block(text: str) -> list[str]:
    """Help text: paragraphs become .Pp-separated lines."""
    lines: list[str] = []
    for n, paragraph in enumerate(p for p in text.split("\n\n") if p.strip()):
        if n:
            lines.append(".Pp")
        text = " ".join(line.strip() for line in paragraph.splitlines() if line.strip())
        for sentence in re.split(r"(?<=[.!?;])\s+", text):  # mdoc: one sentence per line
            lines.append(escape(sentence))
    return lines


def _command_entries(cmds: Iterable[Command]) -> list[str]:
    lines: list[str] = []
    for cmd in cmds:
        lines.append(f".It {usage_macros(cmd.usage)}")
        lines += _text_block(cmd.help)
        if cmd.aliases:
            prefix = f"{cmd.group} " if cmd.group else ""
            lines += [".Pp", "Aliases: " + ", ".join(prefix + a for a in cmd.aliases) + "."]
    return lines


def commands_section() -> list[str]:
    """The COMMANDS section's lists, one per category; its introduction is in the template."""
    registry = load_all()
    lines: list[str] = []
    for category in Category:
        cmds = [c for c in registry if c.category is category]
        cmds += [s for c in registry if c.subcommands is not None for s in c.subcommands if s.category is category]
        if not cmds:
            continue
        lines += [f".Ss {category.title}", ".Bl -tag -width Ds"]
        lines += _command_entries(sorted(cmds, key=lambda c: c.full_name))
        lines.append(".El")
    return lines


def _flag_word(option: str) -> str:
    """The word of ``Fl`` for an option: -ex is ``ex``, --batch is ``\\-batch``."""
    return _arg(option[1:]).replace("-", "\\-")


def _flag(option: str) -> str:
    return "Fl " + _flag_word(option)


def _actions() -> list[argparse.Action]:
    from .cli import build_parser
    return [a for a in build_parser()._actions if a.help not in (None, argparse.SUPPRESS)]


def _options() -> list[argparse.Action]:
    return [a for a in _actions() if a.option_strings]


# Options that make another form of the command line, not options of a debugging session.
_ATTACH = "pid"
_ALONE = ("probe", "version", "help")


def _synopsis_arg(action: argparse.Action) -> str:
    return f" Ar {action.metavar.lower()}" if action.nargs != 0 and action.metavar else ""


def synopsis_section() -> list[str]:
    """The three forms of the command line: run a program, attach to a process, or an option alone."""
    by_dest = {a.dest: a for a in _options()}
    lines = [".Nm"]
    lines += [f".Op {_flag(a.option_strings[0])}{_synopsis_arg(a)}" for a in _options()
              if a.dest not in (_ATTACH, *_ALONE)]
    lines.append(".Op Fl \\-")
    for action in _actions():
        if not action.option_strings:
            name = f"Ar {action.metavar.lower()}"
            lines.append(f".Op {name} ..." if action.nargs == argparse.REMAINDER else f".{name}")
    attach = by_dest[_ATTACH]
    lines += [".Nm", ".Op Ar options", f".{_flag(attach.option_strings[0])}{_synopsis_arg(attach)}"]
    alone = [_flag_word(by_dest[dest].option_strings[0]) for dest in _ALONE]
    lines += [".Nm", ".Fl " + " | ".join(alone)]
    return lines


def options_section() -> list[str]:
    """One .It per option of the command line, inside the template's list."""
    lines = []
    for action in _options():
        if isinstance(action, argparse._HelpAction):
            help_text = "Print a summary of the options and exit."
        else:
            help_text = action.help[0].upper() + action.help[1:] + "."
        parts = []
        for option in action.option_strings:
            flag = _flag(option)
            if action.nargs != 0 and action.metavar:
                flag += f" Ar {action.metavar}"
            parts.append(flag)
        lines.append(".It " + " , ".join(parts))
        lines.append(escape(help_text.replace(" (see below)", " (see CAVEATS)")))
    return lines


def grammar() -> list[str]:
    """The grammar block of hwdbg.expr's docstring (its literal block after '::')."""
    doc = expr.__doc__ or ""
    head, sep, tail = doc.partition("::\n")
    if not sep:
        return []
    block = []
    for line in tail.splitlines()[1:]:
        if line and not line.startswith(" "):
            break
        block.append(line)
    while block and not block[-1].strip():
        block.pop()
    indent = min(len(l) - len(l.lstrip()) for l in block if l.strip())
    return [escape(l[indent:]) if l.strip() else "" for l in block]


GENERATED: dict[str, Callable[[], list[str]]] = {
    "SYNOPSIS": synopsis_section, "OPTIONS": options_section, "COMMANDS": commands_section, "GRAMMAR": grammar,
}
_PLACEHOLDER = re.compile(r"@([A-Z]+)@")
_TEMPLATE_NOTE = '.\\"#'


def template() -> str:
    """The prose of the page, shipped inside the package so an installed hwdbg can regenerate it."""
    return resources.files(__package__).joinpath(TEMPLATE).read_text(encoding="utf-8")


def generate() -> str:
    lines = [f'.\\" Generated by python -m hwdbg.ui.manpage (hwdbg {__version__}); do not edit.']
    for line in template().splitlines():
        if line.startswith(_TEMPLATE_NOTE):
            continue
        match = _PLACEHOLDER.search(line)
        if match is None:
            lines.append(line)
        elif match[0] == line and match[1] in GENERATED:
            lines += GENERATED[match[1]]()
        else:
            names = ", ".join(f"@{name}@" for name in GENERATED)
            raise ValueError(f"{TEMPLATE}: {line!r} is not a line of one placeholder ({names})")
    return "\n".join(lines) + "\n"


def main() -> int:
    sys.stdout.write(generate())
    return 0


if __name__ == "__main__":
    sys.exit(main())
