"""Which members of a flagged community are flagged with it: each must carry the ring's evidence itself.

A community is scored as a whole, and Leiden also places in it accounts that
touch it by a single thread: a household whose residential address a proxy
pool also exits through, a developer who once pasted the operator's template.
Such an account shares one thing with the ring and nothing else, which is
what any bystander of a shared address looks like. An operator's account uses
the ring's tools: several of its addresses, cards or devices, or one of them
and the operation's templates, or one of them and a card of the batch the ring
pays from (``operations.card_batches``).

So a member stays in a flagged ring only when it uses at least
``ScoringParams.member_min_tools`` of the operation's linking entities
(entities that carry weight and that another member of one of the operation's
flagged rings uses too; template families count once, however many phrases of
the template it sends), each shared with a member outside its own verified
org: what colleagues share is their org's declared business. The operation's,
not only the community's: a thin operation spreads one proxy pool over all its
rings, so an account's few exits are shared with accounts of other rings. A template phrase is the ring's only while most of its
users (``min_exclusivity`` of the family) sit in the ring's operation: a
common way of asking for code that one account in forty of the batch uses is
how people write, and a bystander who writes that way and shares one address
with the ring is still a bystander. The others are not flagged; they are listed as the ring's
``bystanders`` in ``rings.json``. A ring left with fewer than two flagged
members is no ring.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from . import scoring
from .config import Config
from .sql import among, literal


def member_tools(con: duckdb.DuckDBPyConnection, config: Config, cids: list[int]) -> pd.DataFrame:
    """``(cid, aid, tools)`` for every member of the given communities (0 when it uses none)."""
    roles = scoring.Roles.of(config)
    templates = roles.templates
    min_shared = " ".join(f"WHEN {literal(f)} THEN {int(config.families[f].min_shared)}" for f in templates)

    def is_template(col: str = "family") -> str:
        return among(templates, col)
    threshold = f"CASE family {min_shared} ELSE 1 END" if templates else "1"
    least_share = " ".join(f"WHEN {literal(f)} THEN {float(config.families[f].min_exclusivity)!r}" for f in templates)
    exclusivity = f"CASE s.family {least_share} ELSE 0 END" if templates else "0"
    return con.execute(f"""
        WITH chosen AS (SELECT m.cid, o.op, m.aid, coalesce(a.org_id, '') AS org_id
                        FROM members m JOIN accounts a USING (aid) JOIN operations o USING (cid)
                        WHERE m.cid IN (SELECT unnest(?))),
        -- the members' incidences, read once for the two uses below (DuckDB materialises a CTE read twice)
        uses AS (
            SELECT c.cid, c.op, c.aid, c.org_id, i.family, i.entity FROM chosen c JOIN incidence i USING (aid)),
        -- every use by a member of an entity that can tie members, and per community the entities two use
        here AS (SELECT u.cid, u.op, u.aid, u.org_id, u.family, u.entity, e.accounts
                 FROM uses u JOIN entities e USING (family, entity)
                 WHERE {scoring.linkable_sql(roles, i="u")}),
        shared_here AS (SELECT op, family, entity, any_value(accounts) AS accounts, count(DISTINCT org_id) AS orgs
                        FROM here GROUP BY op, family, entity HAVING count(*) >= 2),
        -- a template phrase is the ring's tool only while its users are mostly the operation's own
        op_users AS (
            SELECT o.op, i.family, i.entity, count(*) AS n
            FROM incidence i SEMI JOIN (SELECT DISTINCT family, entity FROM shared_here WHERE {is_template()}) t
                 ON t.family = i.family AND t.entity = i.entity
            JOIN members m USING (aid) JOIN operations o USING (cid)
            WHERE o.op IN (SELECT op FROM chosen)
            GROUP BY ALL
        ),
        linking AS (
            SELECT s.op, s.family, s.entity, s.orgs FROM shared_here s
            LEFT JOIN op_users u ON u.op = s.op AND u.family = s.family AND u.entity = s.entity
            WHERE NOT {is_template('s.family')} OR coalesce(u.n, 0) >= {exclusivity} * s.accounts
        ),
        -- an entity counts for a member when another member outside its verified org uses it too: with no
        -- org, any other user; in an org, a user of another org or of none (two org values among its users)
        shared AS (SELECT h.cid, h.aid, h.family, h.entity FROM here h JOIN linking l USING (op, family, entity)
                   WHERE h.org_id = '' OR l.orgs >= 2),
        used AS (SELECT cid, aid, family, count(*) AS n FROM shared GROUP BY ALL),
        tools AS (
            SELECT cid, aid,
                   sum(CASE WHEN {is_template()} THEN 0 ELSE n END)
                   + max(CASE WHEN {is_template()} AND n >= {threshold} THEN 1 ELSE 0 END) AS tools
            FROM used GROUP BY cid, aid
        ),
        -- a card of the batch the community pays from is one more tool (an org's card programme is not)
        batch_held AS (
            SELECT u.cid, u.aid, count(DISTINCT b.family) AS n
            FROM uses u JOIN card_batches b ON b.cid = u.cid AND b.family = u.family AND b.entity = u.entity
            WHERE b.passes AND u.org_id = '' GROUP BY u.cid, u.aid
        )
        SELECT c.cid, c.aid, (coalesce(t.tools, 0) + coalesce(h.n, 0))::INTEGER AS tools
        FROM chosen c LEFT JOIN tools t USING (cid, aid) LEFT JOIN batch_held h USING (cid, aid)
        ORDER BY c.cid, c.aid""", [cids]).df()
