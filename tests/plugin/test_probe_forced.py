"""The plugin on machines that cannot trace or trap, simulated with HWDBG_PROBE_FORCE.

Each case runs a small test file in a fresh pytest process (the probe is cached per process).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

TESTS = '''
import pytest

@pytest.mark.requires_hw_watchpoints
def test_needs_traps():
    pass

@pytest.mark.requires_ptrace
def test_needs_ptrace():
    pass

def test_plain():
    pass
'''


def run(tmp_path, force, *args, env_extra=None):
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    (tmp_path / "test_forced.py").write_text(TESTS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "HWDBG_"))}
    if force is not None:
        env["HWDBG_PROBE_FORCE"] = force
    env.update(env_extra or {})
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60, env=env)
    return done.returncode, done.stdout


NO_TRAP = ("no trap:a test watchpoint did not trigger: this VM does not deliver debug exceptions to the guest. "
           "Run on bare metal")
IGNORED = "debug-register writes ignored:wrote DR0=0x601000 DR7=0x90001, read back 0 (gVisor)"
REFUSED = ("ptrace refused:ptrace is blocked by this docker container's seccomp profile (Seccomp: 2). "
           "Run the container with --cap-add=SYS_PTRACE")


@pytest.mark.parametrize("force, header, skipped, phrase", [
    (NO_TRAP, "hwdbg: ptrace=yes, hw watchpoints=no (no trap: a test watchpoint did not trigger", 1,
     "hardware watchpoints unavailable: no trap: a test watchpoint did not trigger"),
    (IGNORED, "hwdbg: ptrace=yes, hw watchpoints=no (debug-register writes ignored: wrote DR0=0x601000", 1,
     "hardware watchpoints unavailable: debug-register writes ignored: wrote DR0=0x601000"),
    (REFUSED, "hwdbg: ptrace=no, hw watchpoints=no (ptrace refused: ptrace is blocked by", 2,
     "--cap-add=SYS_PTRACE"),
])
def test_forced_verdict_skips_with_the_reason(tmp_path, force, header, skipped, phrase):
    rc, out = run(tmp_path, force)
    assert rc == 0, out
    assert header in out, out
    passed = 3 - skipped
    assert re.search(rf"^=+ {passed} passed, {skipped} skipped in ", out, re.M), out
    skip_lines = [line for line in out.splitlines() if line.startswith("SKIPPED")]
    assert len(skip_lines) == skipped and all(phrase in line for line in skip_lines), out


@pytest.mark.parametrize("how", [("--hwdbg-require",), ("-o", "hwdbg_require=true")])
def test_require_turns_the_skip_into_an_error(tmp_path, how):
    rc, out = run(tmp_path, NO_TRAP, *how)
    assert rc == 1, out
    assert re.search(r"^=+ 2 passed, 1 error in ", out, re.M), out
    assert "(required by --hwdbg-require / HWDBG_REQUIRE)" in out
    assert "hwdbg: ptrace=yes, hw watchpoints=no" in out and "[required]" in out


def test_require_by_environment(tmp_path):
    rc, out = run(tmp_path, REFUSED, env_extra={"HWDBG_REQUIRE": "1"})
    assert rc == 1 and re.search(r"^=+ 1 passed, 2 errors in ", out, re.M), out


def test_disabled_plugin_leaves_markers_unknown(tmp_path):
    rc, out = run(tmp_path, NO_TRAP, "-p", "no:hwdbg", "--strict-markers")
    assert rc == 2 and "'requires_hw_watchpoints' not found in `markers`" in out, out
    assert "hwdbg:" not in out
