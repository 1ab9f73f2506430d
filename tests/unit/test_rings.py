"""Scoring, attribution and the whole pipeline on hand-made worlds with known answers."""

from __future__ import annotations

import dataclasses
import json

import duckdb
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from worldkit import START, WORDS, World, add_campus, add_family, add_regulars, add_ring, recruit_world

from linkage import Config, detect, membership
from linkage.cli import main
from linkage.scoring import score


def features(**kw) -> pd.DataFrame:
    base = dict(diversity=0.0, payment_share=0.0, template_share=0.0, burst_share=0.0, lockstep_share=0.0,
                hosting_share=0.0, volume_ratio=1.0, density=0.0)
    return pd.DataFrame([{**base, **kw}])


def test_score_needs_both_coordination_and_harvesting():
    coordinated = dict(diversity=1, payment_share=1, template_share=1, burst_share=1, lockstep_share=1)
    assert score(features(**coordinated, volume_ratio=1.0))["score"][0] == 0  # a family or a class
    assert score(features(volume_ratio=500.0))["score"][0] == 0  # a lone heavy API user
    ring = score(features(**coordinated, hosting_share=1, volume_ratio=50.0))
    assert ring["coordination"][0] == 1 and ring["harvesting"][0] == pytest.approx(1.0)
    assert ring["score"][0] == pytest.approx(1.0)


def test_score_is_monotone_in_each_feature():
    base = dict(diversity=0.5, payment_share=0.5, template_share=0.5, burst_share=0.5, lockstep_share=0.5,
                hosting_share=0.2, volume_ratio=10.0)
    s0 = score(features(**base))["score"][0]
    for name in ("diversity", "payment_share", "template_share", "burst_share", "lockstep_share", "hosting_share"):
        assert score(features(**{**base, name: 0.9}))["score"][0] >= s0
    assert score(features(**{**base, "volume_ratio": 30.0}))["score"][0] > s0


def test_a_ring_tied_to_the_intel_only_through_its_operations_templates_is_attributed(tmp_path):
    """Issue 11: ring c has no indicator of its own and no shared infrastructure with ring a, only the
    operator's template; it is attributed through the operation, and says so in its evidence."""
    w = World(seed=11)
    add_ring(w, "ringa", n=12)
    add_ring(w, "ringc", n=12, base_ip="198.51.100", device="harness-c", domain="other-mail.top", asn=16276,
             t0=START + pd.Timedelta(days=15))
    add_regulars(w, n=120)
    w.intel += [{"operator": "CRIMSON-LATHE", "kind": "instrument", "value": "tok_ringa_0", "note": "card batch"}]
    families = Config().families  # as past its cap at scale, the template links no pair: the rings stay apart
    unlinked = Config(families={**families, "prompt": dataclasses.replace(families["prompt"], weight=0.0)})
    result = detect(w.write(tmp_path / "batch"), unlinked)
    by_label = {w.truth[m]: r for r in result.rings for m in r.members}
    assert set(by_label) == {"ringa", "ringc"} and len(result.rings) == 2
    a, c = by_label["ringa"], by_label["ringc"]
    assert a.ring_id != c.ring_id and a.operation == c.operation
    assert a.operator == c.operator == "CRIMSON-LATHE"
    assert not c.attribution.get("direct_evidence")
    assert any(p["kind"] == "operation" for p in c.evidence)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = World(seed=5)
    add_ring(w, "ringa", n=14)
    add_ring(w, "ringb", n=10, base_ip="198.18.0", device="harness-b", domain="mx-b.top",
             t0=START + pd.Timedelta(days=9))
    # An operator nobody has intel on, with its own template and infrastructure.
    add_ring(w, "ringz", n=12, base_ip="100.64.9", device="harness-z", domain="zz-mail.top",
             template="summarise the repository {} into an agent plan with tool calls for {} in yaml",
             t0=START + pd.Timedelta(days=20), asn=16276)
    add_regulars(w, n=120)
    add_family(w, "famx")
    add_family(w, "famy", n=4)
    add_campus(w, "uni")
    w.intel += [
        {"operator": "CRIMSON-LATHE", "kind": "instrument", "value": "tok_ringa_0", "note": "card batch"},
        {"operator": "CRIMSON-LATHE", "kind": "asn", "value": "14061", "note": "broad"},
        {"operator": "OTHER-OP", "kind": "ip", "value": "192.0.2.250", "note": "stale"},
    ]
    return w, w.write(tmp_path_factory.mktemp("world") / "batch")


def test_detect_finds_exactly_the_rings_and_attributes_them(world):
    w, folder = world
    result = detect(folder)
    flagged = {m for r in result.rings for m in r.members}
    truth_ring = {a for a, label in w.truth.items() if label.startswith("ring")}
    assert flagged == truth_ring
    operator_of = {"ringa": "crimson", "ringb": "crimson", "ringz": "z"}  # a and b share one template
    by_label = {}
    for r in result.rings:
        labels = {w.truth[m] for m in r.members}
        assert len({operator_of[x] for x in labels}) == 1  # every ring holds one operator's accounts
        by_label.update({x: r for x in labels})
    assert by_label["ringa"].operator == "CRIMSON-LATHE"
    assert by_label["ringb"].operator == "CRIMSON-LATHE"
    assert by_label["ringz"].operator is None
    assert by_label["ringz"].operator_cluster.startswith("unattributed-")
    assert by_label["ringa"].operator_confidence > 0.5
    assert {"payment", "ip", "device", "prompt", "email"} <= set(by_label["ringa"].signals)
    assert any(p["kind"] == "indicator" and "tok_ringa_0" in p["path"] for p in by_label["ringa"].evidence)


def test_same_input_same_rings_and_ids(world):
    _, folder = world
    first = [(r.ring_id, r.members) for r in detect(folder).rings]
    second = [(r.ring_id, r.members) for r in detect(folder, Config(seed=42)).rings]
    assert first == second


def test_cli_detect_writes_contract_outputs(world, tmp_path):
    w, folder = world
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["detect", str(folder), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "rings flagged: 2" in res.output  # ringa+ringb (one operator, one template) and ringz
    doc = json.loads((out / "rings.json").read_text())
    assert doc["version"] == 1 and doc["input"]["accounts"] == len(w.accounts)
    assert set(doc["params"]) >= {"seed", "threshold", "families"}
    ring = doc["rings"][0]
    assert set(ring) >= {"ring_id", "score", "size", "members", "operator", "operator_confidence", "signals",
                         "evidence"}
    members = pd.read_csv(out / "ring_members.csv")
    assert list(members.columns[:2]) == ["ring_id", "account_id"]
    assert len(members) == sum(r["size"] for r in doc["rings"])
    assert (out / "rejected.csv").read_text().startswith("file,line,column,reason,value")
    for table in ("accounts", "incidence", "entities", "links"):
        assert (out / "evidence" / f"{table}.parquet").is_file()


def test_cli_reports_bad_rows_and_keeps_going(world, tmp_path):
    _, folder = world
    dirty = tmp_path / "dirty"
    dirty.mkdir()
    for f in folder.iterdir():
        (dirty / f.name).write_bytes(f.read_bytes())
    with open(dirty / "events.csv", "a") as fh:
        fh.write("ringa-000,not-a-time,1.2.3.4,1,d,ua,\nringa-000,2026-04-05T00:00:00Z,1.2.3.999,1,d,ua,\n"
                 "ringa-000,2026-04-05T00:00:00Z,1.2.3.9\n")
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["detect", str(dirty), "--out", str(out)])
    assert res.exit_code == 0
    assert "3 rows rejected" in res.output
    rejected = pd.read_csv(out / "rejected.csv")
    assert list(rejected.reason) == ["unparseable ts", "malformed ip", "3 fields where the header has 7"]


@pytest.mark.parametrize("breakage,message", [
    (lambda d: (d / "payments.csv").unlink(), "no payments table"),
    (lambda d: (d / "events.csv").write_text("account_id,ip\nx,1.2.3.4\n"), "events.csv: missing required column ts"),
    (lambda d: (d / "accounts.csv").write_bytes(b"\x00\x01garbage"), "accounts.csv"),
])
def test_cli_contract_breaks_give_one_line_and_non_zero_exit(world, tmp_path, breakage, message):
    _, folder = world
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in folder.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    breakage(broken)
    res = CliRunner().invoke(main, ["detect", str(broken), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2
    assert message in res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1


def test_software_alone_is_not_coordination():
    """Developers on one SDK with common phrasing share a device and a template, nothing an operator buys."""
    coordinated = dict(diversity=0.67, template_share=1.0, hosting_share=1.0, volume_ratio=40.0)
    software = score(features(**coordinated, families=2, infra_families=0))
    infrastructure = score(features(**coordinated, families=2, infra_families=1))
    single = score(features(**coordinated, families=1, infra_families=1))
    assert software["score"][0] == 0 and single["score"][0] == 0
    assert infrastructure["score"][0] > 0.5


def test_attribution_needs_sufficient_and_clearly_leading_evidence():
    from linkage.attribution import choose_operator

    ops = ["A", "B", "C"]
    assert choose_operator(np.array([0.9, 0.0, 0.0]), ops) == ("A", 0.9)
    assert choose_operator(np.array([0.26, 0.23, 0.17]), ops) == (None, 0.0)  # ambiguous: several weak ties
    assert choose_operator(np.array([0.15, 0.0, 0.0]), ops) == (None, 0.0)  # too little evidence
    op, conf = choose_operator(np.array([0.8, 0.3, 0.0]), ops)
    assert op == "A" and conf == pytest.approx(0.8 * 0.8 / 1.1, abs=1e-4)
    assert choose_operator(np.array([]), []) == (None, 0.0)


def _stealth_ring(w: World, name: str, ips: list[str], template: str, n: int = 12) -> list[str]:
    """A GLASS-HERON-like ring: residential proxies shared in the ring, own device, free mail, no shared
    card, no sign-up burst; what ties it is its proxy pool and the operator's template."""
    ids = [f"{name}-{i:03d}" for i in range(n)]
    for i, aid in enumerate(ids):
        w.account(aid, START - pd.Timedelta(days=30 + 3 * i), f"{name}{i}@gmail.com", name)
        for k in range(240):
            prompt = template.format(w.rng.choice(WORDS_), w.rng.randrange(10 ** 6)) if k % 3 == 0 else ""
            w.request(aid, START + pd.Timedelta(days=5, hours=k, seconds=i), ips[(i + k) % len(ips)], 7922,
                      f"browser-{aid}", prompt)
    return ids


WORDS_ = ("sorting", "parsing", "caching")
OPERATOR_TEMPLATE = "as a senior engineer write production code for {} covering edge case number {} with tests"


def _template_world(outsiders_use_template: bool) -> World:
    w = World(seed=9)
    pool = [f"100.70.1.{k}" for k in range(1, 13)]
    _stealth_ring(w, "glassa", pool[:8], OPERATOR_TEMPLATE)
    _stealth_ring(w, "glassb", pool[4:], OPERATOR_TEMPLATE)  # shares four proxies: a sibling ring
    users = add_regulars(w, n=250)
    if outsiders_use_template:  # a public template: 200 ordinary users fill it as often as the rings do
        for i, aid in enumerate(users[:200]):
            for k in range(8):
                w.request(aid, START + pd.Timedelta(days=10 + k, minutes=i), f"10.0.{i}.7", 7922, f"dev-user-{i}",
                          OPERATOR_TEMPLATE.format(w.rng.choice(WORDS_), w.rng.randrange(10 ** 6)))
    return w


@pytest.mark.parametrize("outsiders_use_template", [False, True])
def test_an_operator_wide_template_past_the_pair_cap_counts_only_while_it_is_the_operators(
        tmp_path, outsiders_use_template):
    """At seed scale one operator's template is used by thousands of its accounts: past the prompt cap it
    links no pair, yet it still ties the operator's rings as long as hardly anyone else uses it."""
    w = _template_world(outsiders_use_template)
    folder = w.write(tmp_path / "batch")
    families = Config().families
    small_cap = Config(families={**families, "prompt": dataclasses.replace(families["prompt"], cap=10)})
    result = detect(folder, small_cap)
    assert result.con.execute(  # the template's shingles are hubs here: no pair weight at all
        "SELECT max(pair_weight) FROM entities WHERE family = 'prompt' AND accounts >= 24").fetchall()[0][0] == 0
    flagged = {m for r in result.rings for m in r.members}
    ring_accounts = {a for a, label in w.truth.items() if label.startswith("glass")}
    rings = result.communities[result.communities["size"] >= 12]
    assert len(rings) >= 1 and (rings["infra_families"] == 1).all()  # the proxy pool, either way
    if outsiders_use_template:
        assert (rings["families"] == 1).all() and flagged == set()  # proxies alone are not coordination
    else:
        assert (rings["families"] == 2).all() and flagged == ring_accounts
        assert all("prompt" in r.signals for r in result.rings)


def test_cli_memory_limit_bounds_duckdb_and_a_bad_size_is_one_line(world, tmp_path):
    _, folder = world
    ok = CliRunner().invoke(main, ["detect", str(folder), "--out", str(tmp_path / "o"), "--memory-limit", "1GB",
                                   "--json"])
    assert ok.exit_code == 0 and json.loads(ok.output)["rings"] == len(detect(folder).rings) >= 2
    bad = CliRunner().invoke(main, ["detect", str(folder), "--out", str(tmp_path / "p"), "--memory-limit", "lots"])
    assert bad.exit_code == 2 and bad.output.strip() == (
        "linkage: error: Invalid value for '--memory-limit': 'lots' is not a size like 8GB, 512MB or 16GiB "
        "(see: linkage detect --help)")


def test_rings_are_still_found_with_the_template_family_switched_off(world):
    """With no template family in play, exclusivity of the other families must still be measured."""
    w, folder = world
    families = Config().families
    no_prompt = Config(families={**families, "prompt": dataclasses.replace(families["prompt"], weight=0.0)})
    flagged = {m for r in detect(folder, no_prompt).rings for m in r.members}
    assert flagged == {a for a, label in w.truth.items() if label.startswith("ring")}


def test_an_account_sharing_one_address_with_a_ring_is_a_bystander_not_a_member(tmp_path):
    """A household behind an address the ring's proxies also use shares one thing with the ring: it may sit
    in the ring's community, but it is not flagged; a member sharing two of the ring's tools is."""
    w = World(seed=13)
    ring = add_ring(w, "ringa", n=12)
    add_regulars(w, n=120)
    w.account("household", START - pd.Timedelta(days=90), "home@gmail.com", "household")
    w.account("second-seat", START - pd.Timedelta(days=90), "seat@gmail.com", "ringa")
    for k in range(6):
        w.request("household", START + pd.Timedelta(days=4, hours=k), "203.0.113.1", 14061, "home-laptop",
                  w.random_prompt())
        w.request("second-seat", START + pd.Timedelta(days=4, hours=k), "203.0.113.1", 14061, "harness-ringa",
                  w.random_prompt())
    result = detect(w.write(tmp_path / "batch"))
    assert len(result.rings) == 1
    (found,) = result.rings
    assert set(found.members) == set(ring) | {"second-seat"}
    assert found.size == len(found.members)
    assert found.bystanders == ["household"]  # in the ring's community, by its one address


def test_a_batch_with_no_ring_writes_every_output_with_its_header(tmp_path):
    """Regression: with no flagged ring, ring_members.csv failed on a pandas merge of empty frames."""
    w = World(seed=17)
    add_regulars(w, n=60)
    out = tmp_path / "out"
    done = CliRunner().invoke(main, ["detect", str(w.write(tmp_path / "batch")), "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert json.loads((out / "rings.json").read_text())["rings"] == []
    header = (out / "ring_members.csv").read_text().splitlines()
    assert header == ["ring_id,account_id,created_at,requests,operation,operator,operator_cluster,"
                      "operator_confidence,score"]


def test_two_operators_signing_up_in_the_same_minutes_stay_two_operations(tmp_path):
    """A moment in time is not a tool: rings of two operators created in the same sign-up window, with
    nothing else in common, are two operations, and intel on one names only its own."""
    w = World(seed=19)
    add_ring(w, "ringa", n=36, requests=120)  # 12 minutes of sign-ups: two windows or more
    add_ring(w, "ringz", n=36, requests=120, base_ip="100.64.9", device="harness-z", domain="zz-mail.top", asn=16276,
             template="summarise the repository {} into an agent plan with tool calls for {} in yaml")
    add_regulars(w, n=120)
    w.intel += [{"operator": "CRIMSON-LATHE", "kind": "instrument", "value": "tok_ringa_0", "note": "card batch"}]
    result = detect(w.write(tmp_path / "batch"))
    by_label = {w.truth[m]: r for r in result.rings for m in r.members}
    assert set(by_label) == {"ringa", "ringz"}
    assert by_label["ringa"].operation != by_label["ringz"].operation
    assert by_label["ringa"].operator == "CRIMSON-LATHE" and by_label["ringz"].operator is None


def test_templated_harvest_needs_the_template_to_be_what_members_send():
    """Regression (hackathon trap): an organisers' starter prompt is repeated across many rings of
    participants, but each sends it now and then; a harness fills its template in most requests."""
    templated = dict(diversity=1, template_share=1, families=2, infra_families=1, template_reach=1.0,
                     template_rings=8, focus=0.9)
    starter = score(features(**templated, templated_prompts=0.15))
    harness = score(features(**templated, templated_prompts=0.6))
    assert starter["templated_harvest"][0] == 0 and starter["score"][0] == 0
    assert harness["templated_harvest"][0] == pytest.approx(1.0) and harness["score"][0] > 0.5
    between = score(features(**templated, templated_prompts=0.35))["templated_harvest"][0]
    assert between == pytest.approx(0.5)


def test_a_common_phrase_the_ring_also_uses_is_not_a_second_tool_of_a_bystander(tmp_path):
    """Regression (hackathon account in an operator's ring): a household behind one of the ring's proxy
    addresses also asks for code the way many people do, and so do some ring members. That phrase is how a
    fifth of the batch writes, not the ring's template: the household stays a bystander."""
    w = World(seed=29)
    ring = add_ring(w, "ringa", n=12, requests=90)  # 30 prompts each: all sampled, the common ones too
    regulars = add_regulars(w, n=120)
    common = "what is the idiomatic way to write a loop over {} in this language"
    for i, aid in enumerate(regulars[:30]):  # each from its own home address and laptop
        for k in range(3):
            w.request(aid, START + pd.Timedelta(days=5 + k, hours=i), f"10.0.{i}.7", 7922, f"dev-user-{i}",
                      common.format(WORDS[k]))
    for aid in ring[:4]:
        for k in range(3):
            w.request(aid, START + pd.Timedelta(days=5 + k, hours=3), "203.0.113.2", 14061, "harness-ringa",
                      common.format(WORDS[k]))
    w.account("household", START - pd.Timedelta(days=90), "home@gmail.com", "household")
    for k in range(6):
        w.request("household", START + pd.Timedelta(days=4, hours=k), "203.0.113.1", 14061, "home-laptop",
                  common.format(WORDS[k]) if k % 2 == 0 else w.random_prompt())
    result = detect(w.write(tmp_path / "batch"))
    (found,) = result.rings
    assert set(found.members) == set(ring)
    assert found.bystanders == ["household"]


def test_rings_of_an_operation_two_operators_share_follow_the_one_whose_tools_they_use():
    """Held-out world H9: two operators sending the same prompt kit made one operation; intel on some rings
    named each, and every ring without indicators of its own was left unattributed. A ring follows the
    operator whose rings alone share tools with it; the kit everyone sends decides nothing, and a ring tied
    to both operators' rings stays unattributed."""
    import duckdb

    from linkage.attribution import _follow_distinct_tools
    from linkage.config import AttributionParams

    con = duckdb.connect()
    uses = {  # aid -> entities its requests touched (ring of each aid below)
        1: ["ip:1.1.1.1", "ip:1.1.1.2"], 2: ["ip:1.1.1.2"],                 # ring 0, named X by intel
        3: ["ip:1.1.1.1"], 4: ["ip:1.1.1.2"],                               # ring 1: X's exits only
        5: ["ip:2.2.2.1", "ip:2.2.2.2"], 6: ["ip:2.2.2.2"],                 # ring 2, named Y by intel
        7: ["ip:2.2.2.1", "ip:2.2.2.2"], 8: [],                             # ring 3: Y's exits only
        9: ["ip:1.1.1.1"], 10: ["ip:2.2.2.1"],                              # ring 4: one exit of each
        11: ["ip:1.1.1.1"], 12: [],                                         # ring 5: a single exit of X's
    }
    rows = [(aid, *e.split(":", 1)) for aid, es in uses.items() for e in [*es, "prompt:kit phrase"]]
    con.execute("CREATE TABLE incidence (aid INTEGER, family VARCHAR, entity VARCHAR)")
    con.executemany("INSERT INTO incidence VALUES (?, ?, ?)", rows)
    con.execute("CREATE TABLE op_tools AS SELECT DISTINCT 7 AS op, family, entity FROM incidence")
    rings = pd.DataFrame({"ring": range(6), "ring_id": [f"r{k}" for k in range(6)], "op": [7] * 6})
    members = pd.DataFrame({"aid": list(uses), "ring": [(aid - 1) // 2 for aid in uses]})
    own = [("X", 0.9), (None, 0.0), ("Y", 0.9), (None, 0.0), (None, 0.0), (None, 0.0)]
    params = AttributionParams()

    got = _follow_distinct_tools(con, params, rings, members, own, [(None, 0.0)], {7: 0})
    assert got == {1: ("X", 1.0), 3: ("Y", 1.0)}
    # An operation its intel names as one operator's is not split: every ring takes that operator already.
    assert _follow_distinct_tools(con, params, rings, members, own, [("X", 0.8)], {7: 0}) == {}
    # Intel naming one operator only, on an operation left ambiguous: nothing to tell apart.
    assert _follow_distinct_tools(con, params, rings, members, [("X", 0.9)] + [(None, 0.0)] * 5,
                                  [(None, 0.0)], {7: 0}) == {}


def test_an_account_left_outside_the_ring_with_a_card_of_its_batch_and_one_of_its_exits_joins_it(tmp_path):
    """Regression (mimicry operators missed at 0.89): a quiet operator account shares one proxy exit with one
    member and pays from the ring's card batch, but its household-like ties place it in another community.
    It carries a member's two tools, so it joins the ring as a recruit. The batch's BIN alone, or the exit
    alone, is how ordinary customers and neighbours look: those stay out."""
    batch, ring = recruit_world(tmp_path / "batch")
    result = detect(batch)
    (found,) = result.rings
    assert set(found.members) == set(ring) | {"quiet-0"} and found.size == 13
    assert found.recruits == ["quiet-0"] and "quiet-0" not in found.bystanders
    members = result.members[result.members["ring_id"] == found.ring_id]
    assert set(members["account_id"]) == set(found.members)
    out = tmp_path / "out"  # the analyst reads it in rings.json and from explain
    assert CliRunner().invoke(main, ["detect", str(batch), "--out", str(out)]).exit_code == 0
    (written,) = json.loads((out / "rings.json").read_text())["rings"]
    assert written["recruits"] == ["quiet-0"]
    said = CliRunner().invoke(main, ["explain", "quiet-0", ring[0], "--from", str(out)])
    assert said.exit_code == 0 and f"quiet-0 joined {found.ring_id} from outside its community" in said.output


def _recruit_tables(uses: list[tuple[int, str, str]], outsiders: list[int], members: tuple[int, ...] = (1, 2, 3, 4)
                    ) -> duckdb.DuckDBPyConnection:
    """Hand-made tables for ``membership.recruits``: ring members (1-4: community 1, operation 1) pay from BIN
    537410; ``uses`` adds each account's other entities. Addresses carry weight; template phrases carry none
    (past the pair cap), as an operation's templates do."""
    con = duckdb.connect()
    members = list(members)
    everyone = members + outsiders
    con.execute("CREATE TABLE accounts AS SELECT unnest(?) AS aid, 'acc' || unnest(?) AS account_id, "
                "CAST(NULL AS VARCHAR) AS org_id", [everyone, everyone])
    con.execute("CREATE TABLE operations AS SELECT 1 AS cid, 1 AS op")
    con.execute("CREATE TABLE card_batches AS SELECT 1 AS cid, 'card_batch' AS family, '537410' AS entity, "
                "true AS passes")
    rows = [(m, "card_batch", "537410") for m in members] + uses
    con.register("uses_df", pd.DataFrame(rows, columns=["aid", "family", "entity"]))
    con.execute("CREATE TABLE incidence AS SELECT * FROM uses_df")
    con.execute("CREATE TABLE entities AS SELECT family, entity, count(*) AS accounts, "
                "CASE WHEN family = 'ip' THEN 1.0 ELSE 0.0 END AS pair_weight FROM incidence GROUP BY ALL")
    return con


@pytest.mark.parametrize(("sharing_without_card", "recruited"), [(1, [10]), (30, [])])
def test_recruits_only_where_chance_explains_few_of_them(sharing_without_card, recruited):
    """Known answer on hand-made tables: ring members 1-4 exit through x1 and x2. Account 10 holds a 537410
    card and exits through x1; account 11 holds one and shares nothing; 100 others share nothing, and
    ``sharing_without_card`` accounts without the card exit through x2. With one such account, a holder
    sharing an exit is no coincidence (2 holders x 1/101 expected, against 1): 10 joins community 1. With
    30 of 130, chance explains it (2 x 30/130 = 0.46 > 0.1 x 1): nobody joins."""
    without = list(range(20, 20 + sharing_without_card))
    uses = ([(1, "ip", "x1"), (2, "ip", "x2"), (10, "ip", "x1")]
            + [(10, "card_batch", "537410"), (11, "card_batch", "537410")] + [(a, "ip", "x2") for a in without])
    con = _recruit_tables(uses, [10, 11, *without, *range(100, 200)])
    found = membership.recruits(con, Config(), pd.DataFrame({"cid": 1, "aid": [1, 2, 3, 4]}))
    assert found["aid"].tolist() == recruited and set(found["cid"]) <= {1}
    assert found["account_id"].tolist() == [f"acc{a}" for a in recruited]


def test_recruits_by_the_operations_templates_and_through_other_recruits():
    """Known answer (mimicry missed at 0.877: its quiet accounts hold the operation's card and use its
    templates, or pair off on proxy exits no flagged member used). Members 1-4 send phrases p1-p4 of their
    template (prompt family: ``min_shared`` 3) and exit through x1. Holders of a 537410 card outside:
    10 sends p1-p3 (the template is a tool: joins); 11 sends p1-p2 (too few phrases: stays out); 12 sends
    q1-q3, a public template's phrases that members 1 and 2 send but 40 others too (not the operation's:
    stays out); 15 sends r1-r3, which members 1 and 2 send and four others too (a third of their users are
    the operation's: a way of writing it shares, not its template; regression, held-out world H2); 13 exits
    through x1 (joins in the first round) and 14 through y1 with 13 only (joins in the second round, through
    13; with one round allowed, it stays out). 100 accounts share nothing."""
    phrases = [(m, "prompt", p) for m in (1, 2, 3, 4) for p in ("p1", "p2", "p3", "p4")]
    public = [(a, "prompt", q) for a in (1, 2, *range(200, 240)) for q in ("q1", "q2", "q3")]
    shared = [(a, "prompt", r) for a in (1, 2, 15, 240, 241, 242) for r in ("r1", "r2", "r3")]
    cards = [(a, "card_batch", "537410") for a in (10, 11, 12, 13, 14, 15)]
    uses = (phrases + public + shared + cards + [(1, "ip", "x1"), (13, "ip", "x1"), (13, "ip", "y1"), (14, "ip", "y1")]
            + [(10, "prompt", p) for p in ("p1", "p2", "p3")] + [(11, "prompt", p) for p in ("p1", "p2")]
            + [(12, "prompt", q) for q in ("q1", "q2", "q3")])
    con = _recruit_tables(uses, [10, 11, 12, 13, 14, 15, *range(100, 200), *range(200, 243)])
    flagged = pd.DataFrame({"cid": 1, "aid": [1, 2, 3, 4]})
    found = membership.recruits(con, Config(), flagged)
    assert found["aid"].tolist() == [10, 13, 14] and set(found["cid"]) == {1}
    one_round = Config()
    one_round = dataclasses.replace(one_round, scoring=dataclasses.replace(one_round.scoring, recruit_rounds=1))
    assert membership.recruits(con, one_round, flagged)["aid"].tolist() == [10, 13]


def test_recruits_by_address_and_by_template_are_tested_for_chance_apart():
    """Regression (seed scale: GLASS-HERON 5,000 -> 4,952 when the two routes shared one chance test). Members
    1-8 send phrases p1-p3 and exit through x1; three accounts without the card send p1-p3 too, and 100 card
    holders share nothing. Holder 10 sends p1-p3: three of the four senders outside lack the card, which
    chance explains (102 holders x 3/103 against 1): 10 stays out. Holder 13 exits through x1, which no
    account without the card does: 13 joins. Pooled, the three senders would have kept 13 out as well."""
    members = tuple(range(1, 9))
    uses = ([(m, "prompt", p) for m in members for p in ("p1", "p2", "p3")] + [(1, "ip", "x1"), (13, "ip", "x1")]
            + [(a, "prompt", p) for a in (10, 20, 21, 22) for p in ("p1", "p2", "p3")]
            + [(a, "card_batch", "537410") for a in (10, 13, *range(100, 200))])
    con = _recruit_tables(uses, [10, 13, 20, 21, 22, *range(100, 300)], members)
    found = membership.recruits(con, Config(), pd.DataFrame({"cid": 1, "aid": list(members)}))
    assert found["aid"].tolist() == [13]


@pytest.mark.parametrize(("behind_the_exit", "recruited"), [(0, [30]), (40, [])])
def test_recruits_by_the_operations_exits_and_templates_without_its_card(behind_the_exit, recruited):
    """Known answer (a thin operation buys cards anywhere, so it has no batch: WILLOW-SHRIKE at 0.935). Members
    1-4 send p1-p4 and exit through x1. Outside, 30 exits through x1 and sends p1-p3 (two tools, no card:
    joins); 31 only exits through x1 and 32 only sends p1-p3 (one tool each: out); 100 share nothing. The
    template senders are the holders of this route's chance test: with ``behind_the_exit`` more accounts that
    send no template exiting through x1 (a carrier address), 2 senders x 41/101 coincidences are to be
    expected against the one found, and nobody joins."""
    behind = list(range(400, 400 + behind_the_exit))
    uses = ([(m, "prompt", p) for m in (1, 2, 3, 4) for p in ("p1", "p2", "p3", "p4")] + [(1, "ip", "x1")]
            + [(30, "ip", "x1"), (31, "ip", "x1")] + [(a, "prompt", p) for a in (30, 32) for p in ("p1", "p2", "p3")]
            + [(a, "ip", "x1") for a in behind])
    con = _recruit_tables(uses, [30, 31, 32, *range(100, 200), *behind])
    found = membership.recruits(con, Config(), pd.DataFrame({"cid": 1, "aid": [1, 2, 3, 4]}))
    assert found["aid"].tolist() == recruited and set(found["cid"]) <= {1}


def test_indicator_specificity_counts_every_account_it_touches_inside_and_outside_the_rings():
    """An address indicator touches accounts 1, 2 (ring 0), 3 (ring 1) and 9 (no ring): specificity 1/2 for
    ring 0, 1/4 for ring 1, 3/4 for their operation; a second indicator touching only 3 adds 1 to ring 1.
    A regression test for the one-pass reach that replaced a windowed distinct count per use."""
    from linkage import attribution

    con = duckdb.connect()
    hits = [("OP", "ip", "203.0.113.7", a) for a in (1, 2, 3, 9)] + [("OP", "device", "dev-1", 3)]
    con.register("hits_df", pd.DataFrame(hits, columns=["operator", "kind", "value", "aid"]))
    con.execute("CREATE TABLE indicator_hits AS SELECT * FROM hits_df")
    reach = attribution._reach(con, pd.DataFrame({"aid": [1, 2, 3, 4], "ring": [0, 0, 1, 1]}))
    direct = attribution._direct_evidence(reach).set_index("ring")
    assert direct.loc[0, "evidence"] == pytest.approx(1 - np.exp(-0.5))
    assert direct.loc[1, "evidence"] == pytest.approx(1 - np.exp(-1.25))
    assert [(i["kind"], i["touched"], i["specificity"]) for i in direct.loc[1, "indicators"]] == [
        ("device", 1, 1.0), ("ip", 1, 0.25)]
    ops = attribution._op_evidence(reach, pd.Series({0: 0, 1: 0}))
    assert ops["evidence"].tolist() == pytest.approx([1 - np.exp(-1.75)])
