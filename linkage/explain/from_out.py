"""Explain a pair from a detect run's folder: ``rings.json`` (rings, parameters) and ``evidence/*.parquet``.

The run's own recorded parameters weigh the pair (``RunFolder.config``), so the
arithmetic is the run's. Paths are searched with networkx on the neighbourhood of
the two accounts only.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from .. import families
from ..config import Config
from ..errors import InputError
from ..results import Ring
from ..run import RunFolder
from .model import MAX_INTERMEDIATE, TOP_PATHS, Explanation, RingRef, agreement_notes, weigh
from .shared import check_pair, link_of, path_of, rank_paths, short, sort_shared


class _Out:
    """The evidence of a run folder (``linkage.run.RunFolder``) as DuckDB views."""

    def __init__(self, out: Path):
        self.run = RunFolder(out, need=("accounts", "incidence", "entities", "links"))
        self.con = self.run.connect(("accounts", "incidence", "entities", "links", "shingle_texts"))
        self.has_texts = self.run.has("shingle_texts")
        self.has_members = (out / "ring_members.csv").is_file()

    def rows(self, sql: str, params: list[object] | None = None) -> list[dict[str, Any]]:
        cur = self.con.execute(sql, params or [])
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def texts(self, entities: set[str]) -> dict[str, str]:
        if not self.has_texts or not entities:
            return {}
        return {r["entity"]: r["text"] for r in self.rows(
            "SELECT entity, text FROM shingle_texts WHERE entity IN (SELECT unnest(?))", [sorted(entities)])}


def explain_from_out(out: str | Path, a: str, b: str, *, max_intermediate: int = MAX_INTERMEDIATE,
                     top: int = TOP_PATHS) -> Explanation:
    """Explain the pair from the saved evidence of a detect run (paths: at most 2 intermediate accounts)."""
    if not 0 <= max_intermediate <= MAX_INTERMEDIATE:
        raise ValueError(f"max_intermediate must be 0..{MAX_INTERMEDIATE}: the neighbourhood read covers no more")
    check_pair(a, b)
    out = Path(out)
    db = _Out(out)
    found = {r["account_id"]: r for r in db.rows(
        "SELECT account_id, aid, org_id FROM accounts WHERE account_id IN (?, ?)", [a, b])}
    for acc in (a, b):
        if acc not in found:
            raise InputError(f"unknown account {short(acc)} (not in {out / 'evidence' / 'accounts.parquet'})")
    ida, idb = found[a]["aid"], found[b]["aid"]
    config = db.run.config
    exp = Explanation(a, b, "out", params=f"the run's own, from {out / 'rings.json'}", max_intermediate=max_intermediate)
    exp.rings = rings_of(db.run.rings, a, b)
    x, y = sorted((ida, idb))
    links = db.rows("SELECT * FROM links WHERE a = ? AND b = ?", [x, y])
    if links:
        row = links[0]
        exp.link = link_of(row["weight"], row["signals"], {f: row.get(f"w_{f}") for f in families.names()})
    exp.shared = _shared(db, ida, idb, config)
    exp.weighing = weigh(exp.shared, config, (found[a]["org_id"], found[b]["org_id"]))
    exp.notes = agreement_notes(exp.weighing, exp.link, "out")
    if not exp.linked:
        exp.neighbours = _neighbours(db, ida, idb)
        if not any(s["pair_weight"] > 0 for s in exp.shared):
            exp.paths = _paths(db, ida, idb, max_intermediate + 1, top)
    return exp


def rings_of(rings: list[Ring], a: str, b: str) -> list[RingRef]:
    """The flagged rings holding ``a`` or ``b`` as a member or a bystander, best first; pure."""
    out = []
    for ring in rings:
        members, bystanders = set(ring.members), set(ring.bystanders)
        mine = [acc for acc in (a, b) if acc in members]
        near = [acc for acc in (a, b) if acc in bystanders]
        if mine or near:
            out.append(RingRef(ring.ring_id, ring.score, ring.size, ring.operator, ring.operator_cluster,
                               ring.operator_confidence, mine, ring.operation, near, ring.lineage,
                               [acc for acc in mine if acc in set(ring.recruits)]))
    return sorted(out, key=lambda r: (-r.score, r.ring_id))


def _shared(db: _Out, ida: int, idb: int, config: Config) -> list[dict[str, Any]]:
    """Every entity both use, with the family cap, template words, and for hubs how many users are ring members."""
    rows = db.rows(
        """SELECT i.family, i.entity, e.accounts, e.hub, e.pair_weight
           FROM incidence i JOIN incidence j ON j.family = i.family AND j.entity = i.entity
           JOIN entities e ON e.family = i.family AND e.entity = i.entity
           WHERE i.aid = ? AND j.aid = ?""", [ida, idb])
    texts = db.texts({s["entity"] for s in rows if families.get(s["family"]).template})
    hubs = [s for s in rows if s["hub"] and config.families.get(s["family"]) and config.families[s["family"]].weight > 0]
    in_rings = _ring_users(db, hubs)
    caps = {name: p.cap for name, p in config.families.items() if p.weight > 0}  # context families: no cap
    return sort_shared([
        {"family": s["family"], "entity": s["entity"], "text": texts.get(s["entity"]), "accounts": int(s["accounts"]),
         "hub": bool(s["hub"]), "pair_weight": float(s["pair_weight"]), "cap": caps.get(s["family"]),
         "in_rings": in_rings.get((s["family"], s["entity"]))}
        for s in rows])


def _ring_users(db: _Out, hubs: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """For each hub, how many of its accounts are members of a flagged ring (one scan for all of them)."""
    if not hubs or not db.has_members:
        return {}
    got = db.rows(
        """WITH h AS (SELECT unnest(?::VARCHAR[]) AS family, unnest(?::VARCHAR[]) AS entity)
           SELECT i.family, i.entity, count(*) AS n
           FROM incidence i JOIN h USING (family, entity) JOIN accounts a USING (aid)
           WHERE a.account_id IN (SELECT account_id FROM ring_members)
           GROUP BY ALL""", [[h["family"] for h in hubs], [h["entity"] for h in hubs]])
    out = {(h["family"], h["entity"]): 0 for h in hubs}
    out.update({(r["family"], r["entity"]): int(r["n"]) for r in got})
    return out


def _neighbours(db: _Out, ida: int, idb: int, top: int = 3) -> dict[str, Any]:
    """Accounts the evidence graph links to both: how a ring holds two members that are not linked."""
    rows = db.rows(
        """WITH na AS (SELECT CASE WHEN a = ? THEN b ELSE a END AS m, weight FROM links WHERE a = ? OR b = ?),
                nb AS (SELECT CASE WHEN a = ? THEN b ELSE a END AS m, weight FROM links WHERE a = ? OR b = ?)
           SELECT acc.account_id, na.weight AS weight_a, nb.weight AS weight_b
           FROM na JOIN nb USING (m) JOIN accounts acc ON acc.aid = m
           ORDER BY least(na.weight, nb.weight) DESC, acc.account_id""", [ida, ida, ida, idb, idb, idb])
    return {"common": len(rows), "best": [{k: r[k] for k in ("account_id", "weight_a", "weight_b")}
                                          for r in rows[:top]]}


def _paths(db: _Out, src: int, dst: int, max_hops: int, top: int) -> list[dict[str, Any]]:
    """Shortest paths src → dst over weighted entities, ≤ ``max_hops`` account-to-account steps.

    Only the neighbourhood that can hold such a path is read: the accounts sharing a
    weighted entity with either end (a path with two intermediates runs
    ``src – X1 – X2 – dst`` with X1 next to src and X2 next to dst).
    """
    import networkx as nx

    fams = [f.name for f in families.stored()]
    weighted = """SELECT i.aid, i.family, i.entity, e.accounts, e.pair_weight FROM incidence i
                   JOIN entities e ON e.family = i.family AND e.entity = i.entity
                   WHERE e.pair_weight > 0 AND i.family IN (SELECT unnest(?::VARCHAR[]))"""
    rows = db.rows(
        f"""WITH w AS ({weighted}),
                near AS (SELECT DISTINCT y.aid FROM w x JOIN w y ON y.family = x.family AND y.entity = x.entity
                         WHERE x.aid IN (?, ?))
            SELECT * FROM w WHERE aid IN (SELECT aid FROM near) OR aid IN (?, ?)
            ORDER BY aid, family, entity""", [fams, src, dst, src, dst])
    g = nx.Graph()
    info: dict[tuple[str, ...], dict[str, Any]] = {}
    for r in rows:
        ent = ("e", r["family"], r["entity"])
        info[ent] = {"family": r["family"], "entity": r["entity"], "accounts": int(r["accounts"]),
                     "pair_weight": float(r["pair_weight"])}
        g.add_edge(("a", r["aid"]), ent)
    s, t = ("a", src), ("a", dst)
    if s not in g or t not in g:
        return []
    da = nx.single_source_shortest_path_length(g, s, cutoff=2 * max_hops)
    if t not in da:
        return []
    h = da[t]
    db_ = nx.single_source_shortest_path_length(g, t, cutoff=h)
    on_path = {n for n, d in da.items() if n in db_ and d + db_[n] == h}
    dag = nx.DiGraph()
    for u in sorted(on_path):
        for v in sorted(g[u]):
            if v in on_path and da[v] == da[u] + 1:
                dag.add_edge(u, v, cost=info[v]["accounts"] - 1 if v[0] == "e" else 0)
    found = list(itertools.islice(nx.shortest_simple_paths(dag, s, t, weight="cost"), top * 5))
    aids = sorted({n[1] for p in found for n in p if n[0] == "a"})
    names = {r["aid"]: r["account_id"] for r in db.rows(
        "SELECT aid, account_id FROM accounts WHERE aid IN (SELECT unnest(?::INTEGER[]))", [aids])}
    texts = db.texts({n[2] for p in found for n in p if n[0] == "e" and families.get(n[1]).template})
    paths = []
    for p in found:
        steps = [{**info[n], "text": texts.get(n[2])} for n in p if n[0] == "e"]
        paths.append(path_of(steps, [names[n[1]] for n in p if n[0] == "a"]))
    return rank_paths(paths)[:top]


__all__ = ["explain_from_out", "rings_of"]
