"""The command registry and the dispatcher, without a target unless marked."""
from __future__ import annotations

import json

import pytest

from hwdbg.errors import UsageError
from hwdbg.ui.commands import (REGISTRY, Category, CommandParser, Registry, command, first_then_raw, load_all,
                               parse_ids, raw_split, split_condition)
from hwdbg.ui.context import split_name

hw = pytest.mark.requires_hw_watchpoints

GDB_NAMES = ["watch", "rwatch", "awatch", "hbreak", "delete", "disable", "enable", "condition", "ignore",
             "commands", "run", "start", "attach", "detach", "kill", "continue", "c", "stepi", "si", "print", "p",
             "x", "disassemble", "set", "info", "thread", "bt", "backtrace", "help", "quit", "q"]
INFO_NAMES = ["breakpoints", "slots", "debug-registers", "registers", "threads", "proc", "watchpoints"]


def test_every_command_is_registered():
    registry = load_all()
    for name in GDB_NAMES:
        assert registry.find(name) is not None, name
    for name in INFO_NAMES:
        assert registry.lookup("info").subcommands.find(name) is not None, name
    assert registry.lookup("set").subcommands.find("var") is not None


def test_usage_line_is_the_docstring_first_line():
    registry = load_all()
    every = list(registry) + [s for c in registry if c.subcommands for s in c.subcommands]
    for cmd in every:
        assert cmd.usage.split()[0].split("[")[0] == (cmd.group or cmd.name), cmd.usage
        assert cmd.help, f"{cmd.full_name} has no help text"
        assert isinstance(cmd.category, Category)


def test_registry_refuses_duplicates():
    registry = Registry()

    def handler(ctx, args):
        """dup"""

    from hwdbg.ui.commands import Command
    registry.add(Command("dup", handler, CommandParser("dup"), Category.SUPPORT, aliases=("d",)))
    with pytest.raises(ValueError, match="duplicate"):
        registry.add(Command("other", handler, CommandParser("other"), Category.SUPPORT, aliases=("d",)))
    with pytest.raises(ValueError, match="duplicate"):
        registry.add(Command("dup", handler, CommandParser("dup"), Category.SUPPORT))


def test_decorator_refuses_an_existing_name():
    with pytest.raises(ValueError, match="duplicate command name 'watch'"):
        @command(category=Category.SUPPORT, name="watch")
        def again(ctx, args):
            """watch"""


def test_rwatch_help_explains_the_emulation():
    help_text = " ".join(REGISTRY.lookup("rwatch").help.split())
    assert "emulated" in help_text and "access" in help_text
    assert "changes the value counts as a write" in help_text and "looks like a read" in help_text


def test_parser_raises_usage_error():
    parser = CommandParser("demo")
    parser.add_argument("n", type=int)
    with pytest.raises(UsageError, match="demo: "):
        parser.parse_args([])
    with pytest.raises(UsageError):
        parser.parse_args(["x"])
    with pytest.raises(UsageError):
        parser.parse_args(["1", "--help"])


def test_parsers_are_built_on_first_use_as_they_were_declared():
    # A start builds only the parsers of the commands it runs; every other one, built later,
    # must be what its declaration says: the same actions as an argparse parser built at once.
    import argparse

    def commands(registry):
        for cmd in registry:
            yield cmd
            if cmd.subcommands is not None:
                yield from commands(cmd.subcommands)

    for cmd in commands(load_all()):
        init, calls = cmd.parser.declared
        eager = argparse.ArgumentParser(**init)
        for method, args, kwargs in calls:
            getattr(eager, method)(*args, **kwargs)
        built = [(a.option_strings, a.dest, a.nargs, a.default, a.const) for a in cmd.parser._actions]
        assert built == [(a.option_strings, a.dest, a.nargs, a.default, a.const) for a in eager._actions], cmd.name
        assert cmd.parser.prog == eager.prog
    parser = CommandParser("demo")
    parser.add_argument("--flag", action="store_true")
    parser.set_defaults(extra=7)
    assert vars(parser.parse_args(["--flag"])) == {"flag": True, "extra": 7}
    with pytest.raises(AttributeError):
        parser.no_such_attribute  # noqa: B018


def test_splitting():
    assert split_name("x/4xg &counter") == ("x", "/4xg &counter")
    assert split_name("p/x 1") == ("p", "/x 1")
    assert split_name("  info b") == ("info", " b")
    with pytest.raises(UsageError):
        split_name("/x")
    assert raw_split("  'a' + 1 ") == ["--", "'a' + 1"]
    assert first_then_raw("2 new > old") == ["--", "2", "new > old"]
    assert split_condition("counter --trace if new > 3") == ("counter --trace", "new > 3")
    assert split_condition("counter") == ("counter", None)
    assert split_condition("life if x") == ("life", "x")  # 'if' only as a word
    with pytest.raises(UsageError):
        split_condition("counter if ")
    assert parse_ids(["1", "3-5"]) == [1, 3, 4, 5]
    for bad in (["x"], ["5-2"], ["1-"], ["-1"], ["1-99999999"]):
        with pytest.raises(UsageError):
            parse_ids(bad)


def test_prefix_abbreviations(context):
    ctx, out = context()
    assert ctx.dispatch("he watch")  # unique prefix of help
    assert "Usage: watch" in out.getvalue()
    assert not ctx.dispatch("st")  # ambiguous: start, starti, step, stepi (s alone is step, as in gdb)
    assert "ambiguous command" in out.getvalue()


def test_usage_error_appends_the_usage_line(context):
    ctx, out = context()
    assert not ctx.dispatch("ignore 1")
    [line] = out.getvalue().splitlines()
    assert line.startswith("*** ignore: ") and line.endswith("; usage: ignore N COUNT")
    out.truncate(0), out.seek(0)
    assert not ctx.dispatch("info registers --bad")
    assert out.getvalue().strip().endswith("usage: info registers [REG...]")


def test_errors_without_a_program(context):
    ctx, out = context()
    for line in ("continue", "stepi", "kill", "detach", "info slots", "info threads", "x/4x 0x1000", "bt",
                 "set var x = 1", "run", "start"):
        out.truncate(0), out.seek(0)
        assert not ctx.dispatch(line), line
        assert out.getvalue().startswith("*** "), (line, out.getvalue())
        assert len(out.getvalue().splitlines()) == 1


def test_json_results(context):
    ctx, out = context(json_output=True)
    assert ctx.dispatch("print 6 * 7")
    assert ctx.dispatch("print/x 255")
    assert not ctx.dispatch("print nosuch")
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert events[0] == {"event": "result", "command": "print", "expr": "6 * 7", "history": 1, "value": 42,
                         "text": "42"}
    assert events[1]["text"] == "0xff"
    assert events[2]["event"] == "error" and events[2]["kind"] == "SymbolError"


def test_value_history(context):
    ctx, out = context()
    ctx.dispatch("print 20")
    ctx.dispatch("print $1 + $ + 2")
    assert out.getvalue().splitlines()[-1] == "$2 = 42"
    assert not ctx.dispatch("print $7")
    assert "history has not yet reached $7" in out.getvalue()


def test_print_formats(context):
    ctx, out = context()
    for line in ("print/x -1", "print/d 0xffffffffffffffff", "print/t 5", "print/o 8", "print/c 65",
                 "print/z (char) 1", "print (char) 65"):
        assert ctx.dispatch(line), line
    assert [line.split(" = ", 1)[1] for line in out.getvalue().splitlines()] == [
        "0xffffffff", "-1", "101", "010", "65 'A'", "0x01", "65 'A'"]  # -1 is an int, as in gdb
    assert not ctx.dispatch("print/q 1")


def test_help_overview_lists_categories(context):
    ctx, out = context()
    assert ctx.dispatch("help")
    text = out.getvalue()
    for title in ("Breakpoints and watchpoints:", "Running the program:", "Examining data:", "Status:"):
        assert title in text
    assert "info slots" in text


def test_breakpoints_before_run(context, counter_exe):
    """A non-PIE program: breakpoints are PENDING until it runs; bad input changes nothing."""
    ctx, out = context()
    ctx.session.load([str(counter_exe)])
    assert ctx.dispatch("watch counter if new > 2")
    assert ctx.dispatch("hbreak bump")
    assert ctx.dispatch("condition 2 counter == 3")
    assert ctx.dispatch("ignore 1 2")
    assert ctx.dispatch("disable 2")
    before = {i: bp.to_json() for i, bp in ctx.session.breakpoints.items()}
    for bad in ("delete 1 7", "condition 1 new >", "watch countr", "hbreak nosuch.c:3", "watch counter --length 0",
                "awatch table[0] --length 99", "watch table[0] --length 0x40000001", "enable 3-9", "ignore 1 -1", "watch *0x10", "hbreak *0",
                "watch counter --thread 4"):
        assert not ctx.dispatch(bad), bad
    assert {i: bp.to_json() for i, bp in ctx.session.breakpoints.items()} == before
    assert "did you mean 'counter'" in out.getvalue()
    out.truncate(0), out.seek(0)
    assert ctx.dispatch("info breakpoints")
    text = out.getvalue()
    assert "PENDING" in text and "DISABLED" in text and "stop only if new > 2" in text
    assert "ignore next 2 hits" in text


@hw
def test_x_and_disassemble(context, counter_exe):
    ctx, out = context()
    ctx.session.load([str(counter_exe)])
    assert ctx.dispatch("disassemble bump")  # before running: read from the file
    assert "Dump of assembler code for function bump:" in out.getvalue()
    ctx.dispatch("start")
    out.truncate(0), out.seek(0)
    assert ctx.dispatch("x/4dw table")
    assert ctx.dispatch("x/s config.name")
    assert ctx.dispatch("x/2i $pc")
    assert ctx.dispatch("x")  # goes on after the last one
    text = out.getvalue().splitlines()
    assert text[0].endswith("<table>:\t10\t20\t30\t40")
    assert text[1].endswith(':\t"demo"')
    assert text[2].startswith("=> ") and "<main" in text[2]


@hw
def test_set_var_and_registers(context, counter_exe):
    ctx, out = context()
    ctx.session.load([str(counter_exe)])
    ctx.dispatch("start")
    assert ctx.dispatch("set var counter = 41")
    assert ctx.dispatch("watch counter")
    assert ctx.dispatch("continue")
    assert "Old value = 41\nNew value = 42" in out.getvalue()
    assert ctx.dispatch("info registers rip $rsp pc")
    assert ctx.dispatch("info threads")
    assert ctx.dispatch("thread")
    assert not ctx.dispatch("info registers xmm0")
    assert not ctx.dispatch("set var 1 = 2")
    assert not ctx.dispatch("set var counter")
