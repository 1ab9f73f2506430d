"""The record splitter against Python's csv module, and the physical lines it reports (issue 13.8)."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from linkage.read import records as rec
from linkage.read.sources import CsvSource, JsonLinesSource


def _rows(path, cls=CsvSource, max_record_bytes=1 << 20):
    """(line, error, values) of every record the source hands to DuckDB."""
    source = cls("events", path, max_record_bytes=max_record_bytes)
    out = []
    for batch in source._batches():
        d = batch.to_pydict()
        cols = [c for c in d if not c.startswith("__")]
        for i in range(batch.num_rows):
            out.append((d["__line"][i], d["__error"][i], tuple(d[c][i] for c in cols)))
    source.finish()
    return out


_cell = st.text(alphabet=st.sampled_from(list('ab ,"\n\r\t') + ["é", "💥"]), max_size=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(_cell, _cell, _cell), min_size=1, max_size=12),
       quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]), crlf=st.booleans(),
       block=st.sampled_from([7, 64, 1 << 20]))
def test_splitter_reads_what_python_csv_wrote(tmp_path, monkeypatch, rows, quoting, crlf, block):
    """Fields (quotes, commas, line breaks inside values) and the line each record starts on, at
    any block size: the line of record k is 1 + the line breaks Python's writer put before it."""
    # with a "\n" terminator Python leaves a lone "\r" unquoted: at a row's end it reads as "\r\n"
    assume(quoting == csv.QUOTE_ALL or crlf or not any(row[-1].endswith("\r") for row in rows))
    monkeypatch.setattr(rec, "BLOCK_BYTES", block)
    buf = io.StringIO()
    writer = csv.writer(buf, quoting=quoting, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(["account_id", "ts", "prompt"])
    starts = []
    for row in rows:
        starts.append(buf.getvalue().count("\n") + 1)
        writer.writerow(row)
    text = buf.getvalue()
    path = tmp_path / "events.csv"
    path.write_bytes(text.encode())
    expected = [(line, None, tuple(row)) for line, row in zip(starts, rows)]
    got = _rows(path)
    assert [(line, err) for line, err, _ in got] == [(line, err) for line, err, _ in expected]
    # DuckDB undoubles quotes; here the views still hold them doubled
    assert [tuple(v.replace('""', '"') for v in values) for _, _, values in got] == [r for _, _, r in expected]


def test_quoted_prompts_spanning_lines_do_not_shift_later_lines(tmp_path):
    """A bad row at physical line 2001 was reported as line 1999 (13.8)."""
    lines = ["account_id,ts,prompt"]
    for i in range(1998):
        lines.append(f'a1,2026-04-01T00:00:00Z,"prompt {i}\nsecond line"' if i in (10, 500) else f"a1,2026,p{i}")
    text = "\n".join(lines) + "\n"
    path = tmp_path / "events.csv"
    path.write_text(text)
    got = _rows(path)
    assert len(got) == 1998
    assert got[-1][0] == text.count("\n")  # the last record starts on the last physical line
    assert [line for line, _, _ in got[9:13]] == [11, 12, 14, 15]


def test_blank_lines_bom_crlf_and_unterminated_quotes(tmp_path):
    path = tmp_path / "events.csv"
    path.write_bytes(b'\xef\xbb\xbfaccount_id,ts,prompt\r\n\r\na1,t,"x\r\ny"\r\n\na2,t,z\na3,t,"open\nstill open\n')
    got = _rows(path)
    assert got == [(3, None, ("a1", "t", '"x\r\ny"'[1:-1])), (6, None, ("a2", "t", "z")),
                   (7, "unterminated quoted field (from this line to the end of the file)", (None, None, None))]


@pytest.mark.parametrize("cls, body, reason", [
    (CsvSource, 'account_id,ts,prompt\na1,t,"' + "x" * 5000 + '"\na2,t,ok\n', "record longer than 4,096 bytes"),
    (CsvSource, 'account_id,ts,prompt\na1,t,"' + "x\n" * 5000 + '"\na2,t,ok\n', "record longer than 4,096 bytes"),
    (JsonLinesSource, '{"prompt": "' + "x" * 5000 + '"}\n{"account_id": "a2"}\n', "record longer than 4,096 bytes"),
])
def test_a_record_over_the_limit_is_refused_whole_and_later_lines_hold(tmp_path, monkeypatch, cls, body, reason):
    monkeypatch.setattr(rec, "BLOCK_BYTES", 1024)
    monkeypatch.setattr(rec, "size_text", lambda n: f"{n:,} bytes")
    path = tmp_path / ("events.csv" if cls is CsvSource else "events.jsonl")
    path.write_text(body)
    got = _rows(path, cls, max_record_bytes=4096)
    first_line = 2 if cls is CsvSource else 1
    assert got[0][:2] == (first_line, reason + " (the record size limit)")
    assert got[1][0] == body.count("\n") and got[1][1] is None


def test_invalid_utf8_is_found_record_by_record(tmp_path):
    path = tmp_path / "events.csv"
    path.write_bytes(b"account_id,ts\n" + b"".join(
        (b"\xff" if i in (3, 700) else b"a") + b",t\n" for i in range(1000)))
    got = _rows(path)
    assert [line for line, err, _ in got if err] == [5, 702]
    assert all(err == "not valid UTF-8 text" for _, err, _ in got if err)


def test_string_views_hold_the_bytes(tmp_path):
    buf = "é-" * 40 + "x"
    raw = buf.encode()
    starts = np.array([0, 3, 5, 30, len(raw)], np.int64)
    ends = np.array([2, 5, 30, len(raw), len(raw)], np.int64)
    arr = rec.string_views(rec.padded(raw), raw, starts, ends, np.array([True, True, True, False, True]))
    assert arr.to_pylist() == [raw[0:2].decode(), raw[3:5].decode(), raw[5:30].decode(), None, ""]
