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

import hashlib

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from .config import Config
from .signals.prompt import shingles_expr, words_expr

INTEL_FAMILY = {"ip": "ip", "asn": "asn", "device": "device", "instrument": "payment", "email_domain": "email"}
#: Families whose shared entities tie rings to each other (ASNs and sign-up windows are too coarse).
RING_TIE_FAMILIES = ("payment", "ip", "device", "prompt", "email")
ALPHA = 0.85  # how much of a neighbour's evidence flows along a full-strength tie
KAPPA = 3.0  # ties weaker than this many shared entities pass on proportionally less
MIN_EVIDENCE = 0.2  # below this a ring stays unattributed
MARGIN = 2.0  # the top operator must score this many times the runner-up, or the ring stays unattributed
TEMPLATE_TIE = 0.1  # what sharing template n-grams adds to a ring tie, however many


def match_indicators(con, config: Config) -> None:
    """Create ``indicator_hits(operator, kind, value, aid)``: which accounts each indicator touches."""
    n = int(config.shingle_size)
    kinds = "\n".join(
        f"UNION ALL SELECT DISTINCT x.operator, x.kind, x.value, i.aid FROM intel x "
        f"JOIN incidence i ON i.family = '{fam}' AND i.entity = "
        f"{'lower(x.value)' if kind in ('ip', 'email_domain') else 'x.value'} WHERE x.kind = '{kind}'"
        for kind, fam in INTEL_FAMILY.items()
    )
    con.execute(
        f"""CREATE OR REPLACE TABLE indicator_hits AS
            SELECT DISTINCT x.operator, x.kind, x.value, a.aid FROM intel x
            JOIN accounts a ON a.account_id = x.value WHERE x.kind = 'account'
            {kinds}
            UNION ALL
            SELECT operator, kind, value, aid FROM (
                SELECT x.operator, x.kind, x.value, i.aid, count(*) AS hit, any_value(x.nsh) AS nsh
                FROM (SELECT operator, kind, value, unnest(sh) AS h, len(sh) AS nsh FROM (
                        SELECT operator, kind, value, {shingles_expr('w', n)} AS sh
                        FROM (SELECT *, {words_expr('value')} AS w FROM intel WHERE kind = 'prompt'))) x
                JOIN incidence i ON i.family = 'prompt' AND i.entity = printf('%016x', x.h)
                GROUP BY ALL
            ) WHERE hit >= greatest(2, 0.3 * nsh)"""
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


def ring_ties(con, ring_members: pd.DataFrame) -> pd.DataFrame:
    """Entities shared between flagged rings and used mostly by them: ``(r1, r2, family, entity, accounts)``."""
    con.register("ring_members_df", ring_members)
    fams = ", ".join(f"'{f}'" for f in RING_TIE_FAMILIES)
    df = con.execute(
        f"""WITH used AS (
                SELECT i.family, i.entity, i.aid, r.ring FROM incidence i
                LEFT JOIN ring_members_df r USING (aid) WHERE i.family IN ({fams})
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


def tie_strength(ties: pd.DataFrame) -> pd.DataFrame:
    """``(r1, r2, k)``: shared infrastructure entities, plus at most one for shared template n-grams.

    The n-grams of one template are one piece of evidence, and generic task
    phrasing overlaps between unrelated operators; infrastructure does not.
    """
    infra = ties[ties.family != "prompt"].groupby(["r1", "r2"]).size()
    template = (ties[ties.family == "prompt"].groupby(["r1", "r2"]).size() > 0).astype(float) * TEMPLATE_TIE
    k = infra.add(template, fill_value=0).rename("k").reset_index()
    return k


def propagate(n_rings: int, direct: np.ndarray, ties: pd.DataFrame, *, alpha: float = ALPHA,
              kappa: float = KAPPA, iterations: int = 30) -> np.ndarray:
    """Spread direct evidence (rings × operators) along ring ties; pure function.

    A ring's score for an operator is its own evidence plus ``alpha`` times the
    tie-weighted mean of its neighbours' scores, where weak ties (fewer than
    ``kappa`` shared entities) pass on proportionally less.
    """
    if n_rings == 0:
        return direct
    if len(ties):
        counts = tie_strength(ties)
        rows = np.concatenate([counts.r1.to_numpy(), counts.r2.to_numpy()])
        cols = np.concatenate([counts.r2.to_numpy(), counts.r1.to_numpy()])
        vals = np.concatenate([counts.k.to_numpy(), counts.k.to_numpy()]).astype(float)
        adj = csr_matrix((vals, (rows, cols)), shape=(n_rings, n_rings))
    else:
        adj = csr_matrix((n_rings, n_rings))
    degree = np.asarray(adj.sum(axis=1)).ravel()
    scale = 1.0 / np.maximum(degree, kappa)
    transition = csr_matrix(adj.multiply(scale[:, None]))
    score = direct.copy()
    for _ in range(iterations):
        score = np.minimum(1.0, direct + alpha * (transition @ score))
    return score


def clusters(n_rings: int, ties: pd.DataFrame, min_shared: int = 2) -> np.ndarray:
    """Operator clusters: connected components of rings sharing at least ``min_shared`` entities."""
    if n_rings == 0:
        return np.zeros(0, dtype=int)
    counts = tie_strength(ties) if len(ties) else pd.DataFrame({"r1": [], "r2": [], "k": []})
    strong = counts[counts.k >= min_shared]
    adj = csr_matrix((np.ones(len(strong)), (strong.r1.astype(int), strong.r2.astype(int))), shape=(n_rings, n_rings))
    return connected_components(adj, directed=False)[1]


def choose_operator(scores: np.ndarray, operators: list[str]) -> tuple[str | None, float]:
    """The ring's operator and confidence from its per-operator scores; pure.

    Attributed only when the best score is sufficient (``MIN_EVIDENCE``) and
    clearly ahead (``MARGIN`` times the runner-up): weak ties to several
    operators' rings are ambiguity, not attribution. Confidence is the best
    score times its share of all operator scores.
    """
    if not operators or len(scores) == 0:
        return None, 0.0
    best = int(np.argmax(scores))
    top = float(scores[best])
    runner_up = float(np.sort(scores)[-2]) if len(scores) > 1 else 0.0
    if top < MIN_EVIDENCE or top < MARGIN * runner_up:
        return None, 0.0
    return operators[best], round(top * top / float(scores.sum()), 4)


def attribute(con, config: Config, rings: pd.DataFrame, ring_members: pd.DataFrame) -> pd.DataFrame:
    """Return per flagged ring: ``operator``, ``operator_confidence``, ``operator_cluster``, ``attribution``.

    ``rings`` has one row per flagged ring with ``ring`` (0..n-1, in output order) and ``ring_id``;
    ``ring_members`` maps ``aid`` to ``ring``.
    """
    n = len(rings)
    match_indicators(con, config)
    direct_df = _direct_evidence(con, ring_members)
    ties = ring_ties(con, ring_members)
    operators = sorted(direct_df.operator.unique()) if len(direct_df) else []
    direct = np.zeros((n, len(operators)))
    for row in direct_df.itertuples(index=False):  # one row per (ring, operator) pair, not per request
        direct[int(row.ring), operators.index(row.operator)] = row.evidence
    total = propagate(n, direct, ties)
    groups = clusters(n, ties)
    out = []
    for r in range(n):
        operator, confidence = choose_operator(total[r], operators)
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
    result.attrs["ties"] = ties
    result.attrs["direct"] = direct_df
    return result


def _cluster_names(result: pd.DataFrame, rings: pd.DataFrame) -> list[str]:
    """Name each operator cluster: the operator when attributed, else a stable ``unattributed-…`` id."""
    names = []
    ids = rings.set_index("ring")["ring_id"]
    for row in result.itertuples(index=False):
        if row.operator is not None:
            names.append(row.operator)
            continue
        group_ids = sorted(ids[result.ring[(result.group == row.group) & result.operator.isna()]])
        digest = hashlib.sha1(",".join(group_ids).encode()).hexdigest()[:8]
        names.append(f"unattributed-{digest}")
    return names
