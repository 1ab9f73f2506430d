"""Ring scoring: explainable features per community, and a 0–1 score.

A family counts towards ``diversity`` only when it links at least half of
the members (one coincidental shared IP between two of fifty accounts is not
a second kind of evidence) and when the entities doing the linking are
mostly (median share at least 0.6) the community's own: a ring's harness fingerprint, proxies and cards
are used by its members, while an SDK fingerprint or a common coding phrase
that happens to tie ten developers is shared with many outsiders. A community tied by fewer than two families is not
coordinated at all.

A distillation ring is two things at once: *coordinated* (one operator's
accounts share payment batches, proxies, templates, sign-up scripts and fire in
lockstep) and *harvesting* (each account sends far more requests than a person
does, often from datacenter address space). A family, a company or a campus
class is coordinated but not harvesting; an API developer is harvesting but
not coordinated. The score is the product of the two sides, so neither alone
flags a community.

All features are computed in DuckDB over ``members(cid, aid)`` and the
per-account summaries of ``activity`` (never the raw requests).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .config import Config

#: Communities sharing this many infrastructure entities are siblings (one operator's rings): their
#: accounts do not count as outsiders when judging how exclusive an entity is to a community.
SIBLING_TIES = 3
#: Families an operator has to obtain (proxies, cards, domains), as opposed to software that benign
#: groups legitimately share (SDK fingerprints, public templates).
INFRASTRUCTURE = ("ip", "payment", "email")
#: Least median exclusivity for a family to count (templates overlap with ordinary phrasing more).
EXCLUSIVE = {"prompt": 0.3}
#: Families whose entities are pieces of one artefact an operator copies into every ring (a
#: template's shingles). Used by thousands of one operator's accounts, such an entity is past the
#: pair cap and links no pair, yet it is still the operator's when hardly anyone else uses it. So
#: for these families a member is covered when it uses ``min_shared`` entities that other members
#: use too, whatever their size, and exclusivity counts users in the community's whole sibling
#: cluster (siblings of siblings), since an operator's template spans all its rings.
TEMPLATE_FAMILIES = ("prompt",)

FEATURES = ("diversity", "payment_share", "template_share", "burst_share", "lockstep_share",
            "hosting_share", "volume_ratio", "density")


@dataclass(frozen=True)
class ScoreWeights:
    """How much each coordination feature counts; they sum to one."""

    diversity: float = 0.25
    template_share: float = 0.2
    payment_share: float = 0.15
    lockstep_share: float = 0.15
    burst_share: float = 0.1
    hosting_share: float = 0.15


def community_features(con, config: Config) -> pd.DataFrame:
    """One row per community with the raw features (see module docstring)."""
    fam = [f for f, p in config.families.items() if p.weight > 0]
    internal = ", ".join(f"sum(l.w_{f}) AS w_{f}" for f in fam)
    ends_cols = ", ".join(f"w_{f}" for f in fam)
    cover = ", ".join(f"count(DISTINCT aid) FILTER (WHERE w_{f} > 0) AS c_{f}" for f in fam)
    covered = {f: f"coalesce(tc.c_{f}, 0)" if f in TEMPLATE_FAMILIES else f"cov.c_{f}" for f in fam}
    passes = {f: f"({covered[f]} >= 0.5 * s.size AND coalesce(ex.x_{f}, 0) >= {EXCLUSIVE.get(f, 0.6)})" for f in fam}
    tpl = [f for f in TEMPLATE_FAMILIES if f in fam]
    tpl_cover = ", ".join(
        f"count(*) FILTER (WHERE family = '{f}' AND n >= {config.families[f].min_shared}) AS c_{f}" for f in tpl
    ) or "NULL AS c_none"
    diversity = " + ".join(f"CAST({p} AS INTEGER)" for p in passes.values())
    infra = " + ".join(f"CAST({passes[f]} AS INTEGER)" for f in fam if f in INFRASTRUCTURE) or "0"
    exclusivity = ", ".join(
        f"median(members / accounts) FILTER (WHERE family = '{f}') AS x_{f}" for f in fam)
    # Sibling communities: tied by at least SIBLING_TIES shared infrastructure entities (an operator's
    # rings share proxies, cards, harness fingerprints; developers on one SDK share only that).
    # "family IN (...)" for the template families in play; false when there are none ("NOT IN (NULL)" would
    # be NULL and silently drop every row).
    in_tpl = ", ".join(f"'{f}'" for f in TEMPLATE_FAMILIES if f in fam)
    is_template = (lambda col: f"{col} IN ({in_tpl})") if in_tpl else (lambda col: "false")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE comm_entities AS
            SELECT m.cid, i.family, i.entity FROM incidence i JOIN members m USING (aid)
            JOIN entities e USING (family, entity)
            WHERE e.pair_weight > 0 OR ({is_template('i.family')} AND e.accounts >= 2)
            GROUP BY m.cid, i.family, i.entity HAVING count(*) >= 2"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE siblings AS
            SELECT cid, cid AS sib FROM (SELECT DISTINCT cid FROM members)
            UNION ALL
            SELECT x.cid, y.cid FROM comm_entities x JOIN comm_entities y
              ON x.family = y.family AND x.entity = y.entity AND x.cid <> y.cid
            WHERE x.family IN ('ip', 'payment', 'email') GROUP BY x.cid, y.cid HAVING count(*) >= {SIBLING_TIES}"""
    )
    _sibling_clusters(con)
    df = con.execute(
        f"""
        WITH size AS (SELECT cid, count(*) AS size FROM members GROUP BY cid),
        inner_links AS (
            SELECT m1.cid, count(*) AS links, sum(l.weight) AS total, {internal}
            FROM links l JOIN members m1 ON m1.aid = l.a JOIN members m2 ON m2.aid = l.b AND m2.cid = m1.cid
            GROUP BY m1.cid
        ),
        inner_pairs AS (
            SELECT m1.cid, l.a, l.b, {ends_cols}
            FROM links l JOIN members m1 ON m1.aid = l.a JOIN members m2 ON m2.aid = l.b AND m2.cid = m1.cid
        ),
        cov AS (  -- per family, how many members it links to another member
            SELECT cid, {cover} FROM (
                SELECT cid, a AS aid, {ends_cols} FROM inner_pairs
                UNION ALL SELECT cid, b AS aid, {ends_cols} FROM inner_pairs
            ) GROUP BY cid
        ),
        sib_use AS (  -- per community and linking entity: its users in the community or its siblings
            SELECT ce.cid, ce.family, ce.entity, count(*) AS members
            FROM comm_entities ce JOIN siblings s ON s.cid = ce.cid
            JOIN members m ON m.cid = s.sib
            JOIN incidence i ON i.aid = m.aid AND i.family = ce.family AND i.entity = ce.entity
            WHERE NOT {is_template('ce.family')}
            GROUP BY ce.cid, ce.family, ce.entity
            UNION ALL  -- templates: users anywhere in the community's sibling cluster
            SELECT ce.cid, ce.family, ce.entity, cu.members
            FROM comm_entities ce JOIN sibling_cluster sc USING (cid)
            JOIN (SELECT sc.cluster, i.family, i.entity, count(*) AS members
                  FROM incidence i JOIN members m USING (aid) JOIN sibling_cluster sc USING (cid)
                  WHERE {is_template('i.family')}
                    AND i.entity IN (SELECT entity FROM comm_entities WHERE {is_template('family')})
                  GROUP BY ALL) cu
              ON cu.cluster = sc.cluster AND cu.family = ce.family AND cu.entity = ce.entity
        ),
        tpl_cov AS (  -- template families: members using min_shared entities other members use
            SELECT cid, {tpl_cover} FROM (
                SELECT m.cid, i.family, i.aid, count(*) AS n
                FROM incidence i JOIN members m USING (aid)
                JOIN comm_entities ce ON ce.cid = m.cid AND ce.family = i.family AND ce.entity = i.entity
                WHERE {is_template('i.family')} GROUP BY ALL
            ) GROUP BY cid
        ),
        excl AS (  -- per family, the median linking entity's share of users inside (community + siblings)
            SELECT cid, {exclusivity} FROM (
                SELECT su.cid, su.family, su.entity, su.members, e.accounts
                FROM sib_use su JOIN entities e USING (family, entity)
            ) GROUP BY cid
        ),
        shared_in AS (  -- members sharing an entity of the family with another member
            SELECT i.family, m.cid, i.aid, count(*) OVER (PARTITION BY m.cid, i.family, i.entity) AS k
            FROM incidence i JOIN members m USING (aid) WHERE i.family IN ('payment', 'prompt', 'signup')
        ),
        shares AS (
            SELECT cid,
                   count(DISTINCT aid) FILTER (WHERE family = 'payment' AND k >= 2) AS pay_n,
                   count(DISTINCT aid) FILTER (WHERE family = 'prompt' AND k >= 3) AS tpl_n,
                   count(DISTINCT aid) FILTER (WHERE family = 'signup' AND k >= 3) AS burst_n
            FROM shared_in GROUP BY cid
        ),
        wins AS (  -- (aid, win) is unique in acct_windows, so count(*) counts active members
            SELECT m.cid, w.win, count(*) AS active, sum(w.requests) AS req
            FROM acct_windows w JOIN members m USING (aid) GROUP BY m.cid, w.win
        ),
        lock AS (
            SELECT w.cid, sum(w.req) FILTER (WHERE w.active >= greatest(3, 0.05 * s.size)) / sum(w.req) AS lockstep_share
            FROM wins w JOIN size s USING (cid) GROUP BY w.cid
        ),
        host AS (
            SELECT m.cid, sum(v.hosting_requests) / nullif(sum(v.requests), 0) AS hosting_share,
                   sum(v.requests) AS requests
            FROM members m JOIN acct_activity v USING (aid) GROUP BY m.cid
        ),
        vol AS (
            SELECT m.cid, median(coalesce(v.requests, 0)) AS median_requests
            FROM members m LEFT JOIN acct_activity v USING (aid) GROUP BY m.cid
        ),
        pop AS (
            SELECT greatest(1, median(coalesce(v.requests, 0))) AS pop_median
            FROM accounts a LEFT JOIN acct_activity v USING (aid)
        )
        SELECT s.cid, s.size, coalesce(il.links, 0) AS links,
               coalesce(il.links, 0) / (s.size * (s.size - 1) / 2.0) AS density,
               coalesce({diversity}, 0) AS families,
               coalesce({infra}, 0) AS infra_families,
               coalesce(sh.pay_n, 0) / s.size AS payment_share,
               coalesce(sh.tpl_n, 0) / s.size AS template_share,
               coalesce(sh.burst_n, 0) / s.size AS burst_share,
               coalesce(lock.lockstep_share, 0) AS lockstep_share,
               coalesce(host.hosting_share, 0) AS hosting_share,
               coalesce(host.requests, 0) AS requests,
               vol.median_requests, pop.pop_median,
               vol.median_requests / pop.pop_median AS volume_ratio,
               {", ".join(f"coalesce(il.w_{f}, 0) AS w_{f}" for f in fam)}
        FROM size s
        LEFT JOIN inner_links il USING (cid)
        LEFT JOIN cov USING (cid)
        LEFT JOIN tpl_cov tc USING (cid)
        LEFT JOIN excl ex USING (cid)
        LEFT JOIN shares sh USING (cid)
        LEFT JOIN lock USING (cid)
        LEFT JOIN host USING (cid)
        LEFT JOIN vol USING (cid), pop
        ORDER BY s.cid
        """
    ).df()
    df["diversity"] = np.clip(df["families"] / 3.0, 0, 1)
    return df


def _sibling_clusters(con) -> None:
    """``sibling_cluster(cid, cluster)``: communities joined through chains of sibling ties."""
    cids = con.execute("SELECT DISTINCT cid FROM members ORDER BY cid").fetchnumpy()["cid"]
    ties = con.execute("SELECT cid, sib FROM siblings WHERE cid < sib").fetchnumpy()
    index = np.searchsorted(cids, ties["cid"]), np.searchsorted(cids, ties["sib"])
    adjacency = coo_matrix((np.ones(len(index[0])), index), shape=(len(cids), len(cids)))
    _, label = connected_components(adjacency, directed=False)
    frame = pd.DataFrame({"cid": cids.astype(np.int64), "cluster": label.astype(np.int64)})
    con.register("sibling_cluster_df", frame)
    con.execute("CREATE OR REPLACE TEMP TABLE sibling_cluster AS SELECT * FROM sibling_cluster_df")
    con.unregister("sibling_cluster_df")


def score(features: pd.DataFrame, weights: ScoreWeights | None = None) -> pd.DataFrame:
    """Add ``coordination``, ``harvesting`` and ``score`` columns; pure function of the features.

    Harvesting rises with the members' median volume relative to the whole
    batch's median account: 1 at fifty times the median, 0 at or below it.
    """
    weights = weights or ScoreWeights()
    out = features.copy()
    coord = np.zeros(len(out))
    for name, w in vars(weights).items():
        coord += w * out[name].to_numpy(dtype=float)
    # One family alone (a shared phrase, one NAT) is coincidence, not coordination; and software alone
    # (an SDK fingerprint plus common phrasing) is what developers share: infrastructure must be in it.
    independent = 1.0
    if "families" in out:
        independent = (out["families"].to_numpy(dtype=float) >= 2) & (out["infra_families"].to_numpy(dtype=float) >= 1)
    out["coordination"] = np.clip(coord / 0.6, 0, 1) * independent
    ratio = np.maximum(out["volume_ratio"].to_numpy(dtype=float), 1.0)
    out["harvesting"] = np.clip(np.log10(ratio) / np.log10(50.0), 0, 1)
    out["score"] = np.round(np.sqrt(out["coordination"] * out["harvesting"]), 4)
    return out
