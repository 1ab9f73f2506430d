"""What goes into Neo4j, as SQL over a run's evidence: shared by the batched load and the bulk import.

Both loaders write the same graph, so the rows are defined once here: which
entities become nodes (with which properties), which incidences become
relationships, the links, the indicators and what they point to, the rings.
The chunk protocol both rely on is here too: additive steps are cut into fixed
chunks named ``"<step>#<k>"``, recorded on the batch's ``LoadBatch`` node, so a
chunk is never counted twice (``load._send`` checks and marks them; the bulk
import writes them all as done).

The queries read the views of :meth:`linkage.run.RunFolder.connect`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import duckdb

from .. import families
from ..config import Config
from ..families import Family
from ..ids import sql_digest
from ..lineage import Lineage
from ..results import Operation, Ring
from ..run import RunFolder
from ..signals.prompt import excerpt_shingles_sql
from ..sql import literal
from . import model

T = TypeVar("T")

#: Rows per transaction; a batch keeps the size it was first loaded with (recorded on its LoadBatch).
BATCH_ROWS = int(os.environ.get("LINKAGE_LOAD_BATCH_ROWS", "50000"))

#: Ring properties stored on the Ring node, from the ring's features.
RING_FEATURES = ("coordination", "harvesting", "diversity", "payment_share", "template_share", "burst_share",
                 "lockstep_share", "hosting_share", "volume_ratio", "density", "median_requests")


def chunk_name(step: str, k: int) -> str:
    return f"{step}#{k}"


def chunk_count(rows: int, size: int) -> int:
    return math.ceil(rows / size)


def batches(con: duckdb.DuckDBPyConnection, query: str, params: list[Any] | None = None, size: int = BATCH_ROWS) -> Iterator[list[dict[str, Any]]]:
    """The query's rows, exactly ``size`` at a time (the last chunk may be shorter).

    Chunks must be exact slices of the ordered rows, not Arrow record batches,
    whose boundaries move with DuckDB's thread count: chunk ``k`` is recorded as
    done, and a re-run must cut the very same chunk ``k``.
    """
    reader = con.sql(query, params=params or None).to_arrow_reader(size)
    buffer: list[dict[str, Any]] = []
    for rb in reader:
        buffer.extend(rb.to_pylist())
        while len(buffer) >= size:
            yield buffer[:size]
            buffer = buffer[size:]
    if buffer:
        yield buffer


def columns(con: duckdb.DuckDBPyConnection, query: str, params: list[Any] | None = None, size: int = BATCH_ROWS) -> Iterator[dict[str, list[Any]]]:
    """The query's rows as columns (``{name: [values]}``), exactly ``size`` rows at a time.

    Columns pack into far fewer Bolt values than a list of maps (no key per row),
    and the Cypher side indexes them (``$col[i]``). Chunks are exact slices of the
    ordered rows, as in :func:`batches`.
    """
    import pyarrow as pa

    reader = con.sql(query, params=params or None).to_arrow_reader(size)
    pending: list[Any] = []
    held = 0
    for rb in reader:
        pending.append(rb)
        held += rb.num_rows
        while held >= size:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, size).to_pydict()
            rest = table.slice(size)
            pending, held = rest.to_batches(), rest.num_rows
    if held:
        yield pa.Table.from_batches(pending).to_pydict()


def prefetch(chunks: Iterator[T]) -> Iterator[T]:
    """The items of ``chunks`` in order, the next one built in a thread while the caller sends the current one.

    Building a chunk (DuckDB, Arrow, Python lists) is client work and sending it waits
    on the server; on two cores the two overlap. The thread gets its own DuckDB cursor
    from the caller (``columns(con.cursor(), ...)``): a connection is not shared.

    >>> list(prefetch(iter(range(5))))
    [0, 1, 2, 3, 4]
    """
    import queue
    import threading

    box: queue.Queue[tuple[Any, BaseException | None]] = queue.Queue(maxsize=1)  # (a chunk or the end, a failure)
    stop = threading.Event()
    end = object()

    def fill() -> None:
        try:
            for item in chunks:
                while not stop.is_set():
                    try:
                        box.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            box.put((end, None))
        except BaseException as exc:  # handed to the caller, raised there
            box.put((end, exc))

    thread = threading.Thread(target=fill, name="linkage-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, exc = box.get()
            if exc is not None:
                raise exc
            if item is end:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                box.get_nowait()
            except queue.Empty:
                thread.join(0.05)


def count(con: duckdb.DuckDBPyConnection, query: str, params: list[Any] | None = None) -> int:
    """How many rows ``query`` gives (for progress totals and chunk counts)."""
    return int(con.execute(f"SELECT count(*) FROM ({query})", params or None).fetchall()[0][0])


def epoch(col: str) -> str:
    """Times travel as whole epoch seconds (cheap to pack) and become datetimes in Cypher."""
    return f"CAST(epoch({col}) AS BIGINT)"


def indicator_id() -> str:
    """The stable id of an intel row (``linkage.ids``): operator, kind and value."""
    return sql_digest("operator", "kind", "value")


# --- accounts and family entities --------------------------------------------------------------


ACCOUNTS_SQL = f"""
    SELECT a.account_id, {epoch('a.created_at')} AS created_at, a.email_domain, a.org_id, a.country,
           a.requests, a.hosting_requests, {epoch('a.first_seen')} AS first_seen,
           {epoch('a.last_seen')} AS last_seen, w.windows, w.requests AS window_requests,
           CAST(a.prompts AS BIGINT) AS prompts, CAST(a.focused AS BIGINT) AS focused
    FROM accounts a LEFT JOIN windows w USING (aid) ORDER BY a.account_id"""


def open_run(run: RunFolder) -> duckdb.DuckDBPyConnection:
    """The run's evidence views for a load; a run written before prompt topics gets null ``prompts``/``focused``.

    Those two (``linkage.topics``: sampled prompts, and how many ask for code or agent work) are
    additive per account like requests; ``linkage rings --neo4j`` reads them back as ``acct_topics``.
    """
    con = run.connect()
    have = {r[0] for r in con.execute("DESCRIBE accounts").fetchall()}
    if "prompts" not in have:
        path = literal(run.evidence_dir / "accounts.parquet")
        con.execute(f"CREATE OR REPLACE VIEW accounts AS SELECT *, CAST(NULL AS BIGINT) AS prompts, "
                    f"CAST(NULL AS BIGINT) AS focused FROM read_parquet({path})")
    return con


def entity_sql(family: Family, config: Config) -> str:
    """One row per entity of the family: ``key``, ``name``, the node's detail properties, and its rarity.

    ``name`` is what a reader sees: the template's words for a template n-gram, else the key.
    """
    node = family.node
    assert node is not None
    details = "".join(f", d.{p}" for p in node.details)
    join = f"LEFT JOIN ({node.details_sql}) d ON d.entity = e.entity" if node.details_sql else ""
    if family.template:
        join += " LEFT JOIN shingle_texts t ON t.entity = e.entity"
    name = "coalesce(t.text, e.entity)" if family.template else "e.entity"
    p = config.families[family.name]
    return f"""
        SELECT e.entity AS key, {name} AS name {details}, e.accounts, e.hub, e.pair_weight, {int(p.cap)} AS cap
        FROM entities e {join}
        WHERE e.family = {literal(family.name)} ORDER BY e.entity"""


def incidence_sql(family: Family) -> str:
    """The family's account→entity relationships: ``account_id, key, n, first, last``; additive (chunked).

    Sorted by account (the start node), so a chunk holds whole accounts, and the
    load can tell an account with no relationship of this type yet (all its rows
    are new: ``CREATE``) from one that has some (``MERGE``). Only entities that
    become nodes (``entity_sql``) are kept, as the bulk import does.
    """
    return f"""
        SELECT a.account_id, i.entity AS key, CAST(i.requests AS BIGINT) AS n,
               {epoch('i.first')} AS first, {epoch('i.last')} AS last
        FROM incidence i JOIN accounts a USING (aid)
        SEMI JOIN entities e ON e.family = i.family AND e.entity = i.entity
        WHERE i.family = {literal(family.name)} ORDER BY a.account_id, i.entity"""


#: IP→ASN pairs whose IP is a node (as the bulk import keeps them).
IP_ASN_SQL = """
    SELECT DISTINCT ip, CAST(asn AS BIGINT) AS asn FROM ip_asn
    WHERE asn IS NOT NULL AND ip IN (SELECT entity FROM entities WHERE family = 'ip') ORDER BY ip, asn"""


# --- links ----------------------------------------------------------------------------------


def link_sql(config: Config) -> str:
    """``LINKED`` rows: the two account ids, weight, signals, and ``w_<family>`` for the run's weighted families."""
    weights = "".join(f", l.w_{f}" for f in families.weighted(config))
    return f"""
        SELECT x.account_id AS a, y.account_id AS b, l.weight, string_split(l.signals, ',') AS signals {weights}
        FROM links l JOIN accounts x ON x.aid = l.a JOIN accounts y ON y.aid = l.b
        ORDER BY a, b"""


# --- intel -----------------------------------------------------------------------------------


INDICATORS_SQL = f"""
    SELECT DISTINCT {indicator_id()} AS indicator_id, operator, kind, value, note FROM intel ORDER BY 1"""


def indicator_target_sql(kind: str, config: Config) -> str:
    """``(indicator_id, target)``: the key of the node each indicator of ``kind`` points to."""
    if kind == "account":
        return f"""SELECT DISTINCT {indicator_id()} AS indicator_id, value AS target
                   FROM intel WHERE kind = 'account' ORDER BY 1, 2"""
    family = families.by_intel_kind()[kind]
    if family.template:
        return f"""SELECT DISTINCT {sql_digest('operator', 'kind', 'value')} AS indicator_id, entity AS target
                   FROM ({excerpt_shingles_sql(config)}) ORDER BY 1, 2"""
    target = family.intel_value
    if model.indicator_targets()[kind][0] == "ASN":
        target = f"TRY_CAST({target} AS BIGINT)"
    return f"""SELECT DISTINCT {indicator_id()} AS indicator_id, {target} AS target
               FROM intel WHERE kind = {literal(kind)} AND {target} IS NOT NULL ORDER BY 1, 2"""


# --- rings ------------------------------------------------------------------------------------


def lineage_props(lin: Lineage) -> dict[str, Any]:
    """A ring's lineage as Ring node properties: Neo4j holds no maps, and no null or empty list; pure.

    >>> lineage_props(Lineage("continuing", "b1", ["r1"], ["a", "b"]))
    {'lineage': 'continuing', 'first_detected': 'b1', 'previous_ids': ['r1'], 'new_members': 2}
    >>> lineage_props(Lineage("new", ""))
    {'lineage': 'new', 'new_members': 0}
    """
    out: dict[str, Any] = {"lineage": lin.status, "first_detected": lin.first_detected or None,
                           "previous_ids": list(lin.previous_ids) or None, "new_members": len(lin.new_members)}
    return {k: v for k, v in out.items() if v is not None}


def ring_rows(rings: list[Ring]) -> list[dict[str, Any]]:
    """Ring nodes as flat property maps (Neo4j properties cannot be maps); pure."""
    rows = []
    for ring in rings:
        props = {
            "score": ring.score, "size": ring.size, "requests": ring.requests,
            "first_seen": ring.first_seen, "last_seen": ring.last_seen,
            "operator": ring.operator, "operator_confidence": ring.operator_confidence,
            "operator_cluster": ring.operator_cluster,
            "bystanders": sorted(ring.bystanders) or None,  # absent rather than an empty list
            "recruits": sorted(ring.recruits) or None,
            "signals": sorted(ring.signals),
            "evidence": [p["path"] for p in ring.evidence],
            **{k: ring.features[k] for k in RING_FEATURES if k in ring.features},
        }
        if ring.operation is not None:
            props["operation"] = ring.operation
        if ring.lineage is not None:
            props.update(lineage_props(ring.lineage))
        rows.append({"ring_id": ring.ring_id, "props": props, "operator_node": ring.cluster,
                     "known": ring.operator is not None, "confidence": ring.operator_confidence})
    return rows


def operation_rows(operations: Sequence[Operation]) -> list[dict[str, Any]]:
    """Operation nodes as flat property maps, with the ids of their rings (``PART_OF``); pure.

    ``tools`` counts the tools the operation's rings reuse, ``tool_families`` names their
    families (absent when none: an empty list would not survive the bulk import as one).
    """
    out = []
    for op in operations:
        props = {"operator": op.operator, "operator_confidence": float(op.operator_confidence),
                 "rings": len(op.rings), "accounts": int(op.accounts), "requests": int(op.requests),
                 "score": float(op.score), "tools": sum(int(t.get("tools", 0)) for t in op.tools.values()),
                 "tool_families": sorted(op.tools) or None}
        out.append({"operation_id": op.operation_id, "ring_ids": sorted(op.rings), "props": props})
    return out


__all__ = ["BATCH_ROWS", "lineage_props", "chunk_name", "chunk_count", "batches", "columns", "prefetch", "count", "epoch", "indicator_id", "ACCOUNTS_SQL",
           "entity_sql", "incidence_sql", "IP_ASN_SQL", "link_sql", "INDICATORS_SQL", "indicator_target_sql",
           "ring_rows", "operation_rows", "open_run"]
