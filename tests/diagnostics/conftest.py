"""Fixtures of the diagnostics tests; the helpers themselves live in diag_helpers.py."""
from __future__ import annotations

import pytest
from diag_helpers import Processes


@pytest.fixture
def procs():
    """Starts background processes for one test; kills and reaps every one at teardown."""
    p = Processes()
    yield p
    p.close()
