"""man/hwdbg.1: generated from the registry, lint-clean, and not stale."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from hwdbg.ui import manpage
from hwdbg.ui.commands import load_all

from ui_helpers import ROOT

PAGE = ROOT / "man" / "hwdbg.1"


def test_committed_page_is_current():
    fresh = manpage.generate()
    assert PAGE.read_text() == fresh, "man/hwdbg.1 is stale: run `python -m hwdbg.ui.manpage > man/hwdbg.1`"


def test_generator_runs_as_a_module():
    proc = subprocess.run([sys.executable, "-m", "hwdbg.ui.manpage"], capture_output=True, text=True, timeout=60,
                          cwd=str(ROOT))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == manpage.generate()


@pytest.mark.skipif(shutil.which("mandoc") is None, reason="mandoc is not installed (apt-get install mandoc)")
def test_mandoc_lint():
    proc = subprocess.run(["mandoc", "-Tlint", "-Wwarning", str(PAGE)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_sections_and_every_command():
    text = PAGE.read_text()
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "COMMANDS", "EXPRESSIONS", "JSON OUTPUT",
                    "ENVIRONMENT", "EXIT STATUS", "EXAMPLES", "DIAGNOSTICS", "SEE ALSO", "CAVEATS", "BUGS"):
        assert f".Sh {section}\n" in text, section
    for name in ("HWDBG_HISTORY", "NO_COLOR", "HWDBG_REQUIRE", "Xr gdb 1", "Xr ptrace 2", "Xr perf_event_open 2",
                 "SYS_PTRACE", "ptrace_scope", "EXITKILL"):
        assert name in text, name
    registry = load_all()
    for cmd in list(registry) + [s for c in registry if c.subcommands for s in c.subcommands]:
        assert f".It {manpage.usage_macros(cmd.usage)}\n" in text, cmd.full_name


def test_usage_macros():
    assert manpage.usage_macros("watch EXPR [-l N] [if CONDITION]") == \
        "Ic watch Ar EXPR Oo Fl l Ar N Oc Oo Cm if Ar CONDITION Oc"
    assert manpage.usage_macros("delete [N...]") == "Ic delete Oo Ar N No \\&... Oc"
    assert manpage.usage_macros("hbreak LOCATION [--thread TID]") == "Ic hbreak Ar LOCATION Oo Fl \\-thread Ar TID Oc"


def test_template_has_each_placeholder_once_and_ships_in_the_package():
    body = manpage.template()
    for name in manpage.GENERATED:
        assert body.count(f"@{name}@\n") == 1, name
    # An installed hwdbg regenerates its page from the package's copy of the template.
    assert f'"ui/{manpage.TEMPLATE}"' in (ROOT / "pyproject.toml").read_text()
    assert f"include hwdbg/ui/{manpage.TEMPLATE}" in (ROOT / "MANIFEST.in").read_text()


def test_a_misplaced_placeholder_is_refused(monkeypatch):
    monkeypatch.setattr(manpage, "template", lambda: ".Sh SYNOPSIS\nsee @SYNOPSIS@\n")
    with pytest.raises(ValueError, match="not a line of one placeholder"):
        manpage.generate()


def test_synopsis_names_every_option_of_the_parser():
    from hwdbg.ui.cli import build_parser
    text = PAGE.read_text()
    words = text[text.index(".Sh SYNOPSIS\n"):text.index(".Sh DESCRIPTION\n")].split()
    for action in build_parser()._actions:
        if action.option_strings:
            assert manpage._flag_word(action.option_strings[0]) in words, action.option_strings
        else:
            assert action.metavar.lower() in words, action.metavar
