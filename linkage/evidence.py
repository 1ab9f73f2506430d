"""Readable evidence for each flagged ring: what its members share, and the paths to its operator.

Investigators act on the *why*: each ring carries, per signal family, the
entities its members share (with how many members and how many accounts in
all use them), its strongest member-to-member links with the entities behind
them, and the indicator paths that attribute it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any, TypedDict

import duckdb
import pandas as pd

from . import families
from .attribution import Attribution
from .config import Config
from .frames import rows

TOP_ENTITIES = 5
TOP_LINKS = 3


class RingEvidence(TypedDict):
    """One ring's evidence (the ``signals``, ``evidence`` and time span of its :class:`linkage.results.Ring`)."""

    signals: dict[str, dict[str, Any]]  # per family: shared_entities, weight, top
    paths: list[dict[str, Any]]  # readable paths, by kind (link, indicator, operation)
    first_seen: str | None
    last_seen: str | None


def _fmt_ts(ts: Any) -> str | None:
    """ISO 8601 UTC, or None; a time outside what the formatter handles is shown as None, never a crash."""
    if ts is None or pd.isna(ts):
        return None
    try:
        return pd.Timestamp(ts).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError):
        return None


def ring_evidence(con: duckdb.DuckDBPyConnection, config: Config, order: pd.DataFrame, ring_members: pd.DataFrame,
                  attribution: Attribution) -> dict[int, RingEvidence]:
    """``{ring: {"signals", "paths", "first_seen", "last_seen"}}`` for the flagged rings."""
    con.register("rm_df", ring_members[["aid", "ring", "account_id"]])
    texts: dict[str, str] = dict(con.execute("SELECT entity, text FROM shingle_texts").fetchall())
    shared = con.execute(
        """SELECT r.ring, i.family, i.entity, count(*) AS members, any_value(e.accounts) AS accounts,
                  any_value(e.pair_weight) AS pair_weight
           FROM incidence i JOIN rm_df r USING (aid) JOIN entities e USING (family, entity)
           GROUP BY r.ring, i.family, i.entity HAVING count(*) >= 2"""
    ).df()
    fam = families.weighted(config)
    weights = con.execute(
        f"""SELECT x.ring, {", ".join(f"sum(l.w_{f}) AS {f}" for f in fam)}
            FROM links l JOIN rm_df x ON x.aid = l.a JOIN rm_df y ON y.aid = l.b AND y.ring = x.ring
            GROUP BY x.ring"""
    ).df().set_index("ring")
    top_links = con.execute(
        f"""SELECT * FROM (
                SELECT x.ring, x.account_id AS a_id, y.account_id AS b_id, l.a, l.b, l.weight, l.signals,
                       row_number() OVER (PARTITION BY x.ring ORDER BY l.weight DESC, l.a, l.b) AS k
                FROM links l JOIN rm_df x ON x.aid = l.a JOIN rm_df y ON y.aid = l.b AND y.ring = x.ring
            ) WHERE k <= {TOP_LINKS}"""
    ).df()
    con.register("top_links_df", top_links[["a", "b"]])  # registered by name: either engine reads it
    link_entities = con.execute(
        """SELECT t.a, t.b, i.family, i.entity, e.accounts FROM (SELECT DISTINCT a, b FROM top_links_df) t
           JOIN incidence i ON i.aid = t.a JOIN incidence j ON j.aid = t.b AND j.family = i.family AND j.entity = i.entity
           JOIN entities e ON e.family = i.family AND e.entity = i.entity
           WHERE e.pair_weight > 0 ORDER BY t.a, t.b, e.accounts, i.family, i.entity"""
    ).df()
    span = con.execute(
        "SELECT r.ring, min(v.first_seen) AS first, max(v.last_seen) AS last FROM acct_activity v "
        "JOIN rm_df r USING (aid) GROUP BY r.ring"
    ).df().set_index("ring")
    con.unregister("rm_df")
    con.unregister("top_links_df")

    def name(family: str, entity: str) -> str:
        return texts.get(entity, entity)

    # Per ring and family: how many entities its members share, and the most shared ones (one sort for all rings).
    counts = Counter(zip(shared["ring"].astype("int64").tolist(), shared["family"].astype(str).tolist()))
    top = shared.sort_values(["ring", "family", "members", "entity"], ascending=[True, True, False, True])
    top = top.groupby(["ring", "family"], sort=False).head(TOP_ENTITIES)
    signals: dict[int, dict[str, dict[str, Any]]] = {}
    for e in rows(top):
        family = str(e.family)
        entry = signals.setdefault(int(e.ring), {}).setdefault(family, {
            "shared_entities": counts[(int(e.ring), family)],
            "weight": round(float(weights.loc[e.ring, family]), 4)
            if e.ring in weights.index and family in weights else 0.0,
            "top": []})
        entry["top"].append({"entity": name(family, e.entity), "members": int(e.members), "accounts": int(e.accounts),
                             "hub": bool(e.pair_weight == 0 and e.accounts > 1)})
    out: dict[int, RingEvidence] = {}
    links_by_ring = {k: g for k, g in top_links.groupby("ring")}
    ents_by_pair = {k: g for k, g in link_entities.groupby(["a", "b"])}
    for row, a in zip(rows(order), rows(attribution.rings)):
        r = row.ring
        sig = signals.get(int(r), {})
        paths: list[dict[str, Any]] = []
        for lk in rows(links_by_ring.get(r, top_links.iloc[0:0])):
            ents = ents_by_pair.get((lk.a, lk.b))
            # The rarest shared entity of each family: one reason per family reads better than ten n-grams.
            rarest = shared.iloc[0:0] if ents is None else ents.groupby("family", sort=True).head(1).sort_values(["accounts", "family"])
            via = [f"{families.label(e.family)} {name(e.family, e.entity)} ({e.accounts} accounts)"
                   for e in rows(rarest)]
            paths.append({"kind": "link", "weight": round(float(lk.weight), 3), "signals": lk.signals,
                          "path": f"{lk.a_id} —[{'; '.join(via)}]— {lk.b_id}"})
        paths.extend(_attribution_paths(r, a, row.ring_id, attribution, order, name))
        first, last = (span.loc[r, "first"], span.loc[r, "last"]) if r in span.index else (None, None)
        out[r] = {"signals": sig, "paths": paths, "first_seen": _fmt_ts(first), "last_seen": _fmt_ts(last)}
    return out


def _attribution_paths(r: int, a: Any, ring_id: str, attribution: Attribution, order: pd.DataFrame,
                       name: Callable[[str, str], str]) -> list[dict[str, Any]]:
    """Indicator paths that support the ring's operator, direct or through a tied ring."""
    if a.operator is None:
        return []
    direct, ties = attribution.direct, attribution.ties
    ids = order.set_index("ring")["ring_id"]
    mine = direct[(direct.ring == r) & (direct.operator == a.operator)]
    paths: list[dict[str, Any]] = []
    for ind in (mine.iloc[0].indicators[:3] if len(mine) else []):
        paths.append({"kind": "indicator", "operator": a.operator, "specificity": round(float(ind["specificity"]), 3),
                      "path": f"Indicator {ind['kind']} {ind['value']} (known for {a.operator}) → "
                              f"{ind['touched']} member{'s' if ind['touched'] != 1 else ''} of {ring_id}"})
    if paths:
        return paths
    # No indicator of its own: its operation's tools that it shares with the ring the indicators touch.
    near = ties[ties.r1 == r]
    if len(near):
        holder = int(near.iloc[0].r2)
        shared = near.sort_values(["accounts", "family", "entity"])
        what = "; ".join(f"{families.label(t.family)} {name(t.family, t.entity)}"
                         for t in rows(shared.groupby("family", sort=True).head(1)))
        paths.append({"kind": "operation", "operator": a.operator, "operation": a.operation,
                      "path": f"{ring_id} is part of {a.operation}: it shares {len(shared)} of the operation's "
                              f"tools ({what}) with {ids[holder]}, which carries indicators of {a.operator}"})
    else:
        paths.append({"kind": "operation", "operator": a.operator, "operation": a.operation,
                      "path": f"{ring_id} is part of {a.operation}, whose rings carry indicators of {a.operator}"})
    return paths
