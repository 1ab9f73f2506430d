"""``linkage rings --neo4j``: recompute rings over the stored evidence graph and write them back.

The stored graph holds every batch loaded so far. It is read back into the
same DuckDB tables the embedded pipeline builds (accounts, incidence, activity
summaries, prompt topics, intel, template texts); from there the very same code weighs the
entities, builds links, finds, scores and attributes rings. So one batch loaded
and recomputed gives the rings the embedded run gave, and several batches give
the rings of all of them together. The rings stored before are the known rings
the result continues (``linkage.lineage``): the graph is the state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import duckdb
import pandas as pd
import pyarrow as pa

from .. import analysis, families, io, lineage, signals
from ..config import Config
from ..results import Result
from ..sql import literal
from ..stages import Reporter, Timer, require
from .connection import Settings
from .load import LoadStats, Report, Writer
from .model import label, rel_type

if TYPE_CHECKING:
    import neo4j

    from .lease import Holder

FETCH = 50_000

#: ``rows_read(query name, rows so far)``: progress while the stored graph is read.
RowsRead = Callable[[str, int], None]

#: An account's activity windows are those of every batch that saw it (``SEEN_IN``), and the lists a store
#: loaded before those relationships keeps on the node: one list per batch, flattened by DuckDB (joining them
#: in Cypher copies the growing list once per batch); a window two batches both hold is summed later.
ACCOUNTS = """
MATCH (a:Account)
WITH a, [(a)-[s:SEEN_IN]->(:LoadBatch) WHERE s.windows IS NOT NULL | s] AS seen
WITH a, [w IN [a.windows] + [s IN seen | s.windows] WHERE w IS NOT NULL] AS windows,
     [r IN [a.window_requests] + [s IN seen | s.window_requests] WHERE r IS NOT NULL] AS window_requests
RETURN a.account_id AS account_id, a.created_at.epochSeconds AS created_at, a.email_domain AS email_domain,
       a.org_id AS org_id, a.country AS country, coalesce(a.requests, 0) AS requests,
       coalesce(a.hosting_requests, 0) AS hosting_requests, a.first_seen.epochSeconds AS first_seen,
       a.last_seen.epochSeconds AS last_seen,
       CASE WHEN size(windows) > 0 THEN windows END AS windows,
       CASE WHEN size(windows) > 0 THEN window_requests END AS window_requests,
       a.prompts AS prompts, a.focused AS focused
"""


def incidence_query(family: str) -> str:
    """The stored incidences of a node family, as the pipeline's ``incidence`` rows."""
    fam = families.get(family)
    assert fam.node is not None
    lbl, rtype, key = label(fam.node.label), rel_type(fam.node.rel_type), fam.node.key
    n = f"coalesce(r.{fam.node.counter}, 0)" if fam.node.counter else "0"
    return (f"MATCH (a:Account)-[r:{rtype}]->(e:{lbl}) "
            f"RETURN a.account_id AS account_id, e.{key} AS entity, {n} AS requests, "
            f"r.first.epochSeconds AS first, r.last.epochSeconds AS last")


#: The network (ASN) of each stored address, as the ip family derives it from the requests (``signals.ip``).
IP_NETWORKS = "MATCH (i:IP)-[:IN_ASN]->(s:ASN) RETURN i.address AS entity, min(s.number) AS network"

INTEL = "MATCH (i:Indicator) RETURN i.operator AS operator, i.kind AS kind, i.value AS value, i.note AS note"
TEXTS = "MATCH (e:Entity) WHERE e.name <> e.key RETURN e.key AS entity, e.name AS text"


def _frame(driver: neo4j.Driver, settings: Settings, cypher: str, name: str = "", rows_read: RowsRead | None = None
           ) -> pd.DataFrame:
    """All records of a read query as a DataFrame, fetched ``FETCH`` at a time (progress after each)."""

    def work(tx: neo4j.ManagedTransaction) -> pd.DataFrame:
        result = tx.run(cypher)
        keys, parts, n = result.keys(), [], 0
        while True:
            records = result.fetch(FETCH)
            if not records:
                break
            parts.append(pd.DataFrame([r.values() for r in records], columns=keys))
            n += len(records)
            if rows_read:
                rows_read(name, n)
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=keys)

    with driver.session(database=settings.database, fetch_size=FETCH) as session:
        return session.execute_read(work)


def _ts(col: str) -> str:
    """Epoch seconds from the graph → TIMESTAMPTZ (times cross the wire as integers: cheap)."""
    return f"CASE WHEN {col} IS NULL THEN NULL ELSE to_timestamp(CAST({col} AS BIGINT)) END"


def read_stored(driver: neo4j.Driver, settings: Settings, config: Config, con: duckdb.DuckDBPyConnection | None = None,
                rows_read: RowsRead | None = None) -> tuple[duckdb.DuckDBPyConnection, dict[str, int]]:
    """Build the pipeline's tables from the stored graph in a fresh DuckDB connection."""
    con = con or io.connect()
    acc = _frame(driver, settings, ACCOUNTS, "accounts", rows_read)
    acc = acc.sort_values("account_id").reset_index(drop=True)
    acc["aid"] = range(len(acc))
    con.register("acc_df", pa.Table.from_pandas(acc.drop(columns=["windows", "window_requests"]).astype(
        {"prompts": "Int64", "focused": "Int64"}), preserve_index=False))
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
                   SELECT CAST(aid AS INTEGER) AS aid, CAST(win AS BIGINT) AS win, CAST(sum(requests) AS BIGINT) AS requests
                   FROM (SELECT aid, unnest(flatten(windows)) AS win, unnest(flatten(window_requests)) AS requests
                         FROM win_df)
                   GROUP BY ALL""")
    signals.prepare(con, config)
    # Prompt topics cannot be derived from the graph (no prompt text is stored): the load keeps the counts.
    con.execute("""INSERT INTO acct_topics SELECT CAST(aid AS INTEGER), CAST(prompts AS BIGINT),
                   CAST(focused AS BIGINT) FROM acc_df WHERE prompts IS NOT NULL""")
    for fam in families.in_run(config):
        if fam.stored == "derived":  # recomputed from the accounts, as the pipeline does
            signals.add_family(con, config, fam)
            continue
        df = _frame(driver, settings, fam.incidence_cypher if fam.stored == "cypher" and fam.incidence_cypher
                    else incidence_query(fam.name),
                    f"{fam.name} incidence", rows_read)
        if df.empty:
            continue
        df["entity"] = df["entity"].astype(str)
        con.register("inc_df", pa.Table.from_pandas(df, preserve_index=False))
        con.execute(f"""INSERT INTO incidence
                        SELECT a.aid, {literal(fam.name)}, i.entity, CAST(i.requests AS BIGINT),
                               {_ts('i.first')}, {_ts('i.last')}
                        FROM inc_df i JOIN accounts a USING (account_id)""")
        con.unregister("inc_df")
    signals.weigh_entities(con)
    intel = _frame(driver, settings, INTEL, "intel", rows_read)
    con.register("intel_df", intel if len(intel) else pd.DataFrame(columns=["operator", "kind", "value", "note"]))
    con.execute("CREATE OR REPLACE TABLE intel AS SELECT CAST(operator AS VARCHAR) AS operator, "
                "CAST(kind AS VARCHAR) AS kind, CAST(value AS VARCHAR) AS value, CAST(note AS VARCHAR) AS note "
                "FROM intel_df")
    nets = _frame(driver, settings, IP_NETWORKS, "address networks", rows_read)
    con.register("nets_df", nets if len(nets) else pd.DataFrame(columns=["entity", "network"]))
    con.execute("CREATE OR REPLACE TABLE ip_networks AS SELECT CAST(entity AS VARCHAR) AS entity, "
                "CAST(network AS BIGINT) AS network FROM nets_df")
    texts = _frame(driver, settings, TEXTS, "template texts", rows_read)
    con.register("texts_df", texts if len(texts) else pd.DataFrame(columns=["entity", "text"]))
    con.execute("CREATE OR REPLACE TABLE shingle_texts AS SELECT CAST(entity AS VARCHAR) AS entity, "
                "CAST(text AS VARCHAR) AS text FROM texts_df")
    for name in ("acc_df", "win_df", "intel_df", "nets_df", "texts_df"):
        con.unregister(name)
    counts = {"accounts": len(acc), "events": int(acc["requests"].sum()), "payments": 0,
              "intel": len(intel), "rejected": 0}
    return con, counts


#: The rings a recompute or a ``detect --neo4j`` continues: every ring still active (a ring a later
#: batch merged, split or superseded is history), its members and the batch it was first detected in.
KNOWN_RINGS = """
MATCH (r:Ring) WHERE coalesce(r.status, 'active') = 'active'
RETURN r.ring_id AS ring_id, coalesce(r.first_detected, r.batch_id, '') AS first_detected,
       [(a:Account)-[:MEMBER_OF]->(r) | a.account_id] AS members
ORDER BY ring_id
"""

#: The newest batch loaded to the end: new rings of a recompute are first detected in it.
LATEST_BATCH = """
MATCH (b:LoadBatch) WHERE b.completed IS NOT NULL
RETURN b.batch_id AS batch_id ORDER BY b.completed DESC, b.batch_id LIMIT 1
"""


def known_rings(driver: neo4j.Driver, settings: Settings, con: duckdb.DuckDBPyConnection | None = None
                ) -> tuple[lineage.KnownRing, ...]:
    """The stored active rings as the known rings a run continues (``linkage.lineage``).

    A run with ``--state`` keeps each ring's tools as they were when it was found; the graph keeps
    the evidence instead. With ``con`` (the stored graph as ``read_stored`` built it) a ring's tools
    are read from it now, by the definition the run uses (``analysis.ring_tools``: weighted
    entities two of its members use). Without it (``detect --neo4j``, whose tables hold only its
    own batch) the rings are matched by members alone: a ring's accounts outlive a day's batch.
    """
    known = _frame(driver, settings, KNOWN_RINGS, "stored rings")
    tools: dict[int, list[str]] = {}
    if con is not None:
        pairs = pd.DataFrame([(k, m) for k, ms in enumerate(known["members"]) for m in ms],
                             columns=["cid", "account_id"])
        aids = con.execute("SELECT aid, account_id FROM accounts").df()
        tools = analysis.ring_tools(con, pairs.merge(aids, on="account_id")) if len(pairs) else {}
    return tuple(lineage.KnownRing(str(rid), frozenset(str(m) for m in members), str(first),
                                   frozenset(tools.get(k, ())))
                 for k, (rid, first, members) in enumerate(zip(known["ring_id"], known["first_detected"],
                                                               known["members"])))


def stored_prior(driver: neo4j.Driver, settings: Settings, con: duckdb.DuckDBPyConnection) -> lineage.Prior:
    """The stored rings as the known rings of a recompute (the graph is the state), with their tools.

    New rings of a recompute are first detected in the newest batch loaded to the end.
    """
    batch = _frame(driver, settings, LATEST_BATCH, "latest batch")
    batch_id = str(batch["batch_id"].iloc[0]) if len(batch) else ""
    return lineage.Prior(known_rings(driver, settings, con), batch_id)


def recompute(driver: neo4j.Driver, settings: Settings, config: Config | None = None, *, report: Reporter | None = None,
              rows_read: RowsRead | None = None, writes: Report | None = None, wait: float = 0.0,
              on_wait: Callable[[Holder], None] | None = None) -> tuple[Result, LoadStats]:
    """Rings over everything stored, written back in place of the previous assignment.

    The stored rings are the known ones (``stored_prior``): a ring that continues one keeps its id.

    Holds the load lease from before reading until the write-back is done, so
    no load changes the graph in between. ``report`` gets the stages,
    ``rows_read`` the rows read per query, ``writes`` the write-back steps.
    """
    from .lease import Lease
    from .writeback import replace_links, write_rings

    config = config or Config()
    timer = Timer(report)
    with Lease(driver, settings, task="rings").acquire(wait, on_wait) as lease:
        timer.start("read graph")
        con, counts = read_stored(driver, settings, config, rows_read=rows_read)
        require(con, analysis.INPUTS, "read graph")
        prior = stored_prior(driver, settings, con)
        timer.stop()
        result = analysis.run(con, config, counts, report=report, prior=prior)
        timer.start("write back")
        writer = Writer(driver, settings, lease=lease, report=writes)
        members = pa.Table.from_pandas(result.members[["ring_id", "account_id"]], preserve_index=False).to_pylist()
        replace_links(writer, con, config)
        write_rings(writer, result.rings, members, result.operations)
        timer.stop()
    result.timings = {**timer.timings, **result.timings}
    return result, writer.stats
