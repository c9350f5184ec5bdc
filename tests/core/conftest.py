from __future__ import annotations

import contextlib

import pytest

import hwdbg


@pytest.fixture(scope="session")
def core_exe(build_target):
    return build_target("core_target")


@pytest.fixture
def start(core_exe):
    """start(mode, n) -> a Target stopped at ready(), closed at teardown."""
    targets = []

    def _start(mode: str, n: int = 10, **kwargs) -> hwdbg.Target:
        target = hwdbg.spawn([str(core_exe), mode, str(n)], **kwargs)
        targets.append(target)
        target.run_to("ready")
        return target

    yield _start
    for target in targets:
        with contextlib.suppress(Exception):
            target.close()
