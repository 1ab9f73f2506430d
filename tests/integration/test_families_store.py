"""A family is one object: a toy one flows through detect → load → explain → report with no other edit;
a family at weight 0 works everywhere; both producers of the analysis inputs satisfy one contract."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from linkage import Config, detect, families
from linkage.analysis import INPUTS
from linkage.explain import explain_from_neo4j, explain_from_out, format_explanation
from linkage.families import Family, FamilyParams, GraphNode
from linkage.report import write_report
from linkage.store.connection import run_query
from linkage.store.load import load_run
from linkage.store.rings import read_stored

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "world"


def _country_sql(config) -> str:
    return """SELECT aid, country AS entity, 0 AS requests, created_at AS first, created_at AS last
              FROM accounts WHERE country IS NOT NULL"""


TOY = Family(name="country", label="sign-up country", sql=_country_sql, reads=("accounts",),
             defaults=FamilyParams(weight=0.01, cap=100_000),
             node=GraphNode("Country", "code", "SIGNED_UP_IN", counter=None), colour="#123456")


@pytest.fixture
def toy_family():
    families.register(TOY)
    try:
        yield TOY
    finally:
        families.unregister(TOY.name)


def test_a_toy_family_flows_through_detect_load_explain_and_report(toy_family, tmp_path, clean_db, neo4j_settings):
    out = tmp_path / "out"
    result = detect(FIXTURE, out=out)
    assert "country" in result.config.families
    con = result.con
    assert con.execute("SELECT count(*) FROM incidence WHERE family = 'country'").fetchall()[0][0] > 0
    assert "w_country" in [r[0] for r in con.execute("DESCRIBE links").fetchall()]
    pair = con.execute("""SELECT x.account_id, y.account_id FROM links l JOIN accounts x ON x.aid = l.a
                          JOIN accounts y ON y.aid = l.b WHERE l.w_country > 0 LIMIT 1""").fetchall()[0]

    stats = load_run(clean_db, neo4j_settings, out)
    assert stats.steps["SIGNED_UP_IN relationships"]["relationships"] > 0
    got = run_query(clean_db, neo4j_settings, "toy", "MATCH (:Account)-[r:SIGNED_UP_IN]->(c:Country:Entity) "
                    "RETURN count(r) AS n, collect(DISTINCT c.family)[0] AS family, min(c.cap) AS cap")[0]
    assert got["n"] > 0 and got["family"] == "country" and got["cap"] == 100_000

    for exp in (explain_from_out(out, *pair), explain_from_neo4j(clean_db, neo4j_settings, *pair)):
        assert any(s["family"] == "country" for s in exp.shared)
        assert "sign-up country" in format_explanation(exp)

    html = write_report(out).read_text()
    assert "linkage report" in html.lower() or "<html" in html.lower()
    doc = json.loads((out / "rings.json").read_text())
    assert "country" in doc["params"]["families"]


def test_a_family_at_weight_zero_works_everywhere(tmp_path, clean_db, neo4j_settings):
    base = Config().families
    config = Config(families={**base, "signup": dataclasses.replace(base["signup"], weight=0.0)})
    out = tmp_path / "out"
    result = detect(FIXTURE, config, out=out)
    assert "w_signup" not in [r[0] for r in result.con.execute("DESCRIBE links").fetchall()]
    stats = load_run(clean_db, neo4j_settings, out)  # used to crash: "no column w_signup"
    assert stats.relationships > 0
    write_report(out)


def test_detect_and_the_stored_graph_give_the_same_analysis_inputs(tmp_path, clean_db, neo4j_settings):
    out = tmp_path / "out"
    result = detect(FIXTURE, Config(keep_tables=True), out=out)
    load_run(clean_db, neo4j_settings, out)
    stored, _ = read_stored(clean_db, neo4j_settings, Config())

    def schema(con, table):
        return [(r[0], r[1]) for r in con.execute(f"DESCRIBE {table}").fetchall()]

    for table in INPUTS:
        assert schema(stored, table) == schema(result.con, table), table


def test_load_uses_the_runs_recorded_parameters(tmp_path, clean_db, neo4j_settings):
    base = Config().families
    config = Config(families={**base, "ip": dataclasses.replace(base["ip"], cap=33)})
    out = tmp_path / "out"
    detect(FIXTURE, config, out=out)
    load_run(clean_db, neo4j_settings, out)
    caps = run_query(clean_db, neo4j_settings, "caps", "MATCH (e:IP) RETURN DISTINCT e.cap AS cap")
    assert [r["cap"] for r in caps] == [33]
