"""Loading detect runs into a real Neo4j: counts, idempotence, repair after a kill, stored-graph rings."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner
from storekit import census, kill_load_midway, later_batch, links, run_links

from linkage.cli import main
from linkage.store.connection import run_query
from linkage.store.load import load_run
from linkage.store.model import NODES, RELATIONSHIPS
from linkage.synth import generate

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "world"


@pytest.fixture(scope="module")
def fixture_run(fixture_world_run) -> Path:
    return fixture_world_run


@pytest.fixture(scope="module")
def second_run(tmp_path_factory) -> Path:
    """Another, smaller batch: a different world whose account ids do not collide with the fixture's."""
    base = tmp_path_factory.mktemp("second")
    generate(base / "world", seed=99, accounts=800, fmt="csv")
    out = base / "out"
    res = CliRunner().invoke(main, ["detect", str(base / "world"), "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    return out


def expected(out: Path) -> dict:
    """What the run's own files imply the graph must hold."""
    ev = out / "evidence"
    q = lambda sql: duckdb.sql(sql.replace("EV/", str(ev) + "/")).fetchall()[0][0]  # noqa: E731
    doc = json.loads((out / "rings.json").read_text())
    return {
        "Account": q("SELECT count(*) FROM 'EV/accounts.parquet'"),
        "USED_IP": q("SELECT count(*) FROM 'EV/incidence.parquet' WHERE family = 'ip'"),
        "PAID_WITH": q("SELECT count(*) FROM 'EV/incidence.parquet' WHERE family = 'payment'"),
        "USED_DEVICE": q("SELECT count(*) FROM 'EV/incidence.parquet' WHERE family = 'device'"),
        "PaymentInstrument": q("SELECT count(*) FROM 'EV/entities.parquet' WHERE family = 'payment'"),
        "IP": q("SELECT count(*) FROM 'EV/entities.parquet' WHERE family = 'ip'"),
        "LINKED": q("SELECT count(*) FROM 'EV/links.parquet'"),
        "requests": q("SELECT sum(requests) FROM 'EV/accounts.parquet'"),
        "events": doc["input"]["events"],
        "Ring": len(doc["rings"]),
        "MEMBER_OF": sum(r["size"] for r in doc["rings"]),
        "Indicator": q("SELECT count(DISTINCT (operator, kind, value)) FROM 'EV/intel.parquet'"),
    }


def test_counts_after_loading_equal_what_the_input_implies(neo4j_driver, neo4j_settings, clean_db, fixture_run):
    stats = load_run(neo4j_driver, neo4j_settings, fixture_run).as_dict()
    got, want = census(neo4j_driver, neo4j_settings), expected(fixture_run)
    for label in ("Account", "PaymentInstrument", "IP", "Ring", "Indicator"):
        assert got["nodes"][label] == want[label], label
    for rtype in ("USED_IP", "PAID_WITH", "USED_DEVICE", "LINKED", "MEMBER_OF"):
        assert got["rels"][rtype] == want[rtype], rtype
    assert got["requests"] == want["requests"] == want["events"]  # every request counted exactly once
    assert got["ip_requests"] == want["events"]
    assert set(got["nodes"]) <= set(NODES) and set(got["rels"]) <= set(RELATIONSHIPS)
    assert stats["relationships"] > 0 and stats["relationships_per_s"] > 0


def test_loading_the_same_run_again_changes_nothing(neo4j_driver, neo4j_settings, clean_db, fixture_run):
    load_run(neo4j_driver, neo4j_settings, fixture_run)
    first = census(neo4j_driver, neo4j_settings)
    load_run(neo4j_driver, neo4j_settings, fixture_run)
    assert census(neo4j_driver, neo4j_settings) == first


def test_entity_rarity_is_computed_from_the_stored_graph(neo4j_driver, neo4j_settings, clean_db, fixture_run):
    load_run(neo4j_driver, neo4j_settings, fixture_run)
    ents = pd.read_parquet(fixture_run / "evidence" / "entities.parquet")
    row = ents[(ents.family == "ip")].sort_values(["accounts", "entity"], ascending=[False, True]).iloc[0]
    ip = run_query(neo4j_driver, neo4j_settings, "ip", "MATCH (i:IP {address: $a}) RETURN i", {"a": row.entity})[0]["i"]
    assert ip["accounts"] == row.accounts and ip["hub"] == bool(row.hub)
    assert ip["pair_weight"] == pytest.approx(row.pair_weight)


def test_a_killed_load_rerun_ends_with_exactly_the_right_counts(neo4j_driver, neo4j_settings, clean_db, wiper,
                                                                 fixture_run):
    load_run(neo4j_driver, neo4j_settings, fixture_run)
    reference = census(neo4j_driver, neo4j_settings)
    wiper()
    kill_load_midway(neo4j_driver, neo4j_settings, fixture_run, batch_rows=300, batch=None, chunks=5)
    partial = census(neo4j_driver, neo4j_settings)
    assert partial != reference  # it really was interrupted midway
    res = CliRunner().invoke(main, ["load", str(fixture_run)], env={"LINKAGE_LOAD_BATCH_ROWS": "5000"})
    assert res.exit_code == 0, res.output
    assert census(neo4j_driver, neo4j_settings) == reference


def test_rings_over_the_stored_graph_equal_the_embedded_run(neo4j_driver, neo4j_settings, clean_db, fixture_run,
                                                            tmp_path):
    load_run(neo4j_driver, neo4j_settings, fixture_run)
    res = CliRunner().invoke(main, ["rings", "--neo4j", "--out", str(tmp_path), "--quiet"])
    assert res.exit_code == 0, res.output
    embedded_doc = json.loads((fixture_run / "rings.json").read_text())
    stored_doc = json.loads((tmp_path / "rings.json").read_text())
    embedded, stored = embedded_doc["rings"], stored_doc["rings"]
    assert embedded and any(r["features"].get("focus") for r in embedded)  # prompt topics are in play
    # Everything the analysis decides, every feature included (focus reads the stored prompt topics).
    key = lambda r: (r["ring_id"], r["members"], r["score"], r["operator"], r["operator_cluster"],  # noqa: E731
                     r["operation"], r["features"], r["requests"], r["bystanders"])
    assert [key(r) for r in stored] == [key(r) for r in embedded]
    assert stored_doc["operations"] == embedded_doc["operations"]
    # Written back in place of the old assignment: exactly these rings and members, no stale MEMBER_OF.
    got = {(r["r"], r["a"]) for r in run_query(
        neo4j_driver, neo4j_settings, "members", "MATCH (a:Account)-[:MEMBER_OF]->(r:Ring) "
                                                 "RETURN r.ring_id AS r, a.account_id AS a")}
    assert got == {(r["ring_id"], m) for r in embedded for m in r["members"]}


def _operations(driver, settings) -> dict[str, dict]:
    return {r["id"]: {"props": r["props"], "rings": sorted(r["rings"])} for r in run_query(
        driver, settings, "operations", "MATCH (o:Operation) RETURN o.operation_id AS id, properties(o) AS props, "
                                        "[(r:Ring)-[:PART_OF]->(o) | r.ring_id] AS rings")}


def test_operations_and_their_rings_are_in_the_graph_after_a_load(neo4j_driver, neo4j_settings, clean_db,
                                                                  fixture_run):
    doc = json.loads((fixture_run / "rings.json").read_text())
    ops = doc["operations"]
    assert ops and sum(len(o["rings"]) for o in ops) == len(doc["rings"])  # each ring in one operation
    load_run(neo4j_driver, neo4j_settings, fixture_run)
    got = _operations(neo4j_driver, neo4j_settings)
    assert set(got) == {o["operation_id"] for o in ops}
    for o in ops:
        stored = got[o["operation_id"]]
        assert stored["rings"] == sorted(o["rings"])
        assert stored["props"].get("operator") == o["operator"] and stored["props"]["accounts"] == o["accounts"]
        assert stored["props"]["rings"] == len(o["rings"]) and stored["props"]["score"] == o["score"]
    # every ring is part of exactly one operation, the one rings.json names
    ring_ops = {(r["r"], r["o"]) for r in run_query(
        neo4j_driver, neo4j_settings, "part of",
        "MATCH (r:Ring) OPTIONAL MATCH (r)-[:PART_OF]->(o:Operation) RETURN r.ring_id AS r, o.operation_id AS o")}
    assert ring_ops == {(ring, o["operation_id"]) for o in ops for ring in o["rings"]}
    # an earlier operation with no ring left is marked on the next load, not deleted; a re-load changes nothing
    run_query(neo4j_driver, neo4j_settings, "stale op", "CREATE (:Operation {operation_id: 'operation-stale'})",
              write=True)
    before = census(neo4j_driver, neo4j_settings)
    load_run(neo4j_driver, neo4j_settings, fixture_run)
    stale = _operations(neo4j_driver, neo4j_settings).pop("operation-stale")
    assert stale["props"]["status"] == "superseded" and stale["rings"] == []
    assert {k: v for k, v in _operations(neo4j_driver, neo4j_settings).items() if k != "operation-stale"} == got
    assert census(neo4j_driver, neo4j_settings) == before
    # --replace-rings makes the stored operations exactly the run's: the stale one goes
    load_run(neo4j_driver, neo4j_settings, fixture_run, replace_rings=True)
    assert set(_operations(neo4j_driver, neo4j_settings)) == set(got)


def test_rings_rewrite_leaves_no_stale_membership(neo4j_driver, neo4j_settings, clean_db, fixture_run):
    load_run(neo4j_driver, neo4j_settings, fixture_run)
    run_query(neo4j_driver, neo4j_settings, "stale ring", """
        MATCH (a:Account) WITH a ORDER BY a.account_id LIMIT 3
        MERGE (r:Ring {ring_id: 'ring-stale'}) MERGE (a)-[:MEMBER_OF]->(r)""", write=True)
    res = CliRunner().invoke(main, ["rings", "--neo4j", "--quiet"])
    assert res.exit_code == 0, res.output
    stale = run_query(neo4j_driver, neo4j_settings, "stale", "MATCH (r:Ring {ring_id: 'ring-stale'}) RETURN count(r) AS n")
    assert stale[0]["n"] == 0
    rings = run_query(neo4j_driver, neo4j_settings, "rings", "MATCH (r:Ring) RETURN count(r) AS n")[0]["n"]
    assert rings == len(json.loads((fixture_run / "rings.json").read_text())["rings"])


def test_a_second_batch_adds_to_the_stored_graph(neo4j_driver, neo4j_settings, clean_db, fixture_run, second_run):
    load_run(neo4j_driver, neo4j_settings, fixture_run)
    load_run(neo4j_driver, neo4j_settings, second_run)
    got = census(neo4j_driver, neo4j_settings)
    one, two = expected(fixture_run), expected(second_run)
    assert got["nodes"]["Account"] == one["Account"] + two["Account"]
    assert got["requests"] == one["events"] + two["events"]
    assert got["nodes"]["LoadBatch"] == 2
    res = CliRunner().invoke(main, ["rings", "--neo4j", "--quiet"])
    assert res.exit_code == 0, res.output
    flagged = run_query(neo4j_driver, neo4j_settings, "flagged", "MATCH (a:Account)-[:MEMBER_OF]->() "
                                                                 "RETURN collect(a.account_id) AS ids")[0]["ids"]
    truth = pd.concat([pd.read_csv(FIXTURE / "truth.csv"), pd.read_csv(second_run.parent / "world" / "truth.csv")])
    ring_accounts = set(truth.loc[truth.operator.notna(), "account_id"])
    hits = set(flagged) & ring_accounts
    assert len(hits) >= 0.95 * len(ring_accounts)  # both batches' rings are found over the combined graph
    assert len(hits) >= 0.9 * len(flagged)


@pytest.mark.parametrize("env,message", [
    ({"NEO4J_URI": "bolt://127.0.0.1:1"}, "cannot reach Neo4j"),
    ({"NEO4J_PASSWORD": "definitely-wrong-password"}, "refused the credentials"),
    ({"NEO4J_DATABASE": "nosuchdb"}, "no database named"),
])
def test_store_failures_give_one_line_and_non_zero_exit(neo4j_settings, fixture_run, env, message):
    res = CliRunner().invoke(main, ["load", str(fixture_run)], env=env)
    assert res.exit_code != 0
    assert message in res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1
    assert "definitely-wrong-password" not in res.output


# --- a later batch writes only the LINKED pairs its run links ---------------------------------


def test_a_later_batch_writes_only_the_links_its_run_makes(neo4j_driver, neo4j_settings, clean_db,
                                                           fixture_run, tmp_path):
    later = later_batch(fixture_run, tmp_path / "later")
    first, second = run_links(fixture_run), run_links(later)
    in_later = {a for a, in duckdb.sql(f"SELECT account_id FROM '{later}/evidence/accounts.parquet'").fetchall()}
    untouched = {p: w for p, w in first.items() if not (p[0] in in_later and p[1] in in_later)}
    unlinked = {p: w for p, w in first.items() if p[0] in in_later and p[1] in in_later and p not in second}
    assert untouched and second and unlinked  # the test can tell all three apart

    load_run(neo4j_driver, neo4j_settings, fixture_run)
    assert links(neo4j_driver, neo4j_settings) == first
    stats = load_run(neo4j_driver, neo4j_settings, later).as_dict()
    stored = links(neo4j_driver, neo4j_settings)
    assert {p: stored.get(p) for p in untouched} == untouched  # the first batch's other links stay
    assert {p: stored.get(p) for p in second} == second  # pairs the second run links carry its weight
    # regression: pairs of two accounts both in the second batch that its run does not link were deleted;
    # the second run never saw the first batch's evidence for them, so they stay as the first batch wrote them
    assert {p: stored.get(p) for p in unlinked} == unlinked
    assert stored == {**first, **second}
    done = stats["steps"]["LINKED relationships"]
    assert (done["created"], done["updated"]) == (len(set(second) - set(first)), len(set(second) & set(first)))
    assert "deleted" not in done

    before = census(neo4j_driver, neo4j_settings)
    again = load_run(neo4j_driver, neo4j_settings, later).as_dict()["steps"]["LINKED relationships"]
    assert census(neo4j_driver, neo4j_settings) == before  # a re-run of the same batch changes nothing
    assert links(neo4j_driver, neo4j_settings) == stored
    assert again["created"] == 0


def test_each_batch_keeps_its_own_activity_windows_and_none_is_rewritten(neo4j_driver, neo4j_settings, clean_db,
                                                                          fixture_run, tmp_path):
    """Regression: every batch appended its windows to lists on the account, rewriting all earlier ones (at seed
    scale 333 per account for 7 new ones a day, a quarter of a day's load and growing with every batch)."""
    from linkage.config import Config
    from linkage.store.rings import read_stored

    later = later_batch(fixture_run, tmp_path / "later")
    win = lambda run: {a: (list(w), list(r)) for a, w, r in duckdb.sql(  # noqa: E731
        f"SELECT a.account_id, w.windows, w.requests FROM '{run}/evidence/windows.parquet' w "
        f"JOIN '{run}/evidence/accounts.parquet' a USING (aid)").fetchall()}
    first, second = win(fixture_run), win(later)
    both = sorted(set(first) & set(second))
    assert both  # accounts of the second batch with windows in both

    load_run(neo4j_driver, neo4j_settings, fixture_run)
    load_run(neo4j_driver, neo4j_settings, later)
    seen = run_query(neo4j_driver, neo4j_settings, "seen", """
        MATCH (a:Account)-[s:SEEN_IN]->(b:LoadBatch) WHERE s.windows IS NOT NULL
        RETURN a.account_id AS a, b.batch_id AS batch, s.windows AS w, s.window_requests AS r""")
    stored = {(r["a"], r["batch"]): (r["w"], r["r"]) for r in seen}
    batches = {r["batch"] for r in seen}
    assert batches == {json.loads((fixture_run / "rings.json").read_text())["input"]["batch_id"], "later-batch"}
    assert {a: v for (a, b), v in stored.items() if b == "later-batch"} == second
    assert {a: v for (a, b), v in stored.items() if b != "later-batch"} == first
    on_nodes = run_query(neo4j_driver, neo4j_settings, "node windows",
                         "MATCH (a:Account) WHERE a.windows IS NOT NULL RETURN count(a) AS n")[0]["n"]
    assert on_nodes == 0

    # `linkage rings` reads an account's windows over every batch: a window both batches hold counts twice
    con, _ = read_stored(neo4j_driver, neo4j_settings, Config())
    got = dict(con.execute("""SELECT a.account_id, sum(w.requests) FROM acct_windows w JOIN accounts a USING (aid)
                              GROUP BY ALL""").fetchall())
    for a in both:
        assert got[a] == sum(first[a][1]) + sum(second[a][1])


# --- what the commands show -----------------------------------------------------------------------


class Recorder:
    """A ``load.Report`` that keeps what it was told."""

    def __init__(self):
        self.events: list[tuple] = []

    def start(self, step, total):
        self.events.append(("start", step, total))

    def advance(self, step, rows):
        self.events.append(("advance", step, rows))

    def end(self, step, rows, seconds):
        self.events.append(("end", step, rows))


def test_load_reports_rows_per_step_as_it_goes(neo4j_driver, neo4j_settings, clean_db, fixture_run):
    seen = Recorder()
    stats = load_run(neo4j_driver, neo4j_settings, fixture_run, report=seen).as_dict()
    ends = {step: rows for kind, step, rows in seen.events if kind == "end"}
    assert set(ends) == set(stats["steps"])
    want = expected(fixture_run)
    assert ends["accounts"] == want["Account"] and ends["USED_IP relationships"] == want["USED_IP"]
    totals = {step: total for kind, step, total in seen.events if kind == "start"}
    assert totals["USED_IP relationships"] == want["USED_IP"] and totals["LINKED relationships"] == want["LINKED"]
    advances = [rows for kind, step, rows in seen.events if kind == "advance" and step == "USED_IP relationships"]
    assert advances == sorted(advances) and advances[-1] == want["USED_IP"]


def test_load_and_rings_speak_text_or_json(neo4j_driver, neo4j_settings, clean_db, fixture_run):
    res = CliRunner().invoke(main, ["load", str(fixture_run)])
    assert res.exit_code == 0, res.output
    assert "USED_IP relationships" in res.output and "relationships/s" in res.output.splitlines()[-1]
    res = CliRunner().invoke(main, ["load", str(fixture_run), "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)  # nothing but the JSON document
    assert doc["steps"]["LINKED relationships"]["created"] == 0  # the second load of one batch
    assert json.loads(CliRunner().invoke(main, ["load", str(fixture_run), "--json"]).output)["steps"]
    res = CliRunner().invoke(main, ["rings", "--format", "json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["rings"] == len(json.loads((fixture_run / "rings.json").read_text())["rings"])
    assert doc["written"]["steps"]["LINKED relationships"]["created"] == 0  # same graph, same links


def test_rings_reports_rows_read_and_written(neo4j_driver, neo4j_settings, clean_db, fixture_run):
    from linkage.store.rings import recompute

    load_run(neo4j_driver, neo4j_settings, fixture_run)
    read, stages, writes = [], [], Recorder()
    recompute(neo4j_driver, neo4j_settings, rows_read=lambda name, n: read.append((name, n)),
              report=lambda stage, s: stages.append(stage), writes=writes)
    assert ("accounts", expected(fixture_run)["Account"]) in read
    assert "read graph" in stages and "write back" in stages
    assert {step for kind, step, _ in writes.events if kind == "end"} >= {"LINKED relationships", "rings",
                                                                         "MEMBER_OF relationships"}


def _operators(plan: dict) -> set[str]:
    """Every operator of an EXPLAIN plan (``Operator@neo4j`` read as ``Operator``)."""
    return {plan["operatorType"].split("@")[0]} | {op for child in plan.get("children", []) for op in _operators(child)}


def test_rarity_reads_each_entitys_degree_instead_of_walking_its_relationships(neo4j_driver, neo4j_settings,
                                                                                clean_db):
    """Rarity was 14 s of a 20k-account load while it expanded every relationship to check its start label."""
    from linkage.store import schema
    from linkage.store.load import refresh_entities

    schema.apply(neo4j_driver, neo4j_settings)
    for family in ("ip", "device", "payment", "prompt"):
        plan = neo4j_driver.execute_query("EXPLAIN " + refresh_entities(family),
                                          {"keys": ["k"], "cap": 5, "weight": 1.0, "decay": 1.0}).summary.plan
        ops = _operators(plan)
        assert "NodeUniqueIndexSeek(Locking)" in ops or "NodeUniqueIndexSeek" in ops, (family, ops)
        assert not any(op.startswith(("Expand", "OptionalExpand", "NodeByLabelScan", "AllNodesScan")) for op in ops), \
            (family, ops)


def test_keys_are_taken_as_new_only_while_the_store_has_none_of_the_label_or_type(neo4j_driver, neo4j_settings,
                                                                                   clean_db):
    """The CREATE paths rest on ``known``: a key the store holds must never be reported new."""
    from linkage.store.load import count_nodes, count_rels, existing, known, with_rels

    def ask(check: str, count: str, keys: list[str]) -> list[str]:
        with neo4j_driver.session(database=neo4j_settings.database) as ses:
            return ses.execute_read(lambda tx: known(tx, keys, check, count))

    accounts = (existing("Account", "account_id"), count_nodes("Account"))
    used_ip = (with_rels("Account", "account_id", "USED_IP"), count_rels("USED_IP"))
    assert ask(*accounts, ["a", "b"]) == [] and ask(*used_ip, ["a", "b"]) == []
    run_query(neo4j_driver, neo4j_settings, "seed", "CREATE (:Account {account_id: 'a'}), (:Account {account_id: 'b'})",
              write=True)
    assert sorted(ask(*accounts, ["a", "b", "c"])) == ["a", "b"] and ask(*used_ip, ["a", "b"]) == []
    run_query(neo4j_driver, neo4j_settings, "seed",
              "MATCH (a:Account {account_id: 'b'}) CREATE (a)-[:USED_IP]->(:IP {address: '10.0.0.1'})", write=True)
    assert ask(*used_ip, ["a", "b"]) == ["b"]


def test_a_known_entity_is_written_only_when_the_batch_changes_it(neo4j_driver, neo4j_settings, clean_db):
    """A day's batch sees mostly entities an earlier one stored: those it has nothing new for are not rewritten."""
    from linkage.store.load import entity_nodes

    def send(new: bool, **cols) -> int:
        with neo4j_driver.session(database=neo4j_settings.database) as ses:
            summary = ses.execute_write(lambda tx: tx.run(entity_nodes("payment", new), {**cols, "family": "payment"})
                                        .consume())
        return summary.counters.properties_set + summary.counters.labels_added

    row = {"key": ["tok_1"], "name": ["tok_1"], "instrument_type": ["card"], "bin": ["411111"]}
    assert send(True, **row) > 0
    assert send(False, **row) == 0  # the same values again: nothing written
    assert send(False, **{**row, "bin": [None]}) == 0  # a batch without the detail keeps the stored one
    assert send(False, **{**row, "bin": ["522222"]}) > 0
    got = run_query(neo4j_driver, neo4j_settings, "card", "MATCH (e:PaymentInstrument:Entity {instrument_id: 'tok_1'}) "
                                                        "RETURN e.bin AS bin, e.instrument_type AS t, e.family AS f")
    assert [dict(r) for r in got] == [{"bin": "522222", "t": "card", "f": "payment"}]
    run_query(neo4j_driver, neo4j_settings, "bare", "CREATE (:PaymentInstrument {instrument_id: 'tok_2'})", write=True)
    assert send(False, **{**row, "key": ["tok_2"]}) > 0  # a node stored without the common label gets it


def _stored_rings(driver, settings) -> dict[str, dict]:
    return {r["id"]: {"props": r["props"], "members": sorted(r["members"])} for r in run_query(
        driver, settings, "rings", "MATCH (r:Ring) RETURN r.ring_id AS id, properties(r) AS props, "
                                   "[(a:Account)-[:MEMBER_OF]->(r) | a.account_id] AS members")}


def _earlier_rings_stored(driver, settings, run: Path) -> tuple[list[dict], str]:
    """Load ``run``, then make the stored rings what an investigator's graph held before: the rings under
    ids of an earlier day (``known-k``), the first without its first member yet, the last not found at all.
    Returns the run's rings (sorted by id) and that first member."""
    load_run(driver, settings, run)
    rings = sorted(json.loads((run / "rings.json").read_text())["rings"], key=lambda r: r["ring_id"])
    assert len(rings) >= 3
    renamed = [[r["ring_id"], f"known-{k}"] for k, r in enumerate(rings[:-1])]
    run_query(driver, settings, "rename", "UNWIND $pairs AS p MATCH (r:Ring {ring_id: p[0]}) "
              "SET r.ring_id = p[1], r.first_detected = 'day-0'", {"pairs": renamed}, write=True)
    late = rings[0]["members"][0]
    run_query(driver, settings, "late", "MATCH (:Account {account_id: $a})-[m:MEMBER_OF]->"
              "(:Ring {ring_id: 'known-0'}) DELETE m", {"a": late}, write=True)
    run_query(driver, settings, "unfound", "MATCH (r:Ring {ring_id: $r}) DETACH DELETE r",
              {"r": rings[-1]["ring_id"]}, write=True)
    return rings, late


def _continued(driver, settings, out: Path, rings: list[dict], late: str, batch: str) -> dict[str, dict]:
    """Assert the rings of ``out`` continue the stored ones (``_earlier_rings_stored``) and the graph says so."""
    got = {r["ring_id"]: r for r in json.loads((out / "rings.json").read_text())["rings"]}
    assert sorted(got) == sorted([f"known-{k}" for k in range(len(rings) - 1)] + [rings[-1]["ring_id"]])
    for k, ring in enumerate(rings[:-1]):
        assert got[f"known-{k}"]["members"] == ring["members"]
        assert got[f"known-{k}"]["lineage"] == {
            "status": "continuing", "first_detected": "day-0", "previous_ids": [f"known-{k}"],
            "new_members": {"count": 1, "ids": [late]} if k == 0 else {"count": 0, "ids": []}}
    assert got[rings[-1]["ring_id"]]["lineage"] == {
        "status": "new", "first_detected": batch, "previous_ids": [],
        "new_members": {"count": len(rings[-1]["members"]), "ids": rings[-1]["members"]}}
    members = pd.read_csv(out / "ring_members.csv", dtype={"new": bool})
    fresh = members[members["new"]]
    assert sorted(fresh["account_id"]) == sorted([late, *rings[-1]["members"]])
    # The graph holds what rings.json says, lineage included.
    stored = _stored_rings(driver, settings)
    assert {k: v["members"] for k, v in stored.items()} == {k: r["members"] for k, r in got.items()}
    assert stored["known-0"]["props"]["lineage"] == "continuing"
    assert stored["known-0"]["props"]["first_detected"] == "day-0"
    assert stored["known-0"]["props"]["new_members"] == 1
    return got


def test_rings_recomputed_over_the_graph_continue_the_stored_rings(neo4j_driver, neo4j_settings, clean_db,
                                                                   fixture_run, tmp_path):
    """The stored graph is the state: a recompute keeps the ids of the rings it continues and says their lineage."""
    rings, late = _earlier_rings_stored(neo4j_driver, neo4j_settings, fixture_run)
    batch = json.loads((fixture_run / "rings.json").read_text())["input"]["batch_id"]

    res = CliRunner().invoke(main, ["rings", "--neo4j", "--out", str(tmp_path / "a"), "--quiet"])
    assert res.exit_code == 0, res.output
    got = _continued(neo4j_driver, neo4j_settings, tmp_path / "a", rings, late, batch)

    # Recomputed again over the same graph: the same ids, nothing new.
    res = CliRunner().invoke(main, ["rings", "--neo4j", "--out", str(tmp_path / "b"), "--quiet"])
    assert res.exit_code == 0, res.output
    again = {r["ring_id"]: r for r in json.loads((tmp_path / "b" / "rings.json").read_text())["rings"]}
    assert sorted(again) == sorted(got)
    assert all(r["lineage"]["status"] == "continuing" and r["lineage"]["new_members"]["count"] == 0
               for r in again.values())
    assert again[rings[-1]["ring_id"]]["lineage"]["first_detected"] == batch


def test_detect_into_the_graph_continues_the_stored_rings(neo4j_driver, neo4j_settings, clean_db, fixture_run,
                                                          tmp_path):
    """`detect --neo4j` (no --state): the stored graph is the state for ring ids. Regression: each run's rings
    took their own member-set ids, so a day's load marked the investigator's rings superseded."""
    rings, late = _earlier_rings_stored(neo4j_driver, neo4j_settings, fixture_run)
    res = CliRunner().invoke(main, ["detect", str(FIXTURE), "--out", str(tmp_path / "a"), "--neo4j", "--quiet"])
    assert res.exit_code == 0, res.output
    batch = json.loads((tmp_path / "a" / "rings.json").read_text())["input"]["batch_id"]
    _continued(neo4j_driver, neo4j_settings, tmp_path / "a", rings, late, batch)
    statuses = {r["id"]: r["props"]["status"] for r in run_query(
        neo4j_driver, neo4j_settings, "statuses", "MATCH (r:Ring) RETURN r.ring_id AS id, properties(r) AS props")}
    assert set(statuses.values()) == {"active"}  # nothing superseded: every stored ring continued

    # The same batch again: the same ids, nothing new.
    res = CliRunner().invoke(main, ["detect", str(FIXTURE), "--out", str(tmp_path / "b"), "--neo4j", "--quiet"])
    assert res.exit_code == 0, res.output
    again = {r["ring_id"]: r for r in json.loads((tmp_path / "b" / "rings.json").read_text())["rings"]}
    assert sorted(again) == sorted(statuses)
    assert all(r["lineage"]["new_members"]["count"] == 0 for r in again.values())


def test_a_first_load_prints_no_server_notifications(neo4j_settings, clean_db, fixture_run):
    """Regression: on an empty store the load's count queries name types not created yet, and the driver
    logged each server notification as a WARNING, which the CLI printed in full, query text and all.
    A real process: pytest's own log handlers would swallow what the user saw."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", "from linkage.cli import main; main()", "load", str(fixture_run),
                           "--quiet"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "notification" not in proc.stderr.lower()
    assert proc.stderr == ""
