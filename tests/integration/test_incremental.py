"""Day after day into one Neo4j: a later batch adds to what earlier ones stored (links, rings, operations).

The first batch is the fixture run; the second (``storekit.later_batch``) holds the first half of its
accounts, with re-weighted and dropped links and, here, rings edited the way ``linkage detect --state``
writes them: one ring continues (a member left, one joined), two merged into a new ring, one ring is
new, one is not mentioned. The same second batch without lineage is loaded too (today's runs).
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner
from storekit import census, kill_load_midway, later_batch, links, rewrite_rings, run_links

from linkage.cli import main
from linkage.store.connection import run_query
from linkage.store.load import load_run

LATER = "later-batch"


@pytest.fixture(scope="module")
def first(fixture_world_run) -> Path:
    return fixture_world_run


def _accounts(run: Path) -> list[str]:
    return [a for a, in duckdb.sql(f"SELECT account_id FROM '{run}/evidence/accounts.parquet' ORDER BY 1").fetchall()]


def _with_lineage(first: Path, dest: Path, *, lineage: bool) -> tuple[Path, dict]:
    """The second batch, its rings edited; returns it and what the test expects of each ring."""
    run = later_batch(first, dest)
    doc = json.loads((run / "rings.json").read_text())
    members = pd.read_csv(run / "ring_members.csv", dtype=str)
    in_run = set(_accounts(run))
    rings = sorted(doc["rings"], key=lambda r: -r["size"])
    cont, b, c, quiet = rings  # the fixture has four rings
    ringed = set(members["account_id"])
    free = sorted(in_run - ringed)
    # continuing: its members this batch saw, less one that left, plus one that joined
    cont_now = sorted(set(cont["members"]) & in_run)
    left, joined = cont_now[0], free[0]
    cont_members = sorted(set(cont_now[1:]) | {joined})
    # merged: b and c's members this batch saw, in one new ring
    merged_members = sorted((set(b["members"]) | set(c["members"])) & in_run)
    new_members = free[1:4]
    lin = {
        cont["ring_id"]: {"first_detected": "fixture", "previous_ids": [cont["ring_id"]],
                          "new_members": {"count": 1, "ids": [joined]}, "status": "continuing"},
        "ring-merged-bc": {"first_detected": LATER, "previous_ids": [b["ring_id"], c["ring_id"]],
                           "new_members": {"count": 0, "ids": []}, "status": "merged"},
        "ring-new-e": {"first_detected": LATER, "previous_ids": [],
                       "new_members": {"count": 3, "ids": new_members}, "status": "new"},
    }
    out = [{**cont, "members": cont_members, "size": len(cont_members)},
           {**b, "ring_id": "ring-merged-bc", "members": merged_members, "size": len(merged_members)},
           {**quiet, "ring_id": "ring-new-e", "members": new_members, "size": len(new_members)}]
    for r in out:
        if lineage:
            r["lineage"] = lin[r["ring_id"]]
    ops = {o["operation_id"]: o for o in doc["operations"]}
    for o in ops.values():
        o["rings"] = [x["ring_id"] for x in out if x.get("operation") == o["operation_id"]]
    doc["rings"], doc["operations"] = out, [o for o in ops.values() if o["rings"]]
    template = members.iloc[0].to_dict()
    rows = [{**template, "ring_id": r["ring_id"], "account_id": a} for r in out for a in r["members"]]
    rewrite_rings(run, doc, pd.DataFrame(rows, columns=members.columns))
    expect = {"continuing": cont["ring_id"], "left": left, "joined": joined, "merged_from": [b["ring_id"], c["ring_id"]],
              "quiet": quiet["ring_id"], "first": {r["ring_id"]: set(r["members"]) for r in rings}, "in_run": in_run,
              "second": {r["ring_id"]: set(r["members"]) for r in out}}
    return run, expect


def _rings(driver, settings) -> dict[str, dict]:
    return {r["id"]: {"props": r["props"], "members": set(r["members"])} for r in run_query(
        driver, settings, "rings", "MATCH (r:Ring) RETURN r.ring_id AS id, properties(r) AS props, "
                                   "[(a:Account)-[:MEMBER_OF]->(r) | a.account_id] AS members")}


def _ring_of(driver, settings) -> dict[str, str]:
    return {r["a"]: r["r"] for r in run_query(driver, settings, "ring of",
                                              "MATCH (a:Account) WHERE a.ring_id IS NOT NULL "
                                              "RETURN a.account_id AS a, a.ring_id AS r")}


def test_two_batches_with_lineage(neo4j_driver, neo4j_settings, clean_db, first, tmp_path):
    second, x = _with_lineage(first, tmp_path / "later", lineage=True)
    one, two = run_links(first), run_links(second)
    touched = x["in_run"]
    untouched = {p: w for p, w in one.items() if not (p[0] in touched and p[1] in touched)}
    assert untouched and two

    load_run(neo4j_driver, neo4j_settings, first)
    load_run(neo4j_driver, neo4j_settings, second)
    stored = links(neo4j_driver, neo4j_settings)
    assert {p: stored.get(p) for p in untouched} == untouched  # the first batch's other links stay
    assert {p: stored.get(p) for p in two} == two  # the pairs the second links have its weights
    assert stored == {**one, **two}  # and the pairs it holds but does not link keep the first batch's

    rings = _rings(neo4j_driver, neo4j_settings)
    doc = json.loads((second / "rings.json").read_text())
    latest = {r for r, v in rings.items() if v["props"].get("batch_id") == LATER}
    assert latest == {r["ring_id"] for r in doc["rings"]}  # ring ids in Neo4j match the latest rings.json
    assert all(rings[r]["props"]["status"] == "active" for r in latest)

    cont = rings[x["continuing"]]  # one node, the union: earlier members the batch did not see, and its own
    assert cont["members"] == (x["first"][x["continuing"]] - touched) | x["second"][x["continuing"]]
    assert x["joined"] in cont["members"] and x["left"] not in cont["members"]
    assert cont["props"]["lineage"] == "continuing" and cont["props"]["new_members"] == 1
    assert sum(1 for r in rings if r == x["continuing"]) == 1

    for old in x["merged_from"]:  # merged rings' nodes are kept and marked, with the members the batch did not see
        assert rings[old]["props"]["status"] == "merged" and rings[old]["props"]["merged_into"] == "ring-merged-bc"
        assert rings[old]["members"] == x["first"][old] - touched
    assert rings["ring-merged-bc"]["members"] == x["second"]["ring-merged-bc"]
    assert rings["ring-merged-bc"]["props"]["previous_ids"] == x["merged_from"]
    assert rings["ring-new-e"]["props"]["lineage"] == "new"
    quiet = rings[x["quiet"]]  # a ring the later batch does not mention is left alone
    assert quiet["members"] == x["first"][x["quiet"]] - {a for m in x["second"].values() for a in m}
    assert quiet["props"]["status"] == "active" and quiet["props"]["batch_id"] != LATER

    ring_of = _ring_of(neo4j_driver, neo4j_settings)
    assert x["left"] not in ring_of or ring_of[x["left"]] != x["continuing"]
    assert all(ring_of[a] == r for r, accs in x["second"].items() for a in accs)

    ops = {r["r"]: r["o"] for r in run_query(neo4j_driver, neo4j_settings, "part of",
                                            "MATCH (r:Ring)-[:PART_OF]->(o) RETURN r.ring_id AS r, o.operation_id AS o")}
    assert {r["ring_id"]: r.get("operation") for r in doc["rings"]} == {r: ops.get(r) for r in latest}

    # a re-load of the same run changes nothing (regression: it must be idempotent)
    before = census(neo4j_driver, neo4j_settings), _rings(neo4j_driver, neo4j_settings), links(neo4j_driver, neo4j_settings)
    res = CliRunner().invoke(main, ["load", str(second), "--quiet"])
    assert res.exit_code == 0, res.output
    after = census(neo4j_driver, neo4j_settings), _rings(neo4j_driver, neo4j_settings), links(neo4j_driver, neo4j_settings)
    assert after == before


def test_two_batches_without_lineage(neo4j_driver, neo4j_settings, clean_db, first, tmp_path):
    """Today's runs: no lineage, so ring ids alone say what continues; accounts go to the latest run's ring."""
    second, x = _with_lineage(first, tmp_path / "later", lineage=False)
    load_run(neo4j_driver, neo4j_settings, first)
    load_run(neo4j_driver, neo4j_settings, second)
    rings = _rings(neo4j_driver, neo4j_settings)
    placed = {a for m in x["second"].values() for a in m}
    for ring, members in x["first"].items():  # nothing a user loaded goes unless the newer run replaced it
        assert ring in rings
        if ring not in x["second"]:
            assert rings[ring]["members"] == members - placed
            want = "superseded" if members <= placed else "active"
            assert rings[ring]["props"]["status"] == want
    for ring, members in x["second"].items():
        assert members <= rings[ring]["members"]
    # every account is in at most one ring of the latest batch; an account the batch placed is in that ring only
    in_rings = run_query(neo4j_driver, neo4j_settings, "in rings",
                         "MATCH (a:Account)-[:MEMBER_OF]->(r:Ring) RETURN a.account_id AS a, collect(r.ring_id) AS rs")
    assert all(row["rs"] == [r] for row in in_rings for r, m in x["second"].items() if row["a"] in m)


def test_replace_rings_makes_the_stored_rings_exactly_the_runs(neo4j_driver, neo4j_settings, clean_db, first,
                                                               tmp_path):
    second, x = _with_lineage(first, tmp_path / "later", lineage=True)
    load_run(neo4j_driver, neo4j_settings, first)
    res = CliRunner().invoke(main, ["load", str(second), "--replace-rings", "--quiet"])
    assert res.exit_code == 0, res.output
    rings = _rings(neo4j_driver, neo4j_settings)
    assert {r: v["members"] for r, v in rings.items()} == x["second"]


def test_an_interrupted_second_batch_is_repaired_by_a_rerun(neo4j_driver, neo4j_settings, clean_db, wiper, first,
                                                            tmp_path):
    second, _ = _with_lineage(first, tmp_path / "later", lineage=True)
    load_run(neo4j_driver, neo4j_settings, first)
    load_run(neo4j_driver, neo4j_settings, second)
    reference = census(neo4j_driver, neo4j_settings), _rings(neo4j_driver, neo4j_settings), \
        links(neo4j_driver, neo4j_settings)
    wiper()
    load_run(neo4j_driver, neo4j_settings, first)
    kill_load_midway(neo4j_driver, neo4j_settings, second, batch_rows=200, batch=LATER, chunks=4)
    partial = census(neo4j_driver, neo4j_settings)
    assert partial != reference[0]  # it really was interrupted midway
    res = CliRunner().invoke(main, ["load", str(second), "--quiet"], env={"LINKAGE_LOAD_BATCH_ROWS": "5000"})
    assert res.exit_code == 0, res.output
    got = census(neo4j_driver, neo4j_settings), _rings(neo4j_driver, neo4j_settings), links(neo4j_driver, neo4j_settings)
    assert got[0] == reference[0]  # counts exact
    assert {r: v["members"] for r, v in got[1].items()} == {r: v["members"] for r, v in reference[1].items()}
    assert got[2] == reference[2]


# --- with runs of `linkage detect --state` -------------------------------------------------------------


@pytest.fixture(scope="module")
def state_runs(tmp_path_factory) -> tuple[Path, Path]:
    """Two consecutive batches of one small world, detected with a state: the second run's rings carry lineage."""
    from linkage.synth import generate
    from linkage.synth.batches import split_days

    base = tmp_path_factory.mktemp("state")
    generate(base / "world", seed=11, accounts=1500, fmt="parquet")
    batches = split_days(base / "world", base / "batches", days=46)
    outs = []
    for day, folder in batches[:2]:
        out = base / f"out-{day}"
        res = CliRunner().invoke(main, ["detect", str(folder), "--out", str(out), "--state", str(base / "state"),
                                        "--quiet"])
        assert res.exit_code == 0, res.output
        outs.append(out)
    return outs[0], outs[1]


def test_runs_with_state_load_day_after_day(neo4j_driver, neo4j_settings, clean_db, state_runs):
    one, two = state_runs
    doc = json.loads((two / "rings.json").read_text())
    assert doc["rings"] and all("lineage" in r for r in doc["rings"])
    assert any(r["lineage"]["status"] != "new" for r in doc["rings"])  # some ring continues from the first batch
    first_links, second_links = run_links(one), run_links(two)
    seen = set(_accounts(two))
    untouched = {p: w for p, w in first_links.items() if not (p[0] in seen and p[1] in seen)}

    load_run(neo4j_driver, neo4j_settings, one)
    load_run(neo4j_driver, neo4j_settings, two)
    stored = links(neo4j_driver, neo4j_settings)
    assert {p: stored.get(p) for p in untouched} == untouched
    assert {p: stored.get(p) for p in second_links} == second_links

    rings = _rings(neo4j_driver, neo4j_settings)
    batch = doc["input"]["batch_id"]
    assert {r for r, v in rings.items() if v["props"].get("batch_id") == batch} == {r["ring_id"] for r in doc["rings"]}
    first_ids = {r["ring_id"] for r in json.loads((one / "rings.json").read_text())["rings"]}
    for ring in doc["rings"]:
        got = rings[ring["ring_id"]]
        assert set(ring["members"]) <= got["members"]
        assert got["props"]["lineage"] == ring["lineage"]["status"]
        assert got["props"]["new_members"] == ring["lineage"]["new_members"]["count"]
        for prev in ring["lineage"]["previous_ids"]:  # what it continues is the same node or is marked
            assert prev in first_ids and prev in rings
            if prev != ring["ring_id"] and prev not in {r["ring_id"] for r in doc["rings"]}:
                assert rings[prev]["props"]["status"] in ("merged", "split")

    before = census(neo4j_driver, neo4j_settings), _rings(neo4j_driver, neo4j_settings)
    load_run(neo4j_driver, neo4j_settings, two)
    assert (census(neo4j_driver, neo4j_settings), _rings(neo4j_driver, neo4j_settings)) == before
