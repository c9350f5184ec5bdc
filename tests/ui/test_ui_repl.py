"""The REPL through prompt_toolkit's pipe input; the completer, history and toolbar directly."""
from __future__ import annotations

import os
import stat

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory, InMemoryHistory
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput

from hwdbg.ui import repl as repl_module
from hwdbg.ui.repl import HwdbgCompleter, Repl, make_history, status_line
from hwdbg.ui.render import TextOutput, use_color

hw = pytest.mark.requires_hw_watchpoints


def run_repl(ctx, text: str) -> int:
    with create_pipe_input() as inp:
        with create_app_session(input=inp, output=DummyOutput()):
            repl = Repl(ctx, quiet=True, history=InMemoryHistory())
            inp.send_text(text + "\x04")  # Ctrl-D at the end: the loop always ends
            return repl.run()


def completions(ctx, text: str) -> list[str]:
    return [c.text for c in HwdbgCompleter(ctx).get_completions(Document(text), CompleteEvent())]


# ------------------------------------------------------------------ the loop

def test_commands_errors_and_quit(context):
    ctx, out = context(reraise=False)
    code = run_repl(ctx, "help watch\nfrobnicate\nprint 6 * 7\n\nquit 3\n")
    text = out.getvalue()
    assert code == 3
    assert "Usage: watch EXPR" in text
    assert '*** undefined command: "frobnicate"' in text
    assert text.count("$1 = 42") == 1  # a blank line does not repeat print


def test_ctrl_d_quits_and_ctrl_c_clears_the_line(context):
    ctx, out = context(reraise=False)
    assert run_repl(ctx, "print 1 +\x03print 2\n") == 0
    assert out.getvalue().strip() == "$1 = 2"


def test_loop_survives_a_failing_handler(context, monkeypatch):
    ctx, out = context(reraise=False)
    cmd = ctx.registry.lookup("echo")

    def broken(_ctx, _args):
        raise RuntimeError("boom")

    monkeypatch.setattr(cmd, "func", broken)
    assert run_repl(ctx, "echo x\nprint 5\nquit\n") == 0
    text = out.getvalue()
    assert "*** internal error: RuntimeError: boom (rerun with --debug for a traceback)" in text
    assert "$1 = 5" in text


def test_loop_survives_an_exception_outside_dispatch(context, monkeypatch):
    ctx, out = context(reraise=False)
    calls = []
    real_feed = ctx.feed

    def feed(line):
        calls.append(line)
        if len(calls) == 1:
            raise ValueError("feed broke")
        return real_feed(line)

    monkeypatch.setattr(ctx, "feed", feed)
    assert run_repl(ctx, "one\ntwo\nquit\n") == 0
    assert "*** internal error: ValueError: feed broke" in out.getvalue()
    assert calls == ["one", "two", "quit"]


def test_commands_block_in_the_repl(context, counter_exe):
    ctx, out = context(reraise=False, interactive=True)
    ctx.session.load([str(counter_exe)])
    code = run_repl(ctx, "watch counter\ncommands\nsilent\necho hit\nend\ninfo breakpoints\nquit\n")
    assert code == 0
    text = out.getvalue()
    assert 'End with a line saying just "end".' in text
    bp = ctx.session.breakpoints[1]
    assert bp.commands == ["silent", "echo hit"]
    assert "PENDING" in text and "        echo hit" in text


def test_ctrl_c_cancels_a_commands_block(context, counter_exe):
    ctx, out = context(reraise=False)
    ctx.session.load([str(counter_exe)])
    assert run_repl(ctx, "watch counter\ncommands\necho lost\x03print 1\nquit\n") == 0
    assert ctx.session.breakpoints[1].commands == []
    assert "$1 = 1" in out.getvalue()


@hw
def test_run_to_exit_and_repeat_continue(context, counter_exe):
    ctx, out = context(reraise=False)
    ctx.session.load([str(counter_exe)])
    code = run_repl(ctx, "start\nwatch counter\ncontinue\n\n\ninfo slots\nkill\nquit\n")
    assert code == 0
    text = out.getvalue()
    for n in (1, 2, 3):  # the blank lines repeated `continue`
        assert f"New value = {n}\n" in text
    assert "breakpoint 2 (counter)" in text and "killed]" in text
    assert not ctx.session.alive


@hw
def test_eof_kills_the_program(context, counter_exe):
    ctx, _ = context(reraise=False)
    ctx.session.load([str(counter_exe)])
    assert run_repl(ctx, "start\n\x04") == 0
    assert not ctx.session.alive


# ------------------------------------------------------------------ completion

def test_complete_commands_and_subcommands(context):
    ctx, _ = context()
    assert completions(ctx, "info wa") == ["watchpoints"]
    assert completions(ctx, "info b") == ["breakpoints"]
    assert "debug-registers" not in completions(ctx, "info ")  # aliases are not offered
    assert completions(ctx, "wat") == ["watch"]
    assert set(completions(ctx, "st")) == {"start", "starti", "step", "stepi"}
    assert completions(ctx, "help rw") == ["rwatch"]
    assert completions(ctx, "set v") == ["var"]


def test_complete_options(context):
    ctx, _ = context()
    assert completions(ctx, "watch counter --tr") == ["--trace"]
    assert set(completions(ctx, "hbreak main --")) >= {"--priority", "--thread", "--trace", "--backtrace"}
    assert "--if" not in completions(ctx, "watch x --")


def test_complete_symbols(context, counter_exe):
    ctx, _ = context()
    assert completions(ctx, "watch coun") == []  # no program: nothing to offer, and no error
    ctx.session.load([str(counter_exe)])
    assert completions(ctx, "watch coun") == ["counter"]
    assert completions(ctx, "print &coun") == ["counter"]
    assert "config" in completions(ctx, "awatch con")
    assert completions(ctx, "x/4xg tab") == ["table"]
    assert completions(ctx, "hbreak bu") == ["bump"]


def test_complete_breakpoint_numbers(context, counter_exe):
    ctx, _ = context()
    ctx.session.load([str(counter_exe)])
    ctx.dispatch("watch counter")
    ctx.dispatch("watch config.flags")
    assert completions(ctx, "delete ") == ["1", "2"]
    assert completions(ctx, "condition 2") == ["2"]


def test_completer_never_raises(context, monkeypatch):
    ctx, _ = context()

    def broken(*_args):
        raise RuntimeError("completer bug")

    monkeypatch.setattr(HwdbgCompleter, "_complete", broken)
    assert completions(ctx, "wat") == []


# ------------------------------------------------------------------ history, toolbar, colour

def test_history_file_mode_and_tilde(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("HWDBG_HISTORY", "~/sub.hist")
    assert repl_module.history_path() == str(tmp_path / "sub.hist")
    history = make_history()
    assert isinstance(history, FileHistory)
    assert stat.S_IMODE(os.stat(tmp_path / "sub.hist").st_mode) == 0o600
    monkeypatch.delenv("HWDBG_HISTORY")
    assert repl_module.history_path() == str(tmp_path / ".hwdbg_history")


def test_history_falls_back_to_memory(tmp_path, monkeypatch):
    monkeypatch.setenv("HWDBG_HISTORY", str(tmp_path / "missing-dir" / "hist"))
    assert isinstance(make_history(), InMemoryHistory)


def test_toolbar_without_process(context, counter_exe):
    ctx, _ = context()
    assert status_line(ctx) == "no process · 0 breakpoints"
    ctx.session.load([str(counter_exe)])
    ctx.dispatch("watch counter")
    assert status_line(ctx) == "no process · 1 breakpoint"


@hw
def test_toolbar_with_process(context, counter_exe):
    ctx, _ = context()
    ctx.session.load([str(counter_exe)])
    ctx.dispatch("start")
    ctx.dispatch("watch counter")
    ctx.dispatch("watch config.flags")
    pid = ctx.session.inferior.pid
    assert status_line(ctx) == f"pid {pid} stopped · slots 2/4 · 2 breakpoints"


class _Tty:
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_without_no_color(monkeypatch):
    import io
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color(_Tty()) is True
    assert use_color(io.StringIO()) is False
    monkeypatch.setenv("NO_COLOR", "1")
    assert use_color(_Tty()) is False
    stream = io.StringIO()
    TextOutput(stream, color=True).error("UsageError", "bad")
    assert stream.getvalue() == "\x1b[31m*** bad\x1b[0m\n"
