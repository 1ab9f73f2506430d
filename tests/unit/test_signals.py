"""Each signal family and the evidence graph, on small hand-made batches with known answers."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from worldkit import START, World

from linkage import Config, read_batch, signals
from linkage.communities import detect_communities
from linkage.graph import build_links


def run(w: World, tmp_path, config: Config | None = None):
    config = config or Config()
    batch = read_batch(w.write(tmp_path / "batch"))
    signals.extract(batch.con, config)
    build_links(batch.con, config)
    return batch.con


def link(con, x: str, y: str) -> dict | None:
    rows = con.execute(
        """SELECT l.* FROM links l JOIN accounts a ON a.aid = l.a JOIN accounts b ON b.aid = l.b
           WHERE (a.account_id = ? AND b.account_id = ?) OR (a.account_id = ? AND b.account_id = ?)""",
        [x, y, y, x]).df()
    return None if rows.empty else rows.iloc[0].to_dict()


def entity(con, family: str, key: str) -> dict:
    return con.execute("SELECT * FROM entities WHERE family = ? AND entity = ?", [family, key]).df().iloc[0].to_dict()


def sharing_world(n_sharing: int, family: str, key: str = "shared") -> World:
    """``n_sharing`` accounts share one entity of ``family``; nothing else links them."""
    w = World()
    for i in range(n_sharing):
        aid = f"a{i:04d}"
        email = f"u{i}@{key}.example" if family == "email" else f"u{i}@gmail.com"
        w.account(aid, START - pd.Timedelta(days=i), email, "x")
        if family == "payment":
            w.payments.append({"account_id": aid, "instrument_id": f"tok_{key}", "instrument_type": "card", "bin": "1"})
        ip = f"198.51.100.{i % 250}" if family != "ip" else "192.0.2.1"
        device = key if family == "device" else f"dev{i}"
        w.request(aid, START + pd.Timedelta(hours=i), ip if family == "ip" else f"10.{i // 250}.{i % 250}.1", 7922, device)
    return w


@pytest.mark.parametrize("family,key", [("payment", "tok_shared"), ("ip", "192.0.2.1"), ("device", "shared")])
def test_weight_falls_with_sharing_and_hubs_carry_nothing(tmp_path, family, key):
    cfg = Config()
    p = cfg.family(family)
    weights = {}
    for n in (2, 5, p.cap, p.cap + 1):
        con = run(sharing_world(n, family), tmp_path / f"{family}{n}")
        e = entity(con, family, key)
        assert e["accounts"] == n
        weights[n] = e["pair_weight"]
        assert e["hub"] == (n > p.cap)
    assert weights[2] == pytest.approx(p.weight)
    assert weights[5] == pytest.approx(p.weight / 4)
    assert weights[p.cap] == pytest.approx(p.weight / (p.cap - 1))
    assert weights[p.cap + 1] == 0


def test_link_carries_family_and_weight(tmp_path):
    con = run(sharing_world(3, "payment"), tmp_path)
    lk = link(con, "a0000", "a0001")
    assert lk["signals"] == "payment"
    assert lk["weight"] == pytest.approx(Config().family("payment").weight / 2)


def test_free_mail_domains_are_not_evidence(tmp_path):
    w = sharing_world(4, "none")
    con = run(w, tmp_path)
    assert con.execute("SELECT count(*) FROM incidence WHERE family = 'email'").fetchall()[0][0] == 0
    con = run(sharing_world(4, "email", key="ringmail"), tmp_path / "custom")
    assert entity(con, "email", "ringmail.example")["accounts"] == 4
    assert link(con, "a0000", "a0003")["signals"] == "email"


def test_sharing_inside_one_verified_org_is_discounted(tmp_path):
    w = sharing_world(4, "payment")
    for row in w.accounts[:2]:
        row["org_id"] = "org-acme"
    con = run(w, tmp_path)
    inside, across = link(con, "a0000", "a0001"), link(con, "a0001", "a0002")
    assert inside["weight"] == pytest.approx(across["weight"] * Config().org_discount)


def prompt_world(prompts: dict[str, list[str]]) -> World:
    w = World()
    for i, (aid, texts) in enumerate(prompts.items()):
        w.account(aid, START - pd.Timedelta(days=10 * i), f"{aid}@gmail.com", "x")
        for k, text in enumerate(texts):
            w.request(aid, START + pd.Timedelta(hours=k + 24 * i), f"10.{i // 250}.{i % 250}.1", 7922, f"d{aid}", text)
    return w


TEMPLATE = "you are an expert agent plan the steps to {} then write the code for {} and return only json"


def test_slot_filled_templates_link_and_one_off_phrases_do_not(tmp_path):
    fills = ["parse a csv", "sort users", "scrape a page", "train a model", "rename files", "send email"]
    w = prompt_world({
        "ring1": [TEMPLATE.format(f, f[::-1]) for f in fills[:4]],
        "ring2": [TEMPLATE.format(f, f.upper()) for f in fills[2:]],
        # Two strangers who each once wrote the same common phrase.
        "solo1": ["how do i center a div in css today", "tell me a story about a whale in the sea"],
        "solo2": ["how do i center a div in css today", "what is the capital of mongolia please"],
    })
    con = run(w, tmp_path)
    lk = link(con, "ring1", "ring2")
    assert lk is not None and lk["signals"] == "prompt" and lk["w_prompt"] > 0
    assert link(con, "solo1", "solo2") is None


def test_public_template_used_by_many_carries_no_weight(tmp_path):
    cfg = Config()
    public = "act as a senior software engineer review the following code and list every bug you find {}"
    w = prompt_world({f"p{i:03d}": [public.format(f"snippet {i} {k}") for k in range(3)]
                      for i in range(cfg.family("prompt").cap + 5)})
    con = run(w, tmp_path)
    assert con.execute("SELECT count(*) FROM entities WHERE family = 'prompt' AND pair_weight > 0").fetchall()[0][0] == 0
    assert con.execute("SELECT count(*) FROM links").fetchall()[0][0] == 0


def test_signup_bursts_link_and_ordinary_signups_do_not(tmp_path):
    w = World()
    for i in range(300):  # ordinary sign-ups spread over a year
        w.account(f"u{i:03d}", START - pd.Timedelta(hours=29 * i), f"u{i}@gmail.com", "x")
    for i in range(20):  # a scripted burst: twenty accounts in two minutes
        w.account(f"b{i:02d}", START + pd.Timedelta(days=5, seconds=6 * i), f"b{i}@gmail.com", "x")
    w.request("u000", START, "10.0.0.1", 1, "d")
    con = run(w, tmp_path)
    bursty = con.execute(
        "SELECT list(DISTINCT a.account_id ORDER BY a.account_id) FROM incidence i JOIN accounts a USING (aid) "
        "WHERE family = 'signup'").fetchall()[0][0]
    assert bursty == [f"b{i:02d}" for i in range(20)]
    # Each pair of the burst gets weight / (n - 1): supporting evidence, too weak to link on its own.
    w = con.execute("SELECT w FROM pair_family WHERE family = 'signup' AND a = (SELECT aid FROM accounts WHERE "
                    "account_id = 'b00') AND b = (SELECT aid FROM accounts WHERE account_id = 'b19')").fetchall()
    assert w == [(pytest.approx(Config().family("signup").weight / 19),)]


def test_links_are_bounded_by_the_hub_cap_not_accounts_squared(tmp_path):
    cap = Config().family("ip").cap
    con = run(sharing_world(cap + 50, "ip"), tmp_path)
    assert con.execute("SELECT count(*) FROM links").fetchall()[0][0] == 0


# --- communities ----------------------------------------------------------------------------


def two_cliques_and_a_bridge():
    edges = [(i, j) for i in range(10) for j in range(i + 1, 10)] + \
            [(i, j) for i in range(10, 20) for j in range(i + 1, 20)] + [(9, 10), (30, 31)]
    a, b = map(np.asarray, zip(*edges))
    return a, b, np.ones(len(a))


def test_communities_split_cliques_and_drop_small_groups():
    a, b, w = two_cliques_and_a_bridge()
    groups = detect_communities(a, b, w, min_size=5, seed=1)
    assert [list(g) for g in groups.values()] == [list(range(10)), list(range(10, 20))]


def test_communities_are_deterministic_and_inside_connected_components():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 400, 3000)
    b = rng.integers(0, 400, 3000)
    keep = a < b
    a, b, w = a[keep], b[keep], rng.random(keep.sum())
    first = detect_communities(a, b, w, min_size=2, seed=9)
    second = detect_communities(a, b, w, min_size=2, seed=9)
    assert {k: list(v) for k, v in first.items()} == {k: list(v) for k, v in second.items()}
    g = nx.Graph()
    g.add_edges_from(zip(a.tolist(), b.tolist()))
    component_of = {v: i for i, comp in enumerate(nx.connected_components(g)) for v in comp}
    for members in first.values():  # differential check against networkx components
        assert len({component_of[int(v)] for v in members}) == 1


def test_worker_processes_give_the_same_communities(monkeypatch, caplog):
    """Components shared out to worker processes come back exactly as optimised in-process."""
    import linkage.communities as communities

    rng = np.random.default_rng(5)
    parts = []
    for base in range(0, 600, 60):  # ten separate components, each a noisy pair of cliques
        a = rng.integers(base, base + 60, 900)
        b = rng.integers(base, base + 60, 900)
        parts.append((a, b))
    a = np.concatenate([p[0] for p in parts])
    b = np.concatenate([p[1] for p in parts])
    keep = a < b
    a, b = a[keep], b[keep]
    w = np.where((a % 60 < 30) == (b % 60 < 30), 1.0, 0.01)
    alone = communities.detect_communities(a, b, w, min_size=4, seed=3, workers=1)
    monkeypatch.setattr(communities, "PARALLEL_MIN_EDGES", 0)
    shared = communities.detect_communities(a, b, w, min_size=4, seed=3, workers=3)
    assert len(alone) >= 10
    assert {k: v.tolist() for k, v in alone.items()} == {k: v.tolist() for k, v in shared.items()}
    assert "worker failed" not in caplog.text  # the workers ran; no in-process fallback


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0.001, 3.0), min_size=1, max_size=30), st.floats(0.005, 0.5), st.integers(1, 2))
def test_two_account_components_are_split_or_joined_exactly_as_leiden_does(weights, resolution, min_size):
    """Pairs skip Leiden (most components of a batch are pairs): each must come out as Leiden puts it.

    A weight within rounding of the resolution is a tie either answer may take (found: 0.5 against
    0.49999999999999994, which Leiden splits), so ties are left out."""
    from linkage.communities import component_membership

    assume(all(abs(x - resolution) > 1e-9 for x in weights))

    a = np.arange(0, 2 * len(weights), 2)
    w = np.array(weights)
    got = sorted(tuple(g.tolist()) for g in detect_communities(a, a + 1, w, min_size=min_size,
                                                               resolution=resolution, workers=1).values())
    want = []
    for x, weight in zip(a.tolist(), weights):
        label = component_membership(2, np.array([[0, 1]]), np.array([weight]), resolution, 42)
        parts = [(x, x + 1)] if label[0] == label[1] else [(x,), (x + 1,)]
        want += [p for p in parts if len(p) >= min_size]
    assert got == sorted(want)


def test_extract_leaves_only_what_later_stages_read(tmp_path):
    """Regression: run outside ``detect``, the families' scratch tables (the requests' address uses, the
    sampled prompts' words, the paraphrase bands) stayed on the caller's connection."""
    from linkage.stages import tables

    batch = read_batch(sharing_world(4, "ip").write(tmp_path / "batch"))
    before = tables(batch.con)
    counts = signals.extract(batch.con, Config())
    assert counts["ip"] > 0
    assert tables(batch.con) == before | set(signals.OUTPUTS)
    kept = read_batch(sharing_world(4, "ip").write(tmp_path / "kept"))
    signals.extract(kept.con, Config(keep_tables=True))
    assert {"ip_uses", "prompt_words"} <= tables(kept.con)
