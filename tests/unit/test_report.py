"""The HTML report: built by `linkage detect`, rebuilt by `linkage report`, self-contained, hostile input escaped."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.cli import main
from linkage.report import write_report
from linkage.report.data import MemberGroup, RingFigures
from linkage.report.network import network_svg
from linkage.report.svg import timeline_svg
from linkage.report.tables import prompt_topics_sql
from linkage.topics import focused_sql, topic_sql

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "world"
HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def run(fixture_world_run):
    return fixture_world_run


def _sections(html: str) -> dict[str, str]:
    """Ring section markup by its anchor id."""
    parts = html.split('<section class="ring" id="')[1:]
    return {p.split('"', 1)[0]: p for p in parts}


def test_detect_writes_a_self_contained_report(run):
    html = (run / "report.html").read_text()
    assert html.startswith("<!DOCTYPE html>")
    # Nothing fetched: no external src/href, no stylesheet links, no CSS imports or urls.
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert not re.search(r"<link\b|@import|url\(", html, re.I)
    assert html.count("<script") == 1 and "<script src" not in html


def test_every_ring_has_a_section_with_pictures(run):
    doc = json.loads((run / "rings.json").read_text())
    html = (run / "report.html").read_text()
    sections = _sections(html)
    assert len(sections) == len(doc["rings"]) >= 4
    for ring in doc["rings"]:
        sec = sections[f"r-{ring['ring_id']}"]
        assert "<template>" in sec and '<svg class="net' in sec and '<svg class="tl"' in sec
        drawn = sum(int(n) for n in re.findall(r'data-size="(\d+)"', sec))
        assert drawn == ring["size"]  # every member, in its group (none sampled away)
        assert "Prompt topics" in sec and "Evidence paths" in sec
        assert f'href="#r-{ring["ring_id"]}"' in html  # the ring table links to it


def test_summary_figures_match_rings_json(run):
    doc = json.loads((run / "rings.json").read_text())
    html = (run / "report.html").read_text()
    s = doc["summary"]
    assert f"{s['requests_covered']:,}" in html and f"{s['accounts_flagged']:,}" in html
    for name in s["by_operator"]:
        assert name in html
    assert '<a href="rejected.csv">0 rows</a>' in html
    assert f"threshold <b>{doc['params']['threshold']}</b>" in html and f"seed <b>{doc['params']['seed']}</b>" in html


def test_daily_and_topic_tables_are_saved_for_ring_members_only(run):
    members = pd.read_csv(run / "ring_members.csv")
    accounts = duckdb.sql(f"SELECT aid, account_id FROM '{run}/evidence/accounts.parquet'").df()
    ring_aids = set(accounts[accounts.account_id.isin(members.account_id)].aid)
    daily = duckdb.sql(f"SELECT * FROM '{run}/evidence/daily.parquet'").df()
    topics = duckdb.sql(f"SELECT * FROM '{run}/evidence/prompt_topics.parquet'").df()
    assert set(daily.aid) <= ring_aids and set(topics.aid) <= ring_aids
    assert int(daily.requests.sum()) == int(members.requests.sum())
    assert set(topics.topic) <= {"coding", "agentic", "other"}


def test_report_command_rebuilds_the_same_page(run, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(run, out)
    (out / "report.html").unlink()
    res = CliRunner().invoke(main, ["report", str(out)])
    assert res.exit_code == 0, res.output
    assert "wrote" in res.output and (out / "report.html").is_file()
    assert (out / "report.html").read_text() == (run / "report.html").read_text()  # deterministic


@pytest.mark.parametrize("make", [
    lambda p: p / "missing",
    lambda p: (p / "empty").mkdir() or p / "empty",
    lambda p: (p / "bad").mkdir() or (p / "bad" / "rings.json").write_text("{not json") and p / "bad",
])
def test_report_on_a_missing_or_broken_out_gives_one_line(tmp_path, make):
    res = CliRunner().invoke(main, ["report", str(make(tmp_path))])
    assert res.exit_code != 0
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("linkage: error:") and "Traceback" not in res.output


def test_report_of_an_older_run_leaves_out_missing_panels(run, tmp_path):
    out = tmp_path / "old"
    shutil.copytree(run, out)
    for name in ("daily", "prompt_topics", "shingle_texts"):
        (out / "evidence" / f"{name}.parquet").unlink(missing_ok=True)
    html = write_report(out, verify=False).read_text()  # files removed on purpose: no manifest check
    assert "did not keep daily, prompt_topics" in html
    assert len(_sections(html)) == len(json.loads((out / "rings.json").read_text())["rings"])


def test_the_summary_lists_operations_with_their_shared_tools(run):
    doc = json.loads((run / "rings.json").read_text())
    html = (run / "report.html").read_text()
    assert doc["operations"] and "By operation" in html
    for op in doc["operations"]:
        assert op["operation_id"] in html
        assert f'<td class="num">{len(op["rings"]):,}</td><td class="num">{op["accounts"]:,}</td>' in html
    for ring in doc["rings"]:
        assert ring["operation"] in _sections(html)[f"r-{ring['ring_id']}"]


def test_hostile_strings_are_escaped(run, tmp_path):
    out = tmp_path / "hostile"
    shutil.copytree(run, out)
    doc = json.loads((out / "rings.json").read_text())
    ring = doc["rings"][0]
    victim = ring["members"][0]
    ring["members"][0] = HOSTILE
    ring["operator"] = ring["operator_cluster"] = HOSTILE
    ring["ring_id"] = 'ring-"><img src=x onerror=alert(2)>'
    ring["evidence"].append({"kind": "<b>x</b>", "path": f"{HOSTILE} —[card </template><script>alert(3)</script>]—"})
    ring["signals"]["prompt"]["top"][0]["entity"] = "</template><script>alert(4)</script>"
    doc["input"]["folder"] = HOSTILE
    doc["summary"]["by_operator"] = {HOSTILE: {"rings": 1, "accounts": 1, "requests": 1, "attributed": True}}
    doc["operations"] = [{"operation_id": HOSTILE, "operator": None, "rings": [ring["ring_id"]], "accounts": 1,
                          "requests": 1, "tools": {"ip": {"tools": 1, "top": [{"entity": "<i>alert(6)</i>"}]}}}]
    ring["bystanders"] = [HOSTILE]
    (out / "rings.json").write_text(json.dumps(doc))
    # The member id also reaches the network picture through the accounts table, and a prompt
    # n-gram text through the shingle texts.
    ev = out / "evidence"
    con = duckdb.connect()
    con.execute(f"""COPY (SELECT * REPLACE (CASE WHEN account_id = ? THEN ? ELSE account_id END AS account_id)
                    FROM '{ev}/accounts.parquet') TO '{ev}/accounts2.parquet' (FORMAT parquet)""", [victim, HOSTILE])
    (ev / "accounts2.parquet").replace(ev / "accounts.parquet")
    if (ev / "shingle_texts.parquet").is_file():
        con.execute(f"""COPY (SELECT entity, '<script>alert(5)</script>' || text AS text
                        FROM '{ev}/shingle_texts.parquet') TO '{ev}/st2.parquet' (FORMAT parquet)""")
        (ev / "st2.parquet").replace(ev / "shingle_texts.parquet")
    res = CliRunner().invoke(main, ["report", str(out), "--no-verify"])  # edited on purpose
    assert res.exit_code == 0, res.output
    html = (out / "report.html").read_text()
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>x</b>" not in html
    assert "<i>alert(6)</i>" not in html and "&lt;i&gt;alert(6)&lt;/i&gt;" in html  # operations table
    assert html.count("<script") == 1 and html.count("</template>") == len(doc["rings"])
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # the member's group names it in its tooltip
    assert re.search(r"<title>[^<]*&lt;script&gt;alert\(1\)&lt;/script&gt;[^<]*</title>", html)
    assert "alert(5)" in html  # the n-gram label was drawn, escaped


def _figures(members: int, entities: int) -> RingFigures:
    ids = [f"a{i:03d}" for i in range(members)]
    ring = {"ring_id": "ring-x", "score": 0.9, "size": members, "members": ids}
    ents = [{"family": ["ip", "payment", "prompt"][k % 3], "entity": f"e{k}", "label": f"entity {k}",
             "members": members, "accounts": members} for k in range(entities)]
    uses: dict[tuple[int, ...], list[str]] = {}
    for m, member in enumerate(ids):
        uses.setdefault(tuple(k for k in range(entities) if (m * (k + 1)) % 5 < 2), []).append(member)
    groups = [MemberGroup(p, len(ms), tuple(ms[:3])) for p, ms in sorted(uses.items(), key=lambda kv: -len(kv[1]))]
    days = pd.to_datetime(["2026-04-01", "2026-04-02", "2026-05-10"])
    return RingFigures(ring=ring, entities=ents, groups=groups,
                       signups=pd.Series([5, 3, 0], index=days), requests=pd.Series([10, 400, 7], index=days))


def test_network_and_timeline_svgs_are_deterministic_and_bounded():
    fig = _figures(200, 9)
    svg = network_svg(fig)
    assert svg == network_svg(_figures(200, 9))
    assert sum(int(n) for n in re.findall(r'data-size="(\d+)"', svg)) == 200
    xs = [float(v) for v in re.findall(r' (?:cx|x)="(-?[\d.]+)"', svg)]
    assert min(xs) >= 0 and max(xs) <= 560
    tl = timeline_svg(fig)
    assert tl.startswith('<svg class="tl"') and "requests per day" in tl and "May 2026" in tl
    assert "no shared entities" in network_svg(_figures(5, 0))


def test_prompt_topic_classifier():
    con = duckdb.connect()
    prompts = {
        1: "Refactor this Python function: def f(x): return x",
        2: "Act as an AI agent operating a browser and a terminal. Write a numbered plan, then execute each step.",
        3: "How do I fix a leaking tap?",
        4: "Explain your reasoning step by step and include the final code with tests.",
    }
    con.execute("CREATE TABLE events AS SELECT * FROM (VALUES " +
                ", ".join(f"({a}, '{p}')" for a, p in prompts.items()) + ") t(aid, prompt)")
    con.execute("CREATE TABLE members_out AS SELECT DISTINCT aid FROM events")
    got = dict(con.execute(f"SELECT aid, topic FROM ({prompt_topics_sql(type('C', (), {'prompts_per_account': 40}))})")
               .fetchall())
    assert got == {1: "coding", 2: "agentic", 3: "other", 4: "coding"}


def test_a_hand_edited_rings_json_with_odd_values_still_builds(run, tmp_path):
    out = tmp_path / "odd"
    shutil.copytree(run, out)
    doc = json.loads((out / "rings.json").read_text())
    ring = doc["rings"][0]
    ring.update(score="high", size="big", requests=None, signals="x", features=[1], evidence="none",
                attribution=None, first_seen=None, operator=None, operator_cluster=None)
    doc["params"], doc["input"] = [], None
    (out / "rings.json").write_text(json.dumps(doc))
    html = write_report(out, verify=False).read_text()
    assert len(_sections(html)) == len(doc["rings"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["write", "the", "Python", "function", "step by step", "agent", "terminal", "unit test",
                                 "stack trace", "tool calls", "recipe", "plan", "codes", "steps", "garden", "-", "\n"]),
                max_size=12))
def test_focused_is_exactly_a_topic_other_than_other(words):
    """Scoring's one-pattern focus test must agree with the report's classifier on every prompt."""
    prompt = " ".join(words)
    # A connection of its own, read to the end: an unfinished result on DuckDB's default connection
    # makes every later use of it fail (DuckDB 2.0), in whatever test comes next.
    with duckdb.connect() as con:
        rows = con.execute(f"SELECT {topic_sql('p')} <> 'other', {focused_sql('p')} FROM (SELECT ? AS p)",
                           [prompt]).fetchall()
    assert len(rows) == 1 and rows[0][0] == rows[0][1]
