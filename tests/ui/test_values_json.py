"""--json results of ptype, whatis, list, display, info display and undisplay: their keys are
documented in the JSON OUTPUT section of man/hwdbg.1, and they carry what the text shows."""
from __future__ import annotations

import json

import pytest

from test_ui_manpage_json import entries
from ui_helpers import ROOT, make_context

pytestmark = pytest.mark.requires_ptrace
COMMANDS = ["ptype struct pair", "whatis head", "list 10,11", "display/x arr[1]", "display ticks", "info display",
            "break checkpoint", "run", "undisplay 1", "info display"]


def test_new_results_are_documented_and_complete(build_target):
    exe = build_target("values_target")
    ctx, stream = make_context(json_output=True, reraise=False)
    try:
        ctx.session.load([str(exe)])
        for command in COMMANDS:
            assert ctx.dispatch(command), stream.getvalue()
    finally:
        ctx.close()
    events = [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]
    results = [e for e in events if e["event"] == "result" and e["command"] in
               ("ptype", "whatis", "list", "display", "info display", "undisplay")]
    keys = set()
    for result in results:
        keys |= set(result) - {"event", "command"}
        for nested in ("lines", "displays"):
            for item in result.get(nested, []):
                keys |= set(item)
    documented = entries()["result"]
    assert keys and not keys - documented, f"undocumented: {sorted(keys - documented)}"
    by_command = {}
    for result in results:
        by_command.setdefault(result["command"], []).append(result)
    assert by_command["ptype"][0]["type"] == "struct pair {\n    int x;\n    long y;\n}"
    assert by_command["whatis"][0] == {"event": "result", "command": "whatis", "expr": "head", "type": "struct node *"}
    assert [row["line"] for row in by_command["list"][0]["lines"]] == [10, 11]
    source = (ROOT / "tests" / "targets" / "values_target.c").read_text().splitlines()
    assert [row["text"] for row in by_command["list"][0]["lines"]] == source[9:11]
    shown = [d for d in by_command["display"] if d["text"] is not None]  # at the stop
    assert [(d["number"], d["format"], d["text"]) for d in shown] == [(1, "x", "0x2"), (2, None, "123456789")]
    assert [d["number"] for d in by_command["info display"][-1]["displays"]] == [2]
    assert by_command["undisplay"][0]["ids"] == [1]
