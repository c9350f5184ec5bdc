"""hwdbg.probe on this machine, and the pytest plugin's skip/require logic built on it.

The plugin checks run pytest in a subprocess (pytester.runpytest_subprocess) so that the
environment variables and the probe's lru_cache of the inner run never leak into this one.
"""
from __future__ import annotations

import importlib

import pytest

from hwdbg.probe import IGNORED, NO_TRAP, REFUSED, UNSUPPORTED, WORKS, ProbeResult, probe, run_probe

# Here and not in tests/hw/conftest.py: pytest refuses ``pytest_plugins`` in a non-top-level
# conftest when the whole suite is collected ("no longer supported"), but accepts it in a test module.
pytest_plugins = ["pytester"]

probe_mod = importlib.import_module("hwdbg.probe")  # ``hwdbg.probe`` the attribute is the function


@pytest.fixture
def fresh_probe(monkeypatch):
    """probe() with an empty cache before and after, so a forced verdict never outlives the test."""
    monkeypatch.delenv("HWDBG_PROBE_FORCE", raising=False)
    probe.cache_clear()
    yield monkeypatch
    probe.cache_clear()


# ---------------------------------------------------------------- the probe itself


@pytest.mark.requires_ptrace
def test_run_probe_works_here():
    result = run_probe()
    assert result == ProbeResult(WORKS, "")
    assert result.hw_ok and result.ptrace_ok
    assert str(result) == "works"


def test_probe_is_cached_and_real_without_force(fresh_probe):
    first = probe()
    assert probe() is first
    assert first.verdict == run_probe().verdict


@pytest.mark.parametrize("forced, verdict, reason", [
    ("no trap: simulated", NO_TRAP, "simulated"),
    ("ptrace refused: Yama scope 3", REFUSED, "Yama scope 3"),
    ("debug-register writes ignored:gVisor", IGNORED, "gVisor"),
    ("unsupported: riscv64", UNSUPPORTED, "riscv64"),
    ("works", WORKS, ""),
    ("  no trap  :  a: b  ", NO_TRAP, "a: b"),  # split at the first colon, both sides stripped
])
def test_probe_honours_force(fresh_probe, forced, verdict, reason):
    fresh_probe.setenv("HWDBG_PROBE_FORCE", forced)
    probe.cache_clear()
    result = probe()
    assert result == ProbeResult(verdict, reason)
    assert probe() is result, "cached"
    fresh_probe.setenv("HWDBG_PROBE_FORCE", "works")
    assert probe() is result, "the cache is only dropped by cache_clear()"


def test_empty_force_runs_the_real_probe(fresh_probe, monkeypatch):
    fresh_probe.setenv("HWDBG_PROBE_FORCE", "")
    calls = []
    monkeypatch.setattr(probe_mod, "run_probe", lambda: calls.append(1) or ProbeResult(WORKS))
    probe.cache_clear()
    assert probe() == ProbeResult(WORKS)
    assert calls == [1]


@pytest.mark.parametrize("verdict, ptrace_ok, hw_ok", [
    (WORKS, True, True),
    (IGNORED, True, False),
    (NO_TRAP, True, False),
    (REFUSED, False, False),
    (UNSUPPORTED, False, False),
    ("something else", False, False),
])
def test_probe_result_properties(verdict, ptrace_ok, hw_ok):
    result = ProbeResult(verdict, "why")
    assert result.ptrace_ok is ptrace_ok
    assert result.hw_ok is hw_ok
    assert str(result) == f"{verdict}: why"
    assert str(ProbeResult(verdict)) == verdict
    with pytest.raises(AttributeError):
        result.verdict = WORKS  # frozen


def test_verdict_strings():
    assert (WORKS, REFUSED, IGNORED, NO_TRAP, UNSUPPORTED) == (
        "works", "ptrace refused", "debug-register writes ignored", "no trap", "unsupported")


# ---------------------------------------------------------------- the pytest plugin

INNER = """
import pytest

@pytest.mark.requires_hw_watchpoints
def test_needs_hw():
    pass

@pytest.mark.requires_ptrace
def test_needs_ptrace():
    pass

def test_plain():
    pass
"""

SKIP_HW = "hardware watchpoints unavailable: no trap: simulated"
REQUIRED = "(required by --hwdbg-require / HWDBG_REQUIRE)"


@pytest.fixture
def inner(pytester, monkeypatch):
    """run(*args, force=..., require=...) -> RunResult of a pytest subprocess over INNER."""
    pytester.makepyfile(test_inner=INNER)

    def run(*args, force=None, require=None):
        for name, value in (("HWDBG_PROBE_FORCE", force), ("HWDBG_REQUIRE", require)):
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        return pytester.runpytest_subprocess("-v", "-rs", "--strict-markers", "-p", "no:cacheprovider", *args)

    return run


def test_plugin_skips_with_forced_reason(inner):
    result = inner(force="no trap: simulated")
    result.assert_outcomes(passed=2, skipped=1)  # requires_ptrace still runs: NO_TRAP has ptrace
    result.stdout.fnmatch_lines(["test_inner.py::test_needs_hw SKIPPED (hardware watchpoints*"])
    result.stdout.fnmatch_lines([f"SKIPPED [[]1[]] *: {SKIP_HW}"])
    result.stdout.fnmatch_lines(["hwdbg: ptrace=yes, hw watchpoints=no (no trap: simulated) [[]*[]]"])
    assert "[required]" not in result.stdout.str()


@pytest.mark.parametrize("require", ["0", "false", ""])
def test_plugin_require_falsy_values_still_skip(inner, require):
    result = inner(force="no trap: simulated", require=require)
    result.assert_outcomes(passed=2, skipped=1)


@pytest.mark.parametrize("how", ["env", "option", "ini"])
def test_plugin_required_turns_skip_into_failure(inner, pytester, how):
    args = ()
    require = None
    if how == "env":
        require = "1"
    elif how == "option":
        args = ("--hwdbg-require",)
    else:
        pytester.makeini("[pytest]\nhwdbg_require = true\n")
    result = inner(*args, force="no trap: simulated", require=require)
    outcomes = result.parseoutcomes()
    assert outcomes.get("skipped", 0) == 0
    assert outcomes.get("errors", 0) + outcomes.get("failed", 0) == 1
    assert outcomes.get("passed") == 2
    assert result.ret != 0
    result.stdout.fnmatch_lines(["test_inner.py::test_needs_hw ERROR*"])
    result.stdout.fnmatch_lines([f"*{SKIP_HW} {REQUIRED}*"])
    result.stdout.fnmatch_lines(["hwdbg: ptrace=yes, hw watchpoints=no (no trap: simulated) * [[]required[]]"])


def test_plugin_ptrace_refused_skips_both_markers(inner):
    result = inner(force="ptrace refused: Yama scope 3")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines_random([
        "SKIPPED*hardware watchpoints unavailable: ptrace refused: Yama scope 3",
        "SKIPPED*ptrace unavailable: ptrace refused: Yama scope 3",
    ])
    result.stdout.fnmatch_lines(["hwdbg: ptrace=no, hw watchpoints=no (ptrace refused: Yama scope 3)*"])


@pytest.mark.requires_hw_watchpoints
def test_plugin_real_probe_runs_everything(inner):
    result = inner(require="1")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["hwdbg: ptrace=yes, hw watchpoints=yes (works) [[]*[]] [[]required[]]"])


def test_plugin_disabled_with_no_hwdbg(inner):
    result = inner("-p", "no:hwdbg", force="no trap: simulated")
    # without the plugin the markers are unknown to --strict-markers
    assert result.ret != 0
    assert "hwdbg: ptrace=" not in result.stdout.str()
