"""Turns records into what the user reads: gdb-style text, or one JSON object per line.

The only place in hwdbg that writes to the terminal (with the REPL's prompt). Text
looks like gdb's; ``--json`` prints ``record.to_json()`` for session records and
``{"event": "result", "command": ...}`` for command results.
"""
from __future__ import annotations

import os
from typing import Any, Optional, TextIO

from .. import records as rec
from ..records import Kind
from ..session.signal_table import description, signal_number
from .location import FrameShown, SourceLines, stop_lines

KIND_TITLES = {
    "watch": "Hardware watchpoint",
    "rwatch": "Hardware read watchpoint",
    "awatch": "Hardware access (read/write) watchpoint",
    "hbreak": "Breakpoint",
    "break": "Breakpoint",
}
KIND_TYPES = {"watch": "hw watchpoint", "rwatch": "read watchpoint", "awatch": "acc watchpoint",
              "hbreak": "hw breakpoint", "break": "breakpoint"}

_RED, _BOLD, _DIM, _RESET = "\x1b[31m", "\x1b[1m", "\x1b[2m", "\x1b[0m"


def use_color(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    if os.environ.get("NO_COLOR", "") != "":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


# ------------------------------------------------------------------ text pieces

def where_text(function: Optional[str], file: Optional[str], line: Optional[int]) -> str:
    """``bump () at counter.c:12`` as far as it is known ("" if nothing is)."""
    text = f"{function} ()" if function else ""
    if file and line:
        text += f"{' ' if text else ''}at {os.path.basename(file)}:{line}"
    return text


def frame_text(frame: Optional[rec.Frame], pc: int) -> str:
    """``0x401136 in bump () at counter.c:12``."""
    where = where_text(frame.function, frame.file, frame.line) if frame is not None else ""
    return f"{pc:#x} in {where}" if where else f"{pc:#x}"


def value_text(value: Optional[int]) -> str:
    return "<unreadable>" if value is None else str(value)


def hit_text(hit: rec.Hit, *, temporary: bool = False, frame: Optional[FrameShown] = None,
             full_frame: bool = True, location: Optional[int] = None, thread: Optional[str] = None) -> str:
    """A hit in full, as gdb reports the stop; ``frame``: frame 0 with its arguments (see stop_lines).
    A watch's hit ends with the frame line unless another hit of the same stop shows it
    (``full_frame`` False: gdb prints it once, after the last). ``location``: which of a
    breakpoint's several addresses it was (gdb's ``Breakpoint 1.2, ...``). ``thread``: the
    thread that hit it once the process has had several (gdb's ``Thread 2 "prog" hit ...``)."""
    where = where_text(hit.function, hit.file, hit.line)
    who = f"{thread} hit " if thread else ""
    if not hit.kind.is_data:
        title = "Temporary breakpoint" if temporary else "Breakpoint"
        place = frame.text if frame else where if hit.function else f"{hit.pc:#x}" + (f" {where}" if where else "")
        lines = [f"{who}{title} {hit.id}{f'.{location}' if location else ''}, {place}"]
    else:
        lines = [f"{who}{KIND_TITLES[hit.kind]} {hit.id}: {hit.expr}", ""]
        if hit.kind is Kind.RWATCH or (hit.kind is Kind.AWATCH and hit.old == hit.new):
            lines.append(f"Value = {value_text(hit.new)}")
        else:
            lines += [f"Old value = {value_text(hit.old)}", f"New value = {value_text(hit.new)}"]
        if hit.syscall is not None:
            lines.append(f"Written by the kernel in {hit.syscall_text}")
        if frame is not None:  # gdb's frame line: where the thread is now, after the access
            lines.append(frame.text)
        elif full_frame:
            lines.append(f"Thread {hit.tid} at {hit.pc:#x}" + (f" in {where}" if where else ""))
    if hit.backtrace:
        lines += backtrace_lines(hit.backtrace)
    return "\n".join(lines)


def hit_line(hit: rec.Hit) -> str:
    """A hit in one line, for --trace: ``[2] counter: 0 -> 1  thread 1234  0x401136 in bump () at counter.c:12``."""
    where = where_text(hit.function, hit.file, hit.line)
    place = f"{hit.pc:#x}" + (f" in {where}" if where else "")
    if not hit.kind.is_data:
        what = f"{hit.expr}"
    elif hit.note is not None:
        what = f"{hit.expr}: {'written' if hit.kind is Kind.WATCH else 'accessed'} (no value: not stopped)"
    elif hit.kind is Kind.RWATCH or (hit.kind is Kind.AWATCH and hit.old == hit.new):
        what = f"{hit.expr}: read {value_text(hit.new)}"
    else:
        what = f"{hit.expr}: {value_text(hit.old)} -> {value_text(hit.new)}"
    text = f"[{hit.id}] {what}  thread {hit.tid}  {place}"
    if hit.syscall is not None:
        text += f"  kernel: {hit.syscall_text}"
    if hit.backtrace:
        text += "\n" + "\n".join(backtrace_lines(hit.backtrace))
    return text


def backtrace_lines(frames: Any) -> list[str]:
    return [f"#{n:<2} {frame_text(frame, frame.pc)}" for n, frame in enumerate(frames)]


def signal_description(name: Optional[str]) -> str:
    if not name:
        return ""
    signo = signal_number(name)
    return f"{name}, {description(signo)}" if signo is not None else name


def stopped_text(stop: rec.Stopped, shown: Optional[FrameShown] = None, sources: Optional[SourceLines] = None,
                 thread: Optional[str] = None, switched: Optional[str] = None) -> str:
    """A stop that is not (only) a breakpoint hit: a step, a signal, an interrupt; ``shown``:
    frame 0 with its arguments, then its source line, as gdb prints them. ``thread``: who
    received a signal (``Thread 2 "prog"``; None: "Program"); ``switched``: the thread the stop
    switched to (gdb's ``[Switching to Thread 0x... (LWP N)]``), if it did."""
    frame = frame_text(stop.where, stop.pc)
    if shown is not None:
        frame = shown.text
        if shown.file and shown.line and sources is not None:
            frame += "\n" + sources.text(shown.file, shown.line, shown.file_shown)
    if stop.reason in ("step", "breakpoint", "watchpoint"):
        return frame
    if stop.reason in ("signal", "interrupted"):  # Ctrl-C: gdb's target is stopped by a SIGINT
        switch = f"[Switching to {switched}]\n" if switched else ""
        signal = stop.signal if stop.reason == "signal" else "SIGINT"
        return f"\n{thread or 'Program'} received signal {signal_description(signal)}.\n{switch}{frame}"
    if stop.reason == "int3":
        return f"\nThread {stop.tid} executed int3 (SIGTRAP, Trace/breakpoint trap)\n{frame}"
    if stop.reason == "timeout":
        return f"\nThread {stop.tid} stopped (timeout).\n{frame}"
    if stop.reason == "watchpoint-scope":  # gdb's words, in the stop's message
        return f"\n{stop.message}\n{frame}"
    return f"\nThread {stop.tid} stopped ({stop.reason}).\n{frame}"


def exit_text(record: Any) -> str:
    if isinstance(record, rec.Exited):
        if record.code == 0:
            return f"[Inferior 1 (process {record.pid}) exited normally]"
        return f"[Inferior 1 (process {record.pid}) exited with code 0{record.code:o}]"
    core = " (core dumped)" if record.core else ""
    return (f"\nProgram terminated with signal {signal_description(record.signal)}{core}\n"
            f"[Inferior 1 (process {record.pid}) killed by {record.signal}]")


def notice_text(notice: rec.Notice, thread: Optional[str] = None) -> str:
    """``thread``: who received a signal, as for stopped_text; for a thread that appears or
    exits, gdb's name of it (``Thread 0x7ffff7dd06c0 (LWP 4243)``)."""
    if notice.what == "thread-created":
        return f"[New {thread or f'LWP {notice.tid}'}]"
    if notice.what == "thread-exited":
        return f"[{thread or f'LWP {notice.tid}'} exited]"
    if notice.what == "installed":
        return f"[breakpoint {notice.data.get('id')} installed in the debug registers]"
    if notice.what == "uninstalled":
        return f"[breakpoint {notice.data.get('id')} lost its debug register: it waits for a free one]"
    if notice.what == "breakpoint-deleted":  # gdb's words
        return notice.message
    if notice.what in ("breakpoint-dropped", "error", "warning"):
        return f"warning: {notice.message}"
    if notice.what == "signal" and "print" in notice.data:  # a signal passed on: as gdb reports it, or not
        if not notice.data["print"]:
            return ""
        return f"{thread or 'Program'} received signal {signal_description(notice.data['signal'])}."
    return f"[{notice.message}]"


# ------------------------------------------------------------------ outputs

class Output:
    """Where records go. Subclasses: TextOutput (people), JsonOutput (programs)."""

    json = False

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._pending: list[str] = []

    def write(self, text: str) -> None:
        self._pending.append(text)
        self.flush()

    def write_raw(self, text: str) -> None:
        """``text`` as it is: the line stays open unless it ends one (echo, output, printf)."""
        self.flush()
        self.stream.write(text)
        self.stream.flush()

    def write_buffered(self, text: str) -> None:
        """For hits, which come in bursts: the session calls flush() after each burst. Our own
        buffer, so that one burst is one write(2) even with PYTHONUNBUFFERED or a terminal."""
        self._pending.append(text)

    def flush(self) -> None:
        if self._pending:
            lines, self._pending = self._pending, []
            self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()

    # ``frame``: the stopped thread's frame 0 as text shows it, with its arguments (or None).
    # ``frame_line`` False: another hit of the same stop shows the frame; ``location``: N of 1.N.
    # ``thread``, ``switched``: as for stopped().
    def hit(self, hit: rec.Hit, *, full: bool, temporary: bool = False, frame: Optional[FrameShown] = None,
            frame_line: bool = True, location: Optional[int] = None, thread: Optional[str] = None,
            switched: Optional[str] = None) -> None: ...
    def stopped(self, stop: rec.Stopped, *, reported_hits: bool, frame: Optional[FrameShown] = None,
                thread: Optional[str] = None, switched: Optional[str] = None) -> None: ...
    def ended(self, record: Any) -> None: ...
    def notice(self, notice: rec.Notice, thread: Optional[str] = None) -> None: ...
    def result(self, result: Any) -> None: ...
    def error(self, kind: str, message: str) -> None: ...
    def message(self, text: str) -> None: ...


class TextOutput(Output):
    def __init__(self, stream: TextIO, *, color: Optional[bool] = None) -> None:
        super().__init__(stream)
        self.color = use_color(stream) if color is None else color
        self.sources = SourceLines()

    def _paint(self, text: str, code: str) -> str:
        return f"{code}{text}{_RESET}" if self.color and text else text

    def hit(self, hit: rec.Hit, *, full: bool, temporary: bool = False, frame: Optional[FrameShown] = None,
            frame_line: bool = True, location: Optional[int] = None, thread: Optional[str] = None,
            switched: Optional[str] = None) -> None:
        if full:
            if switched:
                self.write(f"[Switching to {switched}]")  # gdb: before the blank line of the hit
            text = hit_text(hit, temporary=temporary, frame=frame, full_frame=frame_line, location=location,
                            thread=thread)
            file, line = (frame.file, frame.line) if frame is not None else (hit.file, hit.line)
            if (frame is not None or not hit.kind.is_data) and file and line and not hit.backtrace:
                # gdb shows the line it stopped at
                text += "\n" + self.sources.text(file, line, frame.file_shown if frame is not None else None)
            head, _, tail = text.partition("\n")
            self.write("\n" + self._paint(head, _BOLD) + ("\n" + tail if tail else ""))
        else:
            self.write_buffered(hit_line(hit))

    def stopped(self, stop: rec.Stopped, *, reported_hits: bool, frame: Optional[FrameShown] = None,
                thread: Optional[str] = None, switched: Optional[str] = None) -> None:
        if reported_hits or stop.reason == "call-return" and not stop.style:
            return  # a called function returned to its dummy frame: gdb stops silently
        self.write(stop_lines(stop, self.sources, frame) if stop.style
                   else stopped_text(stop, frame, self.sources, thread, switched))

    def ended(self, record: Any) -> None:
        self.write(exit_text(record))

    def notice(self, notice: rec.Notice, thread: Optional[str] = None) -> None:
        text = notice_text(notice, thread)
        if text:
            blank = "\n" if notice.what == "signal" else ""  # gdb's blank line before a signal's report
            self.write(blank + self._paint(one_line(text), _DIM))

    def result(self, result: Any) -> None:
        text = getattr(result, "text", "")
        if text and getattr(result, "raw", False):
            self.write_raw(text)
        elif text:
            self.write(text)

    def error(self, kind: str, message: str) -> None:
        if kind == "CallStopped":  # gdb's lines, as it writes them
            self.write(self._paint(f"*** {message}", _RED))
            return
        self.write(self._paint(f"*** {one_line(message)}", _RED))

    def message(self, text: str) -> None:
        self.write(text)


class JsonOutput(Output):
    json = True

    def __init__(self, stream: TextIO) -> None:
        import json  # here: a text session does not need it (~1 ms of every start)

        super().__init__(stream)
        self._dumps = json.dumps
        self._hit_parts: dict[tuple, tuple[str, str]] = {}

    def emit(self, obj: dict) -> None:
        self.write(self._dumps(obj, default=_json_default))

    def hit(self, hit: rec.Hit, *, full: bool, temporary: bool = False, frame: Optional[FrameShown] = None,
            frame_line: bool = True, location: Optional[int] = None, thread: Optional[str] = None,
            switched: Optional[str] = None) -> None:
        if hit.backtrace is not None or hit.changed is not None or hit.syscall is not None:
            self.emit(hit.to_json())  # parts that differ from hit to hit at one pc
            return
        # The same line as json.dumps(hit.to_json()), with the parts that only depend on the
        # breakpoint and the pc encoded once: --json --trace prints every hit.
        key = (hit.id, hit.kind, hit.expr, hit.address, hit.length, hit.pc, hit.function, hit.file, hit.line,
               hit.note)
        parts = self._hit_parts.get(key)
        if parts is None:
            if len(self._hit_parts) > 4096:
                self._hit_parts.clear()
            sample = self._dumps(hit.to_json())
            head = sample[:sample.index('"tid": ') + len('"tid": ')]
            tail = sample[sample.index(', "function": '):]
            parts = self._hit_parts[key] = (head, tail)
        old = "null" if hit.old is None else hit.old
        new = "null" if hit.new is None else hit.new
        time = "" if hit.time is None else f', "time": {hit.time}'
        self.write_buffered(f'{parts[0]}{hit.tid}, "pc": {hit.pc}, "old": {old}, "new": {new}{time}{parts[1]}')

    def stopped(self, stop: rec.Stopped, *, reported_hits: bool, frame: Optional[FrameShown] = None,
                thread: Optional[str] = None, switched: Optional[str] = None) -> None:
        self.emit(stop.to_json())

    def ended(self, record: Any) -> None:
        self.emit(record.to_json())

    def notice(self, notice: rec.Notice, thread: Optional[str] = None) -> None:
        self.emit(notice.to_json())

    def result(self, result: Any) -> None:
        self.emit(result.to_json())

    def error(self, kind: str, message: str) -> None:
        self.emit({"event": "error", "kind": kind, "message": one_line(message)})

    def message(self, text: str) -> None:
        pass  # prose for people only


def one_line(text: str) -> str:
    return " ".join(part.strip() for part in str(text).splitlines() if part.strip()) or "error"


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (bytes, bytearray)):
        return obj.hex()
    if hasattr(obj, "to_json"):
        return obj.to_json()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    return str(obj)
