"""Load a detect run (its OUT folder) into Neo4j: the evidence graph, intel, and the rings.

Writes are ``UNWIND $rows`` batches in managed write transactions, ``MERGE``
on node keys, so running the same load twice changes nothing and a load killed
midway is repaired by running it again. Additive figures (requests, payments,
activity windows) are sent in fixed, ordered chunks; each chunk is recorded on
the batch's ``LoadBatch`` node in the same transaction as its writes, and a
chunk already recorded is skipped, so no figure is ever counted twice.
Times travel as epoch seconds (cheap to pack) and become datetimes in Cypher.
Entity rarity (``accounts``, ``hub``, ``pair_weight``) is recomputed from the
stored graph after every load, so it stays right as batches accumulate.

Row building is pure SQL over the run's Parquet evidence; the Cypher text is
fixed, with labels and types taken from ``model``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .. import families
from ..config import Config
from ..results import Ring
from ..run import RunFolder
from . import rows, schema
from .connection import Settings, run_query, run_transaction
from .model import ENTITY, indicator_targets, label, rel_type
from .rows import BATCH_ROWS, batches

log = logging.getLogger(__name__)


@dataclass
class LoadStats:
    """Rows sent per step and the time taken; ``relationships_per_s`` is the headline figure."""

    steps: dict[str, dict] = field(default_factory=dict)

    def add(self, step: str, nodes: int, rels: int, seconds: float) -> None:
        self.steps[step] = {"nodes": nodes, "relationships": rels, "seconds": round(seconds, 3)}

    @property
    def relationships(self) -> int:
        return sum(s["relationships"] for s in self.steps.values())

    @property
    def nodes(self) -> int:
        return sum(s["nodes"] for s in self.steps.values())

    @property
    def seconds(self) -> float:
        return round(sum(s["seconds"] for s in self.steps.values()), 3)

    def as_dict(self) -> dict:
        rate = self.relationships / self.seconds if self.seconds else 0.0
        return {"nodes": self.nodes, "relationships": self.relationships, "seconds": self.seconds,
                "relationships_per_s": round(rate), "steps": self.steps}


# --- Cypher: fixed text, values only as parameters ---------------------------------------

def _dt(expr: str) -> str:
    return f"CASE WHEN {expr} IS NULL THEN NULL ELSE datetime({{epochSeconds: {expr}}}) END"


ACCOUNTS = f"""
UNWIND $rows AS row
WITH row, {_dt('row.first_seen')} AS f, {_dt('row.last_seen')} AS l
MERGE (a:Account {{account_id: row.account_id}})
SET a.created_at = {_dt('row.created_at')}, a.email_domain = row.email_domain, a.org_id = row.org_id,
    a.country = row.country,
    a.requests = coalesce(a.requests, 0) + row.requests,
    a.hosting_requests = coalesce(a.hosting_requests, 0) + row.hosting_requests,
    a.first_seen = CASE WHEN a.first_seen IS NULL OR f < a.first_seen THEN f ELSE a.first_seen END,
    a.last_seen = CASE WHEN a.last_seen IS NULL OR l > a.last_seen THEN l ELSE a.last_seen END,
    a.windows = CASE WHEN row.windows IS NULL THEN a.windows ELSE coalesce(a.windows, []) + row.windows END,
    a.window_requests = CASE WHEN row.windows IS NULL THEN a.window_requests
                             ELSE coalesce(a.window_requests, []) + row.window_requests END
"""


def entity_nodes(family: str) -> str:
    """Entity nodes of a family, with the common ``Entity`` label and properties (see ``model``)."""
    fam = families.get(family)
    assert fam.node is not None
    lbl = label(fam.node.label)
    details = "".join(f", e.{p} = coalesce(row.{p}, e.{p})" for p in fam.node.details)
    return (f"UNWIND $rows AS row MERGE (e:{lbl} {{{fam.node.key}: row.key}}) "
            f"SET e:{ENTITY}, e.family = $family, e.key = row.key, e.name = row.name {details}")


def account_entity_rels(family: str) -> str:
    """Account→entity relationships; additive, so sent in recorded chunks (see ``_send``)."""
    fam = families.get(family)
    assert fam.node is not None
    lbl, rtype, key = label(fam.node.label), rel_type(fam.node.rel_type), fam.node.key
    counter = fam.node.counter
    on_create = f"r.{counter} = row.n, " if counter else ""
    on_match = f"r.{counter} = r.{counter} + row.n, " if counter else ""
    return f"""
UNWIND $rows AS row
MATCH (a:Account {{account_id: row.account_id}})
MATCH (e:{lbl} {{{key}: row.key}})
WITH a, e, row, {_dt('row.first')} AS f, {_dt('row.last')} AS l
MERGE (a)-[r:{rtype}]->(e)
ON CREATE SET {on_create}r.first = f, r.last = l
ON MATCH SET {on_match}r.first = CASE WHEN f < r.first THEN f ELSE r.first END,
    r.last = CASE WHEN l > r.last THEN l ELSE r.last END
"""


IP_ASN = """
UNWIND $rows AS row
MATCH (ip:IP {address: row.ip})
MERGE (s:ASN {number: row.asn})
SET s.hosting = row.asn IN $hosting
MERGE (ip)-[:IN_ASN]->(s)
"""


def refresh_entities(family: str) -> str:
    """Rarity from the stored graph: how many accounts use each entity, hub flag, pair weight, the cap."""
    fam = families.get(family)
    assert fam.node is not None
    lbl, rtype, key = label(fam.node.label), rel_type(fam.node.rel_type), fam.node.key
    return f"""
UNWIND $keys AS k
MATCH (e:{lbl} {{{key}: k}})
WITH e, COUNT {{ (e)<-[:{rtype}]-(:Account) }} AS n
SET e.accounts = n, e.hub = n > $cap, e.cap = $cap,
    e.pair_weight = CASE WHEN n >= 2 AND n <= $cap THEN $weight / ((n - 1.0) ^ $decay) ELSE 0.0 END
"""


# LINKED is the latest analysis, not an accumulation: cleared once per load, then created in
# recorded chunks (MERGE would scan the ~hundreds of links of every ring member per row).
def links_cypher(config: Config) -> str:
    """``LINKED`` relationships with the weight of each family the run weighs."""
    weights = "".join(f", l.w_{f} = row.w_{f}" for f in families.weighted(config))
    return f"""
UNWIND $rows AS row
MATCH (a:Account {{account_id: row.a}})
MATCH (b:Account {{account_id: row.b}})
CREATE (a)-[l:LINKED]->(b)
SET l.weight = row.weight, l.signals = row.signals {weights}
"""


INDICATORS = """
UNWIND $rows AS row
MERGE (i:Indicator {indicator_id: row.indicator_id})
SET i.operator = row.operator, i.kind = row.kind, i.value = row.value, i.note = row.note
MERGE (o:Operator {name: row.operator})
SET o.known = true
MERGE (i)-[:KNOWN_FOR]->(o)
"""


def indicator_target_cypher(kind: str) -> str:
    lbl, key = indicator_targets()[kind]
    lbl = label(lbl)
    return f"""
UNWIND $rows AS row
MATCH (i:Indicator {{indicator_id: row.indicator_id}})
MATCH (t:{lbl} {{{key}: row.target}})
MERGE (i)-[:POINTS_TO]->(t)
SET i.matched = true
"""


CLEAR_RINGS = [
    ("clear ring membership", "MATCH (a:Account) WHERE a.ring_id IS NOT NULL "
                              "WITH a LIMIT 50000 REMOVE a.ring_id, a.ring_score RETURN count(a) AS n"),
    ("clear rings", "MATCH (r:Ring) WITH r LIMIT 5000 DETACH DELETE r RETURN count(r) AS n"),
    ("clear unattributed operators", "MATCH (o:Operator) WHERE NOT coalesce(o.known, false) "
                                     "WITH o LIMIT 5000 DETACH DELETE o RETURN count(o) AS n"),
]

CLEAR_LINKS = ("clear links", "MATCH ()-[l:LINKED]->() WITH l LIMIT 50000 DELETE l RETURN count(l) AS n")

RINGS = """
UNWIND $rows AS row
MERGE (r:Ring {ring_id: row.ring_id})
SET r += row.props
MERGE (o:Operator {name: row.operator_node})
ON CREATE SET o.known = row.known
MERGE (r)-[t:ATTRIBUTED_TO]->(o)
SET t.confidence = row.confidence
"""

MEMBERS = """
UNWIND $rows AS row
MATCH (a:Account {account_id: row.account_id})
MATCH (r:Ring {ring_id: row.ring_id})
MERGE (a)-[:MEMBER_OF]->(r)
SET a.ring_id = row.ring_id, a.ring_score = row.score
"""

OPERATOR_TOTALS = """
MATCH (o:Operator)
OPTIONAL MATCH (o)<-[:ATTRIBUTED_TO]-(r:Ring)
WITH o, count(r) AS rings, sum(r.size) AS accounts
SET o.rings = rings, o.accounts = coalesce(accounts, 0)
"""


# --- the load --------------------------------------------------------------------------


CHUNK_DONE = "MATCH (b:LoadBatch {batch_id: $batch}) RETURN $chunk IN b.chunks AS done"
CHUNK_ROWS = """
MERGE (b:LoadBatch {batch_id: $batch})
ON CREATE SET b.chunks = [], b.started = datetime(), b.chunk_rows = $rows
RETURN coalesce(b.chunk_rows, $rows) AS rows
"""


def chunk_rows(driver, settings: Settings, batch: str) -> int:
    """The chunk size of ``batch``: fixed when the batch is first seen, so a re-run cuts the same chunks."""
    return int(run_query(driver, settings, "chunk size", CHUNK_ROWS, {"batch": batch, "rows": BATCH_ROWS},
                         write=True)[0]["rows"])
CHUNK_MARK = """
MERGE (b:LoadBatch {batch_id: $batch})
ON CREATE SET b.chunks = [], b.started = datetime()
SET b.chunks = b.chunks + $chunk
"""


def _send(driver, settings, stats: LoadStats, step: str, cypher: str, chunks, *, params=None,
          rels_per_row: int = 1, nodes_per_row: int = 0, progress=None, additive: str | None = None) -> None:
    """Send ``chunks`` of rows through ``cypher``.

    With ``additive`` (the batch id), each chunk is skipped if the batch's
    ``LoadBatch`` node already records it, and recorded in the same
    transaction as its writes otherwise.
    """
    t0 = time.perf_counter()
    rows_sent = 0
    for k, part in enumerate(chunks):
        if additive is None:
            run_query(driver, settings, step, cypher, {"rows": part, **(params or {})}, write=True)
        else:
            chunk = rows.chunk_name(step, k)

            def work(tx, part=part, chunk=chunk):
                done = tx.run(CHUNK_DONE, batch=additive, chunk=chunk).single()
                if done is not None and done["done"]:
                    return False
                tx.run(cypher, {"rows": part, **(params or {})}).consume()
                tx.run(CHUNK_MARK, batch=additive, chunk=chunk).consume()
                return True

            run_transaction(driver, settings, step, work, write=True)
        rows_sent += len(part)
        if progress:
            progress(step, rows_sent)
    stats.add(step, rows_sent * nodes_per_row, rows_sent * rels_per_row, time.perf_counter() - t0)


def _repeat(driver, settings, name: str, cypher: str) -> None:
    """Run a bounded delete until it deletes nothing: big clean-ups in small transactions."""
    while run_query(driver, settings, name, cypher, write=True)[0]["n"]:
        pass


def load_run(driver, settings: Settings, out: str | Path, config: Config | None = None, *,
             progress: Callable[[str, int], None] | None = None) -> LoadStats:
    """Load the evidence graph, intel and rings of the detect run in ``out``; return what was sent.

    Entity rarity uses the run's own recorded parameters (``config`` overrides them).
    """
    run = RunFolder(Path(out), need=("accounts", "incidence", "entities", "links", "ip_asn", "intel", "windows",
                                     "shingle_texts", "instruments"))
    config = config or run.config
    con, batch = run.connect(), run.batch_id
    try:
        return _load(driver, settings, run, con, batch, config, progress)
    finally:
        con.close()


def _load(driver, settings: Settings, run: RunFolder, con, batch: str, config: Config,
          progress: Callable[[str, int], None] | None) -> LoadStats:
    stats = LoadStats()
    t0 = time.perf_counter()
    schema.apply(driver, settings)
    stats.add("schema", 0, 0, time.perf_counter() - t0)
    size = chunk_rows(driver, settings, batch)
    _send(driver, settings, stats, "accounts", ACCOUNTS, batches(con, rows.ACCOUNTS_SQL, size=size),
          rels_per_row=0, nodes_per_row=1, progress=progress, additive=batch)

    for fam in families.stored(config):
        assert fam.node is not None
        lbl, rtype = fam.node.label, fam.node.rel_type
        _send(driver, settings, stats, f"{lbl} nodes", entity_nodes(fam.name),
              batches(con, rows.entity_sql(fam, config)), params={"family": fam.name},
              rels_per_row=0, nodes_per_row=1, progress=progress)
        _send(driver, settings, stats, f"{rtype} relationships", account_entity_rels(fam.name),
              batches(con, rows.incidence_sql(fam), size=size), progress=progress, additive=batch)

    hosting = sorted(int(a) for a in config.hosting_asns)
    _send(driver, settings, stats, "IN_ASN relationships", IP_ASN, batches(con, rows.IP_ASN_SQL),
          params={"hosting": hosting}, nodes_per_row=0, progress=progress)

    t0 = time.perf_counter()
    for fam in families.stored(config):
        p = config.family(fam.name)
        for chunk in batches(con, "SELECT entity FROM entities WHERE family = ? ORDER BY entity", [fam.name]):
            run_query(driver, settings, f"{fam.name} rarity", refresh_entities(fam.name),
                      {"keys": [r["entity"] for r in chunk], "cap": p.cap, "weight": p.weight, "decay": p.decay},
                      write=True)
    stats.add("entity rarity", 0, 0, time.perf_counter() - t0)

    _send(driver, settings, stats, "indicators", INDICATORS, batches(con, rows.INDICATORS_SQL),
          rels_per_row=1, nodes_per_row=1, progress=progress)
    for kind in indicator_targets():
        if kind != "account" and kind not in {f.intel_kind for f in families.in_run(config)}:
            continue
        _send(driver, settings, stats, f"indicator {kind} targets", indicator_target_cypher(kind),
              batches(con, rows.indicator_target_sql(kind, config)), progress=progress)

    replace_links(driver, settings, stats, batch, batches(con, rows.link_sql(config), size=size), config,
                  progress=progress)
    members = con.execute("SELECT ring_id, account_id FROM ring_members").df().to_dict("records") \
        if "ring_members" in _views(con) else []
    write_rings(driver, settings, run.rings, members, stats, progress=progress)
    run_query(driver, settings, "batch complete", LOAD_DONE, {"batch": batch, "source": str(run.path)}, write=True)
    return stats


def _views(con) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}


LOAD_DONE = """
MERGE (b:LoadBatch {batch_id: $batch})
ON CREATE SET b.chunks = [], b.started = datetime()
SET b.completed = datetime(), b.source = $source
"""


def replace_links(driver, settings: Settings, stats: LoadStats, run_id: str, link_batches, config: Config, *,
                  progress=None) -> None:
    """Replace every LINKED relationship with those of run ``run_id``; safe to repeat after a crash."""
    t0 = time.perf_counter()

    def clear(tx):
        done = tx.run(CHUNK_DONE, batch=run_id, chunk="LINKED clear").single()
        if done is not None and done["done"]:
            return False
        tx.run(CHUNK_MARK, batch=run_id, chunk="LINKED clearing").consume()
        return True

    if run_transaction(driver, settings, "links clear check", clear, write=True):
        _repeat(driver, settings, *CLEAR_LINKS)
        run_query(driver, settings, "links cleared", CHUNK_MARK, {"batch": run_id, "chunk": "LINKED clear"},
                  write=True)
    stats.add("clear links", 0, 0, time.perf_counter() - t0)
    _send(driver, settings, stats, "LINKED relationships", links_cypher(config), link_batches, progress=progress,
          additive=run_id)


def write_rings(driver, settings: Settings, rings: list[Ring], members: list[dict], stats: LoadStats,
                *, progress=None) -> None:
    """Replace the stored ring assignment with ``rings``: no stale membership survives.

    Old rings, their membership and unattributed operator clusters are deleted
    in bounded transactions first; a run killed in between is repaired by the
    next one, which deletes and writes again.
    """
    t0 = time.perf_counter()
    for name, cypher in CLEAR_RINGS:
        _repeat(driver, settings, name, cypher)
    stats.add("clear rings", 0, 0, time.perf_counter() - t0)
    ring_rows = rows.ring_rows(rings)
    _send(driver, settings, stats, "rings", RINGS, (ring_rows[i:i + 1000] for i in range(0, len(ring_rows), 1000)),
          nodes_per_row=1, progress=progress)
    score = {r.ring_id: r.score for r in rings}
    members = [{**m, "score": score.get(m["ring_id"])} for m in members]
    _send(driver, settings, stats, "MEMBER_OF relationships", MEMBERS,
          (members[i:i + BATCH_ROWS] for i in range(0, len(members), BATCH_ROWS)), progress=progress)
    run_query(driver, settings, "operator totals", OPERATOR_TOTALS, write=True)
