"""Malformed commands, expressions, conditions and addresses on a live, stopped program.

Every one must give exactly one clean error line, no traceback, and change nothing:
not the breakpoints, not the debug registers the threads really hold.
"""
from __future__ import annotations

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hwdbg.hw import debugregs
from hwdbg.ui.commands import REGISTRY

from ui_helpers import make_context, symbol

pytestmark = pytest.mark.requires_hw_watchpoints

BAD = " @@"  # '@' is not part of the expression language: whatever precedes it, parsing fails

KERNEL = "0xffffffff81000000"
NON_CANONICAL = "0x800000000000"
LAST_USER_PAGE = "0x7ffffffff000"
BAD_ADDRESSES = [KERNEL, NON_CANONICAL, LAST_USER_PAGE, "0x7fffffffffff", "0", "0x10", "0xfff", "-8", "-1",
                 "18446744073709551615", "0x10000000000000000", "0xffffffffffffffff"]
BAD_LENGTHS = ["0", "-1", "-8", "3x", "0x", "1e3", "1.5", "33", "40", "4096", str(1 << 40),
               "99999999999999999999999"]
BAD_IDS = ["99", "0", "-1", "abc", "2 99", "1-", "5-2", "2-99", "0x2", "3 100-101"]
KINDS = ["watch", "rwatch", "awatch"]
FIXED = [
    "ignore 2 -1", "ignore 2 x", "condition 2-3 1", "ignore 2-99 1", "ignore 2", "ignore", "condition", "condition x 1",
    "stepi 0", "stepi -1", "stepi x", "si 2000000", "continue 0", "continue x", "continue -3", "c 1 2",
    "attach 1", "attach x", "attach 0", "attach -5",
    "quit 999", "quit x", "commands 99", "commands x", "end", "echo \\x", "help nosuchcmd", "help info nosuch",
    "backtrace 0", "bt x", "disassemble nosuchfn", "disassemble *0xffffffff81000000", "hbreak nosuch.c:1",
    "hbreak ui_counter.c:99999", "hbreak", "watch", "watch --trace", "rwatch --length 4", "info", "info nosuch",
    "info registers rbz", "info slots 1", "info proc maps", "info breakpoints x", "thread 7", "thread x",
    "thread -5", "x/0x &counter", "x/4q &counter", "x/4xx &counter", "x/100000xg &counter", "x/2s 0x10",
    "x/4xg 0x10", f"x/4xg {KERNEL}", f"x/i {NON_CANONICAL}", "x", "print", "print/", "print/xx 1", "print/x",
    "set", "set var", "set var counter", "set var 1 = 2", "set var nosuch = 1",
    "set var counter = @", "set var config = config", "set nosuch", "delete x", "watch counter --thread 7",
    "watch counter --thread x", "watch counter --priority x", "watch counter --priority 99999999999",
    "watch counter --nope", "watch 'counter", "watch counter if", "p 1 +", "p (", "p counter.flags",
    "p config.nosuch", "p *0", "p 1 / 0", "p $nosuch", "p $99", "p 'ab'", "p 0777", "frobnicate", "123",
    "@", "-watch", "/x 1", "st", "info b 99", "enable 99", "disable 0", "delete 2 99",
]


@pytest.fixture(scope="module")
def live(build_target):
    """ui_counter stopped at main, with a watchpoint and an access watchpoint installed."""
    exe = build_target("ui_counter")
    ctx, out = make_context(reraise=True)  # a non-hwdbg exception fails the test
    ctx.session.load([str(exe), "1000"])
    assert ctx.dispatch("start")
    assert ctx.dispatch("watch counter if new > 1000")
    assert ctx.dispatch("awatch config.flags --trace")
    assert sorted(ctx.session.breakpoints) == [2, 3]
    yield ctx, out, symbol(exe, "counter")
    ctx.close()


def snapshot(ctx) -> tuple:
    session = ctx.session
    inf = session.inferior
    bps = {i: (bp.to_json(), list(bp.commands), bp.enabled, bp.value) for i, bp in session.breakpoints.items()}
    regs = {tid: debugregs.read_all(tid) for tid in sorted(inf.threads)}
    return (bps, regs, inf.pid, inf.all_stopped, session.current_tid, ctx.collecting, len(ctx.values),
            sorted(ctx.temporary))


def check(live, line: str) -> str:
    ctx, out, _ = live
    before = snapshot(ctx)
    out.truncate(0)
    out.seek(0)
    ok = ctx.dispatch(line)
    text = out.getvalue()
    assert not ok, f"{line!r} was accepted: {text!r}"
    assert len(text.splitlines()) == 1 and text.startswith("*** "), (line, text)
    assert "Traceback" not in text
    assert snapshot(ctx) == before, line
    return text


expression_text = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789 +-*/%&|^~!<>()[].,'$:\\\"=?#\t",
                          max_size=40)
any_text = st.text(max_size=40)
unknown_word = st.from_regex(r"[a-z]{1,10}", fullmatch=True).filter(lambda w: REGISTRY.find(w) is None)
unknown_info = st.from_regex(r"[a-z]{1,10}", fullmatch=True).filter(
    lambda w: REGISTRY.lookup("info").subcommands.find(w) is None)


@st.composite
def malformed(draw) -> str:
    kind = draw(st.sampled_from(KINDS))
    expr = draw(st.one_of(expression_text, any_text))
    choice = draw(st.integers(0, 14))
    if choice == 0:
        return f"{kind} *{draw(st.sampled_from(BAD_ADDRESSES))}"
    if choice == 1:
        return f"hbreak *{draw(st.sampled_from(BAD_ADDRESSES))}"
    if choice == 2:  # 33, 40, 4096: watch takes them by page protection
        lengths = [n for n in BAD_LENGTHS if kind != "watch" or n not in ("33", "40", "4096")]
        return f"{kind} counter --length {draw(st.sampled_from(lengths))}"
    if choice == 3:  # unaligned with an explicit length that needs more than 4 debug registers
        offset = draw(st.integers(1, 7))
        length = draw(st.sampled_from([33, 40, 64, 100, 4096]))
        if kind == "watch":  # watch takes it by page protection: only over 1 GiB is it refused
            length += 1 << 30
        return f"{kind} *COUNTER{offset} --length {length}"
    if choice == 4:
        return f"{kind} {expr}{BAD}"
    if choice == 5:
        return f"{kind} counter if {expr}{BAD}"
    if choice == 6:
        return f"condition {draw(st.sampled_from(['2', '3']))} {expr}{BAD}"
    if choice == 7:
        verb = draw(st.sampled_from(["delete", "enable", "disable", "condition", "ignore", "commands"]))
        rest = " 1" if verb in ("condition", "ignore") else ""
        ids = draw(st.sampled_from([i for i in BAD_IDS if " " not in i] if rest else BAD_IDS))
        return f"{verb} {ids}{rest}"
    if choice == 8:
        return f"print {expr}{BAD}"
    if choice == 9:
        return f"x/{draw(st.sampled_from(['4xg', 's', '2i', 'c']))} {expr}{BAD}"
    if choice == 10:
        return f"set var {expr}{BAD}"
    if choice == 11:
        return f"{draw(unknown_word)} {expr}"
    if choice == 12:
        return f"{draw(st.sampled_from(['1', '@', '-', '/', '.', '!', '%']))}{expr}"
    if choice == 13:
        return f"info {draw(unknown_info)} {expr}"
    return draw(st.sampled_from(FIXED))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(line=malformed())
def test_malformed_input_changes_nothing(live, line):
    counter = live[2]
    match = re.search(r"\*COUNTER(\d)", line)
    if match:  # an unaligned address inside counter
        line = line.replace(match.group(0), f"*{counter + int(match.group(1)):#x}")
    if line.lstrip().startswith("#") or not line.strip():
        return  # comments and blank lines are not commands
    check(live, line)


@pytest.mark.parametrize("line", FIXED)
def test_fixed_corpus(live, line):
    check(live, line)


@pytest.mark.parametrize("address", BAD_ADDRESSES)
@pytest.mark.parametrize("kind", KINDS + ["hbreak"])
def test_bad_addresses(live, kind, address):
    text = check(live, f"{kind} *{address}")
    assert "Error" not in text


def test_specific_messages(live):
    counter = live[2]
    assert "not a user-space address" in check(live, f"watch *{KERNEL}")
    assert "not a user-space address" in check(live, f"watch *{NON_CANONICAL}")
    assert "not a user-space address" in check(live, f"awatch *{LAST_USER_PAGE}")
    assert "mmap_min_addr" in check(live, "watch *0")
    assert "debug registers" in check(live, f"awatch *{counter + 1:#x} --length 16")  # watch: page protection
    assert "length must be a positive" in check(live, "watch counter --length -4")
    assert "1 GiB" in check(live, f"watch counter --length {1 << 40}")
    assert "too long" in check(live, f"awatch counter --length {1 << 40}")
    assert "no breakpoint number 99" in check(live, "delete 2 99")


def test_json_error_line(live):
    ctx, _, _ = live
    import io
    from hwdbg.ui.render import JsonOutput
    saved = ctx.out
    stream = io.StringIO()
    ctx.out = JsonOutput(stream)
    try:
        assert not ctx.dispatch("watch counter --length 0")
    finally:
        ctx.out = saved
    [line] = stream.getvalue().splitlines()
    event = json.loads(line)
    assert event["event"] == "error" and event["kind"] == "UsageError"
    assert event["message"].endswith("[if CONDITION]") and "usage: watch EXPR" in event["message"]
