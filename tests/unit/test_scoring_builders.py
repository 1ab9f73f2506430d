"""Each scoring feature is one SQL builder: checked here on toy tables with answers worked out by hand."""

from __future__ import annotations

import duckdb
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
    import pandas as pd

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
    # (template_reach, template_rings, templated_prompts, focus); p9 is in no profile, so it never counts.
    assert got[1] == (pytest.approx(0.75), 2, pytest.approx(0.2), pytest.approx(0.9))
    assert got[2] == (pytest.approx(1.0), 2, pytest.approx(0.85), pytest.approx(0.9))


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
    assert got[1] == (pytest.approx(1.0), 2, pytest.approx(0.45), pytest.approx(0.9))
    assert got[2] == (pytest.approx(1.0), 2, pytest.approx(0.95), pytest.approx(0.9))
    assert got[3] == (0.0, 2, 0.0, pytest.approx(0.9))


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
