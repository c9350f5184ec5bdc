"""The JSON OUTPUT section of man/hwdbg.1 names every key that --json prints, under its event."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import hwdbg
from hwdbg import records as rec
from hwdbg.records import Kind
from hwdbg.session import UserBreakpoint
from hwdbg.ui.commands import Result
from hwdbg.ui.commands.breakpoints import bp_json

from ui_helpers import ROOT

MACRO = re.compile(r"^[A-Z][a-z]{1,2}$")  # Li, No, Pq, Ns...: what ends the words of a Li


def li_words(lines: list[str]) -> set[str]:
    """The words the lines set with Li (``.Li pid , core .`` -> pid, core)."""
    words: set[str] = set()
    for line in lines:
        if not line.startswith("."):
            continue
        in_li = False
        for token in line[1:].split():
            if MACRO.match(token):
                in_li = token == "Li"
            elif in_li and token not in {",", ".", ";", ":", "(", ")"}:
                words.add(token)
    return words


def json_section() -> str:
    text = (ROOT / "man" / "hwdbg.1").read_text()
    section = text[text.index(".Sh JSON OUTPUT\n"):]
    return section[:section.index("\n.Sh ", 1)]


def entries() -> dict[str, set[str]]:
    """Event name -> the keys its entry of the section's list names."""
    section = json_section()
    body = section[section.index(".Bl -tag"):section.index("\n.El\n")]
    out: dict[str, set[str]] = {}
    for item in body.split("\n.It ")[1:]:
        head, *rest = item.splitlines()
        for event in li_words(["." + head]):
            out[event] = li_words(rest)
    return out


def emitted_notices() -> list[rec.Notice]:
    """A Notice like each one hwdbg's source builds, with the same event and data keys."""
    notices = []
    for path in sorted(Path(hwdbg.__file__).parent.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            func = getattr(node, "func", None)
            if not isinstance(node, ast.Call) or getattr(func, "attr", getattr(func, "id", None)) != "Notice":
                continue
            assert isinstance(node.args[0], ast.Constant), f"{path}:{node.lineno}: a Notice of unknown kind"
            keywords = {k.arg: k.value for k in node.keywords}
            data = keywords.get("data")
            assert data is None or isinstance(data, ast.Dict), f"{path}:{node.lineno}: data of unknown keys"
            keys = [k.value for k in data.keys] if data is not None else []
            notices.append(rec.Notice(node.args[0].value, "message", tid=1 if "tid" in keywords else None,
                                      data=dict.fromkeys(keys, 0)))
    assert len(notices) > 5
    return notices


def test_every_json_key_is_documented_under_its_event():
    frame = rec.Frame(pc=0x401136, function="bump", offset=6, file="counter.c", line=12, module="counter")
    hit = rec.Hit(2, Kind.WATCH, "counter", 0x404028, 4, 4242, 0x401136, 0, 1, "bump", "counter.c", 12,
                  backtrace=(frame,))
    stopped = rec.Stopped("signal", 4242, 0x401136, hits=(hit,), signal="SIGUSR1", where=frame, message="why")
    bp = UserBreakpoint(id=2, kind=Kind.WATCH, expr="counter", addr=0x404028, length=4, condition="new > 1")
    # Frames are printed in a hit's backtrace; a breakpoint in the result of watch and info breakpoints.
    unstopped = rec.Hit(2, Kind.WATCH, "counter", 0x404028, 4, 4242, 0x401136, None, None, note="no value", time=1)
    records = [("hit", hit), ("hit", unstopped), ("hit", frame), ("stopped", stopped), ("exited", rec.Exited(0, 4242)),
               ("killed", rec.Killed("SIGSEGV", 4242, True)), ("result", bp),
               ("result", rec.Writer(2, 0x401136, "bump", 6, "counter.c", 12, 1, (4242,), (0, 1), (0, 1)))]
    # Stepping: a stop that ends a step, finish's value, the scheduler-locking mode.
    records += [("stopped", rec.Stopped("finish", 4242, 0x401136, where=frame, style="frame-address")),
                ("result", Result("finish", {"value": "7", "history": 1, "type": "int"})),
                ("result", Result("set scheduler-locking", {"mode": "step"}))]
    records += [(notice.what, notice) for notice in emitted_notices()]
    documented = entries()
    assert "Li event" in json_section()  # "every object has an event key"

    missing = []
    for event, record in records:
        keys = set(record.to_json())
        if isinstance(record, rec.Writer):
            keys |= {"writers", "old", "new"}  # info writers: a list of them, first/last of old and new
        if isinstance(record, UserBreakpoint):
            keys |= set(bp_json(record))  # the result's copy drops event, adds commands
        missing += [f"{event}: {key}" for key in sorted(keys - {"event"} - documented.get(event, set()))]
    assert not missing, "undocumented in JSON OUTPUT: " + ", ".join(missing)


def test_li_words():
    assert li_words([".Li pid , core .", ".Pq Li value No is null", "text Li not"]) == {"pid", "core", "value"}
    assert li_words([".Pq per thread Li dr0 ... dr7 , slots , fired"]) == {"dr0", "...", "dr7", "slots", "fired"}
