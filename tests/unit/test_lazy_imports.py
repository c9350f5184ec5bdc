"""What a start costs: the modules a command line does not need are not imported (each start of
`hwdbg -p PID -ex watch...` pays for every import). Checked in a fresh interpreter, by sys.modules."""
from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("elftools", "capstone", "prompt_toolkit", "ptrace", "hwdbg.diagnose", "hwdbg.remote", "platform")


def imported_after(code: str) -> set[str]:
    """Which of HEAVY a fresh interpreter holds after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_version_and_help_import_no_dependency():
    assert imported_after("from hwdbg.ui.cli import main; main(['--version'])") == set()
    assert imported_after("from hwdbg.__main__ import main\ntry:\n    main(['--help'])\n"
                          "except SystemExit:\n    pass") == set()


def test_the_api_imports_no_disassembler_prompt_or_diagnostics():
    # pyelftools serves every attach; the rest only some commands or failures.
    assert imported_after("import hwdbg.api") & {"capstone", "prompt_toolkit", "hwdbg.diagnose",
                                                 "hwdbg.remote", "platform"} == set()


def test_the_debugger_front_end_imports_diagnostics_only_on_failure():
    code = ("import hwdbg.session, hwdbg.ui.context, hwdbg.ui.batch\n"
            "from hwdbg.ui.commands import load_all\nload_all()")
    assert imported_after(code) & {"capstone", "prompt_toolkit", "hwdbg.diagnose", "hwdbg.remote"} == set()


def test_the_debugger_front_end_runs_no_ldconfig_and_no_logging():
    # ctypes.util.find_library (a search for the C library) imports subprocess and runs `ldconfig -p`;
    # python-ptrace, no longer used, imported logging and datetime: ~6 ms of every start.
    probe = ("import hwdbg.session, hwdbg.ui.context, hwdbg.ui.batch, sys\n"
             "from hwdbg.ui.commands import load_all\nload_all()\n"
             "print(sorted(m for m in ('subprocess', 'ctypes.util', 'logging', 'datetime', 'ptrace') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]"]
