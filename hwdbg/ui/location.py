"""Where the program stopped, as gdb shows it after a step: the frame line and the source line.

A stop shows frame 0 as a backtrace does (``sum_pair (p=0x7ffc...) at steps.c:15``: the text
commands/frames.py makes, passed in); ``frame_line`` is the fallback from the stop record
alone, without arguments. ``SourceLines`` reads the line from the source file, saying once
per file when it is not on disk, as gdb does.
"""
from __future__ import annotations

import os
from typing import Optional

from .. import records as rec
from ..recordtype import record


@record(frozen=True)
class FrameShown:
    """Frame 0 as a stop shows it: its text (with arguments), and its file and line, which an
    inlined call not entered yet puts at the call rather than at the pc's line."""

    text: str
    file: Optional[str]
    line: Optional[int]
    file_shown: Optional[str] = None  # the file as gdb names it (as compiled: ../Programs/python.c)


def frame_line(frame: Optional[rec.Frame], pc: int, *, address: bool) -> str:
    """``0x401136 in bump () at counter.c:12`` (``address``: the pc is inside a line), or
    ``bump () at counter.c:12``; ``0x... in bump ()`` from LIB without line info."""
    if frame is None or not frame.function:
        return f"{pc:#018x} in ?? ()"
    text = f"{frame.function} ()"
    if frame.file and frame.line:
        text += f" at {os.path.basename(frame.file)}:{frame.line}"
    elif frame.module:
        text += f" from {frame.module}"
    return f"{pc:#018x} in {text}" if address or not (frame.file and frame.line) else text


class SourceLines:
    """Source files read once each; gdb's ``LINE\\tTEXT`` (or why the text is missing)."""

    def __init__(self) -> None:
        self._files: dict[str, Optional[list[str]]] = {}
        self._last: Optional[str] = None  # the file of the last line shown

    def text(self, path: str, line: int, shown: Optional[str] = None) -> str:
        """``shown``: the file's name in messages, as gdb names it (the path by default)."""
        # gdb says why a file is missing again once a line of another file was shown in between
        name = shown or path
        last, self._last = self._last, path
        if path not in self._files or (self._files[path] is None and last != path):
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    self._files[path] = f.read().splitlines()
            except OSError as exc:
                self._files[path] = None
                return f"{line}\t{name}: {os.strerror(exc.errno or 2)}."
        lines = self._files[path]
        if lines is None:
            return f"{line}\tin {name}"
        if not 1 <= line <= len(lines):
            return f"Line number {line} out of range; \"{name}\" has {len(lines)} lines."
        return f"{line}\t{lines[line - 1]}"


def stop_lines(stop: rec.Stopped, sources: SourceLines, frame: Optional[FrameShown] = None) -> str:
    """A stop that ends a step, finish or until, by its ``style`` (see records.Stopped);
    ``frame``: frame 0 with its arguments, as commands/frames.py's frame_text spells it."""
    where = stop.where
    style = stop.style or "frame-address"
    inside = style.endswith("-address")
    file, line = (frame.file, frame.line) if frame is not None else (where.file, where.line) if where else (None, None)
    shown = frame.file_shown if frame is not None else None
    if style.startswith("line") and file and line:
        prefix = f"{stop.pc:#018x}\t" if inside else ""
        return prefix + sources.text(file, line, shown)
    text = frame.text if frame is not None else frame_line(where, stop.pc, address=inside)
    if file and line:
        text += "\n" + sources.text(file, line, shown)
    return text
