"""find_program: the path execve runs for a program name, or a clear error."""
from __future__ import annotations

import os

import pytest

from hwdbg.errors import TargetError
from hwdbg.process.launch import find_program


def make(path, mode=0o755):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(mode)
    return path


@pytest.fixture
def path_dirs(tmp_path, monkeypatch):
    dirs = [tmp_path / "a", tmp_path / "b"]
    for d in dirs:
        d.mkdir()
    monkeypatch.setenv("PATH", os.pathsep.join(map(str, dirs)))
    return dirs


def test_a_name_is_searched_in_path_order(path_dirs):
    make(path_dirs[1] / "prog")
    assert find_program("prog") == str(path_dirs[1] / "prog")
    make(path_dirs[0] / "prog")
    assert find_program("prog") == str(path_dirs[0] / "prog")


def test_a_path_with_a_slash_is_not_searched(path_dirs, tmp_path, monkeypatch):
    make(path_dirs[0] / "prog")
    monkeypatch.chdir(tmp_path)
    make(tmp_path / "prog")
    assert find_program("./prog") == "./prog"
    assert find_program(str(tmp_path / "prog")) == str(tmp_path / "prog")
    with pytest.raises(TargetError, match="^cannot execute a/missing: no such file$"):
        find_program("a/missing")


def test_missing_programs_and_directories_are_no_such_file(path_dirs):
    (path_dirs[0] / "subdir").mkdir()
    for name in ("missing", "subdir", str(path_dirs[0])):
        with pytest.raises(TargetError, match=f"^cannot execute {name}: no such file$"):
            find_program(name)


def test_a_file_without_execute_permission_is_refused(path_dirs):
    make(path_dirs[0] / "data", 0o644)
    with pytest.raises(TargetError, match="^cannot execute data: permission denied$"):
        find_program("data")
    with pytest.raises(TargetError, match="permission denied"):
        find_program(str(path_dirs[0] / "data"))


def test_empty_or_unset_path_searches_nowhere(tmp_path, monkeypatch):
    """Not even the current directory, which an empty PATH entry means to a shell."""
    monkeypatch.chdir(tmp_path)
    make(tmp_path / "prog")
    for value in ("", ":", None):
        if value is None:
            monkeypatch.delenv("PATH")
        else:
            monkeypatch.setenv("PATH", value)
        with pytest.raises(TargetError, match="no such file"):
            find_program("prog")


def test_a_later_executable_wins_over_an_earlier_unexecutable_file(path_dirs):
    # As execvp and the shells search: a file without execute permission is passed over.
    make(path_dirs[0] / "prog", 0o644)
    make(path_dirs[1] / "prog")
    assert find_program("prog") == str(path_dirs[1] / "prog")
