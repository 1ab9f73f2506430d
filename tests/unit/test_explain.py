"""``linkage explain --from OUT`` on a hand-made world whose arithmetic is known to the last digit.

Besides two harvesting rings and ordinary users, the world holds pairs built for one rule each:
a pair whose IP family is capped, a pair whose template n-grams are averaged, a pair below the
least link weight, a pair cut by the org discount, a pair short of the template family's
``min_shared``, and a ring whose one harness device is past the device cap.
"""

from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest
from click.testing import CliRunner
from worldkit import START, World, add_regulars, add_ring

from linkage import Config, detect
from linkage.cli import main
from linkage.errors import InputError
from linkage.explain import Explanation, RingRef, explain_from_out, format_explanation
from linkage.explain.text import ring_lines

OTHER_TEMPLATE = "refactor the legacy {} module into small pure functions and document every {} edge case"
P1 = "zebra quokka narwhal axolotl pangolin okapi tapir"  # 7 words: 4 shingles
P2 = "marmot ibex lynx wombat kiwi"  # 5 words: 2 shingles
LONE = "aardvark bongo civet dingo"  # 4 words: one shingle


def _plain(w: World, aid: str, *, day: int, ip: str, device: str, email: str | None = None, org: str | None = None,
           prompts: tuple[str, ...] = (), card: str | None = None) -> None:
    """An ordinary account: created long before the batch, a few requests, the prompts given (or random ones)."""
    created = START - pd.Timedelta(days=100 + day, minutes=37 * len(w.accounts))  # no two in one sign-up window
    w.account(aid, created, email or f"{aid}@gmail.com", "regular", org=org)
    if card:
        w.payments.append({"account_id": aid, "instrument_id": card, "instrument_type": "card", "bin": "520000"})
    for k, prompt in enumerate(prompts or tuple(w.random_prompt() for _ in range(4))):
        w.request(aid, START + pd.Timedelta(days=day, hours=k), ip, 7922, device, prompt)


def _pairs(w: World) -> dict[str, tuple[str, str]]:
    """Hand-made pairs, one per rule of the link arithmetic (see each line)."""
    # sum and family cap: one card only they use (3 / 1 = 3, cap 3) and three IPs only they use (3 × 1, capped at 1)
    for i, aid in enumerate(("sum-p", "sum-q")):
        _plain(w, aid, day=i, ip="10.50.0.1", device=f"dev-{aid}", card="tok_sum")
        for k in (2, 3):
            w.request(aid, START + pd.Timedelta(days=5 + k), f"10.50.0.{k}", 7922, f"dev-{aid}", w.random_prompt())
    # below the least link weight: an email domain 40 accounts share (1.5 / 39 = 0.0385 < 0.05)
    for i in range(40):
        _plain(w, f"dom-{i:02d}", day=i % 30, ip=f"10.51.{i}.1", device=f"dev-dom-{i}", email=f"d{i}@corp-x.example")
    # org discount: an IP five accounts share (1 / 4 = 0.25), two of them in one verified org (× 0.05 = 0.0125)
    for i, aid in enumerate(("org-a", "org-b", "orgip-0", "orgip-1", "orgip-2")):
        _plain(w, aid, day=i, ip="10.52.0.1", device=f"dev-{aid}", org="org_test" if aid.startswith("org-") else None)
    # template mean: a, b, c share P1 (4 shingles, 3 accounts: 0.5 each); a and b share P2 (2 shingles: 1 each)
    for aid, phrases in (("tmean-a", (P1, P2)), ("tmean-b", (P1, P2)), ("tmean-c", (P1,))):
        prompts = tuple(f"{p} {w.random_prompt(3)}" for p in phrases for _ in range(3))
        _plain(w, aid, day=3, ip=f"10.53.0.{ord(aid[-1])}", device=f"dev-{aid}", prompts=prompts)
    # min_shared: one shingle both reuse, fewer than the template family's 3 (would add 1 / 1 = 1)
    for aid in ("lone-a", "lone-b"):
        _plain(w, aid, day=4, ip=f"10.54.0.{ord(aid[-1])}", device=f"dev-{aid}",
               prompts=tuple(f"{LONE} {w.random_prompt(3)}" for _ in range(3)))
    return {"sum": ("sum-p", "sum-q"), "below": ("dom-00", "dom-01"), "org": ("org-a", "org-b"),
            "mean": ("tmean-a", "tmean-b"), "min_shared": ("lone-a", "lone-b")}


def _bridge(w: World) -> tuple[str, str, str]:
    """Three ordinary accounts: P and M share a card, M and Q a laptop; P and Q share nothing of weight."""
    ids = ("bridge-p", "bridge-m", "bridge-q")
    for i, aid in enumerate(ids):
        w.account(aid, START - pd.Timedelta(days=50 + i), f"{aid}@gmail.com", "regular")
    w.payments += [{"account_id": "bridge-p", "instrument_id": "tok_bridge_pm", "instrument_type": "card", "bin": "520000"},
                   {"account_id": "bridge-m", "instrument_id": "tok_bridge_pm", "instrument_type": "card", "bin": "520000"}]
    for k in range(6):
        ts = START + pd.Timedelta(days=k, hours=3)
        w.request("bridge-p", ts, "10.9.0.1", 7922, "dev-bridge-p", w.random_prompt())
        w.request("bridge-m", ts + pd.Timedelta(hours=5), "10.9.0.2", 7922, "dev-bridge-mq", w.random_prompt())
        w.request("bridge-q", ts + pd.Timedelta(hours=9), "10.9.0.3", 7922, "dev-bridge-mq", w.random_prompt())
    return ids


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(seed=3)
    ring = add_ring(w, "ringa", n=12, requests=60)
    big = add_ring(w, "ringb", n=64, requests=30, base_ip="198.18.7", domain="mail-b.top", template=OTHER_TEMPLATE,
                   t0=START + pd.Timedelta(days=20))
    regulars = add_regulars(w, n=40, requests=6)
    bridge = _bridge(w)
    pairs = _pairs(w)
    folder = w.write(tmp_path_factory.mktemp("explain_world"))
    out = tmp_path_factory.mktemp("explain_out")
    detect(folder, Config(), out=out)
    return {"data": folder, "out": out, "ring": ring, "big": big, "regulars": regulars, "bridge": bridge, "pairs": pairs}


def _family(exp, name):
    (f,) = [f for f in exp.weighing.families if f.family == name]
    return f


# --- the arithmetic, rule by rule ------------------------------------------------------------------


def test_the_world_is_read_whole(world):
    assert (world["out"] / "rejected.csv").read_text().splitlines()[1:] == []


def test_sum_and_the_family_cap(world):
    exp = explain_from_out(world["out"], *world["pairs"]["sum"])
    card, ip = _family(exp, "payment"), _family(exp, "ip")
    assert (card.weighted, card.value, card.adds, card.cut) == (1, 3.0, 3.0, None)
    assert (ip.weighted, ip.weight_sum, ip.value, ip.cap, ip.adds, ip.cut) == (3, 3.0, 3.0, 1.0, 1.0, "cap")
    assert exp.linked and exp.weighing.cut is None
    assert exp.link["weight"] == pytest.approx(4.0) == exp.weighing.weight
    assert exp.link["per_family"] == pytest.approx({"payment": 3.0, "ip": 1.0})
    text = format_explanation(exp)
    assert "IP (3 shared): sum of pair weights 3, over the family cap 1 → adds 1" in text
    assert "card (1 shared): sum of pair weights 3 (family cap 3) → adds 3" in text
    assert "Total: card 3 + IP 1 = 4 ≥ the least link weight 0.05: linked" in text
    assert "Shortest evidence paths" not in text and exp.notes == []


def test_template_ngrams_are_averaged_not_summed(world):
    exp = explain_from_out(world["out"], *world["pairs"]["mean"])
    tpl = _family(exp, "prompt")
    assert (tpl.shared, tpl.weighted, tpl.combine) == (6, 6, "mean")
    assert tpl.weight_sum == pytest.approx(4 * 0.5 + 2 * 1.0)
    assert tpl.value == tpl.adds == pytest.approx(4.0 / 6)
    assert exp.link["per_family"]["prompt"] == pytest.approx(4.0 / 6)
    lines = {s["text"]: s["pair_weight"] for s in exp.shared if s["family"] == "prompt"}
    assert lines == pytest.approx({"zebra quokka narwhal axolotl": 0.5, "quokka narwhal axolotl pangolin": 0.5,
                                   "narwhal axolotl pangolin okapi": 0.5, "axolotl pangolin okapi tapir": 0.5,
                                   "marmot ibex lynx wombat": 1.0, "ibex lynx wombat kiwi": 1.0})
    text = format_explanation(exp)
    assert ("template n-gram (6 shared): pair weights sum to 4, mean 4 / 6 = 0.6667 (the n-grams of one template "
            "count once; family cap 1) → adds 0.6667") in text
    assert 'template n-gram "marmot ibex lynx wombat"  (2 accounts; pair weight 1)' in text
    assert all(len(s["entity"]) == 16 for s in exp.shared if s["family"] == "prompt")
    assert not any(s["entity"] in text for s in exp.shared if s["family"] == "prompt"), "words, never hex ids"


def test_below_the_least_link_weight_says_what_it_would_weigh(world):
    a, b = world["pairs"]["below"]
    exp = explain_from_out(world["out"], a, b)
    assert not exp.linked and exp.weighing.cut == "min_link_weight"
    assert exp.weighing.weight == pytest.approx(1.5 / 39)
    text = format_explanation(exp)
    assert text.splitlines()[0] == (f"{a} and {b} are not directly linked: what they share weighs 0.0385, below the "
                                    "least link weight 0.05 (min_link_weight).")
    assert "Total: email domain 0.0385 < the least link weight 0.05 (min_link_weight): no link" in text
    assert "Shortest evidence paths" not in text  # they share a weighted entity: no 1-hop "path"


def test_the_org_discount_cut(world):
    a, b = world["pairs"]["org"]
    exp = explain_from_out(world["out"], a, b)
    w = exp.weighing
    assert (w.org, w.discount, w.cut) == ("org_test", 0.05, "org_discount")
    assert w.before_discount == pytest.approx(0.25) and w.weight == pytest.approx(0.0125)
    assert format_explanation(exp).splitlines()[0] == (
        f"{a} and {b} are not directly linked: what they share weighs 0.25, but both belong to the verified org "
        "org_test, so it counts ×0.05 = 0.0125, below the least link weight 0.05 (min_link_weight).")
    assert explain_from_out(world["out"], a, "orgip-0").linked  # the same IP links them outside the org


def test_too_few_template_ngrams_for_min_shared(world):
    a, b = world["pairs"]["min_shared"]
    exp = explain_from_out(world["out"], a, b)
    tpl = _family(exp, "prompt")
    assert (tpl.weighted, tpl.min_shared, tpl.adds, tpl.would_add, tpl.cut) == (1, 3, 0.0, 1.0, "min_shared")
    assert exp.weighing.cut == "min_shared" and not exp.linked
    text = format_explanation(exp)
    assert "too few weighted template n-grams for the family to count (min_shared)" in text.splitlines()[0]
    assert "1 weighted is fewer than the 3 this family needs (min_shared) → adds 0 (would add 1)" in text
    assert 'template n-gram "aardvark bongo civet dingo"' in text


def test_a_device_only_ring_members_use_is_a_hub_past_the_cap(world):
    a, b = world["big"][0], world["big"][1]
    exp = explain_from_out(world["out"], a, b)
    (dev,) = [s for s in exp.shared if s["family"] == "device"]
    assert (dev["accounts"], dev["cap"], dev["hub"], dev["pair_weight"], dev["in_rings"]) == (64, 60, True, 0.0, 64)
    text = format_explanation(exp)
    assert ("device harness-ringb  (64 accounts, 64 of them in flagged rings; hub: shared by 64 accounts, past the "
            "device cap of 60: carries no weight)") in text
    assert "every one of them is a ring member" in text and "cap is absolute" in text
    assert _family(exp, "device").adds == 0


# --- rings, agreement, paths -----------------------------------------------------------------------


def test_family_lines_add_up_to_the_link_on_every_linked_ring_pair(world):
    members = world["ring"]
    for b in members[1:]:
        exp = explain_from_out(world["out"], members[0], b)
        if not exp.linked:
            continue
        assert exp.notes == []
        for f in exp.weighing.families:
            rows = [s["pair_weight"] for s in exp.shared if s["family"] == f.family and s["pair_weight"] > 0]
            assert f.weight_sum == pytest.approx(sum(rows)) and f.weighted == len(rows)
            assert f.adds == pytest.approx(exp.link["per_family"].get(f.family, 0.0))
        assert exp.weighing.weight == pytest.approx(exp.link["weight"])


def test_rings_are_named_with_score_and_operator(world):
    a, b = world["ring"][0], world["ring"][1]
    exp = explain_from_out(world["out"], a, b)
    doc = json.loads((world["out"] / "rings.json").read_text())
    (ring,) = [r for r in doc["rings"] if a in r["members"]]
    assert [(r.ring_id, r.members, r.operation) for r in exp.rings] == [(ring["ring_id"], [a, b], ring["operation"])]
    assert ring["operation"].startswith("operation-")
    text = format_explanation(exp)
    assert f"Both are members of {ring['ring_id']} (score {round(ring['score'], 4):g}, 12 members" in text
    one = explain_from_out(world["out"], a, world["regulars"][0])
    assert f"{world['regulars'][0]} is a member of no flagged ring." in format_explanation(one)


def test_members_of_two_rings_of_one_operation_are_told_so():
    """Rings of one operator rarely share accounts; the operation is what ties the two accounts."""
    exp = Explanation("acc_a", "acc_b", "out", rings=[
        RingRef("ring-1", 0.9, 10, None, "unattributed-op1", 0.0, ["acc_a"], "operation-op1"),
        RingRef("ring-2", 0.8, 12, None, "unattributed-op1", 0.0, ["acc_b"], "operation-op1")])
    lines = ring_lines(exp)
    assert lines[:2] == ["acc_a is a member of ring-1 (score 0.9, 10 members, unattributed: unattributed-op1).",
                         "acc_b is a member of ring-2 (score 0.8, 12 members, unattributed: unattributed-op1)."]
    assert lines[2].startswith("Their rings belong to one operation, operation-op1:")
    exp.rings[1].operation = "operation-op2"
    assert len(ring_lines(exp)) == 2


def test_a_bystander_is_told_why_it_is_not_flagged():
    exp = Explanation("acc_a", "acc_b", "out", rings=[
        RingRef("ring-1", 0.9, 10, "OP", "OP", 1.0, ["acc_a"], "operation-op1", ["acc_b"])])
    lines = ring_lines(exp)
    assert lines[0] == "acc_a is a member of ring-1 (score 0.9, 10 members, operator OP, confidence 1)."
    assert lines[1].startswith("acc_b is a bystander of ring-1 (score 0.9, 10 members, operator OP, confidence 1): "
                               "in its community, but it uses fewer of the ring's linking entities")
    assert len(lines) == 2


def test_two_ring_members_share_their_card_harness_and_domain(world):
    a, b = world["ring"][0], world["ring"][1]  # card_share=6: members 0-5 pay with tok_ringa_0
    exp = explain_from_out(world["out"], a, b)
    assert exp.linked and {"payment", "device", "email"} <= set(exp.link["signals"])
    shared = {(s["family"], s["entity"]): s for s in exp.shared}
    card = shared[("payment", "tok_ringa_0")]
    assert card["accounts"] == 6 and not card["hub"] and card["pair_weight"] > 0
    asn = shared[("asn", "14061")]  # context only: ASNs carry nothing
    assert asn["pair_weight"] == 0 and asn["cap"] is None
    assert exp.paths == [] and exp.neighbours is None  # directly linked: no path search
    text = format_explanation(exp)
    assert text.startswith(f"{a} and {b} are directly linked: weight")
    assert "card tok_ringa_0  (6 accounts; pair weight 0.6)" in text
    assert "ASN (1 shared): context only, no link weight" in text


def test_two_unrelated_regulars_are_not_linked(world):
    a, b = world["regulars"][1], world["regulars"][3]
    exp = explain_from_out(world["out"], a, b)
    assert not exp.linked and not exp.connected and exp.paths == []
    assert all(s["pair_weight"] == 0 for s in exp.shared)
    assert format_explanation(exp).splitlines()[0] == f"{a} and {b} are not linked."


def test_a_path_through_an_intermediate_account(world):
    p, m, q = world["bridge"]
    exp = explain_from_out(world["out"], p, q)
    assert not exp.linked and not any(s["pair_weight"] > 0 for s in exp.shared)
    assert exp.connected and exp.paths
    best = exp.paths[0]
    assert best["hops"] == 2 and best["accounts"] == [p, m, q]
    assert [(s["family"], s["entity"]) for s in best["steps"]] == [("payment", "tok_bridge_pm"),
                                                                  ("device", "dev-bridge-mq")]
    assert best["cost"] == 2 and best["weakest"] > 0
    text = format_explanation(exp)
    assert "Shortest evidence paths (2 hops, via 1 intermediate account)" in text
    assert f"{p} —[card tok_bridge_pm (2 accounts)]— {m} —[device dev-bridge-mq (2 accounts)]— {q}" in text
    assert exp.neighbours == {"common": 1, "best": [{"account_id": m, "weight_a": pytest.approx(3.0),
                                                     "weight_b": pytest.approx(2.0)}]}
    assert f"The evidence graph links 1 account to both; the strongest: {p} —3— {m} —2— {q}." in text


def test_paths_are_limited_to_two_intermediate_accounts(world):
    p, _, q = world["bridge"]
    exp = explain_from_out(world["out"], p, q, max_intermediate=0)
    assert exp.paths == [] and not exp.connected


def test_unknown_and_identical_accounts_are_errors(world):
    with pytest.raises(InputError, match="unknown account 'nobody'"):
        explain_from_out(world["out"], world["ring"][0], "nobody")
    with pytest.raises(InputError, match="same account"):
        explain_from_out(world["out"], "x", "x")
    with pytest.raises(InputError, match="not the output folder"):
        explain_from_out(world["out"] / "evidence", "x", "y")


# --- the CLI in every format -------------------------------------------------------------------------


def test_cli_text_json_csv_and_errors(world):
    runner = CliRunner()
    p, m, q = world["bridge"]
    base = ["explain", p, q, "--from", str(world["out"])]
    res = runner.invoke(main, base)
    assert res.exit_code == 0, res.output
    assert "via 1 intermediate account" in res.output
    for flags in (["--format", "json"], ["--json"]):
        doc = json.loads(runner.invoke(main, base + flags).output)
        assert doc["linked"] is False and doc["connected"] is True and doc["paths"][0]["accounts"] == [p, m, q]
        assert doc["weighing"]["cut"] == "nothing" and doc["rings"] == []
    a, b = world["pairs"]["sum"]
    res = runner.invoke(main, ["explain", a, b, "--from", str(world["out"]), "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(res.output)))
    assert {(r["family"], r["entity"], r["pair_weight"]) for r in rows if r["family"] not in ("asn", "prefix")} == {
        ("payment", "tok_sum", "3.0"), ("ip", "10.50.0.2", "1.0"), ("ip", "10.50.0.3", "1.0"),
        ("ip", "10.50.0.1", "1.0")}
    assert list(rows[0]) == ["a", "b", "family", "entity", "name", "accounts", "hub", "cap", "in_rings", "pair_weight"]
    res = runner.invoke(main, ["explain", p, "ghost", "--from", str(world["out"])])
    assert res.exit_code != 0 and res.output.strip() == "linkage: error: unknown account 'ghost' " \
        f"(not in {world['out'] / 'evidence' / 'accounts.parquet'})"
    res = runner.invoke(main, ["explain", p, q])
    assert res.exit_code == 2 and "exactly one of --from OUT or --neo4j" in res.output
    res = runner.invoke(main, base + ["--json", "--format", "csv"])
    assert res.exit_code == 2 and "disagree" in res.output


def test_template_hubs_keep_their_words(world, tmp_path):
    """With a template cap of 20, ringb's 64 members' shared n-grams are hubs: still named by their words."""
    import dataclasses

    base = Config().families
    config = Config(families={**base, "prompt": dataclasses.replace(base["prompt"], cap=20)})
    out = tmp_path / "out"
    detect(world["data"], config, out=out)
    exp = explain_from_out(out, world["big"][0], world["big"][1])
    hubs = [s for s in exp.shared if s["family"] == "prompt" and s["hub"]]
    assert hubs and all(s["text"] and s["cap"] == 20 for s in hubs)
    text = format_explanation(exp)
    assert f'template n-gram "{hubs[0]["text"]}"  (64 accounts, 64 of them in flagged rings; hub: shared by 64 ' \
           "accounts, past the template n-gram cap of 20: carries no weight)" in text
    assert "Template n-grams past the cap still count towards a ring's template share in scoring." in text
    assert not any(s["entity"] in text for s in hubs)
    keys = {s["entity"] for s in hubs}
    assert not [k for k in keys if k in (out / "report.html").read_text() + (out / "rings.json").read_text()]
