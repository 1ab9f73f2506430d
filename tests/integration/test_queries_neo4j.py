"""The query library, explain and the Bloom perspective against a real Neo4j holding the fixture run.

The fixture world is detected once, loaded with ``load_run`` into the (wiped) test
database, and every query file is parsed by the server (EXPLAIN), run with its
example parameters, and checked against the run's own files where the answer is known.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import shlex
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from linkage import bloom, families, queries
from linkage.cli import main
from linkage.errors import ConfigError, StoreError
from linkage.explain import explain_from_neo4j, explain_from_out, format_explanation
from linkage.store.connection import run_query
from linkage.store.model import ENTITY, NODES, RELATIONSHIPS

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "world"
README = Path(__file__).resolve().parents[2] / "README.md"
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
    rows = _rows(loaded, neo4j_settings, library["entity-lookup"], {"value": card})
    assert {r["account"] for r in rows} == expected
    assert expected <= set(ring["members"]) and {r["ring_id"] for r in rows} == {ring["ring_id"]}
    assert all(r["accounts"] == len(expected) and r["uses"] == "PAID_WITH" and r["family"] == "payment"
               and r["cap"] == 60 for r in rows)


def test_entity_lookup_by_a_templates_words(loaded, neo4j_settings, library, run_dir, rings):
    words = rings[0]["signals"]["prompt"]["top"][0]["entity"]  # rings.json names template n-grams by their words
    rows = _rows(loaded, neo4j_settings, library["entity-lookup"], {"value": words})
    assert rows and {r["family"] for r in rows} == {"prompt"} and {r["entity"] for r in rows} == {words}
    assert len(rows) == rings[0]["signals"]["prompt"]["top"][0]["accounts"]


def test_operator_footprint_matches_rings_json(loaded, neo4j_settings, library, rings):
    for ring in rings:
        name = ring["operator"] or ring["operator_cluster"]
        (row,) = _rows(loaded, neo4j_settings, library["operator-footprint"], {"operator": name})
        mine = [r for r in rings if (r["operator"] or r["operator_cluster"]) == name]
        assert sorted(row["rings"]) == sorted(r["ring_id"] for r in mine)
        assert row["accounts"] == sum(r["size"] for r in mine)
        assert row["known"] is (ring["operator"] is not None)


def test_hubs_are_the_run_hubs_with_the_exact_cap(loaded, neo4j_settings, library, run_dir):
    ev = run_dir / "evidence"
    stored = [f.name for f in families.stored()]
    expected = {(f, e, n) for f, e, n in duckdb.connect().execute(
        f"""SELECT family, entity, accounts FROM read_parquet('{ev / "entities.parquet"}')
            WHERE hub AND family IN (SELECT unnest(?::VARCHAR[]))""", [stored]).fetchall()}
    params = json.loads((run_dir / "rings.json").read_text())["params"]["families"]
    rows = _rows(loaded, neo4j_settings, library["hubs"], {"limit": 1000})
    assert {(r["family"], r["entity"], r["accounts"]) for r in rows} == expected and expected
    for r in rows:
        cap = params[r["family"]]["cap"]
        assert r["cap"] == cap < r["accounts"] and 0 <= r["in_rings"] <= r["accounts"]
        assert r["why"] == f"shared by {r['accounts']} accounts, past the {r['family']} cap of {cap}: carries no weight"


def _evidence(run_dir):
    """DuckDB views over the run's evidence and members, for expected answers."""
    con = duckdb.connect()
    for t in ("accounts", "incidence", "entities", "links", "shingle_texts"):
        con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{run_dir / 'evidence' / (t + '.parquet')}')")
    con.execute(f"CREATE VIEW ring_members AS SELECT * FROM read_csv('{run_dir / 'ring_members.csv'}', all_varchar=true)")
    return con


def test_ring_overlap_names_the_shared_entities(loaded, neo4j_settings, library, run_dir):
    con = _evidence(run_dir)
    stored = [f.name for f in families.stored()]
    expected = dict(((a, b), n) for a, b, n in con.execute(
        """WITH used AS (SELECT DISTINCT i.family, i.entity, m.ring_id FROM incidence i JOIN accounts a USING (aid)
                         JOIN ring_members m USING (account_id) JOIN entities e USING (family, entity)
                         WHERE e.pair_weight > 0 AND i.family IN (SELECT unnest(?::VARCHAR[])))
           SELECT x.ring_id, y.ring_id, count(*) FROM used x JOIN used y USING (family, entity)
           WHERE x.ring_id < y.ring_id GROUP BY ALL""", [stored]).fetchall())
    rows = _rows(loaded, neo4j_settings, library["ring-overlap"], {})
    assert {(r["ring_a"], r["ring_b"]): r["shared_entities"] for r in rows} == expected and expected
    texts = {t for (t,) in con.execute("SELECT text FROM shingle_texts").fetchall()}
    for r in rows:
        assert r["examples"] and len(r["examples"]) == min(5, r["shared_entities"])
        assert sum(int(x.rsplit(" ", 1)[1]) for x in r["by_family"]) == r["shared_entities"]
        for ex in r["examples"]:
            family, rest = ex.split(" ", 1)
            if family == "prompt":
                assert rest.rsplit(" (", 1)[0] in texts  # words, not a hex id


def test_ring_new_accounts_fills_infrastructure_for_templates_too(loaded, neo4j_settings, library, rings):
    top = max(rings, key=lambda r: (r["score"], r["ring_id"]))  # what "top" means
    rows = _rows(loaded, neo4j_settings, library["ring-new-accounts"], {"ring_id": "top", "since": dt.date(2000, 1, 1)})
    assert {r["account_id"] for r in rows if r["member"]} == set(top["members"])
    assert all(r["infrastructure"] for r in rows)
    only_templates = [r for r in rows if all(x.startswith("prompt ") for x in r["infrastructure"])]
    assert only_templates, "the fixture has accounts tied to the ring by templates alone"
    by_id = _rows(loaded, neo4j_settings, library["ring-new-accounts"],
                  {"ring_id": top["ring_id"], "since": dt.date(2000, 1, 1)})
    assert by_id == rows


def test_ring_members_count_per_family(loaded, neo4j_settings, library, rings):
    rows = _rows(loaded, neo4j_settings, library["ring-members"], {"ring_id": "top"})
    top = max(rings, key=lambda r: (r["score"], r["ring_id"]))
    assert {r["ring_id"] for r in rows} == {top["ring_id"]} and len(rows) == top["size"]
    for r in rows:
        assert sum(int(x.rsplit(" ", 1)[1]) for x in r["by_family"]) == r["shared_entities"]
        assert 0 < len(r["infrastructure"]) <= 6


def test_operator_queries_take_top(loaded, neo4j_settings, library, rings):
    top = max(rings, key=lambda r: (r["score"], r["ring_id"]))
    (row,) = _rows(loaded, neo4j_settings, library["operator-footprint"], {"operator": "top"})
    assert row["operator"] == (top["operator"] or top["operator_cluster"]) and top["ring_id"] in row["rings"]
    assert {x.split(" ")[0] for x in row["entities"]} <= {f.name for f in families.stored()}
    graph = _rows(loaded, neo4j_settings, library["operator-graph"], {"operator": "top"})
    assert any(top["ring_id"] in r["p"] for r in graph)


def test_account_profile_is_the_accounts_incidence(loaded, neo4j_settings, library, run_dir):
    con = _evidence(run_dir)
    stored = [f.name for f in families.stored()]
    expected = {(f, e) for f, e in con.execute(
        """SELECT i.family, i.entity FROM incidence i JOIN accounts a USING (aid)
           WHERE a.account_id = 'acc_31e11cac' AND i.family IN (SELECT unnest(?::VARCHAR[]))""", [stored]).fetchall()}
    rows = _rows(loaded, neo4j_settings, library["account-profile"], {"account_id": "acc_31e11cac"})
    assert {(r["family"], r["entity"]) for r in rows if r["family"] != "asn"} == expected
    assert any(r["family"] == "asn" for r in rows)
    assert all(r["name"] != r["entity"] for r in rows if r["family"] == "prompt")


def test_direct_link_and_common_neighbours_match_the_run(loaded, neo4j_settings, library, run_dir, rings):
    con = _evidence(run_dir)
    a, b = "acc_31e11cac", "acc_828e4a97"  # a member and a bystander of one ring, not linked (the README's example)
    (head,) = _rows(loaded, neo4j_settings, library["direct-link"], {"a": a, "b": b})
    (ring,) = [r for r in rings if a in r["members"]]
    assert b in ring["bystanders"] and b not in ring["members"]
    assert head["weight"] is None and head["a_found"] and head["b_found"]
    assert [(r["ring_id"], sorted(r["members"]), r["bystanders"], r["operator"], r["operation"])
            for r in head["rings"]] == [(ring["ring_id"], [a], [b], ring["operator"], ring["operation"])]
    common = {m for (m,) in con.execute(
        """WITH ids AS (SELECT aid, account_id FROM accounts),
                n AS (SELECT x.account_id AS acc, y.account_id AS m FROM links l JOIN ids x ON x.aid = l.a
                      JOIN ids y ON y.aid = l.b UNION ALL SELECT y.account_id, x.account_id FROM links l
                      JOIN ids x ON x.aid = l.a JOIN ids y ON y.aid = l.b)
           SELECT p.m FROM n p JOIN n q ON q.m = p.m WHERE p.acc = ? AND q.acc = ?""", [a, b]).fetchall()}
    rows = _rows(loaded, neo4j_settings, library["common-neighbours"], {"a": a, "b": b, "limit": 100})
    assert {r["account_id"] for r in rows} == common and common
    assert all(r["common"] == len(common) for r in rows)
    weakest = [r["weakest"] for r in rows]
    assert weakest == sorted(weakest, reverse=True)


def test_template_words_everywhere(loaded, neo4j_settings, library, run_dir):
    """No query shows a template n-gram's hex id where its words exist (an ``entity`` column is the key,
    always next to the words)."""
    keys = {k for (k,) in _evidence(run_dir).execute(
        "SELECT entity FROM entities WHERE family = 'prompt'").fetchall()}
    for q in library.values():
        columns, rows = queries.run_table(loaded, neo4j_settings, q, q.example_params)
        for r in rows:
            text = json.dumps({c: v for c, v in r.items() if c != "entity"}, default=str)
            leaked = {k for k in keys if k in text}
            assert not leaked, (q.id, sorted(leaked)[:3])


def test_csv_of_no_rows_keeps_its_header(loaded, neo4j_settings):
    res = CliRunner().invoke(main, ["query", "run", "entity-lookup", "-p", "value=no-such-entity", "--format", "csv"])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines() == ["account,uses,entity,family,name,accounts,hub,cap,pair_weight,count,first,"
                                       "last,created_at,ring_id"]
    res = CliRunner().invoke(main, ["query", "run", "entity-lookup", "-p", "value=no-such-entity"])
    assert res.output.splitlines()[-1] == "(0 rows)"


def _readme_commands() -> list[list[str]]:
    """Every ``linkage query run`` and ``linkage explain`` line of the README's Investigating section."""
    text = README.read_text()
    section = text[text.index("## Investigating"):text.index("### Exploring in Bloom")]
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", section, re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith(("linkage query run", "linkage explain")):
                commands.append(shlex.split(line)[1:])
    return commands


def test_every_readme_and_header_example_returns_rows(loaded, neo4j_settings, library, run_dir):
    from linkage.query_commands import example_command

    readme = _readme_commands()
    assert len([c for c in readme if c[0] == "query"]) >= 5 and len([c for c in readme if c[0] == "explain"]) >= 2
    headers = [shlex.split(example_command(q))[1:] for q in library.values()]
    runner = CliRunner()
    for args in readme + headers:
        args = [str(run_dir) if a == "out/world" else a for a in args]
        args = [a for a in args if a not in ("--format", "csv", "json")] + ["--format", "json"]
        res = runner.invoke(main, args)
        assert res.exit_code == 0, (args, res.output)
        doc = json.loads(res.output)
        if args[0] == "explain":
            assert doc["shared"] and doc["rings"], args
        else:
            assert doc, f"no rows: linkage {' '.join(args)}"


def test_query_run_in_every_format(loaded, neo4j_settings):
    runner = CliRunner()
    base = ["query", "run", "top-rings", "-p", "limit=3"]
    text = runner.invoke(main, base).output
    assert text.splitlines()[0].split()[:3] == ["ring", "score", "size"] and text.splitlines()[-1] == "(3 rows)"
    doc = json.loads(runner.invoke(main, base + ["--format", "json"]).output)
    assert len(doc) == 3 and isinstance(doc[0]["requests"], int)
    assert json.loads(runner.invoke(main, base + ["--json"]).output) == doc
    rows = list(csv.DictReader(io.StringIO(runner.invoke(main, base + ["--format", "csv"]).output)))
    assert [r["ring"] for r in rows] == [d["ring"] for d in doc] and rows[0]["requests"] == str(doc[0]["requests"])
    assert runner.invoke(main, base + ["--format", "table"]).output == text


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
        res = runner.invoke(main, ["query", "run", "entity-lookup", "-p", f"value={hostile}", "--format", "json"])
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
        _same_weighing(from_out, from_db)


def _same_weighing(from_out, from_db) -> None:
    """Both sources give the same rings, family figures, cut and hub explanations (and no disagreement)."""
    assert from_db.rings == from_out.rings and from_out.rings
    assert from_db.notes == [] or not from_db.linked
    assert from_db.weighing.cut == from_out.weighing.cut
    out_adds = {f.family: round(f.adds, 9) for f in from_out.weighing.families}
    db_adds = {f.family: round(f.adds, 9) for f in from_db.weighing.families}
    assert db_adds == out_adds
    hubs = {(s["family"], s["entity"], s["cap"], s["in_rings"]) for s in from_out.shared if s["hub"] and s["cap"]}
    assert hubs == {(s["family"], s["entity"], s["cap"], s["in_rings"]) for s in from_db.shared
                    if s["hub"] and s["cap"]}


def test_explain_neo4j_agrees_on_the_readme_pair(loaded, neo4j_settings, run_dir, library):
    a, b = "acc_31e11cac", "acc_828e4a97"  # member and bystander, not linked: the template family is short of min_shared
    from_out = explain_from_out(run_dir, a, b)
    from_db = explain_from_neo4j(loaded, neo4j_settings, a, b, library=library)
    assert from_out.weighing.cut == "min_shared" and not from_out.linked
    _same_weighing(from_out, from_db)
    assert from_db.neighbours == from_out.neighbours and from_out.neighbours["common"] > 0
    out_text, db_text = format_explanation(from_out), format_explanation(from_db)
    assert out_text.splitlines()[:3] == db_text.splitlines()[:3]
    assert f"{b} is a bystander of {from_out.rings[0].ring_id}" in out_text
    assert "Shortest evidence paths" not in out_text + db_text


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


def test_explain_cli_with_neo4j_in_every_format(loaded, neo4j_settings, rings):
    a, b = sorted(rings[0]["members"])[:2]
    res = CliRunner().invoke(main, ["explain", a, b, "--neo4j", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["source"] == "neo4j" and doc["linked"] and doc["shared"] and doc["rings"]
    text = CliRunner().invoke(main, ["explain", a, b, "--neo4j"]).output
    assert text.startswith(f"{a} and {b} are directly linked") and f"Both are members of {rings[0]['ring_id']}" in text
    rows = list(csv.DictReader(io.StringIO(CliRunner().invoke(main, ["explain", a, b, "--neo4j", "--format", "csv"]).output)))
    assert len(rows) == len(doc["shared"]) and {r["a"] for r in rows} == {a}
    res = CliRunner().invoke(main, ["explain", a, "acc_nobody", "--neo4j"])
    assert res.exit_code == 2 and res.output.strip().startswith("linkage: error: unknown account 'acc_nobody'")
