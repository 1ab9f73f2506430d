"""``linkage rings --neo4j``: recompute rings over the stored evidence graph and write them back.

The stored graph holds every batch loaded so far. It is read back into the
same DuckDB tables the embedded pipeline builds (accounts, incidence, activity
summaries, intel, template texts); from there the very same code weighs the
entities, builds links, finds, scores and attributes rings. So one batch loaded
and recomputed gives the rings the embedded run gave, and several batches give
the rings of all of them together.
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pyarrow as pa

from .. import io, signals
from ..config import Config
from ..pipeline import Result, Stages, analyse
from ..signals import signup
from .connection import Settings
from .load import LoadStats, chunk_rows, replace_links, write_rings
from .model import FAMILY_ENTITY, NODES

FETCH = 50_000

ACCOUNTS = """
MATCH (a:Account)
RETURN a.account_id AS account_id, a.created_at.epochSeconds AS created_at, a.email_domain AS email_domain,
       a.org_id AS org_id, a.country AS country, coalesce(a.requests, 0) AS requests,
       coalesce(a.hosting_requests, 0) AS hosting_requests, a.first_seen.epochSeconds AS first_seen,
       a.last_seen.epochSeconds AS last_seen,
       a.windows AS windows, a.window_requests AS window_requests
"""


def incidence_query(family: str) -> str:
    lbl, rtype = FAMILY_ENTITY[family]
    key = NODES[lbl].key
    counter = {"PAID_WITH": "payments", "REUSED": "count", "HAS_EMAIL_DOMAIN": None}.get(rtype, "requests")
    n = f"coalesce(r.{counter}, 0)" if counter else "0"
    return (f"MATCH (a:Account)-[r:{rtype}]->(e:{lbl}) "
            f"RETURN a.account_id AS account_id, e.{key} AS entity, {n} AS requests, "
            f"r.first.epochSeconds AS first, r.last.epochSeconds AS last")


ASN_INCIDENCE = """
MATCH (a:Account)-[r:USED_IP]->(:IP)-[:IN_ASN]->(s:ASN)
RETURN a.account_id AS account_id, toString(s.number) AS entity, sum(r.requests) AS requests,
       min(r.first).epochSeconds AS first, max(r.last).epochSeconds AS last
"""

INTEL = "MATCH (i:Indicator) RETURN i.operator AS operator, i.kind AS kind, i.value AS value, i.note AS note"
TEXTS = "MATCH (p:PromptTemplate) WHERE p.text IS NOT NULL RETURN p.shingle_id AS entity, p.text AS text"


def _frame(driver, settings: Settings, cypher: str) -> pd.DataFrame:
    """All records of a read query as a DataFrame, streamed (no per-record Python beyond the driver's)."""
    with driver.session(database=settings.database, fetch_size=FETCH) as session:
        return session.execute_read(lambda tx: tx.run(cypher).to_df())


def _ts(col: str) -> str:
    """Epoch seconds from the graph → TIMESTAMPTZ (times cross the wire as integers: cheap)."""
    return f"CASE WHEN {col} IS NULL THEN NULL ELSE to_timestamp(CAST({col} AS BIGINT)) END"


def read_stored(driver, settings: Settings, config: Config, con=None):
    """Build the pipeline's tables from the stored graph in a fresh DuckDB connection."""
    con = con or io.connect()
    acc = _frame(driver, settings, ACCOUNTS)
    acc = acc.sort_values("account_id").reset_index(drop=True)
    acc["aid"] = range(len(acc))
    con.register("acc_df", pa.Table.from_pandas(acc.drop(columns=["windows", "window_requests"]),
                                                preserve_index=False))
    con.execute(f"""CREATE OR REPLACE TABLE accounts AS
                   SELECT CAST(aid AS INTEGER) AS aid, account_id, {_ts('created_at')} AS created_at,
                          email_domain, org_id, country FROM acc_df""")
    con.execute(f"""CREATE OR REPLACE TABLE acct_activity AS
                   SELECT CAST(aid AS INTEGER) AS aid, CAST(requests AS BIGINT) AS requests,
                          CAST(hosting_requests AS BIGINT) AS hosting_requests,
                          {_ts('first_seen')} AS first_seen, {_ts('last_seen')} AS last_seen
                   FROM acc_df WHERE requests > 0""")
    win = acc.loc[acc["windows"].notna(), ["aid", "windows", "window_requests"]]
    con.register("win_df", pa.Table.from_pandas(win, preserve_index=False))
    con.execute("""CREATE OR REPLACE TABLE acct_windows AS
                   SELECT CAST(aid AS INTEGER) AS aid, CAST(win AS BIGINT) AS win, sum(requests) AS requests
                   FROM (SELECT aid, unnest(windows) AS win, unnest(window_requests) AS requests FROM win_df)
                   GROUP BY ALL""")
    signals.prepare(con, config)
    queries = {f: incidence_query(f) for f in FAMILY_ENTITY}
    queries["asn"] = ASN_INCIDENCE
    for family, cypher in queries.items():
        if family not in config.families:
            continue
        df = _frame(driver, settings, cypher)
        if df.empty:
            continue
        df["entity"] = df["entity"].astype(str)
        con.register("inc_df", pa.Table.from_pandas(df, preserve_index=False))
        con.execute(f"""INSERT INTO incidence
                        SELECT a.aid, '{family}', i.entity, CAST(i.requests AS BIGINT),
                               {_ts('i.first')}, {_ts('i.last')}
                        FROM inc_df i JOIN accounts a USING (account_id)""")
        con.unregister("inc_df")
    if "signup" in config.families:
        signals.add_family(con, config, signup)
    signals.weigh_entities(con)
    intel = _frame(driver, settings, INTEL)
    con.register("intel_df", intel if len(intel) else pd.DataFrame(columns=["operator", "kind", "value", "note"]))
    con.execute("CREATE OR REPLACE TABLE intel AS SELECT CAST(operator AS VARCHAR) AS operator, "
                "CAST(kind AS VARCHAR) AS kind, CAST(value AS VARCHAR) AS value, CAST(note AS VARCHAR) AS note "
                "FROM intel_df")
    texts = _frame(driver, settings, TEXTS)
    con.register("texts_df", texts if len(texts) else pd.DataFrame(columns=["entity", "text"]))
    con.execute("CREATE OR REPLACE TABLE shingle_texts AS SELECT CAST(entity AS VARCHAR) AS entity, "
                "CAST(text AS VARCHAR) AS text FROM texts_df")
    for name in ("acc_df", "win_df", "intel_df", "texts_df"):
        con.unregister(name)
    counts = {"accounts": len(acc), "events": int(acc["requests"].sum()), "payments": 0,
              "intel": len(intel), "rejected": 0}
    return con, counts


def recompute(driver, settings: Settings, config: Config | None = None, *, report=None) -> tuple[Result, LoadStats]:
    """Rings over everything stored, written back in place of the previous assignment."""
    config = config or Config()
    stages = Stages(report)
    stages.start("read graph")
    con, counts = read_stored(driver, settings, config)
    result = analyse(con, config, stages, counts)
    stages.start("write back")
    links = con.sql("""
        SELECT x.account_id AS a, y.account_id AS b, l.weight, string_split(l.signals, ',') AS signals,
               l.w_payment, l.w_ip, l.w_device, l.w_prompt, l.w_email, l.w_signup
        FROM links l JOIN accounts x ON x.aid = l.a JOIN accounts y ON y.aid = l.b ORDER BY a, b""").to_arrow_table()
    stats = LoadStats()
    members = pa.Table.from_pandas(result.members[["ring_id", "account_id"]], preserve_index=False).to_pylist()
    run_id = "rings-" + hashlib.sha1(json.dumps([r["ring_id"] for r in result.rings]).encode()).hexdigest()[:12] \
        + f"-{links.num_rows}"
    size = chunk_rows(driver, settings, run_id)
    replace_links(driver, settings, stats, run_id, (b.to_pylist() for b in links.to_batches(size)))
    write_rings(driver, settings, result.rings, members, stats)
    stages.stop()
    result.timings = stages.timings
    return result, stats
