"""Cut one world (a contract-v1 folder) into consecutive batches by time, as a platform would export them.

A batch of ``days`` days holds the accounts that signed up in it, the requests sent in it,
and the payments of its accounts (a payment goes with its account's sign-up, so a card
shared with last week's accounts is only found through the state). Accounts that signed up
before the first request go to the first batch. Intel, which a team holds from the start, goes
to the first batch only. Columnar: one DuckDB ``COPY … PARTITION_BY`` per table.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ..errors import InputError
from ..io import connect, find_table
from ..sql import literal


def _scan(path: Path) -> str:
    """A relation over one input file with every column as read by DuckDB (the world is linkage's own)."""
    name = path.name
    if name.endswith(".parquet"):
        return f"read_parquet({literal(path)})"
    if name.endswith(".jsonl"):
        return f"read_json({literal(path)}, format = 'newline_delimited')"
    return f"read_csv({literal(path)}, header = true, all_varchar = true)"


def split_days(world: str | Path, out: str | Path, *, days: int = 1) -> list[tuple[dt.date, Path]]:
    """Write ``out/<YYYY-MM-DD>/`` batches of ``days`` days each (Parquet); return (first day, folder) in order."""
    world, out = Path(world), Path(out)
    con = connect()
    tables = {}
    for table in ("accounts", "events", "payments", "intel"):
        path = find_table(world, table)
        if path is None and table != "intel":
            raise InputError(f"{world}: no {table} table")
        if path is not None:
            tables[table] = _scan(path)
    ts = "CAST(ts AS TIMESTAMPTZ)"
    created = "CAST(created_at AS TIMESTAMPTZ)"
    first = con.execute(f"SELECT CAST(min({ts}) AS DATE) FROM {tables['events']}").fetchall()[0][0]
    if first is None:
        first = con.execute(f"SELECT CAST(min({created}) AS DATE) FROM {tables['accounts']}").fetchall()[0][0]
    slot = f"greatest(0, CAST(floor(date_diff('day', DATE {literal(first.isoformat())}, CAST({{t}} AS DATE)) / {int(days)}) AS INTEGER))"
    con.execute(f"CREATE TABLE acc AS SELECT *, {slot.format(t=created)} AS batch FROM {tables['accounts']}")
    con.execute(f"CREATE TABLE ev AS SELECT *, {slot.format(t=ts)} AS batch FROM {tables['events']}")
    con.execute(f"""CREATE TABLE pay AS SELECT p.*, a.batch FROM {tables['payments']} p
                    JOIN (SELECT account_id, batch FROM acc) a USING (account_id)""")
    batches = sorted({int(b) for (b,) in con.execute("SELECT DISTINCT batch FROM acc UNION SELECT DISTINCT batch "
                                                     "FROM ev").fetchall()})
    out.mkdir(parents=True, exist_ok=True)
    folders = []
    for b in batches:
        day = first + dt.timedelta(days=b * days)
        folder = out / day.isoformat()
        folder.mkdir(exist_ok=True)
        for name, table in (("accounts", "acc"), ("events", "ev"), ("payments", "pay")):
            con.execute(f"COPY (SELECT * EXCLUDE (batch) FROM {table} WHERE batch = ?) TO "
                        f"{literal(folder / f'{name}.parquet')} (FORMAT parquet)", [b])
        if "intel" in tables and b == batches[0]:
            con.execute(f"COPY (SELECT * FROM {tables['intel']}) TO {literal(folder / 'intel.parquet')} "
                        "(FORMAT parquet)")
        folders.append((day, folder))
    return folders


__all__ = ["split_days"]
