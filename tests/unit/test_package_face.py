"""The pure parts of hwdbg import on a machine without the C build; the API says why it cannot."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import elftools

import hwdbg

CODE = """
import hwdbg, hwdbg.arch, hwdbg.expr, hwdbg.hw.slots, hwdbg.records, hwdbg.errors
assert "hwdbg._ptrace" not in __import__("sys").modules
try:
    hwdbg.spawn
except hwdbg.HwdbgError as exc:
    print(exc)
"""


def test_pure_modules_import_without_the_c_module(tmp_path):
    ignore = shutil.ignore_patterns("*.so", "__pycache__")
    shutil.copytree(Path(hwdbg.__file__).parent, tmp_path / "hwdbg", ignore=ignore)
    site = Path(elftools.__file__).parent.parent  # the dependencies, but not the editable install's finder
    python = getattr(sys, "_base_executable", sys.executable)
    done = subprocess.run([python, "-c", CODE], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          env={"PYTHONPATH": f"{tmp_path}:{site}", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ("hwdbg._ptrace is not built: reinstall with `pip install .` "
                                   "(needs gcc and the Python headers)")
