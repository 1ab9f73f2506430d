"""Known-answer tests for linkage.evaluate on tiny hand-made worlds."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from linkage.errors import InputError
from linkage.evaluate import evaluate, format_metrics

TRUTH = [
    # account, operator, ring, cohort
    ("a1", "OP-A", "OP-A-r1", "operator"),
    ("a2", "OP-A", "OP-A-r1", "operator"),
    ("a3", "OP-A", "OP-A-r2", "operator"),
    ("a4", "OP-A", "OP-A-r2", "operator"),
    ("c1", "OP-C", "OP-C-r1", "operator"),
    ("c2", "OP-C", "OP-C-r1", "operator"),
    ("b1", "", "", "regular"),
    ("b2", "", "", "regular"),
    ("b3", "", "", "regular"),
    ("f1", "", "", "family"),
    ("f2", "", "", "family"),
]


def _world(tmp: Path, rings: list[dict] | None, members: list[tuple[str, str]] | None,
           intel_ops=("OP-A", "OP-Z")) -> tuple[Path, Path]:
    world, out = tmp / "world", tmp / "out"
    world.mkdir()
    out.mkdir()
    pd.DataFrame(TRUTH, columns=["account_id", "operator", "ring", "cohort"]).to_csv(world / "truth.csv", index=False)
    if intel_ops is not None:
        pd.DataFrame({"operator": list(intel_ops), "kind": "ip", "value": "203.0.113.9", "note": ""}).to_csv(
            world / "intel.csv", index=False)
    if rings is not None:
        (out / "rings.json").write_text(json.dumps({"version": 1, "rings": rings}))
    if members is not None:
        pd.DataFrame(members, columns=["ring_id", "account_id"]).assign(role="member").to_csv(
            out / "ring_members.csv", index=False)
    return out, world / "truth.csv"


RINGS = [
    {"ring_id": "R1", "score": 0.9, "size": 3, "members": ["a1", "a2", "b1"], "operator": "OP-A",
     "operator_confidence": 0.8},
    {"ring_id": "R2", "score": 0.8, "size": 1, "members": ["a3"], "operator": "OP-Z", "operator_confidence": 0.4},
    {"ring_id": "R3", "score": 0.7, "size": 2, "members": ["c1", "c2"], "operator": None, "operator_confidence": 0.0},
]
# c2 only in rings.json; R9 is not a flagged ring (absent from rings.json) and must be ignored
MEMBERS = [("R1", "a1"), ("R1", "a2"), ("R1", "b1"), ("R2", "a3"), ("R3", "c1"), ("R9", "f1")]


def test_known_answer(tmp_path):
    m = evaluate(*_world(tmp_path, RINGS, MEMBERS))
    assert m["rings_flagged"] == 3
    assert m["accounts_flagged"] == 6
    assert m["true_positives"] == 5
    assert m["precision"] == pytest.approx(5 / 6)
    assert m["recall"] == pytest.approx(5 / 6)
    assert m["ring_purity"] == pytest.approx((2 + 1 + 2) / (3 + 1 + 2))
    # intel operator OP-A: a1, a2 named right, a3 named OP-Z
    assert m["attribution_support"] == 3
    assert m["attribution_accuracy"] == pytest.approx(2 / 3)
    # OP-C is absent from intel: its ring is unnamed, which is right
    assert m["unattributed_support"] == 2
    assert m["unattributed_correct"] == 1.0
    assert m["per_operator"]["OP-A"] == {"accounts": 4, "flagged": 3, "recall": 0.75, "in_intel": True}
    assert m["per_operator"]["OP-C"]["recall"] == 1.0 and not m["per_operator"]["OP-C"]["in_intel"]
    assert m["benign_false_flag_rate"] == {"family": 0.0, "regular": pytest.approx(1 / 3)}
    assert m["max_benign_false_flag_rate"] == pytest.approx(1 / 3)
    json.dumps(m)  # the CLI prints it as JSON


def test_unattributed_names_and_wrong_intel_names(tmp_path):
    rings = [
        {"ring_id": "R1", "score": 0.9, "members": ["c1"], "operator": "unattributed-2"},
        {"ring_id": "R2", "score": 0.9, "members": ["c2"], "operator": "OP-A"},  # absent operator named as a known one
    ]
    m = evaluate(*_world(tmp_path, rings, None))
    assert m["unattributed_support"] == 2
    assert m["unattributed_correct"] == 0.5
    assert m["attribution_accuracy"] is None
    assert m["precision"] == 1.0
    assert m["recall"] == pytest.approx(2 / 6)


def test_account_in_two_rings_takes_the_higher_scoring_ring(tmp_path):
    rings = [
        {"ring_id": "low", "score": 0.2, "members": ["a1"], "operator": "OP-Z"},
        {"ring_id": "high", "score": 0.95, "members": ["a1", "a2"], "operator": "OP-A"},
    ]
    m = evaluate(*_world(tmp_path, rings, None))
    assert m["accounts_flagged"] == 2
    assert m["attribution_accuracy"] == 1.0
    assert m["ring_purity"] == 1.0


def test_nothing_flagged(tmp_path):
    m = evaluate(*_world(tmp_path, [], []))
    assert m["accounts_flagged"] == 0 and m["rings_flagged"] == 0
    assert m["precision"] == 1.0
    assert m["recall"] == 0.0
    assert m["ring_purity"] is None
    assert m["attribution_accuracy"] is None and m["unattributed_correct"] is None
    assert m["max_benign_false_flag_rate"] == 0.0
    assert "precision" in format_metrics(m)


def test_ring_members_alone_and_no_intel(tmp_path):
    m = evaluate(*_world(tmp_path, None, [("R1", "a1"), ("R1", "a2"), ("R2", "f1")], intel_ops=None))
    assert m["accounts_flagged"] == 3
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["ring_purity"] == 1.0
    # without intel every operator is "absent"; unnamed rings are the right answer
    assert m["attribution_support"] == 0 and m["unattributed_correct"] == 1.0
    assert m["intel_operators"] == []


def test_unknown_flagged_accounts_count_as_false_positives(tmp_path):
    m = evaluate(*_world(tmp_path, [{"ring_id": "R1", "score": 1, "members": ["a1", "zz"], "operator": "OP-A"}], None))
    assert m["unknown_accounts_flagged"] == 1
    assert m["precision"] == 0.5
    assert "not in truth" in format_metrics(m)


def test_missing_outputs_is_an_input_error(tmp_path):
    out, truth = _world(tmp_path, None, None)
    with pytest.raises(InputError, match="rings.json"):
        evaluate(out, truth)
    with pytest.raises(InputError, match="truth"):
        evaluate(out, tmp_path / "nope.csv")


def test_format_metrics_table(tmp_path):
    text = format_metrics(evaluate(*_world(tmp_path, RINGS, MEMBERS)))
    assert "precision" in text and "0.833" in text
    assert "OP-A" in text and "OP-C" in text
    assert "regular" in text and "0.3333" in text
    assert "max benign false-flag rate" in text


def test_splits_and_merges(tmp_path):
    # X merges OP-A's two true rings (a1 of r1, a3 of r2); OP-A-r1 is split over X and Y; Z merges across operators
    rings = [{"ring_id": "X", "score": 0.9, "members": ["a1", "a3"], "operator": "OP-A"},
             {"ring_id": "Y", "score": 0.8, "members": ["a2", "b1"], "operator": "OP-A"},
             {"ring_id": "Z", "score": 0.7, "members": ["a4", "c1"], "operator": None}]
    m = evaluate(*_world(tmp_path, rings, None))
    assert (m["true_rings"], m["true_rings_found"]) == (3, 3)
    assert m["splits"] == {"OP-A-r1": ["X", "Y"], "OP-A-r2": ["X", "Z"]} and m["true_rings_split"] == 2
    assert m["merges"] == {"X": ["OP-A-r1", "OP-A-r2"], "Z": ["OP-A-r2", "OP-C-r1"]}
    assert m["flagged_rings_merged"] == 2 and m["flagged_rings_merged_across_operators"] == 1
    text = format_metrics(m)
    assert "true rings split                     2   (spread over several flagged rings)" in text
    assert "  split  OP-A-r1 → X, Y" in text and "  merge  Z ← OP-A-r2, OP-C-r1" in text
    assert "flagged rings merged                 2   (holding several true rings; 1 of them across operators)" in text


def test_flagged_accounts_are_counted_once_and_never_past_the_truth(tmp_path):
    # a1 sits in two rings: it is one account, and the operator accounts found never exceed the truth's
    rings = [{"ring_id": "R1", "score": 0.9, "members": ["a1", "a2", "b1", "b2"], "operator": "OP-A"},
             {"ring_id": "R2", "score": 0.8, "members": ["a1", "a3", "a4", "c1", "c2"], "operator": "OP-A"}]
    m = evaluate(*_world(tmp_path, rings, None))
    assert m["accounts_flagged"] == 8 and m["true_positives"] == 6 == m["operator_accounts"]
    assert "(6 of the 6 operator accounts, 2 others)" in format_metrics(m)


def test_truth_without_a_ring_column_has_no_splits_or_merges(tmp_path):
    out, truth = _world(tmp_path, RINGS, MEMBERS)
    pd.read_csv(truth).drop(columns=["ring"]).to_csv(truth, index=False)
    m = evaluate(out, truth)
    assert m["true_rings"] is None and m["splits"] is None
    assert "(truth.csv has no ring column)" in format_metrics(m)


def test_eval_cli_in_every_format(tmp_path):
    import csv
    import io

    from click.testing import CliRunner

    from linkage.cli import main

    out, truth = _world(tmp_path, RINGS, MEMBERS)
    runner = CliRunner()
    text = runner.invoke(main, ["eval", str(out), str(truth)]).output
    assert "precision" in text
    doc = json.loads(runner.invoke(main, ["eval", str(out), str(truth), "--format", "json"]).output)
    assert doc == json.loads(runner.invoke(main, ["eval", str(out), str(truth), "--json"]).output)
    rows = {r["metric"]: r["value"] for r in csv.DictReader(io.StringIO(
        runner.invoke(main, ["eval", str(out), str(truth), "--format", "csv"]).output))}
    assert rows["precision"] == str(doc["precision"]) and rows["per_operator.OP-A.flagged"] == "3"
    assert rows["benign_cohorts.regular.rate"] == str(doc["benign_cohorts"]["regular"]["rate"])
