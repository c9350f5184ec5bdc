"""Fixtures of the reliability suite (helpers live in helpers.py).

* ``rel_exe`` / ``rel_exe_o2``: tests/targets/rel_target.c built at -O0 / -O2.
* ``rel_start(mode, threads, rounds)``: a Target stopped in ready(), closed at teardown.
* ``figures``: counts (hits checked, threads, faults injected, malformed inputs) summed over the
  run, printed at the end; with ``HWDBG_REL_FIGURES=PATH`` also written to PATH as Markdown.

Sizes: every test has a short default and a stress variant (``-m stress``) whose sizes come from
constants that environment variables HWDBG_REL_<NAME> override (see helpers.env_int).
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Optional

import pytest

import hwdbg

from .helpers import FIGURES


@pytest.fixture(scope="session")
def figures():
    yield FIGURES


def pytest_sessionfinish(session, exitstatus):
    path = os.environ.get("HWDBG_REL_FIGURES")
    if path and (FIGURES.counts or FIGURES.notes):
        Path(path).write_text(FIGURES.markdown())
        Path(path).with_suffix(".json").write_text(json.dumps(
            {"counts": dict(FIGURES.counts), "notes": FIGURES.notes}, indent=1, sort_keys=True))


def pytest_terminal_summary(terminalreporter):
    if FIGURES.counts or FIGURES.notes:
        terminalreporter.write_sep("-", "hwdbg reliability figures")
        for key in sorted(FIGURES.counts):
            terminalreporter.write_line(f"{key}: {FIGURES.counts[key]:,}")
        for key in sorted(FIGURES.notes):
            terminalreporter.write_line(f"{key}: {FIGURES.notes[key]}")


@pytest.fixture(scope="session")
def rel_exe(build_target):
    return build_target("rel_target")


@pytest.fixture(scope="session")
def rel_exe_o2(build_target):
    return build_target("rel_target", cflags=("-O2",))


@pytest.fixture
def rel_start(rel_exe):
    """rel_start(mode, threads=1, rounds=10, exe=None, **spawn_kwargs) -> Target stopped in ready()."""
    targets = []

    def _start(mode: str, threads: int = 1, rounds: int = 10, exe: Optional[Path] = None,
               **kwargs) -> hwdbg.Target:
        target = hwdbg.spawn([str(exe or rel_exe), mode, str(threads), str(rounds)], **kwargs)
        targets.append(target)
        target.run_to("ready", timeout=30)
        return target

    yield _start
    for target in targets:
        with contextlib.suppress(Exception):
            target.close()
