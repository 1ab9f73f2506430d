"""Input is data, never code: hostile names, keys, ids and paths (issue 12.1, 12.11, 12.12)."""

from __future__ import annotations

import csv
import io
import json
import socket
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from inputkit import accounted, folder, rejected

from linkage.errors import InputError
from linkage.io import read_batch

HOSTNAME = Path("/etc/hostname").read_text().strip() if Path("/etc/hostname").is_file() else socket.gethostname()
INJECTION = "x', read_text('/etc/hostname') AS \"y"


def _every_text(batch) -> str:
    """All text of every table the read left, as one string."""
    parts = []
    for table in ("accounts", "events", "payments", "intel", "rejected"):
        parts += [str(row) for row in batch.con.execute(f"SELECT * FROM {table}").fetchall()]
    return "\n".join(parts)


def _parquet(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def test_jsonl_keys_are_inert(tmp_path):
    """Keys used to be pasted into SQL: ``it's`` aborted the run and a crafted key ran read_text."""
    line = {"account_id": "a1", "ts": "2026-04-01T00:00:00Z", "it's": "x", INJECTION: "y", 'a"b\\c': 1}
    batch = read_batch(folder(tmp_path / "b", {"events.jsonl": json.dumps(line) + "\n"}))
    assert batch.counts()["events"] == 1
    assert HOSTNAME not in _every_text(batch)


@pytest.mark.parametrize("name", ["line", "rn", "reason", "file_row_number", "__line", "__error", "raw_ts", "bad",
                                  "aid", "rejected", "text", "k"])
def test_extra_columns_never_meet_internal_names(tmp_path, name):
    """An extra ``line`` replaced the real line numbers; ``rn`` or a text ``line`` aborted the run."""
    events = f"{name},account_id,ts\nzzz,a1,2026-04-01T00:00:00Z\n99,a1,nope\n"
    batch = read_batch(folder(tmp_path / "b", {"events.csv": events}))
    assert rejected(batch, "events.csv") == [(3, "ts", "unparseable ts", "nope")]
    assert batch.counts()["events"] == 1


def test_extra_columns_in_parquet_are_ignored_whatever_their_name(tmp_path):
    table = pa.table({INJECTION: ["q"], "line": ["x"], "__line": [7], "raw_account_id": ["zz"],
                      "TS ": ["2026-04-01T00:00:00Z"], " Account_ID": ["a1"]})
    batch = read_batch(folder(tmp_path / "b", {"events.parquet": _parquet(table)}))
    assert batch.counts()["events"] == 1 and rejected(batch) == []
    assert HOSTNAME not in _every_text(batch)


def test_columns_are_matched_by_name_not_position(tmp_path):
    events = "Prompt,TS , account_ID,ip\nhello,2026-04-01T00:00:00Z,a2,1.2.3.4\n"
    batch = read_batch(folder(tmp_path / "b", {"events.csv": events}))
    assert batch.con.execute("SELECT aid, ip, prompt FROM events").fetchall() == [(1, "1.2.3.4", "hello")]


@pytest.mark.parametrize("files, message", [
    ({"events.csv": "account_id,ts,Account_ID\na1,2026-04-01T00:00:00Z,a2\n"},
     r"^events\.csv: column given more than once: account_id \('account_id', 'Account_ID'\)$"),
    ({"events.csv": "account_id,ts,ts \na1,2026-04-01T00:00:00Z,x\n"},
     r"^events\.csv: column given more than once: ts \('ts', 'ts '\)$"),
    ({"events.parquet": _parquet(pa.table({"account_id": ["a1"], "ts": ["x"], "TS": ["y"]}))},
     r"^events\.parquet: column given more than once: ts \('ts', 'TS'\)$"),
    ({"events.jsonl": '{"account_id":"a1","ts":"2026-04-01T00:00:00Z"}\n'
                      '{"account_id":"a1","ts":"2026-04-01T00:00:00Z","Account_ID":"a2"}\n'},
     r"^events\.jsonl: line 2 gives a column more than once: account_id \('account_id', 'Account_ID'\)$"),
])
def test_a_contract_column_given_twice_is_an_error(tmp_path, files, message):
    """A duplicate column used to be silently ignored."""
    with pytest.raises(InputError, match=message):
        read_batch(folder(tmp_path / "b", files))


def test_integer_account_ids_in_parquet(tmp_path):
    """int64 account ids gave a ``trim(BIGINT)`` binder error."""
    accounts = pa.table({"account_id": pa.array([10, 20], pa.int64()), "created_at": ["2026-04-01T00:00:00Z"] * 2})
    events = pa.table({"account_id": pa.array([10, 30], pa.int64()), "ts": ["2026-04-01T01:00:00Z"] * 2})
    batch = read_batch(folder(tmp_path / "b", {"accounts.parquet": _parquet(accounts),
                                               "events.parquet": _parquet(events),
                                               "payments.csv": "account_id,instrument_id\n20,tok\n"}))
    assert batch.con.execute("SELECT account_id FROM accounts ORDER BY aid").fetchall() == [("10",), ("20",)]
    assert rejected(batch, "events.parquet") == [(2, "account_id", "unknown account_id (not in accounts)", "30")]
    assert batch.counts()["payments"] == 1


def test_a_folder_named_like_a_glob_reads_only_its_own_files(tmp_path):
    """DuckDB reads paths as glob patterns: ``b[12]`` must not read ``b1``'s or ``b2``'s files."""
    good = pa.table({"account_id": ["a1"], "ts": ["2026-04-01T00:00:00Z"]})
    other = pa.table({"account_id": ["a1"] * 5, "ts": ["2026-04-01T00:00:00Z"] * 5})
    target = folder(tmp_path / "b[12]*", {"events.parquet": _parquet(good)})
    for sibling in ("b1", "b2x"):
        folder(tmp_path / sibling, {"events.parquet": _parquet(other)})
    assert read_batch(target).counts()["events"] == 1


# --- property: hostile names, keys, ids and paths --------------------------------------------------

_hostile_text = st.one_of(
    st.sampled_from([INJECTION, "it's", 'a"b', "\\", "$1", "$.x", "/x~1", "'; DROP TABLE accounts; --", "line",
                     "__line", "raw_ts", "\u202e", "\x1b[31m", "é", "💥", "NULL", "*", "[a]", "?"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12),
)
_path_part = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00/"),
                     min_size=1, max_size=10).filter(lambda s: s not in (".", ".."))


def _csv(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(_hostile_text, max_size=4), ids=st.lists(_hostile_text, min_size=1, max_size=4),
       part=_path_part, fmt=st.sampled_from(["csv", "jsonl", "parquet"]))
def test_hostile_names_keys_ids_and_paths(tmp_path_factory, names, ids, part, fmt):
    """No traceback (only InputError), nothing read from outside the folder, every record accounted for."""
    base = tmp_path_factory.mktemp("hostile") / part
    accounts = [["account_id", "created_at", *names]] + [[i, "2026-04-01T00:00:00Z", *names] for i in ids]
    events_rows = [{"account_id": i, "ts": "2026-04-01T01:00:00Z", **{n: INJECTION for n in names}} for i in ids]
    if fmt == "csv":
        events = _csv([["account_id", "ts", *names]] + [[r["account_id"], r["ts"], *names] for r in events_rows])
        files = {"accounts.csv": _csv(accounts), "events.csv": events}
    elif fmt == "jsonl":
        files = {"accounts.csv": _csv(accounts), "events.jsonl": "".join(json.dumps(r) + "\n" for r in events_rows)}
    else:
        cols = {"account_id": ids, "ts": ["2026-04-01T01:00:00Z"] * len(ids)}
        for n in names:
            cols.setdefault(n, [INJECTION] * len(ids))
        files = {"accounts.csv": _csv(accounts), "events.parquet": _parquet(pa.table(cols))}
    try:
        batch = read_batch(folder(base, files))
    except InputError as exc:
        assert "\n" not in str(exc)
        return
    assert accounted(batch)
    assert HOSTNAME not in _every_text(batch)
