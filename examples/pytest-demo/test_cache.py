"""Hardware watchpoints as test assertions: who writes cache->size, and is config left alone?

The ``hwdbg`` fixture comes from hwdbg's pytest plugin (installed with hwdbg); each
target it starts is killed at teardown, pass or fail.
"""
import pytest

from hwdbg.pytest_plugin import assert_never_written, assert_written_only_by

# Skipped, with the reason, on machines where debug registers do not trap.
pytestmark = pytest.mark.requires_hw_watchpoints


def test_only_cache_put_changes_size(hwdbg, cache_demo):
    target = hwdbg.spawn([cache_demo])
    target.run_to("cache_put")  # cache = cache_new(...) has run: cache->size has an address now
    assert_written_only_by(target, "cache->size", functions={"cache_put"})


def test_config_is_never_written(hwdbg, cache_demo):
    target = hwdbg.spawn([cache_demo])
    target.run_to("main")
    assert_never_written(target, "config")
