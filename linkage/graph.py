"""The evidence graph: account–account links summed over shared entities.

Pairs come from a self-join of incidences on each non-hub entity, so the work
is bounded by the hub cap (at most ``cap²/2`` pairs per entity) and never by
the number of accounts squared. A pair's contribution from one family is capped
at the family's weight and needs ``min_shared`` shared entities (a template's
shingles are averaged, not summed: they are one piece of evidence); a pair inside
one verified org is discounted, since shared billing, office network and
templates are expected there.
"""

from __future__ import annotations

import duckdb

from . import families
from .config import Config
from .sql import literal

#: Pair weights are summed as integers of this many units per weight unit: an integer sum is exact
#: and independent of the order DuckDB's threads add in, so the same batch gives the same links
#: (and the same communities) at any thread count. A float sum differs in its last bits.
UNITS = 1_000_000_000


def build_links(con: duckdb.DuckDBPyConnection, config: Config) -> int:
    """Create ``links(a, b, weight, w_<family>..., signals)`` with ``a < b``; return the link count."""
    weighted = families.weighted(config)
    if not weighted:  # nothing can link two accounts
        con.execute("CREATE OR REPLACE TABLE links (a INTEGER, b INTEGER, weight DOUBLE, signals VARCHAR)")
        return 0
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE entity_ids AS
            SELECT family, entity, CAST(row_number() OVER (ORDER BY family, entity) AS BIGINT) AS eid,
                   CAST(round(pair_weight * {UNITS}) AS BIGINT) AS units
            FROM entities WHERE pair_weight > 0"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE pair_family AS
            WITH inc AS (
                SELECT i.aid, e.eid, i.family, e.units
                FROM incidence i JOIN entity_ids e USING (family, entity)
            )
            SELECT x.aid AS a, y.aid AS b, x.family, CAST(sum(x.units) AS DOUBLE) / {UNITS} AS w, count(*) AS shared
            FROM inc x JOIN inc y ON x.eid = y.eid AND x.aid < y.aid
            GROUP BY ALL"""
    )
    per_family = ",\n".join(f"coalesce(sum(c) FILTER (WHERE family = {literal(f)}), 0) AS w_{f}" for f in weighted)
    total = " + ".join(f"w_{f}" for f in weighted) or "0"
    discounted = ", ".join(f"w_{f} * k AS w_{f}" for f in weighted)
    signals = ", ".join(f"CASE WHEN w_{f} > 0 THEN {literal(f)} END" for f in weighted)
    # The org discount is per pair and only ever lowers a weight, so pairs already below the cut
    # are dropped before the two account lookups it needs.
    con.execute(
        f"""CREATE OR REPLACE TABLE links AS
            WITH capped AS (
                SELECT pf.a, pf.b, pf.family,
                       least(CASE WHEN p.combine = 'mean' THEN pf.w / pf.shared ELSE pf.w END, p.weight) AS c
                FROM pair_family pf JOIN family_params p USING (family)
                WHERE pf.shared >= p.min_shared
            ),
            wide AS (SELECT a, b, {per_family} FROM capped GROUP BY a, b),
            candidates AS (SELECT * FROM wide WHERE {total} >= ?),
            weighed AS (
                SELECT c.a, c.b, {discounted}
                FROM (SELECT c.*, CASE WHEN x.org_id IS NOT NULL AND x.org_id = y.org_id THEN ? ELSE 1.0 END AS k
                      FROM candidates c JOIN accounts x ON x.aid = c.a JOIN accounts y ON y.aid = c.b) c
            )
            SELECT *, {total} AS weight, array_to_string(list_value({signals}), ',') AS signals
            FROM weighed WHERE {total} >= ?
            ORDER BY a, b""",
        [config.min_link_weight, config.org_discount, config.min_link_weight],
    )
    return int(con.execute("SELECT count(*) FROM links").fetchall()[0][0])
