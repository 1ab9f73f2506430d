"""Write a run's outputs (data contract v1): rings.json, ring_members.csv, rejected.csv, report.html.

Also saves the evidence graph under ``OUT/evidence/`` (Parquet) so that
``linkage explain --from OUT`` and a later Neo4j load need no re-run, and the
manifest ``OUT/run.json`` (``linkage.manifest``) that lets them check it.
Every file is written into a temporary folder that replaces ``OUT`` whole at the
end (``linkage.publish``), so ``OUT`` never holds half a run or a mix of two.
Text cells of every CSV go through one rule against spreadsheet formula
injection (``linkage.safetext.csv_safe_query``).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from .errors import OutputError
from .publish import RunWriter
from .report import write_report
from .report.tables import ring_tables
from .safetext import csv_safe_query, json_text
from .sql import literal

if TYPE_CHECKING:
    from .io import Batch
    from .results import Result

log = logging.getLogger(__name__)

RINGS_VERSION = 1
EVIDENCE_TABLES = {
    # prompts/focused (linkage.topics) feed scoring's focus; the Neo4j load keeps them on Account nodes
    # so that `linkage rings --neo4j` scores from the stored graph as detect did.
    "accounts": """SELECT a.aid, a.account_id, a.created_at, a.email_domain, a.org_id, a.country,
                          coalesce(v.requests, 0) AS requests, coalesce(v.hosting_requests, 0) AS hosting_requests,
                          v.first_seen, v.last_seen, t.prompts, t.focused
                   FROM accounts a LEFT JOIN acct_activity v USING (aid) LEFT JOIN acct_topics t USING (aid)
                   ORDER BY a.aid""",
    # Activity windows of linked accounts only: the rest can never be in a ring.
    "windows": """SELECT aid, list(win ORDER BY win) AS windows, list(requests ORDER BY win) AS requests
                  FROM acct_windows WHERE aid IN (SELECT a FROM links UNION SELECT b FROM links)
                  GROUP BY aid ORDER BY aid""",
    "shingle_texts": "SELECT * FROM shingle_texts ORDER BY entity",
    "incidence": "SELECT * FROM incidence ORDER BY aid, family, entity",
    "entities": "SELECT * FROM entities ORDER BY family, entity",
    "links": "SELECT * FROM links ORDER BY a, b",
    "ip_asn": "SELECT ip, min(asn) AS asn FROM events WHERE ip IS NOT NULL AND asn IS NOT NULL GROUP BY ip ORDER BY ip",
    "intel": "SELECT * FROM intel ORDER BY operator, kind, value",
    "instruments": """SELECT instrument_id, min(instrument_type) AS instrument_type, min(bin) AS bin
                      FROM payments GROUP BY instrument_id ORDER BY instrument_id""",
    "indicator_hits": "SELECT * FROM indicator_hits ORDER BY operator, kind, value, aid",
}


def _copy(con: duckdb.DuckDBPyConnection, query: str, path: Path, fmt: str) -> None:
    """``COPY`` one query to ``path``; CSV text cells are neutralised; a write failure is an OutputError."""
    if fmt == "csv":
        query, options = csv_safe_query(con, query), "FORMAT csv, HEADER true"
    else:
        options = "FORMAT parquet, COMPRESSION zstd"
    started = time.perf_counter()
    try:
        con.execute(f"COPY ({query}) TO {literal(path)} ({options})")
    except duckdb.IOException as exc:
        where = f"evidence/{path.name}" if path.parent.name == "evidence" else path.name
        raise OutputError(f"cannot write {where} ({_io_reason(str(exc))})") from None
    log.info("outputs: wrote %s in %.1fs", path.name, time.perf_counter() - started)


def _io_reason(message: str) -> str:
    """The operating system's reason in a DuckDB IO error ("No space left on device"), not its JSON wrapping."""
    code = re.search(r'"errno"\s*:\s*"?(\d+)', message)
    if code:
        return os.strerror(int(code.group(1)))
    return message.strip().splitlines()[0].rsplit(": ", 1)[-1]


def _con(result: Result) -> duckdb.DuckDBPyConnection:
    """The run's connection: the outputs are read from its tables."""
    if result.con is None:
        raise OutputError("this result holds no DuckDB connection (its tables are gone): nothing to write")
    return result.con


def _rings_files(result: Result, out: Path, source: dict[str, Any]) -> None:
    """``rings.json`` and ``ring_members.csv`` of ``result`` into the folder ``out``."""
    con = _con(result)
    doc = {
        "version": RINGS_VERSION,
        "generated_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "input": {**source, **result.counts},
        "params": result.config.to_dict(),
        "summary": result.summary(),
        "operations": [o.to_dict() for o in result.operations],
        "rings": [r.to_dict() for r in result.rings],
    }
    (out / "rings.json").write_text(json_text(doc, indent=1) + "\n", encoding="utf-8")
    rings = pd.DataFrame([(r.ring_id, r.operation, r.operator, r.operator_cluster, r.operator_confidence, r.score)
                          for r in result.rings],
                         columns=["ring_id", "operation", "operator", "operator_cluster", "operator_confidence",
                                  "score"])
    # With no ring both frames are empty and pandas types their ring_id differently: make both text.
    members = result.members.astype({"ring_id": str})
    # A run with state (a folder, or the stored graph for `linkage rings`) says which members are new to
    # their ring since the last batch (``lineage``).
    with_lineage = "state" in result.counts or any(r.lineage is not None for r in result.rings)
    fresh = {(r.ring_id, m) for r in result.rings if r.lineage is not None for m in r.lineage.new_members}
    members = members.assign(new=[(rid, acc) in fresh for rid, acc in zip(members["ring_id"], members["account_id"])])
    con.register("ring_members_out", members.merge(rings.astype({"ring_id": str}), on="ring_id", how="left"))
    try:
        _copy(con, f"""SELECT m.ring_id, m.account_id, strftime(a.created_at, '%Y-%m-%dT%H:%M:%SZ') AS created_at,
                              coalesce(v.requests, 0) AS requests, m.operation, m.operator, m.operator_cluster,
                              m.operator_confidence, m.score{", m.new" if with_lineage else ""}
                       FROM ring_members_out m JOIN accounts a USING (aid) LEFT JOIN acct_activity v USING (aid)
                       ORDER BY m.ring_id, m.account_id""", out / "ring_members.csv", "csv")
    finally:
        con.unregister("ring_members_out")
    _write_watchlist(result, out)


def _write_watchlist(result: Result, out: Path) -> None:
    """``watchlist.csv``: communities scored just below the threshold, every feature, members ``;``-joined."""
    watch = result.watchlist if result.watchlist is not None else pd.DataFrame(columns=["community_id"])
    watch = watch.assign(members=watch["members"].map(";".join)) if "members" in watch else watch
    con = _con(result)
    con.register("watchlist_out", watch)
    try:
        _copy(con, "SELECT * FROM watchlist_out", out / "watchlist.csv", "csv")
    finally:
        con.unregister("watchlist_out")


def write_rings_run(result: Result, out: str | Path | RunWriter, source: str) -> Path:
    """A run folder of rings only (``linkage rings --neo4j --out``): rings.json, ring_members.csv, run.json.

    It replaces ``OUT`` whole like a detect run, so no earlier evidence is left beside rings it does not belong to.
    """
    info = {"source": source}
    writer = out if isinstance(out, RunWriter) else RunWriter(out)
    return writer.write(lambda folder: _rings_files(result, folder, info), command="rings",
                        batch_id=None, input=info, params=result.config.to_dict())


def write_outputs(result: Result, out: str | Path | RunWriter, batch: Batch) -> Path:
    """Write every output file of ``result`` as the one run in ``out`` (a path, or a RunWriter checked earlier)."""
    writer = out if isinstance(out, RunWriter) else RunWriter(out)
    source = {"folder": str(batch.folder), "files": batch.files, "batch_id": batch.batch_id}

    def fill(folder: Path) -> None:
        con = _con(result)
        (folder / "evidence").mkdir()
        _rings_files(result, folder, source)
        con.register("members_out", result.members)
        try:
            if con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'events'").fetchall()[0][0]:
                for name, query in ring_tables(result.config).items():  # the report's timelines and prompt topics
                    _copy(con, query, folder / "evidence" / f"{name}.parquet", "parquet")
        finally:
            con.unregister("members_out")
        _copy(con, "SELECT * FROM rejected ORDER BY file, line", folder / "rejected.csv", "csv")
        for name, query in EVIDENCE_TABLES.items():
            _copy(con, query, folder / "evidence" / f"{name}.parquet", "parquet")
        write_report(folder, verify=False)

    return writer.write(fill, command="detect", batch_id=batch.batch_id, input=source,
                        params=result.config.to_dict())
