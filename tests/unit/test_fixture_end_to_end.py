"""End to end through the CLI on the committed fixture world, scored against its truth."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from linkage.cli import main

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "world"


@pytest.fixture(scope="module")
def run(fixture_world_run):
    return fixture_world_run


def test_fixture_rings_meet_the_quality_targets(run):
    res = CliRunner().invoke(main, ["eval", str(run), str(FIXTURE / "truth.csv"), "--json"])
    assert res.exit_code == 0, res.output
    m = json.loads(res.output)
    assert m["precision"] >= 0.97
    assert m["recall"] >= 0.95
    assert m["attribution_accuracy"] >= 0.95
    assert m["unattributed_correct"] >= 0.95
    assert m["max_benign_false_flag_rate"] <= 0.01


def test_fixture_rings_are_attributed_to_the_known_operators(run):
    doc = json.loads((run / "rings.json").read_text())
    named = {r["operator"] for r in doc["rings"] if r["operator"]}
    assert named == {"CRIMSON-LATHE", "GLASS-HERON", "VELVET-MONSOON"}
    # The operator absent from intel stays unattributed but still grouped.
    assert any(r["operator"] is None and r["operator_cluster"].startswith("unattributed-") for r in doc["rings"])
    for ring in doc["rings"]:
        assert 0 <= ring["score"] <= 1 and ring["size"] == len(ring["members"])
        assert ring["evidence"], ring["ring_id"]


def test_fixture_eval_counts_accounts_once_and_reports_splits_and_merges(run):
    truth = str(FIXTURE / "truth.csv")
    text = CliRunner().invoke(main, ["eval", str(run), truth]).output
    assert "(100 of the 100 operator accounts, 0 others)" in text and "100 of 100" not in text
    m = json.loads(CliRunner().invoke(main, ["eval", str(run), truth, "--format", "json"]).output)
    # each of the four operators runs two true rings; detection keeps each operator's two together
    assert (m["true_rings"], m["true_rings_found"], m["true_rings_split"]) == (8, 8, 0)
    assert m["flagged_rings_merged"] == 4 and m["flagged_rings_merged_across_operators"] == 0
    assert all(len(rings) == 2 and rings[0].rsplit("-", 1)[0] == rings[1].rsplit("-", 1)[0]
               for rings in m["merges"].values())
    assert "flagged rings merged                 4   (holding several true rings; 0 of them across operators)" in text
    rows = {r["metric"]: r["value"] for r in csv.DictReader(io.StringIO(
        CliRunner().invoke(main, ["eval", str(run), truth, "--format", "csv"]).output))}
    assert rows["accounts_flagged"] == "100" and rows["per_operator.CRIMSON-LATHE.recall"] == "1.0"
    assert rows["flagged_rings_merged"] == "4"


def test_ring_members_csv_carries_operator_and_score(run):
    doc = {r["ring_id"]: r for r in json.loads((run / "rings.json").read_text())["rings"]}
    with open(run / "ring_members.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["ring_id", "account_id", "created_at", "requests", "operation", "operator",
                             "operator_cluster", "operator_confidence", "score"]
    for row in rows:
        ring = doc[row["ring_id"]]
        assert row["account_id"] in ring["members"] and float(row["score"]) == ring["score"]
        assert (row["operator"] or None) == ring["operator"] and row["operator_cluster"] == ring["operator_cluster"]
        assert row["operation"] == ring["operation"]
        assert float(row["operator_confidence"]) == pytest.approx(ring["operator_confidence"])


def test_report_says_member_for_one(run):
    paths = [p["path"] for r in json.loads((run / "rings.json").read_text())["rings"] for p in r["evidence"]]
    assert not any("→ 1 members" in p for p in paths)
    assert any("→ 1 member of" in p for p in paths)


def test_fixture_run_is_deterministic(run, tmp_path):
    res = CliRunner().invoke(main, ["detect", str(FIXTURE), "--out", str(tmp_path), "--format", "csv"])
    assert res.exit_code == 0
    summary = list(csv.DictReader(io.StringIO(res.output)))
    doc = json.loads((run / "rings.json").read_text())
    assert {r["operator"] for r in summary} == {r["operator"] or r["operator_cluster"] for r in doc["rings"]}
    assert sum(int(r["accounts"]) for r in summary) == sum(r["size"] for r in doc["rings"])
    first = [(r["ring_id"], r["members"], r["operator"]) for r in json.loads((run / "rings.json").read_text())["rings"]]
    again = [(r["ring_id"], r["members"], r["operator"]) for r in json.loads((tmp_path / "rings.json").read_text())["rings"]]
    assert first == again
    assert (run / "ring_members.csv").read_text() == (tmp_path / "ring_members.csv").read_text()


def test_docs_outputs_describes_every_file_and_column(run):
    """docs/outputs.md names every ring field, every column of the CSVs and every evidence table and column."""
    import duckdb

    doc = (Path(__file__).resolve().parents[2] / "docs" / "outputs.md").read_text()
    rings = json.loads((run / "rings.json").read_text())
    names = set(rings) | set(rings["rings"][0]) | set(rings["summary"]) | set(rings["rings"][0]["features"])
    names |= set(rings["operations"][0])
    for path in (run / "ring_members.csv", run / "rejected.csv", run / "watchlist.csv"):
        names |= {c for c in path.read_text().splitlines()[0].split(",") if not c.startswith(("cover_", "excl_", "pass_", "chance_"))}
    assert "`cover_<family>`" in doc and "`chance_<family>`" in doc
    con = duckdb.connect()
    for table in sorted((run / "evidence").glob("*.parquet")):
        assert f"| `{table.stem}` |" in doc, table.stem
        columns = [c for (c, *_) in con.execute(f"DESCRIBE SELECT * FROM '{table}'").fetchall()]
        names |= {c for c in columns if not c.startswith("w_")}
    missing = sorted(n for n in names if f"`{n}`" not in doc and f"{n}," not in doc and f", {n}" not in doc)
    assert missing == []


def test_template_ngrams_are_words_in_rings_json_and_the_report(run):
    import duckdb

    keys = {k for (k,) in duckdb.connect().execute(
        f"SELECT entity FROM '{run / 'evidence' / 'entities.parquet'}' WHERE family = 'prompt'").fetchall()}
    assert keys
    for name in ("rings.json", "report.html"):
        text = (run / name).read_text()
        assert not [k for k in keys if k in text], name


def test_readme_explain_examples_say_what_the_readme_says(run):
    """The README's explain pairs on the fixture world: linked, below the least link weight, member and bystander."""
    from linkage.explain import explain_from_out, format_explanation

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert explain_from_out(run, "acc_31e11cac", "acc_45d62144").linked
    below = explain_from_out(run, "acc_067d7ef7", "acc_17cdfdbe")
    assert not below.linked and below.weighing.cut == "min_link_weight" and len(below.rings) == 1
    text = format_explanation(explain_from_out(run, "acc_31e11cac", "acc_828e4a97")).splitlines()
    shown = readme.split("```text\nacc_31e11cac and acc_828e4a97", 1)[1].splitlines()
    assert ["acc_31e11cac and acc_828e4a97" + shown[0], *shown[1:3]] == text[:3]
    assert "is a bystander of" in text[2]
