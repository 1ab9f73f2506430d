"""Load a detect run (its OUT folder) into Neo4j: the evidence graph, intel, and the rings.

Safe to repeat, safe to kill. Additive figures (requests, payments, activity
windows) are sent in fixed, ordered chunks; each chunk is recorded on the
batch's ``LoadBatch`` node in the same transaction as its writes, and a chunk
already recorded is skipped, so no figure is ever counted twice. Node and
link writes are idempotent by construction. One writer at a time: the load
holds the lease (``lease``), and every write transaction ends with its fence.

Fast because the server does little per row (``benchmarks/neo4j_load.py``):

- rows travel as columns (``$col[i]``), not as a list of maps;
- each chunk looks up every distinct node once (one index seek per account or
  entity, not two per relationship) and then addresses nodes by position;
- what is known to be new is ``CREATE``d, not ``MERGE``d: nodes whose key is not
  in the graph yet, and the relationships of an account that has none of that
  type yet (rows are sorted by account, so a chunk holds whole accounts);
- the next chunk is built (DuckDB, Arrow, lists) in a thread while the server
  writes the current one (``rows.prefetch``);
- a label or type the store has none of yet is read from the count store, so a
  first load asks no "which of these keys exist" question per key;
- rarity reads each entity's degree (``GetDegree``) and rewrites only what changed;
- ``LINKED`` pairs are created for accounts with none stored and merged for the
  others, with no read of what is stored; a later batch writes only the pairs
  its run links (``writeback``). Rings are written as the difference to what is stored.

Times travel as epoch seconds and become datetimes in Cypher. Entity rarity
(``accounts``, ``hub``, ``pair_weight``) is recomputed from the stored graph
after every load, so it stays right as batches accumulate. Row building is
SQL over the run's Parquet evidence (``rows``); Cypher text is fixed, with
labels and types taken from ``model``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, overload

import duckdb

from .. import families
from ..config import Config
from ..families import Family
from ..run import RunFolder
from . import rows, schema
from .connection import Settings, run_transaction
from .model import ENTITY, indicator_targets, label, rel_type, relationships

if TYPE_CHECKING:
    import neo4j

    from .lease import Holder

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class LoadStats:
    """Rows sent per step and the time taken; ``relationships_per_s`` is the headline figure."""

    steps: dict[str, dict[str, Any]] = field(default_factory=dict)  # per step: nodes, relationships, seconds, …

    def add(self, step: str, nodes: int, rels: int, seconds: float, **detail: int) -> None:
        self.steps[step] = {"nodes": nodes, "relationships": rels, "seconds": round(seconds, 3), **detail}

    @property
    def relationships(self) -> int:
        return int(sum(s["relationships"] for s in self.steps.values()))

    @property
    def nodes(self) -> int:
        return int(sum(s["nodes"] for s in self.steps.values()))

    @property
    def seconds(self) -> float:
        return round(float(sum(s["seconds"] for s in self.steps.values())), 3)

    def as_dict(self) -> dict[str, Any]:
        rate = self.relationships / self.seconds if self.seconds else 0.0
        return {"nodes": self.nodes, "relationships": self.relationships, "seconds": self.seconds,
                "relationships_per_s": round(rate), "steps": self.steps}


class Report(Protocol):
    """What a progress display is told: a step starts (with its row total, if known), advances, ends."""

    def start(self, step: str, total: int | None) -> None: ...

    def advance(self, step: str, rows: int) -> None: ...

    def end(self, step: str, rows: int, seconds: float) -> None: ...


class Fence(Protocol):
    def fence(self, tx: neo4j.ManagedTransaction) -> None: ...

    def check(self) -> None: ...


class Step:
    """One step of a load: counts what it sent and tells the report."""

    def __init__(self, writer: Writer, name: str, nodes_per_row: int, rels_per_row: int):
        self.writer, self.name = writer, name
        self.nodes_per_row, self.rels_per_row = nodes_per_row, rels_per_row
        self.rows = 0
        self.detail: dict[str, int] = {}

    def sent(self, n: int, **detail: int) -> None:
        self.rows += n
        for k, v in detail.items():
            self.detail[k] = self.detail.get(k, 0) + v
        if self.writer.report:
            self.writer.report.advance(self.name, self.rows)

    @overload
    def write(self, work: Callable[[neo4j.ManagedTransaction], T]) -> T: ...

    @overload
    def write(self, work: Callable[[neo4j.ManagedTransaction], object], *, chunk: tuple[str, str]) -> bool: ...

    def write(self, work: Callable[[neo4j.ManagedTransaction], Any], *, chunk: tuple[str, str] | None = None) -> Any:
        if chunk is None:
            return self.writer.write(self.name, work)
        return self.writer.write(self.name, work, chunk=chunk)


class Writer:
    """Runs a load's write transactions: each fenced by the lease, timed and reported by step."""

    def __init__(self, driver: neo4j.Driver, settings: Settings, *, lease: Fence | None = None, report: Report | None = None,
                 stats: LoadStats | None = None):
        self.driver, self.settings, self.lease, self.report = driver, settings, lease, report
        self.stats = stats or LoadStats()

    @overload
    def write(self, name: str, work: Callable[[neo4j.ManagedTransaction], T]) -> T: ...

    @overload
    def write(self, name: str, work: Callable[[neo4j.ManagedTransaction], object], *, chunk: tuple[str, str]) -> bool: ...

    def write(self, name: str, work: Callable[[neo4j.ManagedTransaction], Any], *,
              chunk: tuple[str, str] | None = None) -> Any:
        """One write transaction: ``work(tx)``, then (for an additive chunk) its record, then the fence.

        With ``chunk`` = (batch, chunk name), a chunk the batch already records is
        skipped (returns False); it is recorded in the transaction that writes it.
        """

        def tx_fn(tx: neo4j.ManagedTransaction) -> Any:
            if chunk is not None:
                done = tx.run(CHUNK_DONE, batch=chunk[0], chunk=chunk[1]).single()
                if done is not None and done["done"]:
                    return False
            result = work(tx)
            if chunk is not None:
                tx.run(CHUNK_MARK, batch=chunk[0], chunk=chunk[1]).consume()
            if self.lease is not None:
                self.lease.fence(tx)
            return True if chunk is not None else result

        if self.lease is not None:
            self.lease.check()
        return run_transaction(self.driver, self.settings, name, tx_fn, write=True)

    def query(self, name: str, cypher: str, params: dict[str, Any] | None = None) -> list[neo4j.Record]:
        """One fenced write query; returns its records."""
        return self.write(name, lambda tx: list(tx.run(cypher, params or {})))

    @contextmanager
    def step(self, name: str, total: int | None = None, *, nodes_per_row: int = 0,
             rels_per_row: int = 1) -> Iterator[Step]:
        step = Step(self, name, nodes_per_row, rels_per_row)
        if self.report:
            self.report.start(name, total)
        t0 = time.perf_counter()
        yield step
        seconds = time.perf_counter() - t0
        self.stats.add(name, step.rows * nodes_per_row, step.rows * rels_per_row, seconds, **step.detail)
        if self.report:
            self.report.end(name, step.rows, seconds)


# --- Cypher: fixed text, values only as parameters ---------------------------------------

def _dt(expr: str) -> str:
    return f"CASE WHEN {expr} IS NULL THEN NULL ELSE datetime({{epochSeconds: {expr}}}) END"


def unwind(*cols: str, carry: str = "") -> str:
    """``UNWIND`` over column parameters: row ``i`` binds each column's value to a variable of its name.

    ``carry``: variables of an earlier part of the query to keep.
    """
    keep = f"{carry}, " if carry else ""
    return f"UNWIND range(0, size(${cols[0]}) - 1) AS i WITH {keep}i, " + ", ".join(f"${c}[i] AS {c}" for c in cols)


def lookup(var: str, lbl: str, key: str, keys: str, carry: str = "") -> str:
    """Find each distinct key of ``$<keys>`` once; ``<var>_at[j][0]`` is then the node of key j (or null).

    Each node sits in a one-element list, so a key with no node keeps its place
    (``collect`` drops nulls). ``carry``: variables of earlier lookups to keep.
    """
    keep = f"{carry}, " if carry else ""
    return (f"UNWIND ${keys} AS k OPTIONAL MATCH ({var}:{label(lbl)} {{{key}: k}}) "
            f"WITH {keep}collect([{var}]) AS {var}_at")


def count_nodes(lbl: str) -> str:
    """How many ``lbl`` nodes are stored: answered from the count store, no scan."""
    return f"MATCH (n:{label(lbl)}) RETURN count(n) AS n"


def count_rels(rtype: str) -> str:
    """How many ``rtype`` relationships are stored: answered from the count store, no scan."""
    return f"MATCH ()-[r:{rel_type(rtype)}]->() RETURN count(r) AS n"


def known(tx: neo4j.ManagedTransaction, keys: list[Any], check: str, count: str) -> list[Any]:
    """Which of ``keys`` the ``check`` query finds, or none without asking when ``count`` says the store has none.

    A first load (and the first chunk of every family) finds an empty label or type:
    one count-store read then spares a seek per key. Read in the writing
    transaction, so it sees the chunk's own earlier writes and a re-run's stored rows.
    """
    if not tx.run(count).single(strict=True)["n"]:
        return []
    return list(tx.run(check, keys=keys).single(strict=True)["found"])


def existing(lbl: str, key: str) -> str:
    """Which of ``$keys`` are already nodes of ``lbl``."""
    return f"UNWIND $keys AS k MATCH (n:{label(lbl)} {{{key}: k}}) RETURN collect(k) AS found"


def with_rels(lbl: str, key: str, rtype: str) -> str:
    """Which of ``$keys`` (nodes of ``lbl``) already have an outgoing relationship of ``rtype``."""
    return (f"UNWIND $keys AS k MATCH (n:{label(lbl)} {{{key}: k}}) WHERE EXISTS {{ (n)-[:{rel_type(rtype)}]->() }} "
            f"RETURN collect(k) AS found")


ACCOUNT_COLS = ("account_id", "created_at", "email_domain", "org_id", "country", "requests", "hosting_requests",
                "first_seen", "last_seen", "windows", "window_requests", "prompts", "focused")

#: The batch's own figures of an account, on its ``SEEN_IN`` relationship to the batch: created once per
#: account and batch, never rewritten. Appending each batch's windows to lists on the account rewrote every
#: earlier window on every batch (333 on average per seen account after a seed-scale quarter, for 7 new ones).
SEEN_IN = """
CREATE (a)-[s:SEEN_IN]->(b)
SET s.requests = requests, s.windows = windows, s.window_requests = window_requests
"""

ACCOUNTS_NEW = f"""
MATCH (b:LoadBatch {{batch_id: $batch}})
{unwind(*ACCOUNT_COLS, carry='b')}
CREATE (a:Account {{account_id: account_id}})
SET a.created_at = {_dt('created_at')}, a.email_domain = email_domain, a.org_id = org_id, a.country = country,
    a.requests = requests, a.hosting_requests = hosting_requests,
    a.first_seen = {_dt('first_seen')}, a.last_seen = {_dt('last_seen')}, a.prompts = prompts, a.focused = focused
{SEEN_IN}"""

ACCOUNTS_SEEN = f"""
MATCH (b:LoadBatch {{batch_id: $batch}})
{unwind(*ACCOUNT_COLS, carry='b')}
MATCH (a:Account {{account_id: account_id}})
WITH b, a, created_at, email_domain, org_id, country, requests, hosting_requests, windows, window_requests,
     prompts, focused, {_dt('first_seen')} AS f, {_dt('last_seen')} AS l
SET a.created_at = {_dt('created_at')}, a.email_domain = email_domain, a.org_id = org_id, a.country = country,
    a.requests = coalesce(a.requests, 0) + requests,
    a.hosting_requests = coalesce(a.hosting_requests, 0) + hosting_requests,
    a.first_seen = CASE WHEN a.first_seen IS NULL OR f < a.first_seen THEN f ELSE a.first_seen END,
    a.last_seen = CASE WHEN a.last_seen IS NULL OR l > a.last_seen THEN l ELSE a.last_seen END,
    a.prompts = CASE WHEN prompts IS NULL THEN a.prompts ELSE coalesce(a.prompts, 0) + prompts END,
    a.focused = CASE WHEN prompts IS NULL THEN a.focused ELSE coalesce(a.focused, 0) + focused END
{SEEN_IN}"""


def entity_nodes(family: str, new: bool) -> str:
    """Entity nodes of a family, with the common ``Entity`` label and properties (see ``model``).

    ``new``: keys not in the graph yet are created; the others get their
    properties set (details keep their stored value when this batch has none),
    unless they already hold them: a day's batch sees mostly entities an earlier
    batch stored, and a read is cheaper than a write.
    """
    fam = families.get(family)
    assert fam.node is not None
    lbl, key, details = label(fam.node.label), fam.node.key, fam.node.details
    head = unwind("key", "name", *details)
    if new:
        sets = "".join(f", e.{p} = {p}" for p in details)
        return f"{head} CREATE (e:{lbl}:{ENTITY} {{{key}: key}}) SET e.family = $family, e.key = key, e.name = name{sets}"
    sets = "".join(f", e.{p} = coalesce({p}, e.{p})" for p in details)
    same = "".join(f" AND ({p} IS NULL OR e.{p} = {p})" for p in details)
    return (f"{head} MATCH (e:{lbl} {{{key}: key}}) "
            f"WHERE NOT coalesce(e:{ENTITY} AND e.family = $family AND e.key = key AND e.name = name{same}, false) "
            f"SET e:{ENTITY}, e.family = $family, e.key = key, e.name = name{sets}")


def account_entity_rels(family: str, new: bool) -> str:
    """Account→entity relationships of a chunk, each end looked up once (``$accounts``, ``$entities``).

    ``new``: the accounts have no relationship of this type yet, so every row
    is created; otherwise rows are merged and their counter and window added.
    """
    fam = families.get(family)
    assert fam.node is not None
    lbl, rtype, key, counter = fam.node.label, rel_type(fam.node.rel_type), fam.node.key, fam.node.counter
    head = f"""
{lookup('a', 'Account', 'account_id', 'accounts')}
{lookup('e', lbl, key, 'entities', carry='a_at')}
UNWIND range(0, size($ai) - 1) AS i
WITH a_at[$ai[i]][0] AS a, e_at[$ei[i]][0] AS e, $n[i] AS n, {_dt('$first[i]')} AS f, {_dt('$last[i]')} AS l
WHERE a IS NOT NULL AND e IS NOT NULL"""
    if new:
        return f"{head}\nCREATE (a)-[r:{rtype}]->(e) SET {f'r.{counter} = n, ' if counter else ''}r.first = f, r.last = l"
    on_create = f"r.{counter} = n, " if counter else ""
    on_match = f"r.{counter} = r.{counter} + n, " if counter else ""
    return f"""{head}
MERGE (a)-[r:{rtype}]->(e)
ON CREATE SET {on_create}r.first = f, r.last = l
ON MATCH SET {on_match}r.first = CASE WHEN f < r.first THEN f ELSE r.first END,
    r.last = CASE WHEN l > r.last THEN l ELSE r.last END
"""


def ip_asn(new: bool) -> str:
    """IP→ASN relationships of a chunk: ASN nodes merged once each, IPs with no ASN yet get theirs created."""
    rel = "CREATE (ip)-[:IN_ASN]->(s)" if new else "MERGE (ip)-[:IN_ASN]->(s)"
    return f"""
UNWIND $asns AS n MERGE (s:ASN {{number: n}}) SET s.hosting = n IN $hosting
WITH collect(s) AS ss
{lookup('ip', 'IP', 'address', 'ips', carry='ss')}
UNWIND range(0, size($ii) - 1) AS i
WITH ip_at[$ii[i]][0] AS ip, ss[$si[i]] AS s WHERE ip IS NOT NULL
{rel}
"""


def refresh_entities(family: str) -> str:
    """Rarity from the stored graph: how many accounts use each entity, hub flag, pair weight, the cap.

    The count is the entity's degree in the family's relationship type, read from the
    store's degree counts (``GetDegree``), not by walking every relationship to check
    its start is an Account: the model lets only accounts start that type. An entity
    whose four values are already right is not written (a reload writes nothing).
    """
    fam = families.get(family)
    assert fam.node is not None
    lbl, rtype, key = label(fam.node.label), rel_type(fam.node.rel_type), fam.node.key
    assert relationships()[rtype].start == "Account"
    return f"""
UNWIND $keys AS k
MATCH (e:{lbl} {{{key}: k}})
WITH e, COUNT {{ (e)<-[:{rtype}]-() }} AS n
WITH e, n, CASE WHEN n >= 2 AND n <= $cap THEN $weight / ((n - 1.0) ^ $decay) ELSE 0.0 END AS w
WHERE NOT coalesce(e.accounts = n AND e.hub = (n > $cap) AND e.cap = $cap AND e.pair_weight = w, false)
SET e.accounts = n, e.hub = n > $cap, e.cap = $cap, e.pair_weight = w
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


# --- chunk bookkeeping -----------------------------------------------------------------

CHUNK_DONE = "MATCH (b:LoadBatch {batch_id: $batch}) RETURN $chunk IN b.chunks AS done"
CHUNK_ROWS = """
MERGE (b:LoadBatch {batch_id: $batch})
ON CREATE SET b.chunks = [], b.started = datetime(), b.chunk_rows = $rows
RETURN coalesce(b.chunk_rows, $rows) AS rows
"""
CHUNK_MARK = """
MERGE (b:LoadBatch {batch_id: $batch})
ON CREATE SET b.chunks = [], b.started = datetime()
SET b.chunks = b.chunks + $chunk
"""
LOAD_DONE = """
MERGE (b:LoadBatch {batch_id: $batch})
ON CREATE SET b.chunks = [], b.started = datetime()
SET b.completed = datetime(), b.source = $source
"""


def chunk_rows(writer: Writer, batch: str) -> int:
    """The chunk size of ``batch``: fixed when the batch is first seen, so a re-run cuts the same chunks."""
    return int(writer.query("chunk size", CHUNK_ROWS, {"batch": batch, "rows": rows.BATCH_ROWS})[0]["rows"])


def positions(keys: list[Any]) -> tuple[list[Any], list[int]]:
    """The distinct keys (sorted) and, per row, the position of its key among them; pure.

    >>> positions(["b", "a", "b"])
    (['a', 'b'], [1, 0, 1])
    """
    distinct = sorted(set(keys))
    at = {k: j for j, k in enumerate(distinct)}
    return distinct, [at[k] for k in keys]


def split(cols: dict[str, list[Any]], key: str, known: Iterable[Any]) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """Rows whose ``key`` is not in ``known``, and those whose key is; pure.

    >>> split({"k": ["a", "b", "c"], "v": [1, 2, 3]}, "k", {"b"})
    ({'k': ['a', 'c'], 'v': [1, 3]}, {'k': ['b'], 'v': [2]})
    """
    known = set(known)
    flags = [k in known for k in cols[key]]

    def pick(want: bool) -> dict[str, list[Any]]:
        return {c: [v for v, f in zip(vals, flags) if f == want] for c, vals in cols.items()}

    return pick(False), pick(True)


# --- the load --------------------------------------------------------------------------


def load_run(driver: neo4j.Driver, settings: Settings, out: str | Path, config: Config | None = None, *,
             report: Report | None = None, lease: Fence | None = None, wait: float = 0.0,
             on_wait: Callable[[Holder], None] | None = None, replace_rings: bool = False) -> LoadStats:
    """Load the evidence graph, intel and rings of the detect run in ``out``; return what was sent.

    Takes the load lease first (``wait`` seconds at most for another writer,
    then ``LeaseHeld``), unless the caller passes one it holds. Entity rarity
    uses the run's own recorded parameters (``config`` overrides them). The
    run's rings are added to the stored ones by lineage (``lineage``), or, with
    ``replace_rings``, replace them (``writeback.write_rings``).
    """
    from .lease import Lease

    run = RunFolder(Path(out), need=("accounts", "incidence", "entities", "links", "ip_asn", "intel", "windows",
                                     "shingle_texts", "instruments"))
    config = config or run.config
    own = lease is None
    if own:
        lease = Lease(driver, settings, task=f"load {run.batch_id}").acquire(wait, on_wait)
    con = rows.open_run(run)
    try:
        return _load(Writer(driver, settings, lease=lease, report=report), run, con, run.batch_id, config,
                     replace_rings)
    finally:
        con.close()
        if own:
            lease.release()  # type: ignore[union-attr]


def _load(writer: Writer, run: RunFolder, con: duckdb.DuckDBPyConnection, batch: str, config: Config,
          replace_rings: bool) -> LoadStats:
    from .lineage import add_rings, lineages
    from .writeback import write_links, write_rings

    with writer.step("schema", rels_per_row=0):
        schema.apply(writer.driver, writer.settings)
    size = chunk_rows(writer, batch)
    send_accounts(writer, con, batch, size)
    for fam in families.stored(config):
        send_entities(writer, con, fam, config)
        send_incidence(writer, con, fam, batch, size)
    send_ip_asn(writer, con, config)
    refresh_rarity(writer, con, config)
    send_intel(writer, con, config)
    write_links(writer, con, config)
    members = con.execute("SELECT ring_id, account_id FROM ring_members").fetchall() \
        if "ring_members" in _views(con) else []
    member_rows = [{"ring_id": r, "account_id": a} for r, a in members]
    if replace_rings:
        write_rings(writer, run.rings, member_rows, run.operations)
    else:
        add_rings(writer, con, batch, run.rings, member_rows, run.operations, lineages(run.rings))
    writer.query("batch complete", LOAD_DONE, {"batch": batch, "source": str(run.path)})
    return writer.stats


def send_accounts(writer: Writer, con: duckdb.DuckDBPyConnection, batch: str, size: int) -> None:
    """Accounts, additive: new ones created with their figures, known ones get theirs added; each gets the batch's
    own figures (its requests and activity windows) on a ``SEEN_IN`` relationship to the batch."""
    with writer.step("accounts", rows.count(con, rows.ACCOUNTS_SQL), nodes_per_row=1, rels_per_row=0) as step:
        for k, cols in enumerate(rows.prefetch(rows.columns(con.cursor(), rows.ACCOUNTS_SQL, size=size))):
            def work(tx: neo4j.ManagedTransaction, cols: dict[str, list[Any]] = cols) -> None:
                found = known(tx, cols["account_id"], existing("Account", "account_id"), count_nodes("Account"))
                new, seen = split(cols, "account_id", found)
                for cypher, part in ((ACCOUNTS_NEW, new), (ACCOUNTS_SEEN, seen)):
                    if part["account_id"]:
                        tx.run(cypher, {**part, "batch": batch}).consume()
            step.write(work, chunk=(batch, rows.chunk_name("accounts", k)))
            step.sent(len(cols["account_id"]))


def send_entities(writer: Writer, con: duckdb.DuckDBPyConnection, fam: Family, config: Config) -> None:
    """A family's entity nodes: created when new, properties set when known (idempotent)."""
    node = fam.node
    assert node is not None, f"{fam.name} is not a stored family"
    sql = rows.entity_sql(fam, config)
    with writer.step(f"{node.label} nodes", rows.count(con, sql), nodes_per_row=1, rels_per_row=0) as step:
        for cols in rows.columns(con, sql):
            cols = {c: cols[c] for c in ("key", "name", *node.details)}

            def work(tx: neo4j.ManagedTransaction, cols: dict[str, list[Any]] = cols) -> None:
                found = known(tx, cols["key"], existing(node.label, node.key), count_nodes(node.label))
                for is_new, part in zip((True, False), split(cols, "key", found)):
                    if part["key"]:
                        tx.run(entity_nodes(fam.name, is_new), {**part, "family": fam.name}).consume()
            step.write(work)
            step.sent(len(cols["key"]))


def send_incidence(writer: Writer, con: duckdb.DuckDBPyConnection, fam: Family, batch: str, size: int) -> None:
    """A family's account→entity relationships, additive: chunks recorded on the batch."""
    node = fam.node
    assert node is not None, f"{fam.name} is not a stored family"
    name = f"{node.rel_type} relationships"
    sql = rows.incidence_sql(fam)
    with writer.step(name, rows.count(con, sql)) as step:
        for k, cols in enumerate(rows.prefetch(rows.columns(con.cursor(), sql, size=size))):
            def work(tx: neo4j.ManagedTransaction, cols: dict[str, list[Any]] = cols) -> None:
                accounts = sorted(set(cols["account_id"]))
                seen = known(tx, accounts, with_rels("Account", "account_id", node.rel_type), count_rels(node.rel_type))
                for is_new, part in zip((True, False), split(cols, "account_id", seen)):
                    if part["account_id"]:
                        tx.run(account_entity_rels(fam.name, is_new), _by_position(part)).consume()
            step.write(work, chunk=(batch, rows.chunk_name(name, k)))
            step.sent(len(cols["key"]))


def _by_position(cols: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """Incidence columns as the lookup form wants them: distinct ends once, rows as positions."""
    accounts, ai = positions(cols["account_id"])
    entities, ei = positions(cols["key"])
    return {"accounts": accounts, "entities": entities, "ai": ai, "ei": ei,
            "n": cols["n"], "first": cols["first"], "last": cols["last"]}


def send_ip_asn(writer: Writer, con: duckdb.DuckDBPyConnection, config: Config) -> None:
    hosting = sorted(int(a) for a in config.hosting_asns)
    with writer.step("IN_ASN relationships", rows.count(con, rows.IP_ASN_SQL)) as step:
        for cols in rows.columns(con, rows.IP_ASN_SQL):
            def work(tx: neo4j.ManagedTransaction, cols: dict[str, list[Any]] = cols) -> None:
                ips = sorted(set(cols["ip"]))
                seen = known(tx, ips, with_rels("IP", "address", "IN_ASN"), count_rels("IN_ASN"))
                for is_new, part in zip((True, False), split(cols, "ip", seen)):
                    if part["ip"]:
                        distinct_ips, ii = positions(part["ip"])
                        asns, si = positions(part["asn"])
                        tx.run(ip_asn(is_new), ips=distinct_ips, ii=ii, asns=asns, si=si, hosting=hosting).consume()
            step.write(work)
            step.sent(len(cols["ip"]))


def refresh_rarity(writer: Writer, con: duckdb.DuckDBPyConnection, config: Config) -> None:
    """Rarity of the entities this batch touched, from everything stored."""
    with writer.step("entity rarity", rels_per_row=0) as step:
        for fam in families.stored(config):
            p = config.family(fam.name)
            for chunk in rows.columns(con, "SELECT entity FROM entities WHERE family = ? ORDER BY entity", [fam.name]):
                writer.query(f"{fam.name} rarity", refresh_entities(fam.name),
                             {"keys": chunk["entity"], "cap": p.cap, "weight": p.weight, "decay": p.decay})
                step.sent(len(chunk["entity"]))


def send_intel(writer: Writer, con: duckdb.DuckDBPyConnection, config: Config) -> None:
    """Indicators, their operators, and what each points to (small: sent as maps)."""
    with writer.step("indicators", nodes_per_row=1) as step:
        for part in rows.batches(con, rows.INDICATORS_SQL):
            writer.query("indicators", INDICATORS, {"rows": part})
            step.sent(len(part))
    in_run = {f.intel_kind for f in families.in_run(config)}
    for kind in indicator_targets():
        if kind != "account" and kind not in in_run:
            continue
        with writer.step(f"indicator {kind} targets") as step:
            for part in rows.batches(con, rows.indicator_target_sql(kind, config)):
                writer.query(f"indicator {kind} targets", indicator_target_cypher(kind), {"rows": part})
                step.sent(len(part))


def _views(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}


__all__ = ["LoadStats", "Report", "Writer", "load_run", "chunk_rows", "positions", "split", "unwind", "lookup",
           "entity_nodes", "account_entity_rels", "ip_asn", "refresh_entities", "known", "count_nodes", "count_rels",
           "BATCH_ROWS"]

BATCH_ROWS = rows.BATCH_ROWS
