"""pytest plugin (entry point ``pytest11``): fixtures, markers, assertions for hardware watchpoints.

Markers ``requires_ptrace`` and ``requires_hw_watchpoints`` skip a test with the probe's
exact reason where the machine cannot trace or trap; ``--hwdbg-require`` (or
``HWDBG_REQUIRE=1``, or the ini option ``hwdbg_require = true``) turns those skips into
failures, for CI machines where they must run. Disable the plugin with ``-p no:hwdbg``.
"""
from __future__ import annotations

import os
from typing import Any, Iterable, Optional, Sequence

import pytest

from .api import Target, attach, spawn
from .probe import probe
from .records import Hit, writers_table
from .diagnose import HostFacts

MARKERS = {
    "requires_ptrace": "the test traces a process: skipped (with the reason) where ptrace is refused",
    "requires_hw_watchpoints": "the test needs debug registers that really trap: skipped where they do not",
    "stress": "a long stress/soak variant: deselected by default, run with -m stress",
}


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("hwdbg")
    group.addoption("--hwdbg-require", action="store_true", default=None,
                    help="fail, instead of skip, tests marked requires_ptrace/requires_hw_watchpoints "
                         "when the machine cannot run them (also: HWDBG_REQUIRE=1)")
    parser.addini("hwdbg_require", type="bool", default=False,
                  help="as --hwdbg-require")


def pytest_configure(config: Any) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")


def _required(config: Any) -> bool:
    if config.getoption("hwdbg_require"):
        return True
    if os.environ.get("HWDBG_REQUIRE", "").strip() not in ("", "0", "no", "false"):
        return True
    return bool(config.getini("hwdbg_require"))


def pytest_report_header(config: Any) -> Optional[str]:
    result = probe()
    yes = {True: "yes", False: "no"}
    line = (f"hwdbg: ptrace={yes[result.ptrace_ok]}, hw watchpoints={yes[result.hw_ok]} "
            f"({result}) [{HostFacts.read().summary()}]")
    if _required(config):
        line += " [required]"
    return line


def _missing(item: Any) -> Optional[str]:
    """Why this machine cannot run the item, or None."""
    needs_hw = item.get_closest_marker("requires_hw_watchpoints") is not None
    needs_ptrace = needs_hw or item.get_closest_marker("requires_ptrace") is not None
    if not needs_ptrace:
        return None
    result = probe()
    if needs_hw and not result.hw_ok:
        return f"hardware watchpoints unavailable: {result}"
    if not result.ptrace_ok:
        return f"ptrace unavailable: {result}"
    return None


def pytest_collection_modifyitems(config: Any, items: list) -> None:
    """Skips carry the test's own location in ``-rs`` (the probe runs only if a test needs it)."""
    if _required(config):
        return  # pytest_runtest_setup turns them into failures instead
    for item in items:
        reason = _missing(item)
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_runtest_setup(item: Any) -> None:
    reason = _missing(item)
    if reason is not None and _required(item.config):
        pytest.fail(f"{reason} (required by --hwdbg-require / HWDBG_REQUIRE)", pytrace=False)


class Debugger:
    """The ``hwdbg`` fixture: starts targets and lets every one go at teardown, even on failure."""

    def __init__(self) -> None:
        self.targets: list[Target] = []

    def spawn(self, argv: Sequence[str], **kwargs: Any) -> Target:
        target = spawn([str(a) for a in argv], **kwargs)
        self.targets.append(target)
        return target

    def attach(self, pid: int) -> Target:
        target = attach(pid)
        self.targets.append(target)
        return target

    def close(self) -> None:
        errors = []
        for target in reversed(self.targets):
            try:
                target.close()
            except Exception as exc:  # keep closing the others
                errors.append(exc)
        self.targets.clear()
        if errors:
            raise errors[0]


@pytest.fixture
def hwdbg() -> Any:
    debugger = Debugger()
    yield debugger
    debugger.close()


def format_hit(hit: Hit) -> str:
    """``function (file:line) in thread T: old -> new`` — one offending access per line."""
    where = hit.function or f"{hit.pc:#x}"
    if hit.file:
        where += f" ({os.path.basename(hit.file)}:{hit.line})"
    change = "" if hit.new is None else f": {hit.old} -> {hit.new}"
    return f"{where} in thread {hit.tid}{change}"


def _watch_run(target: Target, expr: str, timeout: Optional[float], run: bool) -> tuple[list[Hit], str]:
    """Every write of ``expr`` until the end, and the writers table of those writes (indented)."""
    __tracebackhide__ = True
    bp = target.watch(expr, access="w", keep=None)  # every write, to list every offender
    if run and target.alive:
        target.run_until_exit(timeout=timeout)
    table = writers_table(target.writers(bp))
    return bp.hits, f"\nwriters of {expr}:\n" + "\n".join(f"  {line}" for line in table.splitlines())


def assert_never_written(target: Target, expr: str, *, timeout: Optional[float] = None, run: bool = True) -> None:
    """Watches ``expr``, runs the target to its end, fails listing every write and the writers table."""
    __tracebackhide__ = True
    writes, table = _watch_run(target, expr, timeout, run)
    if writes:
        lines = "\n".join(f"  {format_hit(h)}" for h in writes)
        raise AssertionError(f"{expr} was written {len(writes)} time(s), expected never:\n{lines}{table}")


def assert_written_only_by(target: Target, expr: str, *, functions: Iterable[str],
                           timeout: Optional[float] = None, run: bool = True) -> list[Hit]:
    """Watches ``expr``, runs the target to its end, fails listing writes from other functions
    and the writers table."""
    __tracebackhide__ = True
    allowed = set(functions)
    writes, table = _watch_run(target, expr, timeout, run)
    stray = [h for h in writes if h.function not in allowed]
    if stray:
        lines = "\n".join(f"  {format_hit(h)}" for h in stray)
        raise AssertionError(f"{expr} written outside {', '.join(sorted(allowed))} "
                             f"({len(stray)} of {len(writes)} writes):\n{lines}{table}")
    return writes
