"""The query library, explain and the Bloom perspective against a real Neo4j holding the fixture run.

The fixture world is detected once, loaded with ``load_run`` into the (wiped) test
database, and every query file is parsed by the server (EXPLAIN), run with its
example parameters, and checked against the run's own files where the answer is known.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from linkage import bloom, families, queries
from linkage.cli import main
from linkage.errors import ConfigError, StoreError
from linkage.explain import explain_from_neo4j, explain_from_out
from linkage.store.connection import run_query
from linkage.store.model import ENTITY, NODES, RELATIONSHIPS

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "world"
HOSTILE = ["'", '"', "}) DETACH DELETE n //", "') MATCH (n) DETACH DELETE n //", "$a", "\\'", "a" * 100_000]


@pytest.fixture(scope="module")
def run_dir(fixture_world_run):
    return fixture_world_run


@pytest.fixture(scope="module")
def loaded(neo4j_driver, neo4j_settings, run_dir, wiper):
    """The fixture run in Neo4j (the database is wiped first)."""
    from linkage.store.load import load_run

    wiper()
    load_run(neo4j_driver, neo4j_settings, run_dir)
    return neo4j_driver


@pytest.fixture(scope="module")
def library():
    return queries.load_library()


@pytest.fixture(scope="module")
def rings(run_dir):
    return json.loads((run_dir / "rings.json").read_text())["rings"]


def _rows(driver, settings, query, params):
    return queries.records_to_rows(queries.run(driver, settings, query, params))[1]


def _counts(driver, settings) -> tuple[int, int]:
    nodes = run_query(driver, settings, "count nodes", "MATCH (n) RETURN count(n) AS n")[0]["n"]
    rels = run_query(driver, settings, "count rels", "MATCH ()-[r]->() RETURN count(r) AS n")[0]["n"]
    return nodes, rels


# --- every file ------------------------------------------------------------------------------------


def test_every_query_parses_and_runs_with_its_examples(loaded, neo4j_settings, library):
    assert len(library) >= 12
    for q in library.values():
        plan = run_query(loaded, neo4j_settings, f"explain {q.id}", "EXPLAIN " + q.cypher, q.example_params)
        assert plan == [], q.id  # EXPLAIN plans without returning rows
        rows = _rows(loaded, neo4j_settings, q, q.example_params)
        assert rows, f"{q.id} returns nothing for its example parameters"


def test_queries_and_perspective_name_only_the_model(library):
    props = {p for n in NODES.values() for p in n.properties} | {p for r in RELATIONSHIPS.values() for p in r.properties}
    doc = json.loads(bloom.PERSPECTIVE_FILE.read_text())
    texts = [(q.id, q.cypher) for q in library.values()] + [(t["id"], t["cypher"]) for t in doc["templates"]]
    for name, cypher in texts:
        found = queries.referenced_names(cypher)
        assert found["labels"] <= set(NODES) | {ENTITY}, name
        assert found["types"] <= set(RELATIONSHIPS), name
        assert found["properties"] <= props, (name, found["properties"] - props)
    for c in doc["categories"]:
        (label,) = c["labels"]
        assert label in NODES
        used = ({cap["key"] for cap in c["captions"] if cap["type"] == "property"} | {p["name"] for p in c["properties"]}
                | {r["basedOn"].rsplit("_", 1)[0] for r in c["styleRules"]})
        assert used <= set(NODES[label].properties), label
    for r in doc["relationshipTypes"]:
        assert r["name"] in RELATIONSHIPS
        assert {p["propertyKey"] for p in r["properties"]} <= set(RELATIONSHIPS[r["name"]].properties)


def test_bloom_search_phrases_return_graph_elements(loaded, neo4j_settings, library):
    from neo4j.graph import Node, Relationship
    from neo4j.graph import Path as GraphPath

    for q in library.values():
        if not q.bloom:
            continue
        records = queries.run(loaded, neo4j_settings, q, q.example_params)
        assert any(isinstance(v, (Node, Relationship, GraphPath)) for r in records for v in r.values()), q.id


# --- golden answers ------------------------------------------------------------------------------


def test_top_rings_are_the_flagged_rings_in_score_order(loaded, neo4j_settings, library, rings):
    rows = _rows(loaded, neo4j_settings, library["top-rings"], {"limit": 100})
    expected = sorted(rings, key=lambda r: (-r["score"], r["ring_id"]))
    assert [r["ring"] for r in rows] == [r["ring_id"] for r in expected]
    assert [r["operator"] for r in rows] == [r["operator"] for r in expected]
    assert [r["attributed_to"] for r in rows] == [r["operator"] or r["operator_cluster"] for r in expected]
    assert [r["score"] for r in rows] == [r["score"] for r in expected]
    assert len(_rows(loaded, neo4j_settings, library["top-rings"], {"limit": 2})) == 2


def test_ring_members_are_exactly_ring_members_csv(loaded, neo4j_settings, library, run_dir, rings):
    with open(run_dir / "ring_members.csv", newline="") as f:
        members: dict[str, set] = {}
        for row in csv.DictReader(f):
            members.setdefault(row["ring_id"], set()).add(row["account_id"])
    assert set(members) == {r["ring_id"] for r in rings}
    for ring_id, accounts in members.items():
        rows = _rows(loaded, neo4j_settings, library["ring-members"], {"ring_id": ring_id})
        assert [r["account_id"] for r in rows] == sorted(accounts)
        assert all(r["shared_entities"] > 0 for r in rows), ring_id
        graph = _rows(loaded, neo4j_settings, library["ring-graph"], {"ring_id": ring_id})
        member_paths = {r["p"] for r in graph if "MEMBER_OF" in r["p"]}
        assert member_paths == {f"(Ring {ring_id})<-[:MEMBER_OF]-({a})" for a in accounts}


def test_entity_lookup_of_a_ring_card_returns_its_accounts(loaded, neo4j_settings, library, run_dir, rings):
    ring = rings[0]
    card = ring["signals"]["payment"]["top"][0]["entity"]
    con = duckdb.connect()
    ev = run_dir / "evidence"
    expected = {a for (a,) in con.execute(
        f"""SELECT a.account_id FROM read_parquet('{ev / "incidence.parquet"}') i
            JOIN read_parquet('{ev / "accounts.parquet"}') a USING (aid)
            WHERE i.family = 'payment' AND i.entity = ?""", [card]).fetchall()}
    rows = _rows(loaded, neo4j_settings, library["entity-lookup"], {"kind": "card", "value": card})
    assert {r["account"] for r in rows} == expected
    assert expected <= set(ring["members"]) and {r["ring_id"] for r in rows} == {ring["ring_id"]}
    assert all(r["accounts"] == len(expected) and r["uses"] == "PAID_WITH" for r in rows)
    assert _rows(loaded, neo4j_settings, library["entity-lookup"], {"kind": "ip", "value": card}) == []


def test_operator_footprint_matches_rings_json(loaded, neo4j_settings, library, rings):
    for ring in rings:
        name = ring["operator"] or ring["operator_cluster"]
        (row,) = _rows(loaded, neo4j_settings, library["operator-footprint"], {"operator": name})
        mine = [r for r in rings if (r["operator"] or r["operator_cluster"]) == name]
        assert sorted(row["rings"]) == sorted(r["ring_id"] for r in mine)
        assert row["accounts"] == sum(r["size"] for r in mine)
        assert row["known"] is (ring["operator"] is not None)


def test_hubs_are_the_run_hubs(loaded, neo4j_settings, library, run_dir):
    ev = run_dir / "evidence"
    expected = {(f, e) for f, e in duckdb.connect().execute(
        f"""SELECT family, entity FROM read_parquet('{ev / "entities.parquet"}')
            WHERE hub AND family IN ('payment', 'ip', 'device', 'email', 'prompt')""").fetchall()}
    rows = _rows(loaded, neo4j_settings, library["hubs"], {"limit": 1000})
    family = {lbl: n.family for lbl, n in NODES.items()}
    assert {(family[r["kind"]], r["entity"]) for r in rows} == expected
    for r in rows:
        assert r["cap_at_least"] is None or r["cap_at_least"] <= r["cap_at_most"] < r["accounts"]


# --- hostile parameters -------------------------------------------------------------------------


def test_hostile_parameters_change_nothing(loaded, neo4j_settings, library):
    before = _counts(loaded, neo4j_settings)
    for q in library.values():
        strings = [p.name for p in q.params if p.type == "string" and not p.choices]
        for hostile in HOSTILE if strings else []:
            params = {**q.example_params, **{name: hostile for name in strings}}
            try:
                rows = _rows(loaded, neo4j_settings, q, params)
            except StoreError as exc:  # a clear, one-line refusal is fine; a changed graph is not
                assert "\n" not in str(exc) and q.id in str(exc)
            else:
                assert isinstance(rows, list)
    assert _counts(loaded, neo4j_settings) == before


def test_hostile_values_through_the_cli(loaded, neo4j_settings):
    before = _counts(loaded, neo4j_settings)
    runner = CliRunner()
    for hostile in HOSTILE[:5]:
        res = runner.invoke(main, ["query", "run", "entity-lookup", "-p", "kind=card", "-p", f"value={hostile}",
                                   "--format", "json"])
        assert res.exit_code == 0, res.output
        assert json.loads(res.output) == []
    assert _counts(loaded, neo4j_settings) == before


def test_a_read_query_cannot_write_even_if_it_tries(loaded, neo4j_settings):
    sneaky = queries.Query(id="sneaky", name="x", description="x", params=(), mode="read",
                           cypher="MATCH (r:Ring) SET r.score = 0.0 RETURN count(r) AS n")
    before = run_query(loaded, neo4j_settings, "scores", "MATCH (r:Ring) RETURN collect(r.score) AS s")
    with pytest.raises(StoreError):
        queries.run(loaded, neo4j_settings, sneaky, {})
    assert run_query(loaded, neo4j_settings, "scores", "MATCH (r:Ring) RETURN collect(r.score) AS s") == before


def test_a_write_query_runs_only_with_allow_write(loaded, neo4j_settings, tmp_path):
    (tmp_path / "touch-ring.cypher").write_text(
        "// id: touch-ring\n// name: Touch a ring\n// description: A no-op write, for the test.\n"
        "// params: ring_id: string (example: ring-x)\n// mode: write\n"
        "MATCH (r:Ring {ring_id: $ring_id}) SET r.score = r.score RETURN count(r) AS touched\n")
    lib = queries.load_library(tmp_path)
    q = lib["touch-ring"]
    with pytest.raises(ConfigError, match="--allow-write"):
        queries.run(loaded, neo4j_settings, q, {"ring_id": "ring-x"})
    assert queries.run(loaded, neo4j_settings, q, {"ring_id": "ring-x"}, allow_write=True)[0]["touched"] == 0
    res = CliRunner().invoke(main, ["query", "run", "touch-ring", "--library", str(tmp_path), "-p", "ring_id=x"])
    assert res.exit_code == 2 and "--allow-write" in res.output
    res = CliRunner().invoke(main, ["query", "run", "touch-ring", "--library", str(tmp_path), "-p", "ring_id=x",
                                    "--allow-write", "--format", "csv"])
    assert res.exit_code == 0 and res.output.splitlines() == ["touched", "0"]


# --- explain --neo4j agrees with --from OUT -------------------------------------------------------


def _graph_shared(exp) -> list[tuple]:
    return sorted((s["family"], s["entity"], s["accounts"], s["hub"], round(s["pair_weight"], 9))
                  for s in exp.shared if s["family"] in {f.name for f in families.stored()})


def test_explain_neo4j_agrees_with_out_on_two_ring_members(loaded, neo4j_settings, run_dir, rings, library):
    members = sorted(rings[0]["members"])
    for a, b in ((members[0], members[1]), (members[2], members[-1])):
        from_out = explain_from_out(run_dir, a, b)
        from_db = explain_from_neo4j(loaded, neo4j_settings, a, b, library=library)
        assert _graph_shared(from_out) and _graph_shared(from_out) == _graph_shared(from_db)
        assert from_out.linked == from_db.linked
        if from_out.linked:
            assert from_db.link["weight"] == pytest.approx(from_out.link["weight"])
            assert set(from_db.link["signals"]) == set(from_out.link["signals"])
        texts = {s["entity"]: s["text"] for s in from_out.shared if s["family"] == "prompt"}
        assert texts and texts == {s["entity"]: s["text"] for s in from_db.shared if s["family"] == "prompt"}


def test_explain_neo4j_agrees_on_paths_and_on_unlinked(loaded, neo4j_settings, run_dir, rings, library):
    ring_member = sorted(rings[0]["members"])[0]
    accounts = [a for (a,) in duckdb.connect().execute(
        f"SELECT account_id FROM read_parquet('{run_dir / 'evidence' / 'accounts.parquet'}') ORDER BY account_id"
    ).fetchall()]
    seen = {"path": 0, "unlinked": 0}
    for other in accounts[:400]:
        if other == ring_member:
            continue
        out = explain_from_out(run_dir, ring_member, other)
        if out.linked:
            continue
        kind = "path" if out.paths else "unlinked" if not out.connected else None
        if kind is None or seen[kind] >= 2:
            continue
        seen[kind] += 1
        db = explain_from_neo4j(loaded, neo4j_settings, ring_member, other, library=library)
        assert not db.linked and db.connected == out.connected
        assert [(p["hops"], p["cost"]) for p in db.paths[:1]] == [(p["hops"], p["cost"]) for p in out.paths[:1]]
        if seen == {"path": 2, "unlinked": 2}:
            break
    assert seen == {"path": 2, "unlinked": 2}


def test_explain_cli_with_neo4j(loaded, neo4j_settings, rings):
    a, b = sorted(rings[0]["members"])[:2]
    res = CliRunner().invoke(main, ["explain", a, b, "--neo4j", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["source"] == "neo4j" and doc["linked"] and doc["shared"]
    res = CliRunner().invoke(main, ["explain", a, "acc_nobody", "--neo4j"])
    assert res.exit_code == 2 and res.output.strip().startswith("linkage: error: unknown account 'acc_nobody'")
