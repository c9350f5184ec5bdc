"""The owners of internal int3s never collide: a scoped watch's guard is told apart from the step
engine's, a call's and the loader's int3 at the same address (the site keeps a set of owners)."""
from hypothesis import given, strategies as st

from hwdbg.session import scoped
from hwdbg.session.dummies import CALL
from hwdbg.session.ifunc_stops import RETURN
from hwdbg.session.softstops import SoftStops

INTERNAL = (SoftStops.LOADER, SoftStops.STEP, CALL, RETURN)
BP_IDS = st.integers(min_value=1, max_value=(1 << 31))


@given(BP_IDS)
def test_a_guard_names_its_watch_and_no_other_owner(bp_id: int) -> None:
    owner = scoped.guard_owner(bp_id)
    assert scoped.guarded_id(owner) == bp_id
    assert owner not in INTERNAL and owner < 0  # user breakpoints own their int3s by their positive id


@given(BP_IDS)
def test_no_other_owner_is_taken_for_a_guard(bp_id: int) -> None:
    assert scoped.guarded_id(bp_id) is None  # a user breakpoint's int3
    for owner in INTERNAL:
        assert scoped.guarded_id(owner) is None


def test_the_guards_of_watch_1_and_2_are_not_the_step_engines_or_a_calls() -> None:
    # watch 1 or 2 used to own its guard as -1 / -2: the step engine's and a call's owners
    assert {scoped.guard_owner(1), scoped.guard_owner(2)}.isdisjoint(INTERNAL)
