"""Read what a ``linkage detect`` run left in its output folder: the one place export touches files.

Export needs the flagged rings (``rings.json``) and the evidence tables (``evidence/*.parquet``).
The tables stay in DuckDB as views over the Parquet files, so selecting indicators is SQL over
them and a seed-scale run is never pulled into Python.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from ..errors import InputError
from ..sql import ident, literal

EVIDENCE = ("accounts", "incidence", "entities", "shingle_texts")


@dataclass(frozen=True)
class Operation:
    """The rings one intrusion set stands for: an intel operator's, or one unattributed operation's."""

    key: str  # the operator's name, else the run's operation (operator cluster) id
    operator: str | None
    ring_ids: tuple[str, ...]
    accounts: int
    requests: int
    first_seen: str | None
    last_seen: str | None


@dataclass
class Run:
    """A detect output folder, opened: flagged rings grouped into operations, evidence as DuckDB views.

    Views: ``accounts``, ``incidence``, ``entities``, ``shingle_texts``; table ``ring_members(ring_id,
    operation, aid)`` holds the flagged rings' members.
    """

    folder: Path
    con: duckdb.DuckDBPyConnection
    rings: list[dict[str, Any]]
    operations: dict[str, Operation]
    families: dict[str, dict[str, Any]]
    batch_id: str
    #: End of the batch's observations: the fixed ``modified`` time of every exported object.
    observed_until: dt.datetime
    threshold: float = 0.5
    #: Word n-gram length the run matched templates on (travels with template excerpts).
    shingle_size: int = 4


def operation_key(ring: dict[str, Any]) -> str:
    """The intrusion set a ring belongs to: its operator, else its operation (or operator cluster)."""
    return str(ring.get("operator") or ring.get("operation") or ring.get("operator_cluster") or ring["ring_id"])


def read_run(out: str | Path) -> Run:
    """Open the detect output folder ``out``; raise InputError naming what is missing."""
    out = Path(out)
    rings_path = out / "rings.json"
    if not rings_path.is_file():
        raise InputError(f"{out}: no rings.json; is this a `linkage detect` output folder?")
    try:
        doc = json.loads(rings_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{rings_path}: not valid JSON ({exc})") from None
    params = doc.get("params") or {}
    threshold = float(params.get("threshold", 0.5))
    # rings.json lists flagged rings only; the threshold check keeps that true if it ever lists more.
    rings = [r for r in doc.get("rings") or [] if float(r.get("score") or 0.0) >= threshold]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for table in EVIDENCE:
        path = out / "evidence" / f"{table}.parquet"
        if not path.is_file():
            raise InputError(f"{out}: no evidence/{table}.parquet; re-run `linkage detect` to write it")
        con.execute(f"CREATE VIEW {ident(table)} AS SELECT * FROM read_parquet({literal(path)})")
    members = pd.DataFrame([(r["ring_id"], operation_key(r), str(a)) for r in rings for a in r.get("members") or []],
                           columns=["ring_id", "operation", "account_id"])
    con.register("members_df", members)
    con.execute("""CREATE TABLE ring_members AS SELECT m.ring_id, m.operation, a.aid
                   FROM members_df m JOIN accounts a USING (account_id)""")
    con.unregister("members_df")
    until = con.execute("SELECT max(last_seen) FROM accounts").fetchall()[0][0]
    if until is None:
        until = pd.Timestamp(doc.get("generated_at") or "1970-01-01T00:00:00Z").to_pydatetime()
    return Run(folder=out, con=con, rings=rings, operations=_operations(rings), families=params.get("families") or {},
               batch_id=str((doc.get("input") or {}).get("batch_id") or ""),
               observed_until=until.astimezone(dt.timezone.utc).replace(microsecond=0), threshold=threshold,
               shingle_size=int(params.get("shingle_size", 4)))


def _operations(rings: list[dict[str, Any]]) -> dict[str, Operation]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for ring in rings:
        groups.setdefault(operation_key(ring), []).append(ring)
    out = {}
    for key, group in sorted(groups.items()):
        firsts = [r["first_seen"] for r in group if r.get("first_seen")]
        lasts = [r["last_seen"] for r in group if r.get("last_seen")]
        out[key] = Operation(key=key, operator=group[0].get("operator"), ring_ids=tuple(sorted(r["ring_id"] for r in group)),
                             accounts=sum(int(r.get("size") or 0) for r in group),
                             requests=sum(int(r.get("requests") or 0) for r in group),
                             first_seen=min(firsts) if firsts else None, last_seen=max(lasts) if lasts else None)
    return out


__all__ = ["Operation", "Run", "operation_key", "read_run"]
