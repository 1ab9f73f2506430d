"""What a later batch does to the stored rings (``store.lineage.plan``), without a server."""

from __future__ import annotations

import doctest

import pytest

from linkage.lineage import Lineage
from linkage.results import Ring
from linkage.store import lineage, rows
from linkage.store.lineage import lineage_props, lineages, plan


def apply(stored: dict[str, set[str]], members: list[tuple[str, str]], todo: lineage.RingPlan) -> dict[str, set[str]]:
    """The stored memberships after a load: the run's added, the plan's dropped (what the Cypher does)."""
    out = {r: set(m) for r, m in stored.items()}
    for ring, account in members:
        out.setdefault(ring, set()).add(account)
    for ring, account in todo.drop_members:
        out[ring].discard(account)
    return out


def test_a_continuing_ring_keeps_members_the_batch_did_not_see_and_loses_those_it_placed_elsewhere():
    stored = {"r1": {"a", "b", "c", "x"}}
    members = [("r1", "a"), ("r1", "new"), ("r2", "b")]
    todo = plan(stored, members, in_run={"a", "b", "c"}, lineage={})
    after = apply(stored, members, todo)
    assert after["r1"] == {"a", "new", "x"}  # c left (seen, not placed), b moved, x not seen: stays
    assert after["r2"] == {"b"}
    assert todo.marks == {}


def test_a_split_ring_is_marked_with_its_successors():
    stored = {"old": {"a", "b", "z"}}
    members = [("s1", "a"), ("s2", "b")]
    lin = {"s1": Lineage("split", "b2", ["old"]), "s2": Lineage("split", "b2", ["old"])}
    todo = plan(stored, members, {"a", "b"}, lin)
    assert todo.marks == {"old": ("split", ["s1", "s2"])}
    assert apply(stored, members, todo)["old"] == {"z"}


def test_a_ring_that_continues_under_its_own_id_is_not_marked():
    stored = {"r1": {"a"}}
    todo = plan(stored, [("r1", "a")], {"a"}, {"r1": Lineage("continuing", "b1", ["r1"])})
    assert todo.marks == {} and todo.drop_members == []


def test_without_lineage_a_ring_whose_members_all_moved_is_superseded_and_a_partial_one_is_not():
    stored = {"gone": {"a", "b"}, "partly": {"c", "d"}}
    members = [("new", "a"), ("new", "b"), ("new", "c")]
    todo = plan(stored, members, {"a", "b", "c", "d"}, {})
    assert todo.marks == {"gone": ("superseded", ["new"])}
    assert apply(stored, members, todo)["partly"] == {"d"}  # seen but not placed: stays, the run says nothing of it


@pytest.mark.parametrize("lin", [{}, {"m": Lineage("merged", "b1", ["r1", "r2"])}])
def test_planning_again_after_the_load_changes_nothing(lin):
    """A re-load (or a re-run after a kill) finds nothing more to drop, and marks the same rings."""
    stored = {"r1": {"a", "b", "x"}, "r2": {"c"}, "r3": {"d"}}
    members = [("m", "a"), ("m", "c"), ("r3", "e")]
    seen = {"a", "b", "c", "d", "e"}
    first = plan(stored, members, seen, lin)
    after = apply(stored, members, first)
    second = plan(after, members, seen, lin)
    assert second.drop_members == []
    assert apply(after, members, second) == after
    assert {r: m for r, m in second.marks.items() if m[0] != "superseded"} == \
        {r: m for r, m in first.marks.items() if m[0] != "superseded"}


def test_lineage_is_read_from_rings_json_rings_and_stored_as_flat_properties():
    doc = {"ring_id": "r9", "score": 0.9, "size": 2, "members": ["a", "b"],
           "lineage": {"first_detected": "batch-1", "previous_ids": ["r1"],
                       "new_members": {"count": 2, "ids": ["a", "b"]}, "status": "continuing"}}
    got = lineages([Ring.from_dict(doc), Ring.from_dict({**doc, "ring_id": "r8", "lineage": None}),
                    Ring.from_dict({k: v for k, v in doc.items() if k != "lineage"})])
    assert list(got) == ["r9"]
    assert lineage_props(got["r9"]) == {"lineage": "continuing", "first_detected": "batch-1", "previous_ids": ["r1"],
                                        "new_members": 2}


def test_prefetch_hands_on_the_producers_error():
    def broken():
        yield 1
        raise ValueError("bad chunk")

    got = []
    with pytest.raises(ValueError, match="bad chunk"):
        for item in rows.prefetch(broken()):
            got.append(item)
    assert got == [1]


def test_prefetch_stops_its_thread_when_the_caller_stops_early():
    import threading

    before = threading.active_count()
    for item in rows.prefetch(iter(range(1000))):
        if item == 3:
            break
    assert threading.active_count() == before


def test_examples_in_the_docstrings_hold():
    for module in (lineage, rows):
        assert doctest.testmod(module).failed == 0
