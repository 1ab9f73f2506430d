"""Attribution: which known operator is behind each flagged ring.

1. Intel indicators are matched to the batch's entities (prompt excerpts by
   shingle overlap with the accounts' templates).
2. Each indicator's *specificity* for a ring is the share of the accounts it
   touches that are members of that ring: a proxy IP used only by the ring is
   strong, a shared-hosting ASN used by thousands of developers is not.
3. Operators run many rings and intel covers only some of them, so evidence
   is spread over a ring graph: two rings are tied by the entities they share
   that are used mostly by flagged rings (a harness fingerprint, a card batch,
   a proxy, a template), and each ring takes a damped share of its
   neighbours' evidence (personalised-PageRank style).
4. A ring is attributed only when one operator's evidence is both sufficient
   and clearly ahead (twice the runner-up); rings with no or ambiguous
   operator evidence get ``operator = None`` and are grouped into
   unattributed operator clusters by the same ring graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from . import families
from .config import AttributionParams, Config
from .ids import digest
from .signals.prompt import excerpt_shingles_sql
from .sql import literal


@dataclass
class Attribution:
    """What attribution hands to the evidence stage: per ring, and the two tables behind it.

    ``rings`` has one row per flagged ring (``ring``, ``operator``, ``operator_confidence``,
    ``operator_cluster``, ``direct_evidence``, ``operator_scores``); ``direct`` is the
    per (ring, operator) indicator evidence with its indicators; ``ties`` the entities
    flagged rings share (``r1, r2, family, entity, accounts``).
    """

    rings: pd.DataFrame
    direct: pd.DataFrame
    ties: pd.DataFrame


def match_indicators(con, config: Config) -> None:
    """Create ``indicator_hits(operator, kind, value, aid)``: which accounts each indicator touches.

    Exact kinds match the family's entity key (``Family.intel_value`` over the indicator's value);
    prompt excerpts touch an account using enough of the excerpt's shingles.
    """
    a = config.attribution
    exact = "\n".join(
        f"UNION ALL SELECT DISTINCT x.operator, x.kind, x.value, i.aid FROM intel x "
        f"JOIN incidence i ON i.family = {literal(f.name)} AND i.entity = {f.intel_value} "
        f"WHERE x.kind = {literal(f.intel_kind)}"
        for f in families.in_run(config) if f.intel_kind and not f.template
    )
    templates = [f for f in families.in_run(config) if f.intel_kind and f.template]
    shingles = "\n".join(
        f"""UNION ALL
            SELECT operator, kind, value, aid FROM (
                SELECT x.operator, x.kind, x.value, i.aid, count(*) AS hit, min(x.shingles) AS nsh
                FROM ({excerpt_shingles_sql(config)}) x
                JOIN incidence i ON i.family = {literal(f.name)} AND i.entity = x.entity
                GROUP BY ALL
            ) WHERE hit >= greatest({int(a.prompt_min_hits)}, {float(a.prompt_min_share)!r} * nsh)"""
        for f in templates
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE indicator_hits AS
            SELECT DISTINCT x.operator, x.kind, x.value, a.aid FROM intel x
            JOIN accounts a ON a.account_id = x.value WHERE x.kind = 'account'
            {exact}
            {shingles}"""
    )


def _direct_evidence(con, ring_members: pd.DataFrame) -> pd.DataFrame:
    """Per (ring, operator): ``1 - exp(-Σ specificity)`` over the operator's indicators."""
    con.register("ring_members_df", ring_members)
    df = con.execute(
        """WITH hits AS (
               SELECT h.operator, h.kind, h.value, h.aid, r.ring FROM indicator_hits h
               LEFT JOIN ring_members_df r USING (aid)
           ),
           spec AS (
               SELECT operator, kind, value, ring,
                      count(DISTINCT aid) / any_value(total) AS specificity, count(DISTINCT aid) AS touched
               FROM (SELECT *, count(DISTINCT aid) OVER (PARTITION BY operator, kind, value) AS total FROM hits)
               WHERE ring IS NOT NULL GROUP BY ALL
           )
           SELECT ring, operator, 1 - exp(-sum(specificity)) AS evidence,
                  list({'kind': kind, 'value': value, 'touched': touched, 'specificity': specificity}
                       ORDER BY specificity DESC, kind, value) AS indicators
           FROM spec GROUP BY ring, operator ORDER BY ring, operator"""
    ).df()
    con.unregister("ring_members_df")
    return df


def ring_ties(con, config: Config, ring_members: pd.DataFrame) -> pd.DataFrame:
    """Entities shared between flagged rings and used mostly by them: ``(r1, r2, family, entity, accounts)``."""
    con.register("ring_members_df", ring_members)
    fams = families.sql_in([f.name for f in families.in_run(config) if f.ring_ties])
    df = con.execute(
        f"""WITH used AS (
                SELECT i.family, i.entity, i.aid, r.ring FROM incidence i
                LEFT JOIN ring_members_df r USING (aid) WHERE i.family IN {fams}
            ),
            ent AS (
                SELECT family, entity, count(*) AS accounts FROM used GROUP BY family, entity
                HAVING count(ring) >= 0.5 * count(*) AND count(DISTINCT ring) >= 2
            ),
            per_ring AS (
                SELECT DISTINCT u.family, u.entity, u.ring, e.accounts FROM used u JOIN ent e USING (family, entity)
                WHERE u.ring IS NOT NULL
            )
            SELECT x.ring AS r1, y.ring AS r2, x.family, x.entity, x.accounts
            FROM per_ring x JOIN per_ring y ON x.family = y.family AND x.entity = y.entity AND x.ring < y.ring
            ORDER BY r1, r2, family, entity"""
    ).df()
    con.unregister("ring_members_df")
    return df


def tie_strength(ties: pd.DataFrame, params: AttributionParams | None = None) -> pd.DataFrame:
    """``(r1, r2, k)``: shared infrastructure entities, plus at most ``template_tie`` for shared template n-grams.

    The n-grams of one template are one piece of evidence, and generic task
    phrasing overlaps between unrelated operators; infrastructure does not.
    """
    params = params or AttributionParams()
    template = ties.family.isin([f.name for f in families.all_families() if f.template])
    infra = ties[~template].groupby(["r1", "r2"]).size()
    shared_template = (ties[template].groupby(["r1", "r2"]).size() > 0).astype(float) * params.template_tie
    return infra.add(shared_template, fill_value=0).rename("k").reset_index()


def propagate(n_rings: int, direct: np.ndarray, ties: pd.DataFrame, params: AttributionParams | None = None
              ) -> np.ndarray:
    """Spread direct evidence (rings × operators) along ring ties; pure function.

    A ring's score for an operator is its own evidence plus ``alpha`` times the
    tie-weighted mean of its neighbours' scores, where weak ties (fewer than
    ``kappa`` shared entities) pass on proportionally less.
    """
    params = params or AttributionParams()
    if n_rings == 0:
        return direct
    if len(ties):
        counts = tie_strength(ties, params)
        rows = np.concatenate([counts.r1.to_numpy(), counts.r2.to_numpy()])
        cols = np.concatenate([counts.r2.to_numpy(), counts.r1.to_numpy()])
        vals = np.concatenate([counts.k.to_numpy(), counts.k.to_numpy()]).astype(float)
        adj = csr_matrix((vals, (rows, cols)), shape=(n_rings, n_rings))
    else:
        adj = csr_matrix((n_rings, n_rings))
    degree = np.asarray(adj.sum(axis=1)).ravel()
    scale = 1.0 / np.maximum(degree, params.kappa)
    transition = csr_matrix(adj.multiply(scale[:, None]))
    score = direct.copy()
    for _ in range(params.iterations):
        score = np.minimum(1.0, direct + params.alpha * (transition @ score))
    return score


def clusters(n_rings: int, ties: pd.DataFrame, params: AttributionParams | None = None) -> np.ndarray:
    """Operator clusters: connected components of rings tied by at least ``cluster_ties``."""
    params = params or AttributionParams()
    if n_rings == 0:
        return np.zeros(0, dtype=int)
    counts = tie_strength(ties, params) if len(ties) else pd.DataFrame({"r1": [], "r2": [], "k": []})
    strong = counts[counts.k >= params.cluster_ties]
    adj = csr_matrix((np.ones(len(strong)), (strong.r1.astype(int), strong.r2.astype(int))), shape=(n_rings, n_rings))
    return connected_components(adj, directed=False)[1]


def choose_operator(scores: np.ndarray, operators: list[str], params: AttributionParams | None = None
                    ) -> tuple[str | None, float]:
    """The ring's operator and confidence from its per-operator scores; pure.

    Attributed only when the best score is sufficient (``min_evidence``) and
    clearly ahead (``margin`` times the runner-up): weak ties to several
    operators' rings are ambiguity, not attribution. Confidence is the best
    score times its share of all operator scores.
    """
    params = params or AttributionParams()
    if not operators or len(scores) == 0:
        return None, 0.0
    best = int(np.argmax(scores))
    top = float(scores[best])
    runner_up = float(np.sort(scores)[-2]) if len(scores) > 1 else 0.0
    if top < params.min_evidence or top < params.margin * runner_up:
        return None, 0.0
    return operators[best], round(top * top / float(scores.sum()), 4)


def attribute(con, config: Config, rings: pd.DataFrame, ring_members: pd.DataFrame) -> Attribution:
    """Attribute each flagged ring (see the module docstring).

    ``rings`` has one row per flagged ring with ``ring`` (0..n-1, in output order) and ``ring_id``;
    ``ring_members`` maps ``aid`` to ``ring``.
    """
    params = config.attribution
    n = len(rings)
    match_indicators(con, config)
    direct_df = _direct_evidence(con, ring_members)
    ties = ring_ties(con, config, ring_members)
    operators = sorted(direct_df.operator.unique()) if len(direct_df) else []
    direct = np.zeros((n, len(operators)))
    for row in direct_df.itertuples(index=False):  # one row per (ring, operator) pair, not per request
        direct[int(row.ring), operators.index(row.operator)] = row.evidence
    total = propagate(n, direct, ties, params)
    groups = clusters(n, ties, params)
    out = []
    for r in range(n):
        operator, confidence = choose_operator(total[r], operators, params)
        out.append({
            "ring": r,
            "operator": operator,
            "operator_confidence": confidence,
            "direct_evidence": {op: round(float(direct[r, j]), 4) for j, op in enumerate(operators) if direct[r, j] > 0},
            "operator_scores": {op: round(float(total[r, j]), 4) for j, op in enumerate(operators) if total[r, j] > 0},
            "group": int(groups[r]),
        })
    # object dtype keeps ``None`` as None (a string column would turn it into NaN).
    result = pd.DataFrame(out, columns=["ring", "operator", "operator_confidence", "direct_evidence",
                                        "operator_scores", "group"], dtype=object)
    result["operator_cluster"] = _cluster_names(result, rings)
    return Attribution(rings=result, direct=direct_df, ties=ties)


def _cluster_names(result: pd.DataFrame, rings: pd.DataFrame) -> list[str]:
    """Name each operator cluster: the operator when attributed, else a stable ``unattributed-…`` id."""
    names = []
    ids = rings.set_index("ring")["ring_id"]
    for row in result.itertuples(index=False):
        if row.operator is not None:
            names.append(row.operator)
            continue
        group_ids = ids[result.ring[(result.group == row.group) & result.operator.isna()]]
        names.append(f"unattributed-{digest(*sorted(group_ids), size=4)}")
    return names
