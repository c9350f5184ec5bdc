"""FileWindow reads a file's region as BytesIO reads the same bytes: any sequence of read, seek,
tell, readline, readinto; prefix and whole give the region's bytes; a closed file raises."""
from __future__ import annotations

import io
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwdbg.symbols import filewindow
from hwdbg.symbols.filewindow import FileWindow

OPS = st.lists(st.one_of(
    st.tuples(st.just("read"), st.one_of(st.none(), st.integers(-1, 3 * filewindow.PIECE))),
    st.tuples(st.just("seek"), st.integers(0, 3 * filewindow.PIECE), st.sampled_from([0, 1, 2])),
    st.tuples(st.just("tell")),
    st.tuples(st.just("readline"), st.integers(-1, 200)),
    st.tuples(st.just("readinto"), st.integers(0, 2 * filewindow.PIECE)),
), max_size=25)


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    """A file whose bytes 100..100+size are the region (lines in it, and bytes of every value)."""
    size = 2 * filewindow.PIECE + 12345
    body = bytes((i * 7 + i // 300) % 256 for i in range(size))
    path = tmp_path_factory.mktemp("window") / "file"
    path.write_bytes(b"x" * 100 + body + b"tail")
    return path, body


@settings(max_examples=150, deadline=None)
@given(OPS)
def test_window_reads_as_bytesio(region, ops):
    path, body = region
    with open(path, "rb") as f:
        window, reference = FileWindow(f, 100, len(body), lambda: body), io.BytesIO(body)
        for op, *args in ops:
            if op == "seek" and args[1] == 2:
                args[0] = -args[0] % (len(body) + 1) - len(body)  # from the end: 0 or back into the region
            if op == "readinto":
                mine, theirs = bytearray(args[0]), bytearray(args[0])
                assert window.readinto(mine) == reference.readinto(theirs) and mine == theirs
                continue
            assert getattr(window, op)(*args) == getattr(reference, op)(*args), (op, args)
        assert window.span(0, 5000) == body[:5000] and window.span(3000, 9000) == body[3000:9000]
        assert window.whole() == body and window.read(10) == reference.read(10)


def test_a_closed_file_raises_rather_than_reading_another(region):
    path, body = region
    f = open(path, "rb")
    window = FileWindow(f, 100, len(body), lambda: body)
    assert window.read(3) == body[:3]
    f.close()
    window.seek(filewindow.PIECE + 5)  # a piece not read yet
    with pytest.raises(ValueError):
        window.read(1)


def test_a_file_cut_short_gives_short_reads(tmp_path):
    path = tmp_path / "short"
    path.write_bytes(os.urandom(1000))
    with open(path, "rb") as f:
        window = FileWindow(f, 500, filewindow.PIECE, lambda: b"")
        assert len(window.read(2000)) == 500  # the file ends there: pyelftools then reports a damaged unit
