"""info writers, --summary and --report end to end: `python -m hwdbg` on a program with several writers,
the report opened in a real headless browser (Debian's chromium)."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from hwdbg.pytest_plugin import _required

from ui_helpers import lines, run_hwdbg

hw = pytest.mark.requires_hw_watchpoints
ROUNDS = 40
WATCH = ["watch box.watched --trace", "run"]
KEYS = {"id", "pc", "function", "offset", "file", "line", "count", "threads", "first", "last", "syscall",
        "backtrace", "timeline", "hits_per_bin"}


@pytest.fixture(scope="module")
def writers_exe(build_target):
    return build_target("writers_target", cflags=("-fno-builtin",))


def ex(*commands: str) -> list[str]:
    return [word for cmd in commands for word in ("-ex", cmd)]


def row(text: str, function: str) -> list[str]:
    """The cells of the table row of ``function`` (Num, Count, Writer, At, Threads, changes...)."""
    found = [line.split() for line in lines(text) if re.search(rf"\s{function}\+\d+\s", line)]
    assert len(found) == 1, text
    return found[0]


@hw
def test_info_writers_after_exit(writers_exe):
    run = run_hwdbg("--batch", *ex(*WATCH, "info writers", "info writers 1"), writers_exe, ROUNDS)
    assert run.returncode == 0, run
    table = run.stdout.split("exited normally]", 1)[1]
    assert table.count("Num  Count") == 2, run
    bump_b = row(table.split("Num  Count")[1], "bump_b")
    assert bump_b[1] == str(2 * ROUNDS) and len(bump_b[4].split(",")) == 2
    assert row(table.split("Num  Count")[1], "bump_a")[1:2] == [str(ROUNDS)]
    assert row(table.split("Num  Count")[1], "set_c")[1:2] == [str(2 * ROUNDS)]


@hw
def test_info_writers_json_is_one_result(writers_exe):
    run = run_hwdbg("--batch", "--json", *ex(*WATCH, "info writers"), writers_exe, ROUNDS)
    assert run.returncode == 0, run
    (result,) = [e for e in run.of("result") if e["command"] == "info writers"]
    writers = result["writers"]
    assert all(set(w) == KEYS for w in writers) and all(w["syscall"] is None for w in writers)
    counts = {w["function"]: w["count"] for w in writers if w["function"] in ("bump_a", "bump_b", "set_c")}
    assert counts == {"bump_a": ROUNDS, "bump_b": 2 * ROUNDS, "set_c": 2 * ROUNDS}
    hits = [h for h in run.of("hit") if h["id"] == 1]
    assert sum(w["count"] for w in writers) == len(hits)  # one row per pc, every hit in one row
    assert {w["pc"] for w in writers} == {h["pc"] for h in hits}
    bump_a = next(w for w in writers if w["function"] == "bump_a")
    assert bump_a["first"] == {"old": 0, "new": 1} and bump_a["last"] == {"old": ROUNDS - 1, "new": ROUNDS}


@hw
def test_a_new_run_counts_afresh(writers_exe):
    run = run_hwdbg("--batch", "--json", *ex(*WATCH, "run", "info writers"), writers_exe, 5)
    (result,) = [e for e in run.of("result") if e["command"] == "info writers"]
    assert {w["function"]: w["count"] for w in result["writers"]}["bump_a"] == 5, run


@hw
def test_summary_at_the_end_of_a_batch_run(writers_exe):
    run = run_hwdbg("--batch", "--summary", *ex(*WATCH), writers_exe, ROUNDS)
    assert run.returncode == 0, run
    end = run.stdout.split("exited normally]", 1)[1]
    assert row(end, "bump_a")[1] == str(ROUNDS) and row(end, "bump_b")[1] == str(2 * ROUNDS)
    assert re.search(r"__mem(set|cpy|move)\w*\+\d+", end), end


def chromium(config) -> str:
    """Debian's chromium: required where HWDBG_REQUIRE says so (.ci/run installs it), else a skip."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "chromium is not installed (apt-get install chromium; .ci/run installs it)"
        if _required(config):
            pytest.fail(f"{message}, and --hwdbg-require / HWDBG_REQUIRE needs it", pytrace=False)
        pytest.skip(message)
    return found


@hw
def test_report_renders_in_chromium(writers_exe, tmp_path, request):
    browser = chromium(request.config)
    report = tmp_path / "writers.html"
    run = run_hwdbg("--batch", "--report", report, *ex(*WATCH), writers_exe, ROUNDS)
    assert run.returncode == 0, run
    page = report.read_text()
    assert "<script" not in page and "http://" not in page and "https://" not in page  # self-contained
    browse = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={tmp_path}/p"]
    dom = subprocess.run([*browse, "--dump-dom", report.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr
    rows = re.findall(r'<tr class="writer"><td class="num">(\d+)</td><td><code>([^<]+)</code>', dom.stdout)
    counts = {name.split("+")[0]: int(n) for n, name in rows}
    assert counts["bump_a"] == ROUNDS and counts["bump_b"] == 2 * ROUNDS and counts["set_c"] == 2 * ROUNDS
    assert dom.stdout.count('class="bar"') >= 4  # the timeline drew bars for every writer
    shot = tmp_path / "writers.png"
    done = subprocess.run([*browse, "--window-size=1400,800", f"--screenshot={shot}", report.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", done.stderr
    assert shot.stat().st_size > 10_000  # a page with text and bars, not a blank one


@hw
def test_info_writers_at_the_prompt(context, writers_exe):
    """The REPL's dispatcher (no C loop at the prompt: every hit through Python), before and after a run."""
    ctx, out = context(interactive=True)
    assert ctx.dispatch(f"file {writers_exe} 4")
    ctx.session.fast_path = False  # as the CLI sets it at the prompt
    assert ctx.dispatch("watch box.watched --trace")
    assert ctx.dispatch("info writers")
    assert out.getvalue().rstrip().endswith("No writes.")
    assert ctx.dispatch("run")
    out.truncate(0), out.seek(0)
    assert ctx.dispatch("info writers 1")
    text = out.getvalue()
    assert row(text, "bump_a")[1] == "4" and row(text, "set_c")[1] == "8" and row(text, "bump_b")[1] == "8"


def test_report_page_without_a_process():
    from hwdbg import records as rec
    from hwdbg.records import Kind
    from hwdbg.session import UserBreakpoint
    from hwdbg.ui.report import render

    bp = UserBreakpoint(id=1, kind=Kind.WATCH, expr="a < b", addr=0x404000, length=4)
    frames = (rec.Frame(pc=0x401137, function="bump", file="/src/c.c", line=3), rec.Frame(pc=0x401200, function="main"))
    bp.writers.add(0x401137, 7, 0, 1, frames[0], frames)
    page = render([bp, UserBreakpoint(id=2, kind=Kind.HBREAK, expr="main", addr=0x401200, length=1)], ["./p"])
    assert "a &lt; b" in page and "<script" not in page  # escaped, and no script at all
    assert page.count('<tr class="writer">') == 1 and "<details>" in page and "main" in page
    assert render([], None).count("No watches were set.") == 1
