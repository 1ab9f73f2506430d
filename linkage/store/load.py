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

import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ..config import Config
from ..errors import InputError
from ..signals.prompt import shingles_expr, words_expr
from . import schema
from .connection import Settings, run_query, run_transaction
from .model import FAMILY_ENTITY, INDICATOR_TARGET, NODES, label, rel_type

log = logging.getLogger(__name__)
#: Rows per transaction; a batch keeps the size it was first loaded with (recorded on its LoadBatch).
BATCH_ROWS = int(os.environ.get("LINKAGE_LOAD_BATCH_ROWS", "25000"))


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


def entity_nodes(lbl: str) -> str:
    node = NODES[label(lbl)]
    extra = {
        "PaymentInstrument": " SET e.instrument_type = coalesce(row.instrument_type, e.instrument_type),"
                             " e.bin = coalesce(row.bin, e.bin)",
        "PromptTemplate": " SET e.text = coalesce(row.text, e.text)",
    }.get(lbl, "")
    return f"UNWIND $rows AS row MERGE (e:{lbl} {{{node.key}: row.key}}){extra}"


def account_entity_rels(lbl: str, rtype: str) -> str:
    """Account→entity relationships; additive, so sent in recorded chunks (see ``_send``)."""
    node = NODES[label(lbl)]
    rtype = rel_type(rtype)
    counter = {"PAID_WITH": "payments", "REUSED": "count"}.get(rtype, "requests")
    return f"""
UNWIND $rows AS row
MATCH (a:Account {{account_id: row.account_id}})
MATCH (e:{lbl} {{{node.key}: row.key}})
WITH a, e, row, {_dt('row.first')} AS f, {_dt('row.last')} AS l
MERGE (a)-[r:{rtype}]->(e)
ON CREATE SET r.{counter} = row.n, r.first = f, r.last = l
ON MATCH SET r.{counter} = r.{counter} + row.n,
    r.first = CASE WHEN f < r.first THEN f ELSE r.first END,
    r.last = CASE WHEN l > r.last THEN l ELSE r.last END
"""


IP_ASN = """
UNWIND $rows AS row
MATCH (ip:IP {address: row.ip})
MERGE (s:ASN {number: row.asn})
SET s.hosting = row.asn IN $hosting
MERGE (ip)-[:IN_ASN]->(s)
"""


def refresh_entities(lbl: str, rtype: str) -> str:
    """Rarity from the stored graph: how many accounts use each entity, hub flag, pair weight."""
    node = NODES[label(lbl)]
    rtype = rel_type(rtype)
    return f"""
UNWIND $keys AS k
MATCH (e:{lbl} {{{node.key}: k}})
WITH e, COUNT {{ (e)<-[:{rtype}]-(:Account) }} AS n
SET e.accounts = n, e.hub = n > $cap,
    e.pair_weight = CASE WHEN n >= 2 AND n <= $cap THEN $weight / ((n - 1.0) ^ $decay) ELSE 0.0 END
"""


# LINKED is the latest analysis, not an accumulation: cleared once per load, then created in
# recorded chunks (MERGE would scan the ~hundreds of links of every ring member per row).
LINKS = """
UNWIND $rows AS row
MATCH (a:Account {account_id: row.a})
MATCH (b:Account {account_id: row.b})
CREATE (a)-[l:LINKED]->(b)
SET l.weight = row.weight, l.signals = row.signals, l.w_payment = row.w_payment, l.w_ip = row.w_ip,
    l.w_device = row.w_device, l.w_prompt = row.w_prompt, l.w_email = row.w_email, l.w_signup = row.w_signup
"""

INDICATORS = """
UNWIND $rows AS row
MERGE (i:Indicator {indicator_id: row.indicator_id})
SET i.operator = row.operator, i.kind = row.kind, i.value = row.value, i.note = row.note
MERGE (o:Operator {name: row.operator})
SET o.known = true
MERGE (i)-[:KNOWN_FOR]->(o)
"""


def indicator_targets(kind: str) -> str:
    lbl = INDICATOR_TARGET[kind]
    node = NODES[label(lbl)]
    return f"""
UNWIND $rows AS row
MATCH (i:Indicator {{indicator_id: row.indicator_id}})
MATCH (t:{lbl} {{{node.key}: row.target}})
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


# --- rows: pure SQL over the run's evidence ---------------------------------------------


def _batches(con, query: str, params: list | None = None, size: int = BATCH_ROWS) -> Iterator[list[dict]]:
    """The query's rows, exactly ``size`` at a time (the last chunk may be shorter).

    Chunks must be exact slices of the ordered rows, not Arrow record batches,
    whose boundaries move with DuckDB's thread count: chunk ``k`` is recorded as
    done, and a re-run must cut the very same chunk ``k``.
    """
    reader = con.sql(query, params=params or None).to_arrow_reader(size)
    buffer: list[dict] = []
    for rb in reader:
        buffer.extend(rb.to_pylist())
        while len(buffer) >= size:
            yield buffer[:size]
            buffer = buffer[size:]
    if buffer:
        yield buffer


class _Evidence:
    """A DuckDB view over ``OUT/evidence/*.parquet`` and the run's rings."""

    def __init__(self, out: Path):
        ev = out / "evidence"
        needed = ["accounts", "incidence", "entities", "links", "ip_asn", "intel", "windows", "shingle_texts",
                  "instruments"]
        missing = [t for t in needed if not (ev / f"{t}.parquet").is_file()]
        if missing or not (out / "rings.json").is_file():
            raise InputError(f"{out}: not the output folder of a linkage detect run "
                             f"(missing {', '.join(missing) or 'rings.json'})")
        self.con = duckdb.connect()
        self.con.execute("SET TimeZone = 'UTC'")
        for t in needed:
            path = str(ev / f"{t}.parquet").replace("'", "''")
            self.con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{path}')")
        self.doc = json.loads((out / "rings.json").read_text())
        self.batch_id = self.doc["input"].get("batch_id") or f"run-{self.doc['generated_at']}"


def _epoch(col: str) -> str:
    return f"CAST(epoch({col}) AS BIGINT)"


def _indicator_id() -> str:
    return "substr(sha1(operator || '|' || kind || '|' || value), 1, 16)"


def _prompt_keep(config: Config) -> str:
    """Shingles worth storing: shared by two accounts or more, or matched by an intel excerpt."""
    n = int(config.shingle_size)
    return f"""(SELECT entity FROM entities WHERE family = 'prompt' AND accounts >= 2
               UNION SELECT printf('%016x', h) FROM (
                   SELECT unnest({shingles_expr('w', n)}) AS h
                   FROM (SELECT {words_expr('value')} AS w FROM intel WHERE kind = 'prompt')))"""


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


def _send(driver, settings, stats: LoadStats, step: str, cypher: str, batches, *, params=None,
          rels_per_row: int = 1, nodes_per_row: int = 0, progress=None, additive: str | None = None) -> None:
    """Send ``batches`` of rows through ``cypher``.

    With ``additive`` (the batch id), each chunk is skipped if the batch's
    ``LoadBatch`` node already records it, and recorded in the same
    transaction as its writes otherwise.
    """
    t0 = time.perf_counter()
    rows_sent = 0
    for k, rows in enumerate(batches):
        if additive is None:
            run_query(driver, settings, step, cypher, {"rows": rows, **(params or {})}, write=True)
        else:
            chunk = f"{step}#{k}"

            def work(tx, rows=rows, chunk=chunk):
                done = tx.run(CHUNK_DONE, batch=additive, chunk=chunk).single()
                if done is not None and done["done"]:
                    return False
                tx.run(cypher, {"rows": rows, **(params or {})}).consume()
                tx.run(CHUNK_MARK, batch=additive, chunk=chunk).consume()
                return True

            run_transaction(driver, settings, step, work, write=True)
        rows_sent += len(rows)
        if progress:
            progress(step, rows_sent)
    stats.add(step, rows_sent * nodes_per_row, rows_sent * rels_per_row, time.perf_counter() - t0)


def _repeat(driver, settings, name: str, cypher: str) -> None:
    """Run a bounded delete until it deletes nothing: big clean-ups in small transactions."""
    while run_query(driver, settings, name, cypher, write=True)[0]["n"]:
        pass


def load_run(driver, settings: Settings, out: str | Path, config: Config | None = None, *,
             progress: Callable[[str, int], None] | None = None) -> LoadStats:
    """Load the evidence graph, intel and rings of the detect run in ``out``; return what was sent."""
    config = config or Config()
    ev = _Evidence(Path(out))
    con, batch = ev.con, ev.batch_id
    stats = LoadStats()
    t0 = time.perf_counter()
    schema.apply(driver, settings)
    stats.add("schema", 0, 0, time.perf_counter() - t0)
    size = chunk_rows(driver, settings, batch)
    _send(driver, settings, stats, "accounts", ACCOUNTS, _batches(con, f"""
        SELECT a.account_id, {_epoch('a.created_at')} AS created_at, a.email_domain, a.org_id, a.country,
               a.requests, a.hosting_requests, {_epoch('a.first_seen')} AS first_seen,
               {_epoch('a.last_seen')} AS last_seen, w.windows, w.requests AS window_requests
        FROM accounts a LEFT JOIN windows w USING (aid) ORDER BY a.account_id""", size=size),
          rels_per_row=0, nodes_per_row=1, progress=progress, additive=batch)

    prompt_keep = _prompt_keep(config)
    for family, (lbl, rtype) in FAMILY_ENTITY.items():
        keep = f"AND e.entity IN {prompt_keep}" if family == "prompt" else ""
        extra = {"payment": ", any_value(p.instrument_type) AS instrument_type, any_value(p.bin) AS bin",
                 "prompt": ", any_value(t.text) AS text"}.get(family, "")
        joins = {"prompt": "LEFT JOIN shingle_texts t ON t.entity = e.entity",
                 "payment": "LEFT JOIN instruments p ON p.instrument_id = e.entity"}.get(family, "")
        _send(driver, settings, stats, f"{lbl} nodes", entity_nodes(lbl), _batches(con, f"""
            SELECT e.entity AS key {extra} FROM entities e {joins}
            WHERE e.family = ? {keep} GROUP BY e.entity ORDER BY e.entity""", [family]),
              rels_per_row=0, nodes_per_row=1, progress=progress)
        keep_i = f"AND i.entity IN {prompt_keep}" if family == "prompt" else ""
        _send(driver, settings, stats, f"{rtype} relationships", account_entity_rels(lbl, rtype), _batches(con, f"""
            SELECT a.account_id, i.entity AS key, CAST(i.requests AS BIGINT) AS n,
                   {_epoch('i.first')} AS first, {_epoch('i.last')} AS last
            FROM incidence i JOIN accounts a USING (aid)
            WHERE i.family = ? {keep_i} ORDER BY i.entity, a.account_id""", [family], size=size),
              progress=progress, additive=batch)

    hosting = sorted(int(a) for a in config.hosting_asns)
    _send(driver, settings, stats, "IN_ASN relationships", IP_ASN, _batches(con, """
        SELECT ip, CAST(asn AS BIGINT) AS asn FROM ip_asn ORDER BY ip"""),
          params={"hosting": hosting}, nodes_per_row=0, progress=progress)

    t0 = time.perf_counter()
    for family, (lbl, rtype) in FAMILY_ENTITY.items():
        p = config.family(family)
        keep = f"AND entity IN {prompt_keep}" if family == "prompt" else ""
        for rows in _batches(con, f"SELECT entity FROM entities WHERE family = ? {keep} ORDER BY entity", [family]):
            run_query(driver, settings, f"{lbl} rarity", refresh_entities(lbl, rtype),
                      {"keys": [r["entity"] for r in rows], "cap": p.cap, "weight": p.weight, "decay": p.decay},
                      write=True)
    stats.add("entity rarity", 0, 0, time.perf_counter() - t0)

    _send(driver, settings, stats, "indicators", INDICATORS, _batches(con, f"""
        SELECT DISTINCT {_indicator_id()} AS indicator_id, operator, kind, value, note FROM intel ORDER BY 1"""),
          rels_per_row=1, nodes_per_row=1, progress=progress)
    for kind in INDICATOR_TARGET:
        if kind == "prompt":
            target = f"""SELECT DISTINCT {_indicator_id()} AS indicator_id, printf('%016x', h) AS target FROM (
                           SELECT operator, kind, value, unnest({shingles_expr('w', config.shingle_size)}) AS h
                           FROM (SELECT *, {words_expr('value')} AS w FROM intel WHERE kind = 'prompt'))"""
        elif kind == "asn":
            target = f"""SELECT DISTINCT {_indicator_id()} AS indicator_id,
                                TRY_CAST(regexp_replace(value, '^(?i)as', '') AS BIGINT) AS target
                         FROM intel WHERE kind = 'asn'"""
        else:
            value = "lower(value)" if kind in ("ip", "email_domain") else "value"
            target = f"SELECT DISTINCT {_indicator_id()} AS indicator_id, {value} AS target FROM intel WHERE kind = ?"
        _send(driver, settings, stats, f"indicator {kind} targets", indicator_targets(kind),
              _batches(con, target + " ORDER BY 1, 2", [] if kind in ("prompt", "asn") else [kind]),
              progress=progress)

    replace_links(driver, settings, stats, batch, _batches(con, _LINK_ROWS, size=size), progress=progress)
    write_rings(driver, settings, ev.doc["rings"], _members_from(con, Path(out)), stats, progress=progress)
    run_query(driver, settings, "batch complete", LOAD_DONE, {"batch": batch, "source": str(out)}, write=True)
    return stats


LOAD_DONE = """
MERGE (b:LoadBatch {batch_id: $batch})
ON CREATE SET b.chunks = [], b.started = datetime()
SET b.completed = datetime(), b.source = $source
"""


_LINK_ROWS = """
    SELECT x.account_id AS a, y.account_id AS b, l.weight, string_split(l.signals, ',') AS signals,
           l.w_payment, l.w_ip, l.w_device, l.w_prompt, l.w_email, l.w_signup
    FROM links l JOIN accounts x ON x.aid = l.a JOIN accounts y ON y.aid = l.b
    ORDER BY a, b"""


def _members_from(con, out: Path) -> list[dict]:
    path = str(out / "ring_members.csv").replace("'", "''")
    return con.execute(f"SELECT ring_id, account_id FROM read_csv('{path}', all_varchar = true)").df().to_dict("records")


def ring_rows(rings: list[dict]) -> list[dict]:
    """Ring nodes as flat property maps (Neo4j properties cannot be maps); pure."""
    rows = []
    for ring in rings:
        features = ring.get("features", {})
        props = {
            "score": ring["score"], "size": ring["size"], "requests": ring.get("requests"),
            "first_seen": ring.get("first_seen"), "last_seen": ring.get("last_seen"),
            "operator": ring["operator"], "operator_confidence": ring["operator_confidence"],
            "operator_cluster": ring.get("operator_cluster"),
            "signals": sorted(ring.get("signals", {})),
            "evidence": [p["path"] for p in ring.get("evidence", [])],
            **{k: features[k] for k in ("coordination", "harvesting", "diversity", "payment_share", "template_share",
                                        "burst_share", "lockstep_share", "hosting_share", "volume_ratio", "density",
                                        "median_requests") if k in features},
        }
        rows.append({"ring_id": ring["ring_id"], "props": props,
                     "operator_node": ring["operator"] or ring.get("operator_cluster") or "unattributed",
                     "known": ring["operator"] is not None,
                     "confidence": ring["operator_confidence"]})
    return rows


def replace_links(driver, settings: Settings, stats: LoadStats, run_id: str, batches, *, progress=None) -> None:
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
    _send(driver, settings, stats, "LINKED relationships", LINKS, batches, progress=progress, additive=run_id)


def write_rings(driver, settings: Settings, rings: list[dict], members: list[dict], stats: LoadStats,
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
    rows = ring_rows(rings)
    _send(driver, settings, stats, "rings", RINGS, (rows[i:i + 1000] for i in range(0, len(rows), 1000)),
          nodes_per_row=1, progress=progress)
    score = {r["ring_id"]: r["score"] for r in rings}
    members = [{**m, "score": score.get(m["ring_id"])} for m in members]
    _send(driver, settings, stats, "MEMBER_OF relationships", MEMBERS,
          (members[i:i + BATCH_ROWS] for i in range(0, len(members), BATCH_ROWS)), progress=progress)
    run_query(driver, settings, "operator totals", OPERATOR_TOTALS, write=True)
