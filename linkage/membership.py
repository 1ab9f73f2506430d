"""Which members of a flagged community are flagged with it: each must carry the ring's evidence itself.

A community is scored as a whole, and Leiden also places in it accounts that
touch it by a single thread: a household whose residential address a proxy
pool also exits through, a developer who once pasted the operator's template.
Such an account shares one thing with the ring and nothing else, which is
what any bystander of a shared address looks like. An operator's account uses
the ring's tools: several of its addresses, cards or devices, or one of them
and the operation's templates.

So a member stays in a flagged ring only when it uses at least
``ScoringParams.member_min_tools`` of the community's linking entities
(entities two members or more use and that carry weight; template families
count once, however many phrases of the template it sends), each shared with
a member outside its own verified org: what colleagues share is their org's
declared business. The others are not flagged; they are listed as the ring's
``bystanders`` in ``rings.json``. A ring left with fewer than two flagged
members is no ring.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from . import scoring
from .config import Config
from .sql import literal


def member_tools(con: duckdb.DuckDBPyConnection, config: Config, cids: list[int]) -> pd.DataFrame:
    """``(cid, aid, tools)`` for every member of the given communities (0 when it uses none)."""
    roles = scoring.Roles.of(config)
    templates = roles.templates
    min_shared = " ".join(f"WHEN {literal(f)} THEN {int(config.families[f].min_shared)}" for f in templates)
    is_template = f"family IN ({', '.join(literal(f) for f in templates)})" if templates else "false"
    threshold = f"CASE family {min_shared} ELSE 1 END" if templates else "1"
    return con.execute(f"""
        WITH chosen AS (SELECT m.cid, m.aid, a.org_id FROM members m JOIN accounts a USING (aid)
                        WHERE m.cid IN (SELECT unnest(?))),
        linking AS ({scoring.comm_entities_sql(config, roles, members="chosen")}),
        uses AS (
            SELECT c.cid, c.aid, c.org_id, i.family, i.entity
            FROM chosen c JOIN incidence i USING (aid) JOIN linking l ON l.cid = c.cid
                 AND l.family = i.family AND l.entity = i.entity
        ),
        -- an entity counts for a member when another member outside its verified org uses it too
        shared AS (
            SELECT DISTINCT u.cid, u.aid, u.family, u.entity FROM uses u JOIN uses v
                ON v.cid = u.cid AND v.family = u.family AND v.entity = u.entity AND v.aid <> u.aid
               AND NOT coalesce(u.org_id = v.org_id AND u.org_id <> '', false)
        ),
        used AS (SELECT cid, aid, family, count(*) AS n FROM shared GROUP BY ALL),
        tools AS (
            SELECT cid, aid,
                   sum(CASE WHEN {is_template} THEN 0 ELSE n END)
                   + max(CASE WHEN {is_template} AND n >= {threshold} THEN 1 ELSE 0 END) AS tools
            FROM used GROUP BY cid, aid
        )
        SELECT c.cid, c.aid, coalesce(t.tools, 0)::INTEGER AS tools
        FROM chosen c LEFT JOIN tools t USING (cid, aid) ORDER BY c.cid, c.aid""", [cids]).df()
