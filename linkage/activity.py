"""Per-account activity: everything later stages need from the raw requests, summarised once.

Scoring, evidence and outputs read these two tables instead of ``events``, so
that ``linkage rings --neo4j`` can recompute rings over the stored graph, where
the raw requests are gone but these summaries are kept on the Account nodes.

- ``acct_activity(aid, requests, hosting_requests, first_seen, last_seen)``
- ``acct_windows(aid, win, requests)``: requests per ``lockstep_window_s`` window
"""

from __future__ import annotations

import duckdb

from .config import Config
from .stages import Stage


def hosting_list(config: Config) -> str:
    return ", ".join(str(int(a)) for a in sorted(config.hosting_asns)) or "NULL"


def from_events(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    con.execute(
        f"""CREATE OR REPLACE TABLE acct_activity AS
            SELECT aid, count(*) AS requests,
                   count(*) FILTER (WHERE asn IN ({hosting_list(config)})) AS hosting_requests,
                   min(ts) AS first_seen, max(ts) AS last_seen
            FROM events GROUP BY aid"""
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE acct_windows AS
            SELECT aid, CAST(floor(epoch(ts) / {int(config.lockstep_window_s)}) AS BIGINT) AS win, count(*) AS requests
            FROM events GROUP BY ALL"""
    )


STAGE = Stage("activity", lambda ctx: from_events(ctx.con, ctx.config), reads=("events",),
              writes=("acct_activity", "acct_windows"))
