"""Fixtures for the user-interface tests."""
from __future__ import annotations

import io
from typing import Any

import pytest

from hwdbg.ui.context import Context
from ui_helpers import make_context


@pytest.fixture(scope="session")
def counter_exe(build_target):
    return build_target("ui_counter")


@pytest.fixture
def context():
    """A Context writing text to a StringIO; whatever it started is let go at teardown."""
    made: list[Context] = []

    def make(**kwargs: Any) -> tuple[Context, io.StringIO]:
        ctx, stream = make_context(**kwargs)
        made.append(ctx)
        return ctx, stream

    yield make
    for ctx in made:
        try:
            ctx.close()
        except Exception:
            pass
