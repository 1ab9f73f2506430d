"""State across batches: ids kept, new members listed, new rings, killed runs repaired, hostile folders refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest
from click.testing import CliRunner
from worldkit import START, World, add_regulars, add_ring

import linkage.state
from linkage import Config, detect
from linkage.cli import main
from linkage.synth.batches import split_days

WINDOW = 30
TEMPLATE_B = "plan the steps an agent should take to {} and then execute the browser tool on {}"


@pytest.fixture(scope="module")
def batches(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two 10-day batches: ring A signs up on day 3 and grows by 6 accounts on day 12; ring B starts on day 13."""
    w = World(seed=5)
    add_regulars(w, n=120, requests=8)
    add_ring(w, "opa", n=12, requests=60, t0=START + pd.Timedelta(days=3))
    add_ring(w, "opa2", n=6, requests=60, device="harness-opa", domain="mailbox-x.top",
             t0=START + pd.Timedelta(days=12))
    add_ring(w, "opb", n=10, requests=60, base_ip="198.18.7", asn=16509, domain="inbox-z.click",
             template=TEMPLATE_B, t0=START + pd.Timedelta(days=13))
    root = tmp_path_factory.mktemp("world")
    folders = split_days(w.write(root / "world"), root / "days", days=10)
    return [f for _, f in folders[:2]]


def _rings(out: Path) -> dict[str, dict[str, Any]]:
    doc = json.loads((out / "rings.json").read_text())
    return {r["ring_id"]: r for r in doc["rings"]}


def _ring_of(rings: dict[str, dict[str, Any]], prefix: str) -> dict[str, Any]:
    hits = [r for r in rings.values() if any(m.startswith(prefix + "-") for m in r["members"])]
    assert len(hits) == 1, f"{prefix}: {len(hits)} rings"
    return hits[0]


def _counts(state: Path) -> dict[str, int]:
    doc = json.loads((state / linkage.state.MANIFEST).read_text())
    gen = state / f"gen-{doc['generation']:06d}"
    con = duckdb.connect()
    return {t: con.execute(f"SELECT count(*) FROM read_parquet('{gen / (t + '.parquet')}')").fetchall()[0][0]
            for t in linkage.state.TABLES}


@pytest.fixture(scope="module")
def two_runs(batches: list[Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("runs")
    state = root / "state"
    for i, batch in enumerate(batches):  # ring A's requests end on day 6: a 30-day window still holds them
        detect(batch, Config(), out=root / f"out{i}", state=state, window_days=WINDOW)
    return root / "out0", root / "out1", state


def test_a_continuing_ring_keeps_its_id_and_lists_its_new_members(two_runs: tuple[Path, Path, Path]) -> None:
    first, second = _rings(two_runs[0]), _rings(two_runs[1])
    a1 = _ring_of(first, "opa")
    assert a1["lineage"]["status"] == "new" and a1["lineage"]["new_members"]["count"] == a1["size"]
    a2 = _ring_of(second, "opa")
    assert a2["ring_id"] == a1["ring_id"]
    assert a2["lineage"]["status"] == "continuing"
    assert a2["lineage"]["first_detected"] == a1["lineage"]["first_detected"]
    assert a2["lineage"]["previous_ids"] == [a1["ring_id"]]
    grown = sorted(m for m in a2["members"] if m.startswith("opa2-"))
    assert grown and a2["lineage"]["new_members"]["ids"] == grown
    assert a2["lineage"]["new_members"]["count"] == len(grown)


def test_a_ring_seen_only_in_the_second_batch_is_new(two_runs: tuple[Path, Path, Path]) -> None:
    b = _ring_of(_rings(two_runs[1]), "opb")
    assert b["lineage"]["status"] == "new" and b["lineage"]["previous_ids"] == []
    batch_two = json.loads((two_runs[1] / "rings.json").read_text())["input"]["batch_id"]
    assert b["lineage"]["first_detected"] == batch_two
    assert not any(m.startswith("opb-") for r in _rings(two_runs[0]).values() for m in r["members"])


def test_ring_members_csv_marks_new_members(two_runs: tuple[Path, Path, Path]) -> None:
    members = pd.read_csv(two_runs[1] / "ring_members.csv")
    a_id = _ring_of(_rings(two_runs[1]), "opa")["ring_id"]
    a = members[members["ring_id"] == a_id]
    assert set(a.loc[a["new"], "account_id"]) == {m for m in a["account_id"] if m.startswith("opa2-")}


def test_the_report_says_what_changed_since_the_last_batch(two_runs: tuple[Path, Path, Path]) -> None:
    html = (two_runs[1] / "report.html").read_text()
    since = html[html.index('<section id="since">'):html.index('<section id="summary">')]
    assert "New accounts on known rings" in since and "opa2-000" in since and "New rings" in since
    assert since.index("New accounts on known rings") < since.index("New rings")


def test_the_state_counts_every_account_once_and_records_each_batch(two_runs: tuple[Path, Path, Path],
                                                                     batches: list[Path]) -> None:
    state = two_runs[2]
    doc = json.loads((state / "state.json").read_text())
    assert doc["generation"] == 2 and [b["generation"] for b in doc["batches"]] == [1, 2]
    accounts = sum(len(pd.read_parquet(b / "accounts.parquet")) for b in batches)
    assert _counts(state)["accounts"] == accounts
    assert sorted(p.name for p in state.iterdir()) == ["gen-000002", "lock", "state.json"]


def test_a_batch_already_applied_is_refused_and_changes_nothing(two_runs: tuple[Path, Path, Path],
                                                                batches: list[Path], tmp_path: Path) -> None:
    state = two_runs[2]
    before = (state / "state.json").read_bytes()
    result = CliRunner().invoke(main, ["detect", str(batches[1]), "--out", str(tmp_path / "again"),
                                       "--state", str(state), "--quiet"])
    assert result.exit_code == 2
    assert "already applied" in result.output and len(result.output.strip().splitlines()) == 1
    assert (state / "state.json").read_bytes() == before and not (tmp_path / "again").exists()


def test_a_run_killed_while_writing_the_state_is_repaired_by_running_it_again(
        batches: list[Path], two_runs: tuple[Path, Path, Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state"
    detect(batches[0], Config(), out=tmp_path / "out0", state=state, window_days=WINDOW)
    manifest = (state / "state.json").read_bytes()
    real = linkage.state._write_table
    calls = []

    def dies_on_the_third_table(*args: object, **kwargs: object) -> None:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # like a kill: nothing of linkage's cleans up
        real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(linkage.state, "_write_table", dies_on_the_third_table)
    with pytest.raises(KeyboardInterrupt):
        detect(batches[1], Config(), out=tmp_path / "out1", state=state, window_days=WINDOW)
    monkeypatch.undo()
    assert (state / "state.json").read_bytes() == manifest  # still the first batch's state
    assert (state / "gen-000002").is_dir()  # the half-written generation is left over …
    detect(batches[1], Config(), out=tmp_path / "out1", state=state, window_days=WINDOW)
    assert not (state / "gen-000001").exists()  # … and the re-run replaced both
    assert _counts(state) == _counts(two_runs[2])  # exact: as if never interrupted
    assert _rings(tmp_path / "out1").keys() == _rings(two_runs[1]).keys()


def test_without_state_ring_ids_and_columns_are_as_before(batches: list[Path], tmp_path: Path) -> None:
    result = detect(batches[0], Config(), out=tmp_path / "plain")
    assert all(r.lineage is None for r in result.rings)
    doc = json.loads((tmp_path / "plain" / "rings.json").read_text())
    assert all("lineage" not in r for r in doc["rings"]) and "state" not in doc["input"]
    assert "new" not in pd.read_csv(tmp_path / "plain" / "ring_members.csv").columns
    assert '<section id="since">' not in (tmp_path / "plain" / "report.html").read_text()


def test_cli_detect_with_state_end_to_end(batches: list[Path], tmp_path: Path) -> None:
    runner = CliRunner()
    for i, batch in enumerate(batches):
        result = runner.invoke(main, ["detect", str(batch), "--out", str(tmp_path / f"o{i}"), "--state",
                                      str(tmp_path / "st"), "--window-days", "30", "--format", "json"])
        assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "o1" / "rings.json").read_text())
    assert doc["input"]["state"]["window_days"] == 30 and doc["input"]["state"]["batches_before"] == 1
    assert {r["lineage"]["status"] for r in doc["rings"]} == {"new", "continuing"}


@pytest.mark.parametrize("make", ["foreign-file", "not-a-folder", "bad-manifest", "foreign-in-generation"])
def test_a_folder_that_is_not_a_state_is_refused_and_left_alone(make: str, batches: list[Path],
                                                                tmp_path: Path) -> None:
    state = tmp_path / "st"
    if make == "not-a-folder":
        state.write_text("mine")
    else:
        state.mkdir()
        if make == "foreign-file":
            (state / "notes.txt").write_text("mine")
        elif make == "bad-manifest":
            (state / "state.json").write_text('{"format": "something-else"}')
        else:
            (state / "state.json").write_text('{"format": "linkage-state"}')
            (state / "gen-000001").mkdir()
            (state / "gen-000001" / "notes.txt").write_text("mine")
    before = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*"))
    result = CliRunner().invoke(main, ["detect", str(batches[0]), "--out", str(tmp_path / "o"), "--state", str(state)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("linkage: error: ") and "state" in lines[0]
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")) == before


def test_window_days_needs_state(batches: list[Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["detect", str(batches[0]), "--out", str(tmp_path / "o"), "--window-days", "3"])
    assert result.exit_code == 2 and "--window-days needs --state" in result.output


def test_a_first_run_killed_before_it_committed_is_simply_run_again(batches: list[Path], tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state"
    real = linkage.state.replace_file

    def dies_before_the_manifest(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(linkage.state, "replace_file", dies_before_the_manifest)
    with pytest.raises(KeyboardInterrupt):
        detect(batches[0], Config(), out=tmp_path / "out0", state=state)
    monkeypatch.setattr(linkage.state, "replace_file", real)
    assert (state / "gen-000001").is_dir() and not (state / "state.json").exists()
    detect(batches[0], Config(), out=tmp_path / "out0", state=state)
    assert json.loads((state / "state.json").read_text())["generation"] == 1
