"""Payment card numbers that cannot leak (12.4) and times in range (12.5, 12.10)."""

from __future__ import annotations

import datetime as dt
import io
import re

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from inputkit import ACCOUNTS, folder, rejected

from linkage.io import read_batch
from linkage.read.rules import has_card, shown

CON = duckdb.connect()


def sql_card(value: str) -> tuple[bool, str | None]:
    return tuple(CON.execute(f"SELECT {has_card('x')}, {shown('x')} FROM (SELECT ?::VARCHAR AS x)", [value]
                             ).fetchall()[0])


CARD_FORMS = ["4111111111111111", "4111 1111 1111 1111", "4111.1111.1111.1111", "4111-1111-1111-1111",
              "4111\t1111\t1111\t1111", "card:4111111111111111", "CARD 4111 1111 1111 1111", "5105105105105100.0",
              "５１０５１０５１０５１０５１００", " 4111111111111111 ", "paid with 4111 1111 1111 1111 today",
              "378282246310005", "6011111111111117", "4111111111111111 2026"]
NOT_CARDS = ["4111111111111112", "fp_2124498284411140", "acc_4111111111111111", "cd915d98712724111111111111111aa",
             "216.230.226.252", "0000000000000000", "79927398713", "2026-04-01T00:00:00Z", "1775046600000", ""]


@pytest.mark.parametrize("value", CARD_FORMS)
def test_card_numbers_are_found_after_normalising(value):
    """Separators, a ``.0`` tail, a tab, a ``card:`` prefix and full-width digits all passed the old check."""
    found, masked = sql_card(value)
    assert found and masked in ("4111…1111", "5105…5100", "3782…0005", "6011…1117")


@pytest.mark.parametrize("value", NOT_CARDS)
def test_identifiers_addresses_and_times_are_not_card_numbers(value):
    assert sql_card(value)[0] is False


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=10 ** 11, max_value=10 ** 19 - 1), st.sampled_from(["", " ", "-", "."]))
def test_luhn_in_sql_matches_the_reference(number, sep):
    grouped = sep.join(str(number)[i:i + 4] for i in range(0, len(str(number)), 4))
    digits = re.sub(r"[^0-9]", "", re.sub(r"[.,]0+$", "", grouped))  # a ".0" tail is a decimal tail
    total = sum(int(d) if i % 2 == 0 else (2 * int(d) - 9 if int(d) > 4 else 2 * int(d))
                for i, d in enumerate(reversed(digits)))
    expected = total % 10 == 0 and 12 <= len(digits) <= 19
    assert sql_card(grouped)[0] == expected


def test_card_numbers_are_refused_everywhere_and_never_echoed(tmp_path):
    """A card number passed in payments with separators, was kept in intel, and was printed in rejected.csv."""
    files = {
        "accounts.csv": ACCOUNTS + '"4111 1111 1111 1111",2026-04-01T00:00:00Z\n',
        "payments.csv": "account_id,instrument_id\na1,tok_1\na1,4111.1111.1111.1111\na1,5105105105105100.0\n"
                        "4111111111111111,tok_2\n",
        "events.csv": "account_id,ts,device_id\na1,2026-04-01T00:00:00Z,card:4111-1111-1111-1111\n"
                      "a1,2026-04-01T00:00:00Z,fp_2124498284411140\n",
        "intel.csv": "operator,kind,value\nX,instrument,４１１１１１１１１１１１１１１１\nX,ip,216.230.226.252\n",
    }
    batch = read_batch(folder(tmp_path / "b", files))
    rows = rejected(batch)
    assert [(f, line, reason) for f, line, _, reason, _ in rows] == [
        ("accounts.csv", 4, "account_id looks like a payment card number"),
        ("events.csv", 2, "device_id looks like a payment card number"),
        ("intel.csv", 2, "value looks like a payment card number"),
        ("payments.csv", 3, "instrument_id looks like a raw card number (payments must carry tokens)"),
        ("payments.csv", 4, "instrument_id looks like a raw card number (payments must carry tokens)"),
        ("payments.csv", 5, "account_id looks like a payment card number; unknown account_id (not in accounts)"),
    ]
    assert [value for *_, value in rows] == ["4111…1111", "4111…1111", "4111…1111", "4111…1111", "5105…5100",
                                             "4111…1111"]
    kept = "\n".join(str(r) for t in ("accounts", "events", "payments", "intel")
                     for r in batch.con.execute(f"SELECT * FROM {t}").fetchall())
    assert "4111" not in kept.replace("fp_2124498284411140", "") and "5105" not in kept


# --- times --------------------------------------------------------------------------------------------

BAD_TIMES = {"infinity": "out of range", "-infinity": "out of range", "10000-01-01": "out of range",
             "294247-01-01": "out of range", "0001-01-01": "out of range", "1969-12-31T23:59:59Z": "out of range",
             "2100-01-01T00:00:00Z": "out of range", "100000000000": "out of range", "99999999999999": "out of range",
             "-5": "out of range", "2026-13-01": "unparseable", "yesterday": "unparseable"}


def test_times_out_of_range_are_rejected_with_a_reason(tmp_path):
    """infinity, a year past 9999 and 12-digit epochs crashed detect later in evidence._fmt_ts."""
    events = "account_id,ts\n" + "".join(f"a1,{v}\n" for v in BAD_TIMES) + "a1,2099-12-31T23:59:59Z\n"
    batch = read_batch(folder(tmp_path / "b", {"events.csv": events}))
    reasons = [r[2] for r in rejected(batch, "events.csv")]
    expected = ["ts out of range (1970-01-01 to 2100-01-01)" if why == "out of range" else "unparseable ts"
                for why in BAD_TIMES.values()]
    assert reasons == expected
    kept = batch.con.execute("SELECT ts FROM events").fetchall()  # as Python datetimes: no OverflowError
    assert kept == [(dt.datetime(2099, 12, 31, 23, 59, 59, tzinfo=kept[0][0].tzinfo),)]


def test_created_at_infinity_is_rejected(tmp_path):
    accounts = "account_id,created_at\na1,2026-04-01T00:00:00Z\na2,infinity\n"
    batch = read_batch(folder(tmp_path / "b", {"accounts.csv": accounts, "events.csv": "account_id,ts\n"}))
    assert rejected(batch, "accounts.csv") == [(3, "created_at", "created_at out of range (1970-01-01 to 2100-01-01)",
                                                "infinity")]


@pytest.mark.parametrize("text", ["1775046600", "1775046600000", "1775046600000000", "1775046600000000000",
                                  "1775046600.0", " 1775046600 ", "2026-04-01T12:30:00Z", "2026-04-01T14:30:00+02:00",
                                  "2026-04-01 12:30:00"])
def test_epoch_units_are_read_from_the_magnitude(tmp_path, text):
    events = f"account_id,ts\na1,\"{text}\"\n"
    batch = read_batch(folder(tmp_path / "b", {"events.csv": events}))
    assert batch.con.execute("SELECT epoch(ts) FROM events").fetchall() == [(1775046600.0,)]


def _parquet(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


@pytest.mark.parametrize("array", [
    pa.array([1775046600000], pa.timestamp("ms")), pa.array([1775046600000000000], pa.timestamp("ns")),
    pa.array([1775046600], pa.timestamp("s", tz="UTC")), pa.array([1775046600000], pa.int64()),
    pa.array([1775046600], pa.int32()), pa.array([1775046600.0], pa.float64())])
def test_parquet_time_types_are_honoured(tmp_path, array):
    """INT64 millisecond timestamps were read as seconds (year ~58000) and crashed the run."""
    events = pa.table({"account_id": ["a1"], "ts": array})
    batch = read_batch(folder(tmp_path / "b", {"events.parquet": _parquet(events)}))
    assert batch.con.execute("SELECT epoch(ts) FROM events").fetchall() == [(1775046600.0,)]


def test_parquet_times_out_of_range_are_rejected(tmp_path):
    events = pa.table({"account_id": ["a1", "a1"], "ts": pa.array([99999999999999, -1], pa.int64())})
    batch = read_batch(folder(tmp_path / "b", {"events.parquet": _parquet(events)}))
    assert [r[:3] for r in rejected(batch, "events.parquet")] == [
        (1, "ts", "ts out of range (1970-01-01 to 2100-01-01)"), (2, "ts", "ts out of range (1970-01-01 to 2100-01-01)")]
