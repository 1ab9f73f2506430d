"""Write a run's outputs (data contract v1): rings.json, ring_members.csv, rejected.csv, report.html.

Also saves the evidence graph under ``OUT/evidence/`` (Parquet) so that
``linkage explain --from OUT`` and a later Neo4j load need no re-run.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from pathlib import Path

import pandas as pd

from .errors import LinkageError
from .report import write_report
from .report.tables import ring_tables
from .sql import literal

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


def _copy(con, query: str, path: Path, fmt: str) -> None:
    options = "FORMAT parquet, COMPRESSION zstd" if fmt == "parquet" else "FORMAT csv, HEADER true"
    started = time.perf_counter()
    con.execute(f"COPY ({query}) TO {literal(path)} ({options})")
    log.info("outputs: wrote %s in %.1fs", path.name, time.perf_counter() - started)


def write_rings_files(result, out: str | Path, source) -> None:
    """``rings.json`` and ``ring_members.csv`` of ``result``; ``source`` says where the input came from."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LinkageError(f"{out}: cannot create the output folder ({exc.strerror})") from None
    con = result.con
    source = source if isinstance(source, dict) else {"source": source}
    doc = {
        "version": RINGS_VERSION,
        "generated_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "input": {**source, **result.counts},
        "params": result.config.to_dict(),
        "summary": result.summary(),
        "operations": [o.to_dict() for o in result.operations],
        "rings": [r.to_dict() for r in result.rings],
    }
    (out / "rings.json").write_text(json.dumps(doc, indent=1, default=str) + "\n")
    rings = pd.DataFrame([(r.ring_id, r.operation, r.operator, r.operator_cluster, r.operator_confidence, r.score)
                          for r in result.rings],
                         columns=["ring_id", "operation", "operator", "operator_cluster", "operator_confidence",
                                  "score"])
    # With no ring both frames are empty and pandas types their ring_id differently: make both text.
    members = result.members.astype({"ring_id": str})
    con.register("ring_members_out", members.merge(rings.astype({"ring_id": str}), on="ring_id", how="left"))
    _copy(con, """SELECT m.ring_id, m.account_id, strftime(a.created_at, '%Y-%m-%dT%H:%M:%SZ') AS created_at,
                         coalesce(v.requests, 0) AS requests, m.operation, m.operator, m.operator_cluster,
                         m.operator_confidence, m.score
                  FROM ring_members_out m JOIN accounts a USING (aid) LEFT JOIN acct_activity v USING (aid)
                  ORDER BY m.ring_id, m.account_id""", out / "ring_members.csv", "csv")
    con.unregister("ring_members_out")
    _write_watchlist(result, out)


def _write_watchlist(result, out: Path) -> None:
    """``watchlist.csv``: communities scored just below the threshold, every feature, members ``;``-joined."""
    watch = result.watchlist if result.watchlist is not None else pd.DataFrame(columns=["community_id"])
    watch = watch.assign(members=watch["members"].map(";".join)) if "members" in watch else watch
    result.con.register("watchlist_out", watch)
    _copy(result.con, "SELECT * FROM watchlist_out", out / "watchlist.csv", "csv")
    result.con.unregister("watchlist_out")


def write_outputs(result, out: str | Path, batch) -> Path:
    """Write every output file of ``result`` into ``out`` (created if missing)."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "evidence").mkdir(exist_ok=True)
    except OSError as exc:
        raise LinkageError(f"{out}: cannot create the output folder ({exc.strerror})") from None
    con = result.con
    write_rings_files(result, out, {"folder": str(batch.folder), "files": batch.files, "batch_id": batch.batch_id})
    con.register("members_out", result.members)
    if con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'events'").fetchall()[0][0]:
        for name, query in ring_tables(result.config).items():  # the report's timelines and prompt topics
            _copy(con, query, out / "evidence" / f"{name}.parquet", "parquet")
    con.unregister("members_out")
    _copy(con, "SELECT * FROM rejected ORDER BY file, line", out / "rejected.csv", "csv")
    for name, query in EVIDENCE_TABLES.items():
        _copy(con, query, out / "evidence" / f"{name}.parquet", "parquet")
    write_report(out)
    return out
