"""What integration tests read back from Neo4j to compare whole graphs: counts per label and type, and totals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pandas as pd

from linkage import manifest
from linkage.store.connection import run_query


def census(driver, settings) -> dict:
    """Node count per label, relationship count per type, and every additive total."""
    nodes = {r["l"]: r["c"] for r in run_query(
        driver, settings, "census nodes", "MATCH (n) RETURN labels(n)[0] AS l, count(*) AS c")}
    rels = {r["t"]: r["c"] for r in run_query(
        driver, settings, "census rels", "MATCH ()-[r]->() RETURN type(r) AS t, count(*) AS c")}
    totals = run_query(driver, settings, "census totals", """
        MATCH (a:Account) WITH sum(a.requests) AS requests
        OPTIONAL MATCH ()-[s:SEEN_IN]->() WITH requests, sum(size(coalesce(s.windows, []))) AS windows
        OPTIONAL MATCH ()-[r:USED_IP]->() WITH requests, windows, sum(r.requests) AS ip_requests
        OPTIONAL MATCH ()-[p:PAID_WITH]->() RETURN requests, windows, ip_requests, sum(p.payments) AS payments""")[0]
    return {"nodes": nodes, "rels": rels, **dict(totals)}


def links(driver, settings) -> dict[tuple[str, str], float]:
    """Every stored LINKED pair (start, end account id) and its weight."""
    return {(r["a"], r["b"]): r["w"] for r in run_query(
        driver, settings, "links", "MATCH (a:Account)-[l:LINKED]->(b:Account) "
                                   "RETURN a.account_id AS a, b.account_id AS b, l.weight AS w")}


def later_batch(run: Path, dest: Path) -> Path:
    """A second batch made from ``run``: the first half of its accounts, their links re-weighted ×2 and every
    fifth one gone, under a new batch id. Its pairs are exactly those with both accounts in the first half."""
    shutil.copytree(run, dest)
    ev, con = dest / "evidence", duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    half = f"(SELECT aid FROM '{run}/evidence/accounts.parquet' ORDER BY account_id " \
           f"LIMIT (SELECT count(*) // 2 FROM '{run}/evidence/accounts.parquet'))"
    for table, keep in (("accounts", f"aid IN {half}"), ("incidence", f"aid IN {half}"),
                        ("windows", f"aid IN {half}"),
                        ("links", f"a IN {half} AND b IN {half} AND (hash(a, b) % 5) <> 0")):
        select = "* REPLACE (weight * 2 AS weight)" if table == "links" else "*"
        con.execute(f"COPY (SELECT {select} FROM '{run}/evidence/{table}.parquet' WHERE {keep}) "
                    f"TO '{ev}/{table}.parquet' (FORMAT parquet)")
    doc = json.loads((run / "rings.json").read_text())
    doc["input"]["batch_id"] = "later-batch"
    return rewrite_rings(dest, doc)


def rewrite_rings(run: Path, doc: dict, members: pd.DataFrame | None = None) -> Path:
    """Write ``doc`` as the run's rings.json (and ``members`` as its ring_members.csv), with a manifest to match.

    The loader checks a run against its manifest (run.json), so a run edited by a test needs its own.
    """
    (run / "rings.json").write_text(json.dumps(doc))
    if members is not None:
        members.to_csv(run / "ring_members.csv", index=False)
    params = manifest.read(run)["params"]
    manifest.write(run, manifest.build(run, command="test: edited run", batch_id=doc["input"]["batch_id"],
                                       input=doc["input"], params=params))
    return run


def run_links(run: Path) -> dict[tuple[str, str], float]:
    ev = run / "evidence"
    return {(a, b): w for a, b, w in duckdb.sql(f"""
        SELECT x.account_id, y.account_id, l.weight FROM '{ev}/links.parquet' l
        JOIN '{ev}/accounts.parquet' x ON x.aid = l.a JOIN '{ev}/accounts.parquet' y ON y.aid = l.b""").fetchall()}


def kill_load_midway(driver, settings, run: Path, *, batch_rows: int, batch: str | None, chunks: int) -> None:
    """Run ``linkage load RUN`` in a subprocess and SIGKILL it once ``chunks`` of its chunks are committed
    (of batch ``batch``, or of every batch): a load that really dies between transactions."""
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {**os.environ, "LINKAGE_LOAD_BATCH_ROWS": str(batch_rows), "NEO4J_URI": settings.uri,
           "NEO4J_DATABASE": settings.database}
    where, params = ("{batch_id: $b}", {"b": batch}) if batch else ("", {})
    proc = subprocess.Popen([sys.executable, "-m", "linkage.cli", "load", str(run)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            done = run_query(driver, settings, "chunks",
                             f"MATCH (b:LoadBatch {where}) RETURN sum(size(b.chunks)) AS n", params)
            if done and (done[0]["n"] or 0) >= chunks:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
