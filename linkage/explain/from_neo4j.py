"""Explain a pair from the stored graph, with the library's queries (``direct-link``, ``shared-entities``,
``common-neighbours``, ``evidence-paths``).

The graph keeps each family's hub cap on its entity nodes but not the rest of the
run's parameters (family weights, ``combine``, ``min_shared``, the link cut, the org
discount), so the weighing uses this installation's defaults with the stored caps,
says so, and notes any figure where the stored link disagrees.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .. import families
from ..config import Config
from ..errors import InputError
from .model import MAX_INTERMEDIATE, TOP_PATHS, Explanation, RingRef, agreement_notes, weigh
from .shared import check_pair, link_of, path_of, rank_paths, short, sort_shared

if TYPE_CHECKING:
    import neo4j

    from ..queries import Query
    from ..store.connection import Settings


def explain_from_neo4j(driver: neo4j.Driver, settings: Settings, a: str, b: str, *,
                       library: dict[str, Query] | None = None,
                       max_intermediate: int = MAX_INTERMEDIATE, top: int = TOP_PATHS) -> Explanation:
    """Explain the pair from the stored graph, with the library's queries."""
    from .. import queries

    check_pair(a, b)
    library = library or queries.load_library()

    def rows(qid: str, **extra: Any) -> list[neo4j.Record]:
        query = queries.get(library, qid)
        return queries.run(driver, settings, query, queries.bind(query, {"a": a, "b": b, **extra}))

    head = rows("direct-link")[0]
    for acc, found in ((a, head["a_found"]), (b, head["b_found"])):
        if not found:
            raise InputError(f"unknown account {short(acc)} (not in the Neo4j database {settings.database!r})")
    exp = Explanation(a, b, "neo4j", max_intermediate=max_intermediate)
    exp.rings = [RingRef(r["ring_id"], float(r["score"] or 0.0), int(r["size"] or 0), r["operator"],
                         r["operator_cluster"], r["operator_confidence"], sorted(r["members"]),
                         r.get("operation"), sorted(r.get("bystanders") or []),
                         recruits=sorted(r.get("recruits") or []))
                 for r in head["rings"]]
    exp.link = link_of(head["weight"], head["signals"], {f: w for f, w in head["per_family"] or []})
    exp.shared = sort_shared([
        {"family": r["family"], "entity": r["entity"], "text": r["text"],
         "accounts": None if r["accounts"] is None else int(r["accounts"]), "hub": bool(r["hub"]),
         "pair_weight": float(r["pair_weight"] or 0.0), "cap": r["cap"], "in_rings": r["in_rings"]}
        for r in rows("shared-entities")])
    config, differs = graph_config(exp.shared)
    exp.params = ("this installation's defaults with the graph's stored caps"
                  + (" (the caps differ from the defaults: the run had other parameters)" if differs else ""))
    stored = {f.name for f in families.stored()}
    exp.weighing = weigh(exp.shared, config, (head["a_org"], head["b_org"]), stored=stored,
                         link_per_family=(exp.link or {}).get("per_family"))
    exp.notes = agreement_notes(exp.weighing, exp.link, "neo4j")
    missing = [families.label(f) for f in families.weighted(config) if f not in stored]
    if not exp.linked and missing:
        exp.notes.append(f"{' and '.join(m[0].upper() + m[1:] + 's' for m in missing)} are not entities in the "
                         "graph, so they are not counted here (explain --from OUT counts them).")
    if not exp.linked:
        best = rows("common-neighbours", limit="3")
        exp.neighbours = {"common": int(best[0]["common"]) if best else 0,
                          "best": [{"account_id": r["account_id"], "weight_a": r["weight_a"], "weight_b": r["weight_b"]}
                                   for r in best]}
        if not any(s["pair_weight"] > 0 for s in exp.shared):
            exp.paths = _paths(rows("evidence-paths"), max_intermediate, top)
    return exp


def graph_config(shared: list[dict[str, Any]]) -> tuple[Config, bool]:
    """Default parameters with each family's hub cap as the graph stores it; and whether a cap differed."""
    config = Config()
    caps = {s["family"]: int(s["cap"]) for s in shared if s.get("cap") is not None and s["family"] in config.families}
    changed = {f: c for f, c in caps.items() if config.families[f].cap != c}
    if not changed:
        return config, False
    fams = {**config.families, **{f: dataclasses.replace(config.families[f], cap=c) for f, c in changed.items()}}
    return config.replace(families=fams), True


def _paths(records: Iterable[neo4j.Record], max_intermediate: int, top: int) -> list[dict[str, Any]]:
    paths = []
    for r in records:
        if r["hops"] > max_intermediate + 1:
            continue
        p = r["path"]
        steps = [{"family": n.get("family"), "entity": n.get("key"),
                  "text": n.get("name") if n.get("name") != n.get("key") else None,
                  "accounts": int(n.get("accounts") or 0), "pair_weight": float(n.get("pair_weight") or 0.0)}
                 for n in p.nodes if "Account" not in n.labels]
        paths.append(path_of(steps, [n["account_id"] for n in p.nodes if "Account" in n.labels]))
    return rank_paths(paths)[:top]


__all__ = ["explain_from_neo4j", "graph_config"]
