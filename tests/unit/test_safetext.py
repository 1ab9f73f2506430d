"""Hostile text stays inert: formula-looking ids in the CSVs, control characters on the terminal."""

from __future__ import annotations

import csv
import json

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from worldkit import World, add_regulars, add_ring

from linkage.cli import main
from linkage.evaluate import read_flagged
from linkage.run import RunFolder
from linkage.safetext import CSV_TRIGGERS, csv_cell, csv_plain, csv_plain_sql, csv_safe_query, terminal

#: Ids a spreadsheet would run, or that break naive CSV handling (OWASP's examples and line breaks).
HOSTILE_IDS = ["=HYPERLINK(\"http://evil\",\"x\")", "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "@SUM(1+1)*cmd",
               "\t=tabbed", "\r=carriage", "'quoted", "line\nbreak", "bare\rcr", "crlf\r\nid", "plain, \"comma\""]
ANSI_OPERATOR = "EVIL\x1b[31mRED\x1b[0m\x1b]0;pwned\x07\x1b[2J"


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """A ring whose members have hostile ids, attributed by intel to an operator whose name holds ANSI escapes."""
    w = World(seed=11)
    ids = add_ring(w, "ringq", n=len(HOSTILE_IDS) + 1, requests=120)
    add_regulars(w, n=60)
    rename = dict(zip(ids, HOSTILE_IDS))
    for rows in (w.accounts, w.events, w.payments):
        for row in rows:
            row["account_id"] = rename.get(row["account_id"], row["account_id"])
    w.accounts.append({**w.accounts[-1], "account_id": "=DUP()"})  # twice: the second goes to rejected.csv
    w.accounts.append({**w.accounts[-1], "account_id": "=DUP()"})
    w.intel.append({"operator": ANSI_OPERATOR, "kind": "instrument", "value": "tok_ringq_0", "note": "-note"})
    folder = tmp_path_factory.mktemp("hostile") / "batch"  # Parquet: ids with line breaks as they are
    folder.mkdir()
    for name, rows in (("accounts", w.accounts), ("events", w.events), ("payments", w.payments), ("intel", w.intel)):
        pd.DataFrame(rows).astype(str).to_parquet(folder / f"{name}.parquet")
    out = tmp_path_factory.mktemp("hostile_out") / "out"
    res = CliRunner().invoke(main, ["detect", str(folder), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out, res.output, {rename.get(i, i) for i in ids}


def _starts_unsafe(cell: str) -> bool:
    return bool(cell) and cell[0] in "=+-@\t\r"


def test_ring_members_csv_neutralises_formulas_and_reads_back_exactly(hostile_run):
    out, _, members = hostile_run
    with open(out / "ring_members.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and not any(_starts_unsafe(c) for r in rows for c in r.values())
    assert {csv_plain(r["account_id"]) for r in rows} == members  # every id back, line breaks and all
    assert any(r["account_id"] == "'" + HOSTILE_IDS[0] for r in rows)
    assert all(r["operator"] == ANSI_OPERATOR for r in rows)  # data, not a terminal: kept exactly
    # DuckDB reads the same rows, and the run folder's view undoes the quoting.
    got = duckdb.sql(f"SELECT {csv_plain_sql('account_id')} FROM read_csv('{out}/ring_members.csv', "
                     "all_varchar = true, header = true)").fetchall()
    assert {g[0] for g in got} == members
    view = RunFolder(out).connect().execute("SELECT account_id FROM ring_members").fetchall()
    assert {v[0] for v in view} == members
    _, flagged = read_flagged(out)
    assert set(flagged.account_id) == {m.strip() for m in members}  # eval compares ids stripped, as truth.csv


def test_rejected_csv_neutralises_formulas(hostile_run):
    out, _, _ = hostile_run
    with open(out / "rejected.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    dup = [r for r in rows if "duplicate" in r["reason"]]
    assert dup and dup[0]["value"] == "'=DUP()"
    assert not any(_starts_unsafe(c) for r in rows for c in r.values())


def test_rings_json_keeps_ids_as_they_are(hostile_run):
    out, _, members = hostile_run
    doc = json.loads((out / "rings.json").read_text())
    assert set(doc["rings"][0]["members"]) == members and doc["rings"][0]["operator"] == ANSI_OPERATOR


def test_the_summary_shows_control_characters_instead_of_obeying_them(hostile_run):
    _, printed, _ = hostile_run
    assert "\x1b" not in printed and "\x07" not in printed
    assert "EVIL\\x1b[31mRED" in printed


def test_explain_prints_hostile_ids_inert(hostile_run):
    out, _, _ = hostile_run
    res = CliRunner().invoke(main, ["explain", HOSTILE_IDS[8], "\x1b[2Jnobody", "--from", str(out)])
    assert res.exit_code == 2 and "\x1b" not in res.output and "\r" not in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_one_csv_rule_in_sql_and_python():
    con = duckdb.connect()
    values = [*HOSTILE_IDS, "", "ok", "a=b", "''x", None]
    con.execute("CREATE TABLE t (v VARCHAR, n DOUBLE)")
    con.executemany("INSERT INTO t VALUES (?, -1.5)", [[v] for v in values])
    rows = con.execute(csv_safe_query(con, "SELECT * FROM t")).fetchall()
    assert [r[0] for r in rows] == [None if v is None else csv_cell(v) for v in values]
    assert all(r[1] == -1.5 for r in rows)  # numbers are not text: a negative number stays a number
    back = con.execute(f"SELECT {csv_plain_sql('v')} FROM ({csv_safe_query(con, 'SELECT * FROM t')})").fetchall()
    assert [b[0] for b in back] == values
    series = pd.Series([csv_cell(v) for v in values if v is not None])
    assert list(csv_plain(series)) == [v for v in values if v is not None]


@given(st.text(max_size=30))
def test_neutralising_is_reversible_and_never_leaves_a_formula(text):
    cell = csv_cell(text)
    assert csv_plain(cell) == text
    assert not _starts_unsafe(cell)
    assert cell == text or (cell[0] == "'" and text[0] in CSV_TRIGGERS)


@given(st.text(max_size=40))
def test_terminal_text_holds_no_control_character(text):
    shown = terminal(text, one_line=True)
    assert not any(ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f for c in shown)
    assert "\n" not in shown
    kept = terminal(text)
    assert not any((ord(c) < 0x20 and c not in "\n\t") or 0x7f <= ord(c) <= 0x9f for c in kept)


def test_terminal_escapes_bidi_overrides_and_keeps_ordinary_text():
    assert terminal("abc\u202edcba") == "abc\\u202edcba"
    assert terminal("Crème brûlée 北京 ✓") == "Crème brûlée 北京 ✓"
    assert terminal("a\tb\nc") == "a\tb\nc" and terminal("a\tb\nc", one_line=True) == "a\\tb\\nc"


def _strict_json(text: str):
    """Parse as a strict reader does: NaN and Infinity are errors, not numbers."""
    def refuse(name):
        raise ValueError(f"{name} is not JSON")
    return json.loads(text, parse_constant=refuse)


def test_json_text_writes_null_for_nan_and_infinity():
    import numpy as np

    from linkage.safetext import json_text

    doc = {"a": float("nan"), "b": [np.float64("inf"), np.float32("nan"), 1.5, -np.inf], "c": {"d": np.float64(2.0)}}
    assert _strict_json(json_text(doc)) == {"a": None, "b": [None, None, 1.5, None], "c": {"d": 2.0}}


def test_rings_json_never_holds_nan(tmp_path):
    """A ring whose score or features hold NaN (a feature undefined for it) is still strict JSON: null."""
    from linkage import detect
    from linkage.outputs import write_rings_run

    w = World(seed=5)
    add_ring(w, "ringn", n=10, requests=100)
    add_regulars(w, n=40)
    result = detect(w.write(tmp_path / "batch"))
    assert result.rings
    ring = result.rings[0]
    ring.score, ring.operator_confidence = float("nan"), float("inf")
    ring.features = {**ring.features, "coordination": float("nan")}
    out = write_rings_run(result, tmp_path / "out", source="test")
    doc = _strict_json((out / "rings.json").read_text())
    assert doc["rings"][0]["score"] is None and doc["rings"][0]["features"]["coordination"] is None
    _strict_json((out / "run.json").read_text())


def test_validate_writes_rejected_csv_by_the_same_rule(tmp_path):
    """`linkage validate --out` writes rejected.csv too: formula ids neutralised, byte for byte as detect writes it."""
    w = World(seed=19)
    add_regulars(w, n=30)
    w.accounts.append({**w.accounts[-1], "account_id": "=DUP()"})
    w.accounts.append({**w.accounts[-1], "account_id": "=DUP()"})
    data = w.write(tmp_path / "batch")
    res = CliRunner().invoke(main, ["validate", str(data), "--out", str(tmp_path / "check")])
    assert res.exit_code == 0, res.output
    with open(tmp_path / "check" / "rejected.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert any(r["value"] == "'=DUP()" for r in rows)
    assert not any(_starts_unsafe(c) for r in rows for c in r.values())
    assert CliRunner().invoke(main, ["detect", str(data), "--out", str(tmp_path / "out"), "--quiet"]).exit_code == 0
    assert (tmp_path / "out" / "rejected.csv").read_bytes() == (tmp_path / "check" / "rejected.csv").read_bytes()
