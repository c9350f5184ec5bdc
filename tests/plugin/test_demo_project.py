"""The demo project (examples/pytest-demo) run as a user would: 1 failed, 1 passed, nothing left behind."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "pytest-demo"
DRIVER = "cache_demo"


def clean_env() -> dict:
    """This run's environment without what would change the inner run (forced probe, injected options)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "HWDBG_PROBE_FORCE"))}


def stray_line() -> int:
    """The line of cache.c that writes past the counters (the bug the demo exists to catch)."""
    lines = (DEMO / "cache.c").read_text().splitlines()
    return next(i for i, text in enumerate(lines, 1) if "cache->counters[i] = 0;" in text)


def processes_of(exe_dir: Path) -> list[str]:
    """Every process, zombies included, that runs a program from ``exe_dir`` or is named like the driver."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                comm = f.read().split("(", 1)[1].rsplit(")", 1)[0]
        except OSError:
            continue
        try:
            exe = os.readlink(f"/proc/{entry}/exe")
        except OSError:
            exe = ""  # a zombie or a kernel thread has none
        if comm == DRIVER or exe.startswith(str(exe_dir)):
            found.append(f"{entry} {comm} {exe}")
    return found


@pytest.mark.requires_hw_watchpoints
def test_demo_project_fails_once_on_the_stray_write_and_cleans_up(tmp_path):
    basetemp = tmp_path / "demo"
    done = subprocess.run([sys.executable, "-m", "pytest", "examples/pytest-demo", "-p", "no:cacheprovider",
                           f"--basetemp={basetemp}"],
                          cwd=REPO, capture_output=True, text=True, timeout=120, env=clean_env())
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert re.search(r"^=+ 1 failed, 1 passed in [\d.]+s =+$", out, re.M), out
    assert re.search(r"^hwdbg: ptrace=yes, hw watchpoints=yes \(works\) \[", out, re.M), out
    # The failure names the stray function, its file and line, the thread, old -> new.
    failure = re.search(r"^E +AssertionError: cache->size written outside cache_put \(1 of 5 writes\):\n"
                        r"E +(cache_stats_reset \(cache\.c:(\d+)\) in thread (\d+): 3 -> 0)$", out, re.M)
    assert failure, out
    # x86 reports a data watchpoint after the store: hwdbg names the line of the pc after it, the loop's
    # `i++` on the `for` line just above the store; a hit attributed to the store itself names the store's line.
    assert int(failure.group(2)) in (stray_line() - 1, stray_line())
    assert "cache_stats_reset (cache.c:" in out and " in thread " in out and " -> " in out
    assert "FAILED test_cache.py::test_only_cache_put_changes_size" in out or \
        "FAILED examples/pytest-demo/test_cache.py::test_only_cache_put_changes_size" in out
    assert "test_config_is_never_written" not in out.split("short test summary info")[-1]
    # The driver ran (built under our basetemp) and no process of it is left, live or zombie.
    built = list(basetemp.rglob(DRIVER))
    assert built, f"the demo did not build {DRIVER} under {basetemp}"
    assert processes_of(basetemp) == []
