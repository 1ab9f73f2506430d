"""What integration tests read back from Neo4j to compare whole graphs: counts per label and type, and totals."""

from __future__ import annotations

from linkage.store.connection import run_query


def census(driver, settings) -> dict:
    """Node count per label, relationship count per type, and every additive total."""
    nodes = {r["l"]: r["c"] for r in run_query(
        driver, settings, "census nodes", "MATCH (n) RETURN labels(n)[0] AS l, count(*) AS c")}
    rels = {r["t"]: r["c"] for r in run_query(
        driver, settings, "census rels", "MATCH ()-[r]->() RETURN type(r) AS t, count(*) AS c")}
    totals = run_query(driver, settings, "census totals", """
        MATCH (a:Account) WITH sum(a.requests) AS requests, sum(size(coalesce(a.windows, []))) AS windows
        OPTIONAL MATCH ()-[r:USED_IP]->() WITH requests, windows, sum(r.requests) AS ip_requests
        OPTIONAL MATCH ()-[p:PAID_WITH]->() RETURN requests, windows, ip_requests, sum(p.payments) AS payments""")[0]
    return {"nodes": nodes, "rels": rels, **dict(totals)}


def links(driver, settings) -> dict[tuple[str, str], float]:
    """Every stored LINKED pair (start, end account id) and its weight."""
    return {(r["a"], r["b"]): r["w"] for r in run_query(
        driver, settings, "links", "MATCH (a:Account)-[l:LINKED]->(b:Account) "
                                   "RETURN a.account_id AS a, b.account_id AS b, l.weight AS w")}
