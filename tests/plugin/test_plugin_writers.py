"""The plugin's assertions print the writers table when they fail (pytest run in a subprocess)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest

DEMO = '''
from hwdbg.pytest_plugin import assert_never_written, assert_written_only_by

def test_only_bump_a(hwdbg):
    assert_written_only_by(hwdbg.spawn([{exe!r}, "7"]), "box.watched", functions=["bump_a"])

def test_never(hwdbg):
    assert_never_written(hwdbg.spawn([{exe!r}, "7"]), "box.watched")
'''


@pytest.mark.requires_hw_watchpoints
def test_failures_show_the_writers_table(build_target, tmp_path):
    exe = build_target("writers_target", cflags=("-fno-builtin",))
    (tmp_path / "test_demo.py").write_text(textwrap.dedent(DEMO.format(exe=str(exe))))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "HWDBG_PROBE_FORCE"))}
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    out = done.stdout
    assert done.returncode == 1 and "2 failed" in out, out + done.stderr
    for test in ("test_only_bump_a", "test_never"):
        section = out.split(f"_ {test} _", 1)[1].split("\n____", 1)[0]
        assert "writers of box.watched:" in section, section
        for function, count in (("bump_b", 14), ("set_c", 14), ("bump_a", 7)):
            assert re.search(rf"^E +1 +{count}  {function}\+\d+ +writers_target\.c:\d+ ", section, re.M), section
        assert re.search(r"^E +1 +\d+  __mem(set|cpy|move)\w*\+\d+ ", section, re.M), section
