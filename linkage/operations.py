"""Operations: the rings one operator runs, grouped by the tools they reuse.

An operator runs many rings and gives each its own accounts, often its own
proxies and cards, so rings rarely share *accounts*. What they share are the
operator's tools: a harvesting template (paraphrased or not), a proxy pool, a
card batch, a harness build. A tool is told from a public resource by who uses
it: a proxy exit or a template phrase whose users nearly all sit in tightly
linked communities is somebody's tool; a public template's or a carrier NAT's
users are scattered through the ordinary population.

Two communities are tied when they share

- tool entities of families that tie operations (``Family.operation_ties``:
  infrastructure, harness fingerprints): each shared tool counts one; or
- a template: the phrases that at least half of each community's members repeat
  (its *template profile*) overlap substantially. One template counts as two:
  a template is the operator's own artefact, copied into every ring, and it is
  all that ties a stealthy operator's rings together.

- a card batch: each pays mainly and improbably often from the same BIN (``card_batches``,
  the test of ``linkage.scoring``). One batch bought from one issuer is one buyer's, and
  ties on its own, however many ordinary customers the issuer also serves.

An operation is a connected set of communities tied with strength at least
``OperationParams.min_tie``. A community with no ties is an operation of its own.
Every threshold is a field of :class:`linkage.config.OperationParams`.

Tables: reads ``members(cid, aid)`` (all communities of two accounts or more),
``incidence``, ``links`` and ``accounts`` (for grounded communities); writes ``operations(cid, op, op_size, op_rings)``,
``op_tools(op, family, entity)``, the tools each operation uses, and ``card_batches`` (read by scoring).
"""

from __future__ import annotations

import math

import duckdb
import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from . import families
from .config import Config
from .sql import among


def tie_families(config: Config) -> tuple[list[str], list[str]]:
    """(tool families tying by shared entities, template families tying by profile) of the run."""
    fams = list(families.in_run(config))
    return ([f.name for f in fams if f.operation_ties and not f.template],
            [f.name for f in fams if f.operation_ties and f.template])


def grounded_sql(config: Config) -> str:
    """``(cid)``: communities two of whose members share infrastructure outside one verified org.

    A template links the people who use it, so its users form communities of their own, public
    template or not; whether those users are an operator's shows in what else ties them. Only
    members of communities held together by something an operator provides as well (a proxy, a
    card, a harness, a domain, a sign-up wave) make an entity a tool. Pairs inside one verified org
    are the org's declared business, not an operator's.
    """
    infra, _ = tie_families(config)
    weighted = [f for f in infra if f in families.weighted(config)]
    if not weighted:
        return "SELECT DISTINCT cid FROM members WHERE false"
    any_infra = " OR ".join(f"l.w_{f} > 0" for f in weighted)
    return f"""
        SELECT DISTINCT m1.cid
        FROM links l JOIN members m1 ON m1.aid = l.a JOIN members m2 ON m2.aid = l.b AND m2.cid = m1.cid
        JOIN accounts x ON x.aid = l.a JOIN accounts y ON y.aid = l.b
        WHERE ({any_infra}) AND NOT coalesce(x.org_id = y.org_id AND x.org_id <> '', false)"""


def tools_sql(config: Config) -> str:
    """``(family, entity)``: entities used by two grounded communities or more, mostly (``tool_insiders``) by
    their members."""
    infra, templates = tie_families(config)
    p = config.operations
    return f"""
        WITH grounded AS ({grounded_sql(config)})
        SELECT family, entity
        FROM (SELECT i.family, i.entity, g.cid FROM incidence i LEFT JOIN members m USING (aid)
              LEFT JOIN grounded g ON g.cid = m.cid
              WHERE {among(infra + templates, 'i.family')})
        GROUP BY family, entity
        HAVING count(DISTINCT cid) >= 2 AND count(cid) >= {float(p.tool_insiders)!r} * count(*)"""


def infra_ties_sql(config: Config) -> str:
    """``(c1, c2, n)``: tool entities (not templates) two communities share."""
    infra, _ = tie_families(config)
    return f"""
        WITH cu AS (SELECT DISTINCT m.cid, i.family, i.entity FROM incidence i JOIN members m USING (aid)
                    SEMI JOIN tools t ON t.family = i.family AND t.entity = i.entity
                    WHERE {among(infra, 'i.family')})
        SELECT x.cid AS c1, y.cid AS c2, count(*) AS n
        FROM cu x JOIN cu y ON x.family = y.family AND x.entity = y.entity AND x.cid < y.cid
        GROUP BY ALL"""


def profiles_sql(config: Config) -> str:
    """``(cid, family, entity)``: a community's template profile, the tool phrases half its members repeat."""
    _, templates = tie_families(config)
    p = config.operations
    return f"""
        WITH size AS (SELECT cid, count(*) AS size FROM members GROUP BY cid)
        SELECT m.cid, i.family, i.entity FROM incidence i JOIN members m USING (aid) JOIN size s USING (cid)
        SEMI JOIN tools t ON t.family = i.family AND t.entity = i.entity
        WHERE {among(templates, 'i.family')} AND s.size >= {int(p.profile_min_size)}
        GROUP BY m.cid, i.family, i.entity, s.size
        HAVING count(*) >= greatest(2, {float(p.profile_share)!r} * s.size)"""


def template_ties_sql(config: Config) -> str:
    """``(c1, c2)``: communities whose template profiles overlap (Jaccard) by at least ``template_overlap``."""
    p = config.operations
    return f"""
        WITH n AS (SELECT cid, family, count(*) AS k FROM profiles GROUP BY cid, family
                   HAVING count(*) >= {int(p.profile_min_phrases)})
        SELECT x.cid AS c1, y.cid AS c2
        FROM profiles x JOIN profiles y ON x.family = y.family AND x.entity = y.entity AND x.cid < y.cid
        JOIN n n1 ON n1.cid = x.cid AND n1.family = x.family JOIN n n2 ON n2.cid = y.cid AND n2.family = y.family
        GROUP BY x.cid, y.cid, x.family
        HAVING count(*) >= {float(p.template_overlap)!r} * (min(n1.k) + min(n2.k) - count(*))"""


def card_batches_sql(config: Config) -> str:
    """``(cid, family, entity, holders, covered, size, users_share, surprise, main, passes)``: per community,
    batch family (``Family.batch``) and entity its members hold, how improbable that many holders are,
    and whether the community pays from batches: the one test of a batch, which operations and scoring
    both read.

    ``users_share`` is the entity's share of the family's users in the whole batch; ``surprise`` is
    ``size * KL(holders / size || users_share)``, minus the log of a Chernoff bound on the chance that
    ``holders`` members or more of a community that size hold it, drawing as everybody draws. A
    popular bank's BIN shared by three friends is no surprise; six fresh cards of six members from a
    BIN one payer in eleven uses is (``ScoringParams.batch_chance``). Members of one verified org hold
    as one: a company's card programme is its declared business, as its shared billing is.

    An operator who gives every account its own card buys them in batches, and not always from one
    issuer: a third of a ring on each of three BINs is three improbable batches and one purse. So every
    entity improbable on its own is the community's, and the community pays from batches when the
    members holding any of them (``covered``) are at least ``ScoringParams.min_coverage`` of it;
    ``passes`` marks those entities. ``main`` marks the entity most members hold when it alone covers
    ``min_coverage``: a community is tied to others (``build``) only through a batch it mainly pays
    from. A third of a ring on one BIN says the operator bought there, not that everybody else
    who bought there is the same operator (held-out world H4: a mimicry operation with no intel was
    tied through a shared issuer to GLASS-HERON, whose rings pay a third from each of three BINs).

    That bound is for finding a batch anywhere in the run. A community holding an entity some other
    community was found paying from only has to be improbable as one of the communities tested
    (``surprise >= ln M``): joining a known batch is one hypothesis per community, not a search.
    """
    batch = [f.name for f in families.in_run(config) if f.batch]
    if not batch:
        return ("SELECT CAST(NULL AS BIGINT) AS cid, CAST(NULL AS VARCHAR) AS family, CAST(NULL AS VARCHAR) AS entity, "
                "0 AS holders, 0 AS covered, 0 AS size, 0.0 AS users_share, 0.0 AS surprise, false AS main, "
                "false AS passes WHERE false")
    s = config.scoring
    coverage = float(s.min_coverage)

    def covering(table: str, flag: str) -> str:
        """Per community and family, the members holding any entity ``table`` marks ``flag``."""
        return (f"SELECT h.cid, h.family, count(DISTINCT h.holder) AS n FROM holding h SEMI JOIN {table} x "
                f"ON x.cid = h.cid AND x.family = h.family AND x.entity = h.entity AND x.{flag} GROUP BY h.cid, h.family")

    return f"""
        WITH users AS (SELECT family, count(DISTINCT aid) AS n FROM incidence WHERE {among(batch, 'family')} GROUP BY family),
        per AS (SELECT family, entity, count(DISTINCT aid) AS n FROM incidence WHERE {among(batch, 'family')}
                GROUP BY family, entity),
        size AS (SELECT cid, count(*) AS size FROM members GROUP BY cid),
        -- who holds what: the members of one verified org hold as one
        holding AS (SELECT m.cid, i.family, i.entity, coalesce(nullif(a.org_id, ''), CAST(i.aid AS VARCHAR)) AS holder
                    FROM incidence i JOIN members m USING (aid) JOIN accounts a USING (aid)
                    WHERE {among(batch, 'i.family')}),
        held AS (SELECT cid, family, entity, count(DISTINCT holder) AS holders FROM holding GROUP BY cid, family, entity),
        shares AS (SELECT h.cid, h.family, h.entity, h.holders, s.size, CAST(p.n AS DOUBLE) / u.n AS users_share,
                          CAST(h.holders AS DOUBLE) / s.size AS q,
                          row_number() OVER (PARTITION BY h.cid, h.family ORDER BY h.holders DESC, h.entity) = 1 AS top
                   FROM held h JOIN size s USING (cid) JOIN per p USING (family, entity) JOIN users u USING (family)),
        scored AS (
            SELECT cid, family, entity, holders, size, users_share, top,
                   CASE WHEN q <= users_share THEN 0.0
                        ELSE size * (q * ln(q / users_share)
                                     + CASE WHEN q < 1 THEN (1 - q) * ln((1 - q) / (1 - users_share)) ELSE 0.0 END)
                   END AS surprise
            FROM shares),
        tested AS (SELECT family, ln(count(DISTINCT cid)) AS tested FROM scored GROUP BY family),
        judged AS (SELECT s.*, s.surprise >= {-math.log(float(s.batch_chance))!r} AS found, t.tested
                   FROM scored s JOIN tested t USING (family)),
        -- the members holding any of the entities the community is found paying from
        found_cover AS ({covering('judged', 'found')}),
        paying AS (SELECT j.*, coalesce(c.n, 0) >= {coverage!r} * j.size AS pays
                   FROM judged j LEFT JOIN found_cover c USING (cid, family)),
        owned AS (SELECT *, found OR (bool_or(found AND pays) OVER (PARTITION BY family, entity) AND surprise >= tested)
                            AS own
                  FROM paying),
        covered AS ({covering('owned', 'own')})
        SELECT o.cid, o.family, o.entity, o.holders, coalesce(c.n, 0) AS covered, o.size, o.users_share, o.surprise,
               o.top AND o.holders >= {coverage!r} * o.size AS main,
               o.own AND coalesce(c.n, 0) >= {coverage!r} * o.size AS passes
        FROM owned o LEFT JOIN covered c USING (cid, family)"""


def build(con: duckdb.DuckDBPyConnection, config: Config) -> None:
    """Create ``tools``, ``profiles``, ``card_batches``, ``operations`` and ``op_tools`` (see the module docstring)."""
    p = config.operations
    con.execute(f"CREATE OR REPLACE TEMP TABLE tools AS {tools_sql(config)}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE profiles AS {profiles_sql(config)}")
    con.execute(f"CREATE OR REPLACE TABLE card_batches AS {card_batches_sql(config)}")
    # A shared batch ties on its own: each community joins the batch's first one (a star, not every pair).
    ties = con.execute(
        f"""SELECT c1, c2 FROM (
                SELECT c1, c2, n AS w FROM ({infra_ties_sql(config)})
                UNION ALL SELECT c1, c2, {float(p.template_tie)!r} AS w FROM ({template_ties_sql(config)})
                UNION ALL SELECT min(cid) OVER (PARTITION BY family, entity) AS c1, cid AS c2, {float(p.min_tie)!r} AS w
                          FROM card_batches WHERE passes AND main)
            WHERE c1 < c2
            GROUP BY c1, c2 HAVING sum(w) >= {float(p.min_tie)!r} ORDER BY c1, c2"""
    ).fetchnumpy()
    cids = con.execute("SELECT DISTINCT cid FROM members ORDER BY cid").fetchnumpy()["cid"]
    i1, i2 = np.searchsorted(cids, ties["c1"]), np.searchsorted(cids, ties["c2"])
    adjacency = coo_matrix((np.ones(len(i1)), (i1, i2)), shape=(len(cids), len(cids)))
    _, label = connected_components(adjacency, directed=False)
    # Number operations by their smallest community so the numbering is stable for the same input.
    first = pd.Series(cids).groupby(label).transform("min").to_numpy()
    frame = pd.DataFrame({"cid": cids.astype(np.int64), "op": first.astype(np.int64)})
    con.register("operations_df", frame)
    con.execute(
        f"""CREATE OR REPLACE TABLE operations AS
            WITH s AS (SELECT cid, count(*) AS size FROM members GROUP BY cid)
            SELECT o.cid, o.op, sum(s.size) OVER (PARTITION BY o.op) AS op_size,
                   count(*) FILTER (WHERE s.size >= {int(config.min_ring_size)}) OVER (PARTITION BY o.op) AS op_rings,
                   count(*) OVER (PARTITION BY o.op) AS op_communities
            FROM operations_df o JOIN s USING (cid)"""
    )
    con.unregister("operations_df")
    con.execute(
        """CREATE OR REPLACE TABLE op_tools AS
           SELECT DISTINCT o.op, i.family, i.entity FROM incidence i JOIN members m USING (aid)
           JOIN operations o USING (cid) SEMI JOIN tools t ON t.family = i.family AND t.entity = i.entity"""
    )


__all__ = ["build", "card_batches_sql", "grounded_sql", "tools_sql", "infra_ties_sql", "profiles_sql", "template_ties_sql", "tie_families"]
