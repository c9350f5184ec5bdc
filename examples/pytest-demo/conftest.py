"""Builds the demo program once per test session, with debug info so hits name function and line."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture(scope="session")
def cache_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The path of cache_demo, compiled from cache.c and cache_demo.c into a temporary directory."""
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler (gcc) to build the demo")
    exe = tmp_path_factory.mktemp("build") / "cache_demo"
    subprocess.run([cc, "-g", "-O0", "-Wall", "-o", str(exe), str(HERE / "cache.c"), str(HERE / "cache_demo.c")],
                   check=True)
    return exe
