"""Identities bought for the job (``scoring.pool_sql``, ``procured``): a card batch and a proxy pool.

An operator who keeps every account's volume ordinary still pays from a batch of cards and reaches the
platform through a pool of proxies spread over many networks; a company on one card programme works
from one office network, and a pool without a batch is what a VPN's users share.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from worldkit import START, World, add_regulars

from linkage import Config, detect
from linkage.scoring import Roles, pool_sql, score

VIRTUAL_BIN = "537410"


@pytest.fixture
def pools():
    """Community 1 (op 1): accounts 0-3 share three addresses on three networks, two users each.
    Community 2 (op 1): account 4 shares address p1 with community 1; account 5's only address is its own.
    Community 3 (op 3): accounts 6-8 share two office addresses on network 500; account 7 also uses p1,
    which no one else of op 3 uses. Address q1 is shared by 0 and 1 but has no known network.
    """
    con = duckdb.connect()
    uses = [(0, "p1"), (1, "p1"), (2, "p2"), (3, "p2"), (0, "p3"), (2, "p3"), (4, "p1"), (5, "x9"),
            (6, "o1"), (7, "o1"), (8, "o1"), (6, "o2"), (8, "o2"), (7, "p1"), (0, "q1"), (1, "q1")]
    rows = ", ".join(f"({a}, 'ip', '{e}')" for a, e in uses)
    con.execute(f"CREATE TABLE incidence AS SELECT * FROM (VALUES {rows}) t(aid, family, entity)")
    nets = {"p1": 100, "p2": 200, "p3": 300, "x9": 400, "o1": 500, "o2": 500}
    rows = ", ".join(f"('{e}', {n})" for e, n in nets.items())
    con.execute(f"CREATE TABLE ip_networks AS SELECT * FROM (VALUES {rows}) t(entity, network)")
    members = [(1, a) for a in range(4)] + [(2, 4), (2, 5)] + [(3, a) for a in (6, 7, 8)]
    con.execute(f"CREATE TABLE members AS SELECT * FROM (VALUES {', '.join(map(str, members))}) t(cid, aid)")
    con.execute("CREATE TABLE operations AS SELECT * FROM (VALUES (1, 1), (2, 1), (3, 3)) t(cid, op)")
    return con


def test_pool_networks_counts_the_networks_of_addresses_shared_within_the_operation(pools):
    config = Config()
    got = dict(pools.execute(f"SELECT cid, pool_networks FROM ({pool_sql(config, Roles.of(config))})").fetchall())
    # 1: networks 100, 200, 300 with two users each: (2 + 2 + 2)^2 / (4 + 4 + 4) = 3.
    assert got[1] == pytest.approx(3.0)
    # 2: account 4 reaches through p1, shared with its operation's other community; x9 is nobody else's.
    assert got[2] == pytest.approx(1.0)
    # 3: one office network; p1 is shared with another operation only, so it is no pool of op 3's.
    assert got[3] == pytest.approx(1.0)


def test_procured_needs_a_card_batch_and_a_pool_spread_over_networks():
    base = dict(diversity=2 / 3, payment_share=1.0, template_share=0.0, burst_share=0.0, lockstep_share=0.0,
                hosting_share=0.0, volume_ratio=1.0, density=0.2, families=2, infra_families=2)

    def scored(paid: bool, networks: float) -> pd.Series:
        return score(pd.DataFrame([{**base, "batch_paid": paid, "pool_networks": networks}])).iloc[0]

    bought = scored(True, 5.0)
    assert bought["procured"] == 1 and bought["harvesting"] == 1 and bought["score"] >= Config().threshold
    assert scored(True, 2.5)["procured"] == pytest.approx(0.5)  # halfway from a home's two networks to a pool's three
    assert scored(True, 2.0)["score"] == 0  # a company on one card programme, in its office and on phones
    assert scored(False, 9.0)["score"] == 0  # a pool with no batch: what a VPN's customers share


def quiet_ring(w: World, name: str, bin: str, n: int = 20, net: int = 70) -> list[str]:
    """An operator's ring at ordinary volume: a fresh card each from ``bin``, its own browser profile and
    named free-mail, sign-ups over weeks, reaching the platform through 12 residential exits on 6 networks."""
    ids = [f"{name}-{i:03d}" for i in range(n)]
    for i, aid in enumerate(ids):
        w.account(aid, START + pd.Timedelta(days=w.rng.randrange(40), minutes=w.rng.randrange(1440)),
                  f"{name}.person{i}@gmail.com", name)
        w.payments.append({"account_id": aid, "instrument_id": f"tok_{name}_{i}", "instrument_type": "card",
                           "bin": bin})
        exits = w.rng.sample(range(12), 3)
        for k in range(10):
            exit_ = exits[k % 3]
            ts = START + pd.Timedelta(days=41 + w.rng.randrange(40), minutes=w.rng.randrange(1440))
            w.request(aid, ts, f"100.{net + exit_ // 2}.{exit_}.9", 64500 + net + exit_ // 2, f"profile-{name}-{i}",
                      w.random_prompt())
    return ids


def startup(w: World, name: str, bin: str, n: int = 20) -> list[str]:
    """A company with no verified org: a card each from its card programme's BIN, one office, ordinary volume."""
    ids = [f"{name}-{i:03d}" for i in range(n)]
    for i, aid in enumerate(ids):
        w.account(aid, START - pd.Timedelta(days=60 - i), f"dev{i}@{name}.io", name)
        w.payments.append({"account_id": aid, "instrument_id": f"tok_{name}_{i}", "instrument_type": "card",
                           "bin": bin})
        for k in range(10):
            ts = START + pd.Timedelta(days=w.rng.randrange(80), minutes=w.rng.randrange(600))
            w.request(aid, ts, f"198.18.0.{1 + k % 2}", 64600, f"laptop-{name}-{i}", w.random_prompt())
    return ids


def test_a_ring_at_ordinary_volume_that_bought_its_cards_and_proxies_is_flagged(tmp_path):
    """Issue 11 (mimicry): nothing loud, but a card batch and a proxy pool. The startup on its own card
    programme in one office, and the same ring paying with ordinary cards, are not flagged."""
    w = World(seed=31)
    quiet_ring(w, "quiet", VIRTUAL_BIN)
    quiet_ring(w, "unpaid", "520000", net=80)  # the ordinary users' BIN: no batch
    startup(w, "acme", "545454")
    add_regulars(w, n=160)
    result = detect(w.write(tmp_path / "world"))
    flagged = {m for r in result.rings for m in r.members}
    labels = {w.truth[m] for m in flagged}
    assert labels == {"quiet"}
    assert len(flagged) >= 16  # the members paying from the batch through the pool, not just a core
    ring = next(r for r in result.rings if w.truth[r.members[0]] == "quiet")
    assert ring.features["procured"] == 1 and ring.features["volume_harvest"] == 0
    assert ring.features["pool_networks"] >= 3
    watch = result.communities.set_index("cid")
    acme = {int(c) for c in result.con.execute(
        "SELECT DISTINCT m.cid FROM members m JOIN accounts a USING (aid) WHERE a.account_id LIKE 'acme-%'"
    ).fetchnumpy()["cid"]}
    # The startup is coordinated (its card programme, its office) and paid from a batch, but from one network.
    assert any(watch.loc[c, "batch_paid"] and watch.loc[c, "pool_networks"] < 2 for c in acme if c in watch.index)


def test_addresses_networks_come_from_the_ip_family_pass_and_a_run_without_it_still_scores(tmp_path):
    """``ip_networks`` is staged by the ip family from its one pass over the requests; a run that leaves
    the family out has no addresses, so no pool, and scores as before."""
    w = World(seed=31)
    quiet_ring(w, "quiet", VIRTUAL_BIN)
    add_regulars(w, n=40)
    data = w.write(tmp_path / "world")
    full = detect(data, Config(keep_tables=True))
    nets = dict(full.con.execute("SELECT entity, network FROM ip_networks").fetchall())
    assert nets["100.70.0.9"] == 64570 and nets["100.75.11.9"] == 64575  # the exits' networks, as sent
    assert nets["10.0.3.7"] == 7922 and len(nets) == 12 + 40
    config = Config()
    without = Config(families={k: v for k, v in config.families.items() if k != "ip"}, keep_tables=True)
    result = detect(data, without)
    assert result.con.execute("SELECT count(*) FROM ip_networks").fetchall() == [(0,)]
    assert (result.communities["pool_networks"] == 0).all() and (result.communities["procured"] == 0).all()
