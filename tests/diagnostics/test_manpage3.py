"""man/hwdbg.3, the Python API's page: lints clean and documents every public name, with examples."""
from __future__ import annotations

import inspect
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import hwdbg
from hwdbg import pytest_plugin
from hwdbg.api import Breakpoint, Target

PAGE = Path(__file__).resolve().parents[2] / "man" / "hwdbg.3"


def source() -> str:
    return PAGE.read_text()


def text() -> str:
    """The page's words without roff escapes: \\- is -, \\& and font changes vanish."""
    plain = source().replace("\\-", "-").replace("\\&", "")
    return re.sub(r"\\f[BIRP]", "", plain)


def mentioned(name: str, body: str) -> bool:
    return re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", body) is not None


def test_mandoc_lint_is_clean():
    mandoc = shutil.which("mandoc")
    if mandoc is None:
        pytest.skip("mandoc is not installed (Debian: apt-get install mandoc)")
    done = subprocess.run([mandoc, "-Tlint", "-Wwarning", str(PAGE)], capture_output=True, text=True)
    assert done.returncode == 0 and not done.stdout.strip() and not done.stderr.strip(), done.stdout + done.stderr


def test_groff_and_lexgrog_accept_it():
    if shutil.which("groff"):
        done = subprocess.run(["groff", "-man", "-ww", "-z", str(PAGE)], capture_output=True, text=True)
        assert done.stderr == "", done.stderr
    if shutil.which("lexgrog"):
        done = subprocess.run(["lexgrog", str(PAGE)], capture_output=True, text=True)
        assert done.returncode == 0 and '"hwdbg - ' in done.stdout, done.stdout + done.stderr


def test_sections():
    headings = re.findall(r"^\.SH (.+)$", source(), re.M)
    for required in ("NAME", "SYNOPSIS", "DESCRIPTION", "ERRORS", "PYTEST PLUGIN", "ENVIRONMENT", "DIAGNOSTICS",
                     "CAVEATS", "SEE ALSO"):
        assert required in headings, headings
    assert headings[:3] == ["NAME", "SYNOPSIS", "DESCRIPTION"]


def test_every_public_function_and_class_is_mentioned():
    body = text()
    public = [name for name in hwdbg.__all__
              if inspect.isclass(getattr(hwdbg, name)) or inspect.isfunction(getattr(hwdbg, name))]
    assert "spawn" in public and "SlotError" in public
    missing = [name for name in public if not mentioned(name, body)]
    assert not missing, f"document these in man/hwdbg.3: {missing}"


@pytest.mark.parametrize("cls", [Target, Breakpoint])
def test_every_public_member_of_target_and_breakpoint_is_mentioned(cls):
    body = text()
    members = [name for name, _ in inspect.getmembers(cls) if not name.startswith("_")]
    missing = [name for name in members if not mentioned(name, body)]
    assert not missing, f"document these {cls.__name__} members in man/hwdbg.3: {missing}"


def test_plugin_and_environment_are_documented():
    body = text()
    for name in ("hwdbg_require", "--hwdbg-require", "HWDBG_REQUIRE", "HWDBG_PROBE_FORCE", "requires_ptrace",
                 "requires_hw_watchpoints", "assert_never_written", "assert_written_only_by", "format_hit",
                 "-p no:hwdbg", "pytest11"):
        assert name in body, name
    for marker in pytest_plugin.MARKERS:
        if marker != "stress":  # the project's own marker, not part of the API
            assert mentioned(marker, body), marker
    assert "written outside cache_put (1 of 5 writes):" in body and "in thread" in body and "3 -> 0" in body


def test_caveats_cover_sigkill_kernel_writes_and_reaping():
    caveats = text().split(".SH CAVEATS", 1)[1].split(".SH ", 1)[0]
    assert "SIGKILL" in caveats and "exitkill" in caveats
    assert "Only user-mode accesses trap" in caveats and ".BR read (2)" in caveats
    assert "reaps every child" in caveats


def blocks() -> list[str]:
    """The page cut at each .TP, .SH and .SS: one entry per block."""
    return re.split(r"^(?=\.(?:TP|SH|SS)\b)", source(), flags=re.M)


@pytest.mark.parametrize("name", [
    "hwdbg.spawn(", "hwdbg.attach(", "Target.watch(", "Target.hbreak(", "Target.cont(", "Target.run_to(",
    "Target.run_until_exit(", "Target.events(", "Target.step()", "Target.read_memory(", "Target.evaluate(",
    "Target.detach()", "Target.close()", "hwdbg.probe()", "SS Breakpoint", "B Hit", "B Stopped", "B Exited",
    "B Killed", "B Notice", "B Frame", "SH ERRORS", "B hwdbg \\fR(fixture)", "assert_never_written(",
    "assert_written_only_by(", "B \\-\\-hwdbg\\-require", "B @pytest.mark.requires_ptrace",
])
def test_every_call_has_an_example(name):
    found = [b for b in blocks() if name in "\n".join(b.split("\n")[:2])]  # the macro line and the one after
    assert found, f"no entry for {name}"
    assert any(".EX" in b for b in found), f"the entry for {name} has no example (.EX ... .EE)"
