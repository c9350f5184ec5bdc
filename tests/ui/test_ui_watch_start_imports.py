"""What a plain `hwdbg --batch -p PID -ex 'watch VAR'` start imports: the commands it runs
need no disassembler, prompt, diagnostics, remote stub or platform module, and each one a
start imports is paid at every attach. Checked in the interpreter that ran the command."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

NOT_FOR_A_WATCH = ("capstone", "prompt_toolkit", "hwdbg.diagnose", "hwdbg.remote", "platform")
CHECKED = NOT_FOR_A_WATCH + ("elftools", "ptrace")

PROBE = """
import json, sys
from hwdbg.ui.cli import main
code = main(["--batch", "-q", "-p", sys.argv[1], "-ex", "watch ticks", "-ex", "detach"])
print(json.dumps({"code": code, "modules": [m for m in %r if m in sys.modules]}))
""" % (CHECKED,)


@pytest.mark.requires_hw_watchpoints
def test_attach_and_watch_import_only_what_they_use(build_target):
    exe = build_target("ui_wait")
    proc = subprocess.Popen([str(exe), "600000"], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout.readline().startswith("ready")
        run = subprocess.run([sys.executable, "-c", PROBE, str(proc.pid)], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        assert "Hardware watchpoint 1: ticks" in run.stdout
        result = json.loads(run.stdout.splitlines()[-1])
        assert result["code"] == 0
        assert set(result["modules"]) & set(NOT_FOR_A_WATCH) == set()
        assert "elftools" in result["modules"]  # the probe sees what a start imports
        assert "ptrace" not in result["modules"]  # python-ptrace is not used
        assert proc.poll() is None  # detached, and running on
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
