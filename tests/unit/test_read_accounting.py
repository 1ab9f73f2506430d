"""Every record accounted for: size limits, broken bytes and files, line numbers, every reason (12.2, 12.3, 13.8, 13.9)."""

from __future__ import annotations

import gzip
import json
import os

import pytest
from inputkit import accounted, folder, rejected

from linkage.errors import InputError
from linkage.io import read_batch

BIG = {2: 3_000_000, 600: 10_000_000, 1199: 40_000_000}  # record index -> prompt size: top, middle, end
N = 1200


@pytest.fixture(scope="module")
def big_prompts(tmp_path_factory):
    """One CSV and one JSON-lines batch with 3, 10 and 40 MB prompts among 1,200 requests (about 53 MB each)."""
    base = tmp_path_factory.mktemp("big")
    csv_rows = ["account_id,ts,prompt"]
    json_rows = []
    for i in range(N):
        prompt = "x" * BIG[i] if i in BIG else f'write a "function", number {i}'
        csv_rows.append('a1,2026-04-01T00:00:00Z,"' + prompt.replace('"', '""') + '"')
        json_rows.append(json.dumps({"account_id": "a1", "ts": "2026-04-01T00:00:00Z", "prompt": prompt}))
    return (folder(base / "csv", {"events.csv": "\n".join(csv_rows) + "\n"}),
            folder(base / "jsonl", {"events.jsonl": "\n".join(json_rows) + "\n"}))


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_big_prompts_are_rejected_with_the_limit_and_never_lost(big_prompts, fmt):
    """A 40 MB prompt vanished, a 10 MB one was rejected with no reason, a 3 MB one near the top killed the run."""
    batch = read_batch(big_prompts[0 if fmt == "csv" else 1])
    name = f"events.{fmt}"
    first = 2 if fmt == "csv" else 1
    assert rejected(batch, name) == [(first + i, "prompt", "prompt longer than 1 MB (the field size limit)", None)
                                     for i in sorted(BIG)]
    assert batch.counts()["records"][name] == {"read": N, "kept": N - 3, "rejected": 3}
    assert batch.con.execute("SELECT max(strlen(prompt)) FROM events").fetchall()[0][0] < 100


def test_the_field_limit_is_a_parameter(big_prompts):
    batch = read_batch(big_prompts[0], max_field_bytes=20_000_000)
    assert [r[0] for r in rejected(batch, "events.csv")] == [2 + 1199]
    assert rejected(batch, "events.csv")[0][2] == "prompt longer than 20,000,000 bytes (the field size limit)"


def test_counts_say_read_kept_and_rejected_per_file(tmp_path):
    events = "account_id,ts\na1,2026-04-01T00:00:00Z\nzz,2026-04-01T00:00:00Z\na1,nope\n"
    batch = read_batch(folder(tmp_path / "b", {"events.csv": events}))
    counts = batch.counts()
    assert counts["events"] == 1 and counts["rejected"] == 2  # the keys callers already read
    assert counts["records"] == {"accounts.csv": {"read": 2, "kept": 2, "rejected": 0},
                                 "events.csv": {"read": 3, "kept": 1, "rejected": 2},
                                 "payments.csv": {"read": 1, "kept": 1, "rejected": 0}}


@pytest.mark.parametrize("name, body", [
    ("events.jsonl", b'{"account_id":"a1","ts":"2026-04-01T00:00:00Z"}\n{"account_id":"a\xff","ts":"x"}\n'
                     b'{"account_id":"a2","ts":"2026-04-01T00:00:00Z"}\n'),
    ("events.csv", b"account_id,ts\na1,2026-04-01T00:00:00Z\na\xff,x\na2,2026-04-01T00:00:00Z\n"),
    ("events.csv.gz", gzip.compress(b"account_id,ts\na1,2026-04-01T00:00:00Z\na\xff,x\na2,2026-04-01T00:00:00Z\n")),
])
def test_invalid_utf8_rejects_the_line_not_the_file(tmp_path, name, body):
    """One invalid-UTF-8 line refused a whole JSONL file ("CSV Error on Line: 9")."""
    batch = read_batch(folder(tmp_path / "b", {name: body}))
    line = 2 if name.endswith("jsonl") else 3
    assert rejected(batch, name) == [(line, None, "not valid UTF-8 text", None)]
    assert batch.counts()["events"] == 2


def test_a_dangling_optional_table_is_an_error(tmp_path):
    """A dangling intel.csv symlink was skipped without a word, and every ring went unattributed."""
    base = folder(tmp_path / "b", {})
    os.symlink(tmp_path / "nowhere" / "intel.csv", base / "intel.csv")
    with pytest.raises(InputError, match=r"^intel\.csv: a symbolic link to .*nowhere/intel\.csv', which does not exist$"):
        read_batch(base)


def test_a_table_that_is_not_a_file_is_an_error(tmp_path):
    base = folder(tmp_path / "b", {})
    (base / "intel.jsonl").mkdir()
    with pytest.raises(InputError, match=r"^intel\.jsonl: not a regular file$"):
        read_batch(base)


@pytest.mark.parametrize("body", [gzip.compress(b"account_id,ts\n" + b"a1,2026-04-01T00:00:00Z\n" * 20000)[:300],
                                  b"\x1f\x8b not gzip at all"])
def test_a_damaged_gzip_file_is_an_error_naming_it(tmp_path, body):
    with pytest.raises(InputError, match=r"^events\.csv\.gz: cannot read the file \(.+\)$"):
        read_batch(folder(tmp_path / "b", {"events.csv.gz": body}))


def test_a_broken_parquet_file_is_an_error_in_the_users_words(tmp_path):
    with pytest.raises(InputError, match=r"^events\.parquet: not a readable Parquet file \(.+\)$") as info:
        read_batch(folder(tmp_path / "b", {"events.parquet": b"PAR1 this is not parquet PAR1"}))
    assert "linkage-read-" not in str(info.value) and "Error:" not in str(info.value)


def test_every_reason_a_row_fails_is_listed(tmp_path):
    """Only the first failing rule was listed (13.9)."""
    events = "account_id,ts,ip,asn\nzz,never,999.1.1.1,ASX\n"
    batch = read_batch(folder(tmp_path / "b", {"events.csv": events}))
    assert rejected(batch, "events.csv") == [(
        2, "account_id; ts; ip; asn",
        "unknown account_id (not in accounts); unparseable ts; malformed ip; asn is not an integer AS number", "zz")]


def test_lines_are_physical_lines_through_the_whole_read(tmp_path):
    """A bad row after quoted prompts spanning lines is reported at the line it starts on (13.8)."""
    events = ('account_id,ts,prompt\na1,2026-04-01T00:00:00Z,"one\ntwo\nthree"\n\n'
              'a1,2026-04-01T00:00:00Z,"a ""quoted"" word\r\nover lines"\r\na1,later,x\n')
    batch = read_batch(folder(tmp_path / "b", {"events.csv": events}))
    assert rejected(batch, "events.csv") == [(8, "ts", "unparseable ts", "later")]
    prompts = sorted(r[0] for r in batch.con.execute("SELECT prompt FROM events").fetchall())
    assert prompts == ['a "quoted" word\r\nover lines', "one\ntwo\nthree"]


def test_malformed_csv_rows_are_rejected_and_the_rest_read(tmp_path):
    events = ('account_id,ts,prompt\na1,2026-04-01T00:00:00Z,ok\na1,2026-04-01T00:00:00Z\n'
              'a1,2026-04-01T00:00:00Z,x,y\na1,2026-04-01T00:00:00Z,ab"c"\na1,2026-04-01T00:00:00Z,"open\n')
    batch = read_batch(folder(tmp_path / "b", {"events.csv": events}))
    assert rejected(batch, "events.csv") == [
        (3, None, "2 fields where the header has 3", None),
        (4, None, "4 fields where the header has 3", None),
        (5, None, "malformed quotes in prompt", None),
        (6, None, "unterminated quoted field (from this line to the end of the file)", None)]
    assert accounted(batch) and batch.counts()["events"] == 1
