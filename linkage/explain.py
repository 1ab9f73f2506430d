"""``linkage explain A B``: the evidence that links two accounts, from a run's folder or from Neo4j.

Three parts, each something an investigator can check by hand:

1. the direct link of the evidence graph, if any: its weight and each signal family's share;
2. every entity both accounts use, with its rarity (how many accounts share it), whether it is
   a hub (shared past its family's cap, so it carries no weight) and what it adds to the pair;
3. when the two are not directly linked, the shortest evidence paths between them through
   shared weighted entities and at most two intermediate accounts, the rarest first.

``--from OUT`` reads ``OUT/evidence/*.parquet`` (DuckDB) and searches paths with networkx
on the neighbourhood of the two accounts; ``--neo4j`` runs the query library's
``direct-link``, ``shared-entities`` and ``evidence-paths``. Both give the same
:class:`Explanation`; :func:`format_explanation` and :meth:`Explanation.to_dict` render it.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import families
from .errors import InputError
from .run import RunFolder
from .store.model import nodes

MAX_INTERMEDIATE = 2
TOP_PATHS = 5


@dataclass
class Explanation:
    a: str
    b: str
    source: str  # "out" or "neo4j"
    link: dict | None = None  # {"weight", "signals": [...], "per_family": {family: weight}}
    shared: list[dict] = field(default_factory=list)  # {"family", "entity", "text", "accounts", "hub", "pair_weight"}
    paths: list[dict] = field(default_factory=list)  # {"hops", "cost", "weakest", "accounts", "steps": [entity…]}
    max_intermediate: int = MAX_INTERMEDIATE

    @property
    def linked(self) -> bool:
        return self.link is not None

    @property
    def connected(self) -> bool:
        return self.linked or bool(self.paths) or any(s["pair_weight"] > 0 for s in self.shared)

    def to_dict(self) -> dict:
        return {**asdict(self), "linked": self.linked, "connected": self.connected}


def _short(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _check_pair(a: str, b: str) -> None:
    if a == b:
        raise InputError(f"A and B are the same account ({_short(a)})")


def _shared_sort(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda s: (-s["pair_weight"], s["accounts"] or 0, s["family"], s["entity"]))


def _link(weight, signals, per_family: dict[str, Any]) -> dict | None:
    if weight is None:
        return None
    if isinstance(signals, str):
        signals = [s for s in signals.split(",") if s]
    return {"weight": float(weight), "signals": list(signals or []),
            "per_family": {f: float(w) for f, w in per_family.items() if w}}


# --- from a run's OUT folder ---------------------------------------------------------------------


class _Out:
    """The evidence of a run folder (``linkage.run.RunFolder``) as DuckDB views."""

    def __init__(self, out: Path):
        self.run = RunFolder(out, need=("accounts", "incidence", "entities", "links"))
        self.con = self.run.connect(("accounts", "incidence", "entities", "links", "shingle_texts"))
        self.has_texts = self.run.has("shingle_texts")

    def rows(self, sql: str, params: list | None = None) -> list[dict]:
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
    _check_pair(a, b)
    out = Path(out)
    db = _Out(out)
    ids = {r["account_id"]: r["aid"] for r in db.rows(
        "SELECT account_id, aid FROM accounts WHERE account_id IN (?, ?)", [a, b])}
    for acc in (a, b):
        if acc not in ids:
            raise InputError(f"unknown account {_short(acc)} (not in {out / 'evidence' / 'accounts.parquet'})")
    x, y = sorted((ids[a], ids[b]))
    exp = Explanation(a, b, "out", max_intermediate=max_intermediate)
    links = db.rows("SELECT * FROM links WHERE a = ? AND b = ?", [x, y])
    if links:
        row = links[0]
        exp.link = _link(row["weight"], row["signals"], {f: row.get(f"w_{f}") for f in families.names()})
    shared = db.rows(
        """SELECT i.family, i.entity, e.accounts, e.hub, e.pair_weight
           FROM incidence i JOIN incidence j ON j.family = i.family AND j.entity = i.entity
           JOIN entities e ON e.family = i.family AND e.entity = i.entity
           WHERE i.aid = ? AND j.aid = ?""", [ids[a], ids[b]])
    texts = db.texts({s["entity"] for s in shared if families.get(s["family"]).template})
    exp.shared = _shared_sort([
        {"family": s["family"], "entity": s["entity"], "text": texts.get(s["entity"]),
         "accounts": int(s["accounts"]), "hub": bool(s["hub"]), "pair_weight": float(s["pair_weight"])}
        for s in shared])
    if not exp.linked:
        exp.paths = _paths_out(db, ids[a], ids[b], max_intermediate + 1, top)
    return exp


def _paths_out(db: _Out, src: int, dst: int, max_hops: int, top: int) -> list[dict]:
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
    info: dict[tuple, dict] = {}
    for r in rows:
        ent = ("e", r["family"], r["entity"])
        info[ent] = {"family": r["family"], "entity": r["entity"], "accounts": int(r["accounts"]),
                     "pair_weight": float(r["pair_weight"])}
        g.add_edge(("a", r["aid"]), ent)
    s, t = ("a", src), ("a", dst)
    if s not in g or t not in g:
        return []
    cutoff = 2 * max_hops
    da = nx.single_source_shortest_path_length(g, s, cutoff=cutoff)
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
        paths.append(_path(steps, [names[n[1]] for n in p if n[0] == "a"]))
    return _rank(paths)[:top]


def _path(steps: list[dict], accounts: list[str]) -> dict:
    return {"hops": len(steps), "cost": sum(e["accounts"] - 1 for e in steps),
            "weakest": min(e["pair_weight"] for e in steps), "accounts": accounts, "steps": steps}


def _rank(paths: list[dict]) -> list[dict]:
    """Fewest hops, then rarest (lowest cost), then strongest weakest step; ties by ids."""
    return sorted(paths, key=lambda p: (p["hops"], p["cost"], -p["weakest"], p["accounts"],
                                        [(e["family"], e["entity"]) for e in p["steps"]]))


# --- from Neo4j ------------------------------------------------------------------------------------


def _family(labels) -> str:
    known = nodes()
    for lbl in labels:
        if lbl in known and known[lbl].family:
            return str(known[lbl].family)
    return "asn" if "ASN" in labels else "?"


def explain_from_neo4j(driver, settings, a: str, b: str, *, library: dict | None = None,
                       max_intermediate: int = MAX_INTERMEDIATE, top: int = TOP_PATHS) -> Explanation:
    """Explain the pair from the stored graph, with the library's queries."""
    from . import queries

    _check_pair(a, b)
    library = library or queries.load_library()
    pair = {"a": a, "b": b}

    def rows(qid: str):
        query = queries.get(library, qid)
        return queries.run(driver, settings, query, queries.bind(query, pair))

    link = rows("direct-link")[0]
    for acc, found in ((a, link["a_found"]), (b, link["b_found"])):
        if not found:
            raise InputError(f"unknown account {_short(acc)} (not in the Neo4j database {settings.database!r})")
    exp = Explanation(a, b, "neo4j", max_intermediate=max_intermediate)
    exp.link = _link(link["weight"], link["signals"], {f: w for f, w in link["per_family"] or []})
    exp.shared = _shared_sort([
        {"family": r["family"], "entity": r["entity"], "text": r["text"],
         "accounts": None if r["accounts"] is None else int(r["accounts"]), "hub": bool(r["hub"]),
         "pair_weight": float(r["pair_weight"] or 0.0)}
        for r in rows("shared-entities")])
    if not exp.linked:
        paths = []
        for r in rows("evidence-paths"):
            if r["hops"] > max_intermediate + 1:
                continue
            p = r["path"]
            steps = [{"family": n.get("family") or _family(n.labels), "entity": n.get("key"),
                      "text": n.get("name") if n.get("name") != n.get("key") else None, "accounts": int(n.get("accounts") or 0),
                      "pair_weight": float(n.get("pair_weight") or 0.0)}
                     for n in p.nodes if "Account" not in n.labels]
            paths.append(_path(steps, [n["account_id"] for n in p.nodes if "Account" in n.labels]))
        exp.paths = _rank(paths)[:top]
    return exp


# --- text --------------------------------------------------------------------------------------------


def _entity(e: dict) -> str:
    kind = families.label(e["family"])
    name = f"{e['entity']} \"{e['text']}\"" if e.get("text") else str(e["entity"])
    return f"{kind} {name}"


def _num(x: float) -> str:
    return f"{x:.4f}".rstrip("0").rstrip(".")


def format_explanation(exp: Explanation, *, per_family: int = 10) -> str:
    """The explanation as readable text, at most ``per_family`` shared entities of each family; pure."""
    a, b = exp.a, exp.b
    lines = []
    if exp.linked:
        link = exp.link
        lines.append(f"{a} and {b} are directly linked: weight {_num(link['weight'])} "
                     f"({', '.join(link['signals']) or 'no family'})")
        if link["per_family"]:
            lines.append("  by family: " + ", ".join(f"{f} {_num(w)}" for f, w in link["per_family"].items()))
    elif not exp.connected:
        lines.append(f"{a} and {b} are not linked.")
        lines.append(f"  No direct link, no shared weighted entity, and no evidence path through at most "
                     f"{exp.max_intermediate} intermediate accounts.")
    elif any(s["pair_weight"] > 0 for s in exp.shared):
        lines.append(f"{a} and {b} are not directly linked: what they share falls short of a link "
                     f"(a family's minimum of shared entities, or the least link weight).")
    else:
        lines.append(f"{a} and {b} are not directly linked.")
    if exp.shared:
        weighted = sum(1 for s in exp.shared if s["pair_weight"] > 0)
        lines.append("")
        lines.append(f"Shared entities: {len(exp.shared)} ({weighted} carry weight; hubs and context carry none)")
        shown: dict[str, int] = {}
        for s in exp.shared:
            shown[s["family"]] = shown.get(s["family"], 0) + 1
            if shown[s["family"]] > per_family:
                continue
            rarity = f"{s['accounts']} accounts" if s["accounts"] is not None else "accounts unknown"
            weight = f"adds {_num(s['pair_weight'])}" if s["pair_weight"] > 0 else (
                "hub: no weight" if s["hub"] else "no weight")
            lines.append(f"  {_entity(s)}  ({rarity}; {weight})")
        for family, n in shown.items():
            if n > per_family:
                lines.append(f"  … and {n - per_family} more {families.label(family)} entities (--json lists all)")
    elif exp.linked:
        lines.append("")
        lines.append("Shared entities: none stored (the link comes from sign-up timing or other context).")
    if not exp.linked and exp.paths:
        h = exp.paths[0]["hops"]
        lines.append("")
        lines.append(f"Shortest evidence paths ({h} hop{'s' if h != 1 else ''}, via {h - 1} intermediate "
                     f"account{'s' if h - 1 != 1 else ''}), rarest first:")
        for i, p in enumerate(exp.paths, 1):
            chain = p["accounts"][0]
            for step, acc in zip(p["steps"], p["accounts"][1:]):
                chain += f" —[{_entity(step)} ({step['accounts']} accounts)]— {acc}"
            lines.append(f"  {i}. {chain}")
    elif not exp.linked and exp.connected:
        lines.append("")
        lines.append("No evidence path of weighted entities within "
                     f"{exp.max_intermediate} intermediate accounts.")
    return "\n".join(lines)
