"""Ring lineage as a pure function: continuation, growth, merge, split, tools, determinism."""

from __future__ import annotations

import random

from linkage.lineage import KnownRing, Lineage, TodayRing, continuations, match, overlap


def known(rid: str, members: range | list[str], first: str = "b1", tools: tuple[str, ...] = ()) -> KnownRing:
    return KnownRing(rid, frozenset(_ids(members)), first, frozenset(tools))


def today(rid: str, members: range | list[str], tools: tuple[str, ...] = ()) -> TodayRing:
    return TodayRing(rid, frozenset(_ids(members)), frozenset(tools))


def _ids(members: range | list[str]) -> list[str]:
    return [f"a{m:03d}" for m in members] if isinstance(members, range) else list(members)


def test_a_grown_ring_continues_and_lists_exactly_its_new_members() -> None:
    out = match([today("p1", range(0, 30))], [known("ring-old", range(0, 10))], "b2")
    rid, lin = out["p1"]
    assert rid == "ring-old"
    assert lin.status == "continuing" and lin.first_detected == "b1" and lin.previous_ids == ["ring-old"]
    assert lin.new_members == _ids(range(10, 30))  # Jaccard is 1/3 here; the overlap coefficient is 1


def test_a_ring_sharing_too_little_is_new_with_all_members_new() -> None:
    # 2 of 10 shared: overlap coefficient 0.2 < 0.5
    out = match([today("p1", list(_ids(range(0, 2))) + [f"z{i}" for i in range(8)])],
                [known("ring-old", range(0, 10))], "b2")
    rid, lin = out["p1"]
    assert rid == "p1" and lin.status == "new" and lin.first_detected == "b2" and lin.previous_ids == []
    assert len(lin.new_members) == 10


def test_one_shared_member_is_never_a_continuation() -> None:
    assert continuations([today("p1", range(0, 1))], [known("ring-old", range(0, 1))]) == []


def test_merge_keeps_the_oldest_id_and_lists_every_parent() -> None:
    out = match([today("p1", range(0, 20))],
                [known("ring-young", range(0, 10), first="b5"), known("ring-old", range(10, 15), first="b2")], "b6")
    rid, lin = out["p1"]
    assert rid == "ring-old" and lin.status == "merged" and lin.first_detected == "b2"
    assert lin.previous_ids == ["ring-old", "ring-young"] and lin.new_members == _ids(range(15, 20))


def test_merge_of_equally_old_rings_keeps_the_larger_then_the_smaller_id() -> None:
    out = match([today("p1", range(0, 20))], [known("ring-b", range(0, 10)), known("ring-a", range(10, 14))], "b2")
    assert out["p1"][0] == "ring-b"
    out = match([today("p1", range(0, 20))], [known("ring-b", range(0, 10)), known("ring-a", range(10, 20))], "b2")
    assert out["p1"][0] == "ring-a"


def test_split_the_largest_part_keeps_the_id_the_others_are_split() -> None:
    parent = known("ring-parent", range(0, 30))
    out = match([today("p-small", range(0, 10)), today("p-big", range(10, 30))], [parent], "b2")
    assert out["p-big"][0] == "ring-parent" and out["p-big"][1].status == "continuing"
    rid, lin = out["p-small"]
    assert rid == "p-small" and lin.status == "split" and lin.previous_ids == ["ring-parent"]
    assert lin.first_detected == "b2" and lin.new_members == []


def test_split_tie_goes_to_the_smaller_provisional_id() -> None:
    out = match([today("p-b", range(0, 10)), today("p-a", range(10, 20))], [known("ring-parent", range(0, 20))], "b2")
    assert out["p-a"][0] == "ring-parent" and out["p-b"][1].status == "split"


def test_merge_and_split_at_once() -> None:
    """Old X splits into N1 and N2; N1 also absorbs old Y: N1 merged (keeps the older id), N2 split."""
    out = match([today("n1", list(_ids(range(0, 15))) + list(_ids(range(100, 110)))), today("n2", range(15, 20))],
                [known("ring-x", range(0, 20), first="b1"), known("ring-y", range(100, 110), first="b3")], "b4")
    assert out["n1"][0] == "ring-x" and out["n1"][1].status == "merged"
    assert out["n1"][1].previous_ids == ["ring-x", "ring-y"]
    assert out["n2"] == ("n2", Lineage("split", "b4", ["ring-x"], []))


def test_tools_tie_a_ring_of_fresh_accounts_to_a_dormant_ring() -> None:
    tools = ("card:t1", "card:t2", "ip:1.2.3.4", "device:h1")
    out = match([today("p1", [f"new{i}" for i in range(10)], tools=tools)],
                [known("ring-dormant", range(0, 10), tools=tools[:3])], "b2")
    rid, lin = out["p1"]
    assert rid == "ring-dormant" and lin.status == "continuing" and len(lin.new_members) == 10


def test_tools_never_tie_to_a_ring_whose_members_are_active_today() -> None:
    tools = ("card:t1", "card:t2", "ip:1.2.3.4")
    out = match([today("p1", [f"new{i}" for i in range(10)], tools=tools), today("p2", range(0, 10))],
                [known("ring-live", range(0, 10), tools=tools)], "b2")
    assert out["p1"][1].status == "new" and out["p2"][0] == "ring-live"


def test_too_few_shared_tools_is_no_tie() -> None:
    out = match([today("p1", ["x1", "x2"], tools=("card:t1", "card:t2"))],
                [known("ring-dormant", range(0, 5), tools=("card:t1", "card:t2"))], "b2")
    assert out["p1"][1].status == "new"


def test_the_same_input_in_any_order_gives_the_same_answer() -> None:
    rng = random.Random(3)
    old = [known(f"ring-{k}", range(10 * k, 10 * k + 10), first=f"b{k % 3}") for k in range(8)]
    new = [today(f"p{k}", range(7 * k, 7 * k + 12)) for k in range(10)]
    first = match(new, old, "b9")
    for _ in range(5):
        rng.shuffle(old)
        rng.shuffle(new)
        assert match(new, old, "b9") == first
    finals = [rid for rid, _ in first.values()]
    assert len(finals) == len(set(finals))  # no two rings of one batch share an id


def test_lineage_round_trips_through_its_json_form() -> None:
    lin = Lineage("merged", "b1", ["ring-a", "ring-b"], ["x", "y"])
    doc = lin.to_dict()
    assert doc["new_members"] == {"count": 2, "ids": ["x", "y"]}
    assert Lineage.from_dict(doc) == lin


def test_overlap_coefficient() -> None:
    assert overlap(frozenset("ab"), frozenset("abcd")) == 1.0
    assert overlap(frozenset(), frozenset("a")) == 0.0
