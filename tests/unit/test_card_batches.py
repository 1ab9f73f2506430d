"""Card batches (``linkage.signals.card_batch``): how improbably one BIN pays for a community, worked by hand."""

from __future__ import annotations

import math

import duckdb
import pandas as pd
import pytest
from worldkit import START, World, add_regulars, add_ring

from linkage import Config, detect
from linkage.config import ScoringParams
from linkage.operations import card_batches_sql


@pytest.fixture
def batch():
    """200 accounts paying with their own cards; BIN V: 14 of them, P: 100, W: 6 (one verified org).

    Community 1 = accounts 0-5 and community 2 = 6-11, all on V; community 3 = 20-25 on P;
    community 4 = 130-135 on W, all employees of org-w.
    """
    con = duckdb.connect()
    bins = {a: "V" for a in range(12)} | {12: "V", 13: "V"} | {a: "P" for a in range(20, 120)}
    bins |= {a: "W" for a in range(130, 136)} | {a: f"own-{a}" for a in range(200) if a not in bins and a not in
                                                  range(130, 136)}
    rows = ", ".join(f"({a}, 'card_batch', '{b}')" for a, b in sorted(bins.items()))
    con.execute(f"CREATE TABLE incidence AS SELECT * FROM (VALUES {rows}) t(aid, family, entity)")
    members = [(1, a) for a in range(6)] + [(2, a) for a in range(6, 12)] + [(3, a) for a in range(20, 26)]
    members += [(4, a) for a in range(130, 136)]
    con.execute(f"CREATE TABLE members AS SELECT * FROM (VALUES {', '.join(map(str, members))}) t(cid, aid)")
    con.execute("CREATE TABLE accounts AS SELECT range AS aid, CASE WHEN range BETWEEN 130 AND 135 THEN 'org-w' "
                "ELSE '' END AS org_id FROM range(200)")
    return con


def test_a_community_paying_from_a_rare_bin_is_a_batch_and_a_popular_bin_is_not(batch):
    config = Config()
    batch.execute(f"CREATE TABLE card_batches AS {card_batches_sql(config)}")
    got = {r[0]: r[1:] for r in batch.execute(
        "SELECT cid, entity, holders, size, users_share, surprise FROM card_batches WHERE holders = (SELECT max(holders) FROM card_batches c WHERE c.cid = card_batches.cid) ORDER BY cid").fetchall()}
    # V: 14 of 200 payers, six of six members: 6 * ln(200 / 14), beyond -ln(1e-6) = 13.8.
    assert got[1][:3] == ("V", 6, 6) and got[1][3] == pytest.approx(14 / 200)
    assert got[1][4] == pytest.approx(6 * math.log(200 / 14))
    # P: half the batch pays with it; six of six is 6 * ln 2, no surprise worth the name.
    assert got[3][0] == "P" and got[3][4] == pytest.approx(6 * math.log(2))
    # W: six employees of one verified org hold it as one (its card programme), one of six.
    assert got[4][:2] == ("W", 1) and got[4][4] < 1
    passing = {r[0] for r in batch.execute("SELECT cid FROM card_batches WHERE passes").fetchall()}
    assert passing == {1, 2}


def test_a_community_joins_a_batch_others_pay_from_at_the_chance_of_one_community_among_those_tested(batch):
    """Community 5 = 12, 13 (V, the batch communities 1 and 2 pay from) and 150, 151 (own cards); community 6
    = 160, 161 (BIN R, which only they hold) and 162, 163. Two of four is no batch found anywhere in the
    run (chance 1e-6), but V is a batch already: joining it is one hypothesis per community tested (6),
    so a chance below 1/6 will do. R is nobody's batch, and the same two of four on it stay no batch."""
    batch.execute("INSERT INTO members VALUES (5, 12), (5, 13), (5, 150), (5, 151), (6, 160), (6, 161), (6, 162), "
                  "(6, 163)")
    batch.execute("UPDATE incidence SET entity = 'R' WHERE aid IN (160, 161)")
    batch.execute(f"CREATE TABLE card_batches AS {card_batches_sql(Config())}")
    got = {r[0]: r[1:] for r in batch.execute("SELECT cid, entity, surprise, passes FROM card_batches WHERE entity NOT LIKE 'own-%'")
           .fetchall()}
    assert len(got) == 6
    v = 4 * (0.5 * math.log(0.5 / (14 / 200)) + 0.5 * math.log(0.5 / (1 - 14 / 200)))
    assert got[5][0] == "V" and got[5][1] == pytest.approx(v) and math.log(6) < v < -math.log(1e-6)
    assert got[5][2] and not got[6][2]
    assert got[6][0] == "R" and got[6][1] > v  # R is rarer than V, yet founds no batch alone
    assert {c for c, r in got.items() if r[2]} == {1, 2, 5}


def _three_bins(popular: bool, bins_held: int = 3) -> duckdb.DuckDBPyConnection:
    """2,000 payers on their own cards; community 1 = accounts 0-29, ten on each of BINs A, B and C
    (the first ``bins_held`` of them; the others on cards of their own). ``popular``: 600 outsiders
    hold each BIN too."""
    con = duckdb.connect()
    bins = {a: "ABC"[a // 10] if a // 10 < bins_held else f"own-{a}" for a in range(30)}
    outsiders = range(30, 2000)
    bins |= {a: ("ABC"[(a - 30) // 600] if popular and a < 30 + 1800 else f"own-{a}") for a in outsiders}
    con.execute("CREATE TABLE incidence AS SELECT * FROM (VALUES "
                + ", ".join(f"({a}, 'card_batch', '{b}')" for a, b in sorted(bins.items())) + ") t(aid, family, entity)")
    con.execute("CREATE TABLE members AS SELECT 1 AS cid, range AS aid FROM range(30)")
    con.execute("CREATE TABLE accounts AS SELECT range AS aid, '' AS org_id FROM range(2000)")
    con.execute(f"CREATE TABLE card_batches AS {card_batches_sql(Config())}")
    return con


def test_a_community_paying_from_three_rare_bins_pays_from_batches_though_none_covers_half():
    """A third of the community on each of three BINs nobody else holds: each BIN alone is a third, short
    of ``min_coverage``, and each is improbable on its own (30 * KL(1/3 || 1/200) = 34, beyond 13.8). The
    members holding any of them are all 30: the community pays from batches, through all three; it is
    tied to nobody through them (``main``), since none alone pays for most of it. Regression: the most-held BIN alone was tested, and a
    ring buying its cards from three issuers was no batch (GLASS-HERON in the first days of a replay)."""
    con = _three_bins(popular=False)
    got = con.execute("SELECT entity, holders, covered, surprise, main, passes FROM card_batches ORDER BY entity"
                      ).fetchall()
    q, share = 1 / 3, 10 / 2000
    kl = 30 * (q * math.log(q / share) + (1 - q) * math.log((1 - q) / (1 - share)))
    assert [r[:3] for r in got] == [("A", 10, 30), ("B", 10, 30), ("C", 10, 30)]
    assert all(r[3] == pytest.approx(kl) for r in got)
    assert not any(r[4] for r in got) and all(r[5] for r in got)


def test_popular_bins_or_one_rare_bin_for_a_third_are_no_batch():
    """The same thirds on BINs 600 of 2,000 payers hold are what anyone's cards look like; one rare BIN
    for a third of the community (the rest on their own cards) covers a third."""
    popular = _three_bins(popular=True)
    assert popular.execute("SELECT count(*) FILTER (WHERE passes), max(surprise) FROM card_batches").fetchone()[0] == 0
    one = _three_bins(popular=False, bins_held=1)
    assert one.execute("SELECT entity, covered, passes FROM card_batches WHERE entity = 'A'").fetchall() == [("A", 10, False)]


def test_the_chance_bound_is_a_knob(batch):
    """The same community passes or not as the analyst's tolerated chance moves past its bound."""
    bound = math.exp(-6 * math.log(200 / 14))
    strict = Config(scoring=ScoringParams(batch_chance=bound / 2))
    lenient = Config(scoring=ScoringParams(batch_chance=bound * 2))
    for config, expected in ((strict, set()), (lenient, {1, 2})):
        batch.execute(f"CREATE OR REPLACE TABLE card_batches AS {card_batches_sql(config)}")
        got = {r[0] for r in batch.execute("SELECT cid FROM card_batches WHERE passes").fetchall()}
        assert got == expected


def two_rings(bin: str) -> World:
    """Two rings with nothing in common (own proxies, harness, domain, template, sign-up weeks apart), each
    account with a card of its own from BIN ``bin``, among ordinary users half of whom pay on BIN 520000."""
    w = World(seed=23)
    add_ring(w, "ringa", n=24, requests=120, card_share=1, bin=bin)
    add_ring(w, "ringz", n=24, requests=120, card_share=1, bin=bin, base_ip="100.64.9", device="harness-z",
             domain="zz-mail.top", asn=16276,
             template="summarise the repository {} into an agent plan with tool calls for {} in yaml",
             t0=START + pd.Timedelta(days=20))
    add_regulars(w, n=160)
    return w


def test_two_rings_paying_from_one_card_batch_are_one_operation_and_intel_on_one_names_both(tmp_path):
    """All their cards from one virtual-card BIN the ordinary users do not use: one buyer, one operation."""
    w = two_rings("537410")
    w.intel += [{"operator": "CRIMSON-LATHE", "kind": "instrument", "value": "tok_ringa_0", "note": "card"}]
    result = detect(w.write(tmp_path / "batch"))
    by_label = {w.truth[m]: r for r in result.rings for m in r.members}
    assert set(by_label) == {"ringa", "ringz"}
    assert by_label["ringa"].operation == by_label["ringz"].operation
    assert by_label["ringa"].operator == by_label["ringz"].operator == "CRIMSON-LATHE"
    batch_shares = {r.features["payment_share"] for r in result.rings}
    assert batch_shares == {1.0}  # every member pays from the ring's batch, though no card is shared


def test_fresh_cards_of_a_common_bin_tie_nobody(tmp_path):
    """The same two rings on the BIN most ordinary users pay with: no batch, two operations."""
    w = two_rings("520000")
    result = detect(w.write(tmp_path / "batch"))
    by_label = {w.truth[m]: r for r in result.rings for m in r.members}
    assert set(by_label) == {"ringa", "ringz"}
    assert by_label["ringa"].operation != by_label["ringz"].operation


def test_a_ring_paying_a_third_from_each_of_three_bins_pays_from_batches_and_is_tied_through_none(tmp_path):
    """ringz's cards come a third each from three BINs, one of them the BIN ringa pays from in full. ringz
    pays from batches (every member holds a card of one), but a third of it on ringa's BIN says its operator
    bought from the same issuer, not that it is ringa's: two operations (held-out world H4: a mimicry
    operation with no intel was attributed to GLASS-HERON through an issuer both bought from)."""
    w = World(seed=23)
    add_ring(w, "ringa", n=24, requests=120, card_share=1, bin="537410")
    add_ring(w, "ringz", n=30, requests=120, card_share=1, bin="537410", base_ip="100.64.9", device="harness-z",
             domain="zz-mail.top", asn=16276,
             template="summarise the repository {} into an agent plan with tool calls for {} in yaml",
             t0=START + pd.Timedelta(days=20))
    add_regulars(w, n=1000)  # 500 payers on BIN 520000: ten of 554 payers on a BIN is a rare draw
    for p in w.payments:
        if p["account_id"].startswith("ringz"):
            p["bin"] = ("537410", "537411", "537412")[int(p["account_id"][-3:]) % 3]
    result = detect(w.write(tmp_path / "batch"))
    by_label = {w.truth[m]: r for r in result.rings for m in r.members}
    assert set(by_label) == {"ringa", "ringz"}
    assert by_label["ringa"].operation != by_label["ringz"].operation
    assert by_label["ringz"].features["payment_share"] == 1.0  # every member pays from one of its batches
