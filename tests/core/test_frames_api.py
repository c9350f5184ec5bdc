"""Target.frames(): function, file, line, args and locals as Python values, Frame.evaluate, and
scoped watches through the API, on frames_target.c at -O0 and -O2 (DWARF 4 and 5)."""
from __future__ import annotations

import pytest

import hwdbg
from hwdbg import records as rec
from hwdbg.errors import HwdbgError

pytestmark = pytest.mark.requires_ptrace

FLAVOURS = [("-O0", "-gdwarf-4"), ("-O0", "-gdwarf-5"), ("-O2", "-gdwarf-4"), ("-O2", "-gdwarf-5")]


@pytest.fixture
def spawn(build_target):
    targets = []

    def _spawn(*cflags: str) -> hwdbg.Target:
        target = hwdbg.spawn([str(build_target("frames_target", cflags=cflags))])
        targets.append(target)
        return target

    yield _spawn
    for target in targets:
        try:
            target.close()
        except HwdbgError:
            pass


@pytest.mark.parametrize("opt,dwarf", FLAVOURS)
def test_recursion_frames_have_their_own_arguments(spawn, opt, dwarf):
    target = spawn(opt, dwarf)
    target.break_at("fact", condition="n == 2")
    assert isinstance(target.cont(), rec.Stopped)
    frames = target.frames()
    assert [f.function for f in frames] == ["fact", "fact", "fact", "main"]
    assert [f.args["n"] for f in frames[:3]] == [2, 3, 4]
    assert [f.level for f in frames] == [0, 1, 2, 3]
    assert all(f.file.endswith("frames_target.c") for f in frames)
    assert frames[1].line == frames[2].line == 30  # r = n * fact(n - 1)
    assert frames[0].cfa < frames[1].cfa < frames[2].cfa < frames[3].cfa
    assert frames[1].evaluate("n * 10") == 30 and frames[2].evaluate("n + 1") == 5
    assert frames[3].locals["pr"] == {"a": 1, "b": 2}
    assert frames[3].args["argc"] in (1, None)  # -O2: optimized out after its last use


@pytest.mark.parametrize("opt,dwarf", FLAVOURS)
def test_nested_block_locals_and_struct_arguments(spawn, opt, dwarf):
    target = spawn(opt, dwarf)
    inner = target.break_at("frames_target.c:20")
    target.cont()
    frame = target.frames()[0]
    assert frame.function == "sum_pair" and frame.line in (17, 20)
    assert frame.args["scale"] == 2
    assert frame.evaluate("p->a + p->b") == 3 and frame.evaluate("scale") == 2
    if opt == "-O0":
        assert frame.locals == {"s": 0, "t": 2, "i": 0}  # the inner s shadows the outer one
        assert frame.evaluate("s") == 0
    inner.delete()
    target.break_at("by_value")
    target.cont()
    frame = target.frames()[0]
    assert frame.args == {"pr": {"a": 1, "b": 2}, "d": 1.5, "c": ord("x")}
    assert frame.locals == {"calls": 0}


def test_scoped_watch_through_the_api_ends_with_its_frame(spawn):
    target = spawn("-O0")
    entry = target.break_at("accumulate")
    target.cont()
    entry.delete()
    assert target.watch("total").delete() is None  # plain: the address, never scoped
    total = target.watch("total", scoped=True)
    assert all(bp._bp.scope is None for bp in target.breakpoints if bp.id != total.id)
    stops = []
    while True:
        result = target.cont()
        if not isinstance(result, rec.Stopped):
            break
        stops.append(result)
    assert [h.new for s in stops for h in s.hits][-5:] == [1, 5, 14, 30, 55]  # total += k * k, k = 1..5
    assert stops[-1].reason == "watchpoint-scope" and stops[-1].where.function == "main"
    assert total.id not in [bp.id for bp in target.breakpoints]
    assert result.code == 0  # the guard int3 went with the watch: the program ran to its end
