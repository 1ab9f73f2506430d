"""Each scoring feature is one SQL builder: checked here on toy tables with answers worked out by hand."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from linkage import scoring
from linkage.config import Config
from linkage.scoring import Roles


@pytest.fixture
def toy():
    """Two communities: 1 = {1, 2, 3, 4} (three linked by ip, all four sharing a card), 2 = {5, 6}."""
    con = duckdb.connect()
    con.execute("CREATE TABLE members AS SELECT * FROM (VALUES (1, 1), (1, 2), (1, 3), (1, 4), (2, 5), (2, 6)) "
                "t(cid, aid)")
    con.execute("""CREATE TABLE links AS SELECT * FROM (VALUES
                   (1, 2, 1.0, 1.0, 0.0), (2, 3, 0.5, 0.5, 0.0), (5, 6, 3.0, 0.0, 3.0))
                   t(a, b, weight, w_ip, w_payment)""")
    con.execute("""CREATE TABLE incidence AS SELECT * FROM (VALUES
                   (1, 'payment', 'card-1'), (2, 'payment', 'card-1'), (3, 'payment', 'card-1'),
                   (4, 'payment', 'card-2'), (5, 'payment', 'card-3'), (6, 'payment', 'card-3'))
                   t(aid, family, entity)""")
    con.execute("""CREATE TABLE acct_windows AS SELECT * FROM (VALUES
                   (1, 100, 5), (2, 100, 5), (3, 100, 5), (4, 200, 5), (5, 100, 1), (6, 300, 1))
                   t(aid, win, requests)""")
    con.execute("""CREATE TABLE acct_activity AS SELECT * FROM (VALUES
                   (1, 100, 100), (2, 100, 0), (3, 100, 0), (4, 100, 0), (5, 1, 0), (6, 3, 0), (7, 2, 0))
                   t(aid, requests, hosting_requests)""")
    con.execute("CREATE TABLE accounts AS SELECT range AS aid, NULL::VARCHAR AS org_id FROM range(1, 8)")
    # No phrase marks: templated shares fall back on each phrase's count (as from a stored graph).
    con.execute("CREATE TABLE template_marks (aid INTEGER, family VARCHAR, entity VARCHAR, marks BIGINT)")
    config = Config()
    roles = Roles(weighted=["ip", "payment"], templates=[], infrastructure=["ip", "payment"])
    return con, config, roles


def _run(con, config, roles, name):
    sql = scoring.FEATURES_SQL[name](config, roles)
    con.execute(f"CREATE OR REPLACE TABLE f_{name} AS {sql}")
    return {r[0]: r[1:] for r in con.execute(f"SELECT * FROM f_{name} ORDER BY 1").fetchall()}


def test_size_and_inner_links(toy):
    con, config, roles = toy
    assert _run(con, config, roles, "size") == {1: (4,), 2: (2,)}
    assert _run(con, config, roles, "inner_links") == {1: (2, 1.5, 0.0), 2: (1, 0.0, 3.0)}


def test_coverage_counts_members_each_family_links(toy):
    con, config, roles = toy
    # community 1: ip links 1-2 and 2-3 -> 3 members; payment links none. community 2: payment covers both.
    assert _run(con, config, roles, "coverage") == {1: (3, 0), 2: (0, 2)}


def test_links_inside_one_verified_org_cover_no_member(toy):
    """Accounts 1 and 2 are one verified org: their ip link is declared, not covert; 2-3 still counts."""
    con, config, roles = toy
    con.execute("UPDATE accounts SET org_id = 'org-1' WHERE aid IN (1, 2)")
    assert _run(con, config, roles, "coverage") == {1: (2, 0), 2: (0, 2)}


def test_shares_count_members_sharing_a_card_with_enough_members(toy):
    con, config, roles = toy
    got = _run(con, config, roles, "shares")
    assert got[1][0] == 3 and got[2][0] == 2  # payment_share_n: card-1 has 3 users (k >= 2); card-2 only one


def test_lockstep_is_the_share_of_requests_in_crowded_windows(toy):
    con, config, roles = toy
    _run(con, config, roles, "size")
    got = _run(con, config, roles, "lockstep")
    # community 1: window 100 has 3 active members (>= 3): 15 of 20 requests. community 2: no window has 3.
    assert got[1][0] == pytest.approx(0.75)
    assert got[2][0] is None or got[2][0] == 0


def test_volume_is_the_members_median_against_the_batch_median(toy):
    con, config, roles = toy
    got = _run(con, config, roles, "volume")
    # batch median over the 7 accounts: (100, 100, 100, 100, 1, 3, 2) -> 100; community 2 median 2.
    # heavy_ratio: the busiest ordinary users, outside every community (only account 7: 2 requests) / 100.
    assert got[1] == (100.0, 100.0, 1.0, 0.02)
    assert got[2] == (2.0, 100.0, 0.02, 0.02)


def test_hosting_share(toy):
    con, config, roles = toy
    got = _run(con, config, roles, "hosting")
    assert got[1] == (0.25, 400) and got[2] == (0.0, 4)


def test_the_score_needs_both_coordination_and_harvesting():
    feats = pd.DataFrame({"diversity": [1.0, 1.0, 0.0], "payment_share": [1.0, 1.0, 0.0],
                          "template_share": [1.0, 1.0, 0.0], "burst_share": [1.0, 1.0, 0.0],
                          "lockstep_share": [1.0, 1.0, 0.0], "hosting_share": [1.0, 1.0, 0.0],
                          "volume_ratio": [50.0, 1.0, 50.0], "families": [3, 3, 0], "infra_families": [1, 1, 0]})
    out = scoring.score(feats, Config())
    assert list(out["score"]) == [1.0, 0.0, 0.0]


def test_templated_prompts_is_the_median_reaching_members_share_of_prompts(toy):
    """Accounts 1-3 (community 1) and 5-6 (community 2) send the operation's phrases p1-p3, which both
    communities' template profiles carry; how often each sends its most used one, against its sampled
    prompts, is its templated share: 1 in 10 for a starter prompt, 8 in 10 for a harness."""
    con, config, roles = toy
    roles = Roles(weighted=["ip", "payment"], templates=["prompt"], infrastructure=["ip", "payment"])
    con.execute("CREATE TABLE operations AS SELECT cid, 1 AS op FROM (VALUES (1), (2)) t(cid)")
    con.execute("CREATE TABLE profiles AS SELECT cid, 'prompt' AS family, entity FROM (VALUES (1), (2)) c(cid), "
                "(VALUES ('p1'), ('p2'), ('p3')) e(entity)")
    con.execute("DROP TABLE incidence")
    con.execute("""CREATE TABLE incidence AS SELECT aid, 'prompt' AS family, entity, requests FROM (
                   SELECT * FROM (VALUES (1, 1), (2, 2), (3, 8), (5, 8), (6, 9)) t(aid, requests), (VALUES ('p1')) e(entity)
                   UNION ALL SELECT aid, 1, entity FROM (VALUES (1), (2), (3), (5), (6)) t(aid), (VALUES ('p2'), ('p3')) e(entity)
                   UNION ALL SELECT aid, 10, 'p9' FROM (VALUES (1), (4)) t(aid))""")
    con.execute("CREATE TABLE acct_topics AS SELECT aid, 10 AS prompts, 9 AS focused FROM range(1, 8) t(aid)")
    _run(con, config, roles, "size")
    got = _run(con, config, roles, "templated")
    # (template_reach, template_rings, templated_prompts, template_networks, template_placed, focus); p9 is
    # in no profile, so it never counts. No marks: the most used phrase's share. No address family: no places.
    assert got[1] == (pytest.approx(0.75), 2, pytest.approx(0.2), None, 0.0, pytest.approx(0.9))
    assert got[2] == (pytest.approx(1.0), 2, pytest.approx(0.85), None, 0.0, pytest.approx(0.9))


def test_a_members_template_is_its_rings_profile_too_and_paraphrase_bands_count_towards_its_share(toy):
    """Community 1 favours its own variant (q1-q3, in its profile only) beside the operation's shared
    phrases p1-p3; account 4 sends only that variant. Account 5 reaches through exact n-grams, but its
    template shows most in a paraphrase band (b1, too few bands to reach on their own): slot-filling
    breaks exact n-grams before the word set, and the two families are one artefact. Community 3 (7, 8)
    sits in the same operation but its profile (r1-r3) shares nothing with the operation's template:
    it is some other template, which the operation's breadth says nothing about."""
    con, config, roles = toy
    roles = Roles(weighted=["ip", "payment"], templates=["prompt", "fuzzy"], infrastructure=["ip", "payment"])
    con.execute("INSERT INTO members VALUES (3, 7), (3, 8)")
    con.execute("CREATE TABLE operations AS SELECT cid, 1 AS op FROM (VALUES (1), (2), (3)) t(cid)")
    con.execute("""CREATE TABLE profiles AS
                   SELECT cid, 'prompt' AS family, entity FROM (VALUES (1), (2)) c(cid), (VALUES ('p1'), ('p2'), ('p3')) e(entity)
                   UNION ALL SELECT 1, 'prompt', entity FROM (VALUES ('q1'), ('q2'), ('q3')) e(entity)
                   UNION ALL SELECT 2, 'fuzzy', 'b1'
                   UNION ALL SELECT 3, 'prompt', entity FROM (VALUES ('r1'), ('r2'), ('r3')) e(entity)""")
    con.execute("DROP TABLE incidence")
    con.execute("""CREATE TABLE incidence AS SELECT aid, 'prompt' AS family, entity, requests FROM (
                   SELECT * FROM (VALUES (1, 1), (2, 2), (3, 8), (5, 8), (6, 9)) t(aid, requests), (VALUES ('p1')) e(entity)
                   UNION ALL SELECT aid, 1, entity FROM (VALUES (1), (2), (3), (5), (6)) t(aid), (VALUES ('p2'), ('p3')) e(entity)
                   UNION ALL SELECT 4, 7, entity FROM (VALUES ('q1'), ('q2'), ('q3')) e(entity)
                   UNION ALL SELECT aid, 9, entity FROM (VALUES (7), (8)) t(aid), (VALUES ('r1'), ('r2'), ('r3')) e(entity))
                   UNION ALL SELECT 5, 'fuzzy', 'b1', 10""")
    con.execute("CREATE TABLE acct_topics AS SELECT aid, 10 AS prompts, 9 AS focused FROM range(1, 9) t(aid)")
    _run(con, config, roles, "size")
    got = _run(con, config, roles, "templated")
    # community 1: shares 0.1, 0.2, 0.8 and 0.7 (own variant); community 2: 1.0 (band) and 0.9.
    assert got[1] == (pytest.approx(1.0), 2, pytest.approx(0.45), None, 0.0, pytest.approx(0.9))
    assert got[2] == (pytest.approx(1.0), 2, pytest.approx(0.95), None, 0.0, pytest.approx(0.9))
    assert got[3] == (0.0, 2, 0.0, None, 0.0, pytest.approx(0.9))


def test_templated_prompts_counts_prompts_carrying_any_of_the_templates_phrases(toy):
    """A harness splitting its prompts over three variants of its template (phrases p1, p2, p3, each in
    its own third of an account's ten sampled prompts) fills the template in all it sends, though no
    one phrase is in more than four prompts: the phrases' marks (which prompts hold each) are OR-ed.
    Account 3 holds p1 and p2 in the same five prompts (one variant carrying both): five, not ten."""
    con, config, roles = toy
    roles = Roles(weighted=["ip", "payment"], templates=["prompt", "fuzzy"], infrastructure=["ip", "payment"])
    con.execute("CREATE TABLE operations AS SELECT cid, 1 AS op FROM (VALUES (1), (2)) t(cid)")
    con.execute("CREATE TABLE profiles AS SELECT cid, 'prompt' AS family, entity FROM (VALUES (1), (2)) c(cid), "
                "(VALUES ('p1'), ('p2'), ('p3')) e(entity)")
    thirds = {"p1": 0b0000001111, "p2": 0b0001110000, "p3": 0b1110000000}
    rows = [(aid, "prompt", e, m) for aid in (1, 2, 5, 6) for e, m in thirds.items()]
    rows += [(3, "prompt", "p1", 0b11111), (3, "prompt", "p2", 0b11111), (3, "prompt", "p3", 0b1100000)]
    con.execute("DROP TABLE incidence")
    con.execute("CREATE TABLE incidence (aid INTEGER, family VARCHAR, entity VARCHAR, requests BIGINT)")
    con.executemany("INSERT INTO incidence VALUES (?, ?, ?, ?)", [(a, f, e, bin(m).count("1")) for a, f, e, m in rows])
    con.executemany("INSERT INTO template_marks VALUES (?, ?, ?, ?)", rows)
    con.execute("CREATE TABLE acct_topics AS SELECT aid, 10 AS prompts, 9 AS focused FROM range(1, 8) t(aid)")
    _run(con, config, roles, "size")
    got = _run(con, config, roles, "templated")
    # community 1: accounts 1, 2 at 10/10 and 3 at 7/10 (median 1.0); community 2: both 10/10.
    assert got[1][:3] == (pytest.approx(0.75), 2, pytest.approx(1.0))
    assert got[2][:3] == (pytest.approx(1.0), 2, pytest.approx(1.0))
    con.execute("UPDATE acct_topics SET prompts = 20 WHERE aid IN (1, 2)")  # the same marks among twenty prompts
    got = _run(con, config, roles, "templated")
    assert got[1][2] == pytest.approx(0.5)


def test_template_networks_are_where_the_templates_carriers_share_addresses(toy):
    """Communities 1 and 2 of one operation carry its template (p1-p3). Accounts 1-3 share a venue's
    two addresses (both on network 100); 5 and 6 share a pool exit on network 200 and 6 also shares
    one with 3 on network 300; 4 shares nothing. Uses of shared addresses by network: 100 by 1, 2, 3;
    200 by 5, 6; 300 by 3, 6: (3 + 2 + 2)^2 / (9 + 4 + 4) = 49/17 networks, and 5 of the 6 carriers'
    members are seen at them. An address only one account uses (a1 by account 4) is no place shared."""
    con, config, roles = toy
    roles = Roles(weighted=["ip", "payment"], templates=["prompt"], infrastructure=["ip", "payment"], addresses=["ip"])
    con.execute("CREATE TABLE operations AS SELECT cid, 1 AS op FROM (VALUES (1), (2)) t(cid)")
    con.execute("CREATE TABLE profiles AS SELECT cid, 'prompt' AS family, entity FROM (VALUES (1), (2)) c(cid), "
                "(VALUES ('p1'), ('p2'), ('p3')) e(entity)")
    con.execute("DROP TABLE incidence")
    con.execute("""CREATE TABLE incidence AS SELECT aid, 'prompt' AS family, entity, 5 AS requests
                   FROM (VALUES (1), (2), (3), (5), (6)) t(aid), (VALUES ('p1'), ('p2'), ('p3')) e(entity)
                   UNION ALL SELECT aid, 'ip', entity, 3 FROM (VALUES
                       (1, 'v1'), (2, 'v1'), (2, 'v2'), (3, 'v2'), (3, 'x'), (6, 'x'), (5, 'e'), (6, 'e'), (4, 'a1'))
                   t(aid, entity)""")
    con.execute("CREATE TABLE ip_networks AS SELECT * FROM (VALUES ('v1', 100), ('v2', 100), ('e', 200), "
                "('x', 300), ('a1', 400)) t(entity, network)")
    con.execute("CREATE TABLE acct_topics AS SELECT aid, 10 AS prompts, 9 AS focused FROM range(1, 8) t(aid)")
    _run(con, config, roles, "size")
    got = _run(con, config, roles, "templated")
    for cid in (1, 2):
        assert got[cid][3:5] == (pytest.approx(49 / 17), pytest.approx(5 / 6))


def _templated(**kw) -> pd.DataFrame:
    row = {"diversity": 1.0, "payment_share": 1.0, "template_share": 1.0, "burst_share": 1.0, "lockstep_share": 1.0,
           "hosting_share": 0.0, "volume_ratio": 1.0, "families": 3, "infra_families": 1,
           "template_reach": 1.0, "template_rings": 10, "templated_prompts": 0.9, "focus": 1.0}
    return scoring.score(pd.DataFrame([{**row, **k} for k in kw["rows"]]), Config())


def test_a_template_sent_from_a_few_places_is_not_a_harness():
    """A starter prompt repeated by a hackathon's many communities is sent from a venue and its visitors'
    phones (a few networks); an operation's rings reach the platform from proxy pools on dozens. Members
    never seen at a shared address say nothing of where they are, and without an address family (no
    networks) the template is not judged by places."""
    out = _templated(rows=[
        {"template_networks": 3.0, "template_placed": 1.0},   # a venue and phones
        {"template_networks": 7.5, "template_placed": 1.0},   # halfway
        {"template_networks": 25.0, "template_placed": 1.0},  # a proxy pool
        {"template_networks": 3.0, "template_placed": 0.5},   # half the members seen at those places
        {"template_networks": float("nan"), "template_placed": 0.0},
    ])
    assert list(out["templated_harvest"]) == pytest.approx([0.0, 0.5, 1.0, 0.5, 1.0])
    assert out["score"][0] == 0 and out["score"][2] > 0.5


def test_only_communities_that_can_be_rings_are_scored():
    """Community 1 (ten accounts) is as large as a ring; 2 (three) is not and stands alone; 3 and 4 (four each)
    are small but one operation of eight accounts: 1, 3 and 4 are scored, 2 never is."""
    con = duckdb.connect()
    sizes = {1: 10, 2: 3, 3: 4, 4: 4}
    rows = [(cid, 100 * cid + k) for cid, n in sizes.items() for k in range(n)]
    con.execute(f"CREATE TABLE members AS SELECT * FROM (VALUES {', '.join(map(str, rows))}) t(cid, aid)")
    con.execute("""CREATE TABLE operations AS SELECT * FROM (VALUES
                   (1, 1, 10, 1, 1), (2, 2, 3, 0, 1), (3, 3, 8, 0, 2), (4, 3, 8, 0, 2))
                   t(cid, op, op_size, op_rings, op_communities)""")
    got = con.execute(f"SELECT cid, count(*) FROM ({scoring.candidates_sql(Config())}) GROUP BY cid ORDER BY cid").fetchall()
    assert got == [(1, 10), (3, 4), (4, 4)]
