"""Attribution: which known operator is behind each flagged ring, decided per operation.

1. Intel indicators are matched to the batch's entities (prompt excerpts by
   shingle overlap with the accounts' templates).
2. Each indicator's *specificity* for a ring (and for an operation) is the share
   of the accounts it touches that are members of that ring (of the operation's
   flagged rings): a proxy IP used only by the ring is strong, a shared-hosting
   ASN used by thousands of developers is not.
3. Operators run many rings and intel covers only some of them. An operation
   (``linkage.operations``) is what one operator runs, tied by the tools its rings
   reuse, so intel that reaches any of its rings names the whole operation: every
   ring of an attributed operation takes its operator, and its evidence path goes
   through the tools it shares with the ring the indicators touch.
4. An operation is attributed only when one operator's evidence is both
   sufficient and clearly ahead (``margin`` times the runner-up); an operation with
   no or ambiguous intel is one unattributed cluster (``unattributed-…``), though a
   ring with decisive indicators of its own keeps them.
5. When those rings name two operators or more, the operation is really several
   glued together by a tool they both use (two operators can buy the same prompt kit).
   A ring without decisive indicators then follows the operator whose rings *alone*
   share tools with it (``min_distinct_tools`` of them, ``margin`` times the
   runner-up): the proxy exits, cards or devices of one operator's rings, not the
   template everyone sends. A ring tied to both, or to neither, stays unattributed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import duckdb
import numpy as np
import numpy.typing as npt
import pandas as pd

from . import families
from .config import AttributionParams, Config
from .frames import rows
from .ids import digest
from .signals.prompt import excerpt_shingles_sql
from .sql import literal
from .stages import step


@dataclass
class Attribution:
    """What attribution hands to the evidence stage: per ring, and the two tables behind it.

    ``rings`` has one row per flagged ring (``ring``, ``operator``, ``operator_confidence``,
    ``operation``, ``operator_cluster``, ``direct_evidence``, ``operator_scores``); ``direct``
    is the per (ring, operator) indicator evidence with its indicators; ``ties`` the operation's
    tools a ring attributed without indicators of its own shares with the ring that has them
    (``r1, r2, family, entity, accounts``).
    """

    rings: pd.DataFrame
    direct: pd.DataFrame
    ties: pd.DataFrame


def match_indicators(con: duckdb.DuckDBPyConnection, config: Config) -> None:
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


def _reach(con: duckdb.DuckDBPyConnection, ring_members: pd.DataFrame) -> pd.DataFrame:
    """``(operator, kind, value, ring, touched, total, specificity)``: per indicator and flagged ring it reaches.

    An indicator's specificity for a ring is the share of all the accounts it touches that are the
    ring's members. One grouped pass over the hits serves the rings and their operations: the hits grow
    with the intel times the operations' size, and a windowed distinct count over them for each use
    took 39 s of attribution's 214 s at two million accounts (this pass and the sums: 10 s).
    """
    con.register("reach_members_df", ring_members[["aid", "ring"]])
    try:
        df = con.execute(
            """SELECT h.operator, h.kind, h.value, r.ring, count(DISTINCT h.aid) AS touched
               FROM indicator_hits h LEFT JOIN reach_members_df r USING (aid) GROUP BY ALL""").df()
    finally:
        con.unregister("reach_members_df")
    # an account is in one ring at most, so the counts per ring (and outside, ring NaN) add up to the total
    df["total"] = df.groupby(["operator", "kind", "value"])["touched"].transform("sum")
    df = df.assign(specificity=df["touched"] / df["total"])
    df = df[df["ring"].notna()].astype({"ring": "int64", "touched": "int64"})
    return df.sort_values(["ring", "operator", "specificity", "kind", "value"],
                          ascending=[True, True, False, True, True]).reset_index(drop=True)


def _evidence(specificity: pd.Series[float]) -> float:
    """``1 - exp(-Σ specificity)``, summed in a fixed order (the same bits at any thread count)."""
    return float(1 - np.exp(-math.fsum(specificity.tolist())))


def _direct_evidence(reach: pd.DataFrame) -> pd.DataFrame:
    """Per (ring, operator): ``1 - exp(-Σ specificity)`` over the operator's indicators, with the indicators."""
    out = []
    for (ring, operator), g in reach.groupby(["ring", "operator"], sort=True):
        out.append({"ring": int(str(ring)), "operator": operator, "evidence": _evidence(g["specificity"]),
                    "indicators": g[["kind", "value", "touched", "specificity"]].to_dict("records")})
    return pd.DataFrame(out, columns=["ring", "operator", "evidence", "indicators"])


def _op_evidence(reach: pd.DataFrame, op_of_ring: pd.Series[int]) -> pd.DataFrame:
    """Per (operation, operator): ``1 - exp(-Σ specificity)`` over the indicators touching the operation's rings.

    An indicator's specificity for an operation is the share of the accounts it touches that are
    members of the operation's flagged rings: intel that reaches any ring speaks for the operation.
    """
    per_op = reach.assign(op=reach["ring"].map(op_of_ring)).groupby(["op", "operator", "kind", "value"], sort=True).agg(
        touched=("touched", "sum"), total=("total", "first")).reset_index()
    per_op["specificity"] = per_op["touched"] / per_op["total"]
    rows_ = [{"op": int(str(op)), "operator": operator, "evidence": _evidence(g["specificity"])}
             for (op, operator), g in per_op.groupby(["op", "operator"], sort=True)]
    return pd.DataFrame(rows_, columns=["op", "operator", "evidence"])


def _scores(frame: pd.DataFrame, key: str, operators: list[str], n: int) -> npt.NDArray[np.float64]:
    out = np.zeros((n, len(operators)))
    index = {op: j for j, op in enumerate(operators)}
    for row in rows(frame):  # one row per (ring or operation, operator), not per request
        out[int(getattr(row, key)), index[row.operator]] = row.evidence
    return out


def choose_operator(scores: npt.NDArray[np.float64], operators: list[str], params: AttributionParams | None = None
                    ) -> tuple[str | None, float]:
    """The operator and confidence from per-operator scores; pure.

    Attributed only when the best score is sufficient (``min_evidence``) and
    clearly ahead (``margin`` times the runner-up): weak ties to several
    operators are ambiguity, not attribution. Confidence is the best score
    times its share of all operator scores.
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


def attribute(con: duckdb.DuckDBPyConnection, config: Config, rings: pd.DataFrame, ring_members: pd.DataFrame) -> Attribution:
    """Attribute each flagged ring through its operation (see the module docstring).

    ``rings`` has one row per flagged ring with ``ring`` (0..n-1, in output order), ``ring_id`` and ``op``
    (its operation); ``ring_members`` maps ``aid`` to ``ring``.
    """
    params = config.attribution
    n = len(rings)
    with step("attribution.indicators"):
        match_indicators(con, config)
    op_of_ring = rings.set_index("ring")["op"]
    ops = sorted(int(o) for o in rings["op"].unique())
    op_index = {o: k for k, o in enumerate(ops)}
    with step("attribution.evidence_scores"):
        reach = _reach(con, ring_members)
        direct_df = _direct_evidence(reach)
        op_df = _op_evidence(reach, op_of_ring.map(op_index))
    operators = sorted(set(direct_df.operator) | set(op_df.operator))
    direct = _scores(direct_df, "ring", operators, n)
    per_op = _scores(op_df, "op", operators, len(ops))
    op_choice = [choose_operator(per_op[k], operators, params) for k in range(len(ops))]
    ids = rings.set_index("ring")["ring_id"]
    op_rings = rings.groupby("op")["ring"].apply(list)
    op_name = {o: digest(*sorted(ids[r] for r in op_rings[o]), size=6) for o in ops}
    own = [choose_operator(direct[r], operators, params) for r in range(n)]
    with step("attribution.follow"):
        followed = _follow_distinct_tools(con, params, rings, ring_members, own, op_choice, op_index)
    out = []
    for r in range(n):
        o = int(op_of_ring[r])
        operator, confidence = op_choice[op_index[o]]
        scores = per_op[op_index[o]]
        if operator is None:  # the operation is ambiguous or silent: the ring's own indicators may still speak
            operator, confidence = own[r]
            scores = direct[r] if operator else scores
        if operator is None and r in followed:  # or the tools it shares with one operator's rings alone
            operator, share = followed[r]
            confidence = round(share * float(scores[operators.index(operator)]), 4)
        out.append({
            "ring": r,
            "operator": operator,
            "operator_confidence": confidence,
            "direct_evidence": {op: round(float(direct[r, j]), 4) for j, op in enumerate(operators) if direct[r, j] > 0},
            "operator_scores": {op: round(float(scores[j]), 4) for j, op in enumerate(operators) if scores[j] > 0},
            "operation": f"operation-{op_name[o]}",
            "operator_cluster": operator or f"unattributed-{op_name[o]}",
        })
    # object dtype keeps ``None`` as None (a string column would turn it into NaN).
    result = pd.DataFrame(out, columns=["ring", "operator", "operator_confidence", "direct_evidence",
                                        "operator_scores", "operation", "operator_cluster"], dtype=object)
    with step("attribution.tool_paths"):
        ties = _tool_paths(con, result, direct_df, rings, ring_members)
    return Attribution(rings=result, direct=direct_df, ties=ties)


def _follow_distinct_tools(con: duckdb.DuckDBPyConnection, params: AttributionParams, rings: pd.DataFrame,
                           ring_members: pd.DataFrame, own: list[tuple[str | None, float]],
                           op_choice: list[tuple[str | None, float]], op_index: dict[int, int]
                           ) -> dict[int, tuple[str, float]]:
    """``ring → (operator, share)`` for the rings of operations whose rings' own intel names several
    operators (module docstring, 5): the operator whose rings alone share the most of the operation's
    tools with the ring, and that share of the ring's distinguishing tools."""
    op_of_ring = rings.set_index("ring")["op"].astype(int)
    named: dict[int, set[str]] = {}
    for r, (operator, _) in enumerate(own):
        if operator is not None and op_choice[op_index[int(op_of_ring[r])]][0] is None:
            named.setdefault(int(op_of_ring[r]), set()).add(operator)
    split = sorted(o for o, names in named.items() if len(names) >= 2)
    if not split:
        return {}
    used = _ring_tools(con, ring_members[ring_members["ring"].map(op_of_ring).isin(split)])
    used["label"] = [own[int(r)][0] for r in used["ring"]]
    # A tool speaks for an operator when the rings its own intel names that use it are all that operator's.
    labels = used.dropna(subset=["label"]).groupby(["family", "entity"])["label"].agg(["nunique", "first"])
    distinct = labels.loc[labels["nunique"] == 1, "first"]
    open_rings = used[used["label"].isna()].join(distinct.rename("tool_of"), on=["family", "entity"], how="inner")
    counts = open_rings.groupby(["ring", "tool_of"]).size().unstack(fill_value=0)
    out: dict[int, tuple[str, float]] = {}
    for ring, row in counts.iterrows():
        ranked = row.sort_values(ascending=False, kind="stable")
        top, runner_up = int(ranked.iloc[0]), int(ranked.iloc[1]) if len(ranked) > 1 else 0
        if top >= params.min_distinct_tools and top >= params.margin * runner_up:
            out[int(str(ring))] = (str(ranked.index[0]), round(top / int(row.sum()), 4))
    return out


def _tool_paths(con: duckdb.DuckDBPyConnection, result: pd.DataFrame, direct_df: pd.DataFrame, rings: pd.DataFrame,
                ring_members: pd.DataFrame) -> pd.DataFrame:
    """``(r1, r2, family, entity, accounts)``: for each ring attributed through its operation without an
    indicator of its own, the operation's tools it shares with the ring carrying the most evidence."""
    op_of_ring = rings.set_index("ring")["op"]
    pairs = []
    for row in rows(result):
        if row.operator is None:
            continue
        own = direct_df[(direct_df.ring == row.ring) & (direct_df.operator == row.operator)]
        if len(own):
            continue
        holders = direct_df[(direct_df.operator == row.operator)
                            & (direct_df.ring.map(op_of_ring) == op_of_ring[row.ring])]
        if len(holders):
            best = holders.sort_values(["evidence", "ring"], ascending=[False, True]).iloc[0]
            pairs.append((int(row.ring), int(best.ring)))
    empty = pd.DataFrame({"r1": [], "r2": [], "family": [], "entity": [], "accounts": []})
    if not pairs:
        return empty
    pairs_df = pd.DataFrame(pairs, columns=["r1", "r2"])
    used = _ring_tools(con, ring_members[ring_members["ring"].isin(set(pairs_df["r1"]) | set(pairs_df["r2"]))])
    con.register("pairs_df", pairs_df)
    con.register("used_df", used)
    try:
        return con.execute(
            """SELECT p.r1, p.r2, x.family, x.entity, e.accounts
               FROM pairs_df p JOIN used_df x ON x.ring = p.r1 JOIN used_df y ON y.ring = p.r2 AND y.family = x.family
                    AND y.entity = x.entity JOIN entities e ON e.family = x.family AND e.entity = x.entity
               ORDER BY p.r1, e.accounts, x.family, x.entity""").df()
    finally:
        con.unregister("pairs_df")
        con.unregister("used_df")


def _ring_tools(con: duckdb.DuckDBPyConnection, ring_members: pd.DataFrame) -> pd.DataFrame:
    """``(ring, family, entity)``: the operation tools (``op_tools``) the members of each given ring use."""
    con.register("tool_members_df", ring_members[["aid", "ring"]])
    try:
        return con.execute(
            """SELECT DISTINCT r.ring, i.family, i.entity FROM incidence i JOIN tool_members_df r USING (aid)
               WHERE (i.family, i.entity) IN (SELECT (family, entity) FROM op_tools)""").df()
    finally:
        con.unregister("tool_members_df")
