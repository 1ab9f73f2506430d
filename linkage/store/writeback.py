"""``LINKED`` and rings, written over what is stored: shared by ``load`` and ``rings``.

A batch (``load``) writes the pairs its run links and nothing else
(``write_links``): a new pair is created, a stored pair takes the run's
weights, and every other stored pair stays. A batch's run sees its own
requests (and, with ``--state``, a window of earlier ones): that it does not
link two accounts says nothing of the evidence an earlier batch found for them,
a card they shared in April or addresses they used before the window. At seed
scale, deleting what a day's run did not link removed 292k of the quarter's
links between accounts active that day, and took most of the load's ``LINKED``
time. Rows travel sorted by start account (``LINKED`` always points from the
smaller account id to the larger, as ``rows.link_sql`` orders them); accounts
with no stored link get their pairs created, the others merged. Idempotent and
kill-safe: a re-run writes the same properties again.

``linkage rings`` recomputes over every batch stored, so its links are the
whole truth about the pairs among its accounts: ``replace_links`` makes the
stored pairs exactly the run's, per chunk of start accounts, reading the
stored links leaving them and writing the difference (creates the new pairs,
sets the changed ones, deletes the pairs the recompute no longer links),
with no global clear (clearing every link took 67 s of a 255 s seed-scale day).

``write_rings`` replaces (the stored assignment is exactly the run's
afterwards): ``linkage rings``, which recomputes over everything stored, and
``linkage load --replace-rings``. It writes a difference too: only the stored
rings and memberships are read, never every account. Operations (``PART_OF``)
follow their rings the same way: stale ones go, the run's are merged. A plain
``linkage load`` adds the run's rings to the stored ones instead (``lineage``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import duckdb

from .. import families
from ..config import Config
from ..results import Operation, Ring
from . import rows
from .load import Writer, count_rels, known, lookup, positions, split, unwind, with_rels

if TYPE_CHECKING:
    import neo4j

#: Cost units per chunk: one per start account plus one per link it starts.
LINK_CHUNK = rows.BATCH_ROWS

STORED_LINKS = """
UNWIND $starts AS k
MATCH (a:Account {account_id: k})-[l:LINKED]->(b:Account)
RETURN k AS a, b.account_id AS b, elementId(l) AS id, properties(l) AS props
"""

DELETE_LINKS = "UNWIND $ids AS id MATCH ()-[l:LINKED]->() WHERE elementId(l) = id DELETE l"


def _props_map(names: tuple[str, ...]) -> str:
    return "{" + ", ".join(f"{n}: {n}" for n in names) + "}"


def _pairs(names: tuple[str, ...], verb: str) -> str:
    """``LINKED`` pairs given as positions into accounts each looked up once; ``verb``: CREATE or MERGE."""
    assert verb in ("CREATE", "MERGE")
    return f"""
{lookup('x', 'Account', 'account_id', 'accounts')}
{unwind('ai', 'bi', *names, carry='x_at')}
WITH x_at[ai][0] AS a, x_at[bi][0] AS b, {', '.join(names)} WHERE a IS NOT NULL AND b IS NOT NULL
{verb} (a)-[l:LINKED]->(b)
SET l = {_props_map(names)}
"""


def create_links(names: tuple[str, ...]) -> str:
    """New ``LINKED`` pairs: each account looked up once, then addressed by position."""
    return _pairs(names, "CREATE")


def merge_links(names: tuple[str, ...]) -> str:
    """The run's pairs among accounts that have stored links: created when absent, given the run's properties."""
    return _pairs(names, "MERGE")


def update_links(names: tuple[str, ...]) -> str:
    """Stored pairs whose properties changed: replaced by the run's (a family it does not weigh goes)."""
    return f"""
{unwind('id', *names)}
MATCH ()-[l:LINKED]->() WHERE elementId(l) = id
SET l = {_props_map(names)}
"""


def link_props(config: Config) -> tuple[str, ...]:
    return ("weight", "signals", *(f"w_{f}" for f in families.weighted(config)))


def diff_links(new: dict[tuple[str, str], dict[str, Any]], stored: dict[tuple[str, str], tuple[str, dict[str, Any]]]
               ) -> tuple[list[tuple[str, str]], list[tuple[str, dict[str, Any]]], list[str]]:
    """(pairs to create, (element id, properties) to set, element ids to delete); pure.

    ``new``: the run's pairs and their properties; ``stored``: the stored pairs
    the run touched, with element id and properties. Null properties count as absent.

    >>> diff_links({("a", "b"): {"weight": 1.0}, ("a", "c"): {"weight": 2.0}},
    ...            {("a", "b"): ("r1", {"weight": 1.0}), ("a", "c"): ("r2", {"weight": 3.0}),
    ...             ("a", "d"): ("r3", {"weight": 1.0})})
    ([], [('r2', {'weight': 2.0})], ['r3'])
    """

    def clean(props: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in props.items() if v is not None}

    create = [pair for pair in new if pair not in stored]
    update = [(stored[pair][0], props) for pair, props in new.items()
              if pair in stored and clean(stored[pair][1]) != clean(props)]
    delete = [eid for pair, (eid, _) in stored.items() if pair not in new]
    return create, update, delete


def _link_chunks(con: duckdb.DuckDBPyConnection, config: Config, size: int) -> int:
    """Temp tables ``link_starts(account_id, chunk)`` and ``link_rows`` (the run's links by chunk); chunk count."""
    con.execute(f"""CREATE OR REPLACE TEMP TABLE link_starts AS
        WITH deg AS (SELECT a.account_id, count(l.a) AS n FROM accounts a LEFT JOIN links l ON l.a = a.aid
                     GROUP BY a.account_id)
        SELECT account_id, CAST((sum(1 + n) OVER (ORDER BY account_id) - 1 - n) // {int(size)} AS BIGINT) AS chunk
        FROM deg ORDER BY chunk, account_id""")
    con.execute(f"""CREATE OR REPLACE TEMP TABLE link_rows AS
        SELECT s.chunk, l.* FROM ({rows.link_sql(config)}) l JOIN link_starts s ON s.account_id = l.a
        ORDER BY s.chunk, l.a, l.b""")
    return int(con.execute("SELECT coalesce(max(chunk) + 1, 0) FROM link_starts").fetchall()[0][0])


def write_links(writer: Writer, con: duckdb.DuckDBPyConnection, config: Config, *, size: int = LINK_CHUNK) -> None:
    """Write the run's ``links`` as ``LINKED`` pairs; stored pairs the run does not link stay as they are."""
    names = link_props(config)
    sql = f"SELECT a, b, {', '.join(names)} FROM ({rows.link_sql(config)}) ORDER BY a, b"
    with writer.step("LINKED relationships", rows.count(con, sql)) as step:
        for cols in rows.prefetch(rows.columns(con.cursor(), sql, size=size)):
            counts = step.write(functools.partial(_write_run_links, names=names, cols=cols))
            step.sent(len(cols["a"]), **counts)


def _write_run_links(tx: neo4j.ManagedTransaction, names: tuple[str, ...], cols: dict[str, list[Any]]
                     ) -> dict[str, int]:
    """One chunk of the run's pairs: those of accounts with no stored link created as they come, the rest merged."""
    starts = sorted(set(cols["a"]))
    seen = known(tx, starts, with_rels("Account", "account_id", "LINKED"), count_rels("LINKED"))
    created = 0
    for is_new, part in zip((True, False), split(cols, "a", seen)):
        if part["a"]:
            accounts, at = positions(part["a"] + part["b"])
            n = len(part["a"])
            summary = tx.run(create_links(names) if is_new else merge_links(names),
                             {"accounts": accounts, "ai": at[:n], "bi": at[n:], **{c: part[c] for c in names}}).consume()
            created += summary.counters.relationships_created
    return {"created": created, "updated": len(cols["a"]) - created}


def replace_links(writer: Writer, con: duckdb.DuckDBPyConnection, config: Config, *, size: int = LINK_CHUNK) -> None:
    """Make the stored ``LINKED`` pairs among the run's accounts (``accounts``) exactly the run's ``links``."""
    names = link_props(config)
    chunks = _link_chunks(con, config, size)
    total = int(con.execute("SELECT count(*) FROM link_rows").fetchall()[0][0])
    with writer.step("LINKED relationships", total) as step:
        for k in range(chunks):
            starts = [r[0] for r in con.execute("SELECT account_id FROM link_starts WHERE chunk = ? ORDER BY 1",
                                                [k]).fetchall()]
            cols = con.sql(f"SELECT a, b, {', '.join(names)} FROM link_rows WHERE chunk = ? ORDER BY a, b",
                           params=[k]).to_arrow_table().to_pydict()
            counts = step.write(functools.partial(_write_link_chunk, con=con, names=names, starts=starts, cols=cols))
            step.sent(len(cols["a"]), **counts)


def _write_link_chunk(tx: neo4j.ManagedTransaction, con: duckdb.DuckDBPyConnection, names: tuple[str, ...],
                      starts: list[str], cols: dict[str, list[Any]]) -> dict[str, int]:
    """One chunk in one transaction: read the stored pairs it touches, write the difference.

    When none of the chunk's start accounts has a stored link (a first load, or accounts new to
    the graph), every row is new and goes as it came, as columns: no per-row dictionaries.
    """
    stored_rows = list(tx.run(STORED_LINKS, starts=starts))
    if not stored_rows:
        if cols["a"]:
            accounts, at = positions(cols["a"] + cols["b"])
            n = len(cols["a"])
            tx.run(create_links(names), {"accounts": accounts, "ai": at[:n], "bi": at[n:],
                                         **{c: cols[c] for c in names}}).consume()
        return {"created": len(cols["a"]), "updated": 0, "deleted": 0}
    new = {(a, b): {c: cols[c][i] for c in names} for i, (a, b) in enumerate(zip(cols["a"], cols["b"]))}
    ends = sorted({r["b"] for r in stored_rows})
    in_run = {r[0] for r in con.execute("SELECT x FROM unnest(?::VARCHAR[]) t(x) SEMI JOIN accounts a "
                                        "ON a.account_id = t.x", [ends]).fetchall()} if ends else set()
    stored = {(r["a"], r["b"]): (r["id"], r["props"]) for r in stored_rows if r["b"] in in_run}
    create, update, delete = diff_links(new, stored)
    if delete:
        tx.run(DELETE_LINKS, ids=delete).consume()
    if update:
        changed: dict[str, list[Any]] = {"id": [eid for eid, _ in update]}
        changed.update({n: [props.get(n) for _, props in update] for n in names})
        tx.run(update_links(names), changed).consume()
    if create:
        accounts, at = positions([a for a, _ in create] + [b for _, b in create])
        params: dict[str, list[Any]] = {"accounts": accounts, "ai": at[:len(create)], "bi": at[len(create):]}
        params.update({n: [new[pair][n] for pair in create] for n in names})
        tx.run(create_links(names), params).consume()
    return {"created": len(create), "updated": len(update), "deleted": len(delete)}


# --- rings ---------------------------------------------------------------------------------

STORED_RINGS = """
MATCH (r:Ring)
RETURN r.ring_id AS ring_id, [(a:Account)-[:MEMBER_OF]->(r) | a.account_id] AS members
"""

DROP_MEMBERS = """
UNWIND range(0, size($ring) - 1) AS i
MATCH (a:Account {account_id: $account[i]})-[m:MEMBER_OF]->(r:Ring {ring_id: $ring[i]})
DELETE m
WITH a WHERE NOT EXISTS { (a)-[:MEMBER_OF]->() }
REMOVE a.ring_id, a.ring_score
"""

DROP_RINGS = "UNWIND $ids AS id MATCH (r:Ring {ring_id: id}) DETACH DELETE r"

RINGS = """
UNWIND $rows AS row
MERGE (r:Ring {ring_id: row.ring_id})
SET r = row.props, r.ring_id = row.ring_id
MERGE (o:Operator {name: row.operator_node})
ON CREATE SET o.known = row.known
WITH r, o, row
OPTIONAL MATCH (r)-[old:ATTRIBUTED_TO]->(other:Operator) WHERE other <> o
WITH r, o, row, collect(old) AS olds
FOREACH (x IN olds | DELETE x)
MERGE (r)-[t:ATTRIBUTED_TO]->(o)
SET t.confidence = row.confidence
"""

MEMBERS = f"""
{lookup('r', 'Ring', 'ring_id', 'rings')}
{unwind('account_id', 'ri', 'score', carry='r_at')}
MATCH (a:Account {{account_id: account_id}})
WITH a, r_at[ri][0] AS r, score WHERE r IS NOT NULL
MERGE (a)-[:MEMBER_OF]->(r)
SET a.ring_id = r.ring_id, a.ring_score = score
"""

DROP_ORPHAN_OPERATORS = """
MATCH (o:Operator) WHERE NOT coalesce(o.known, false) AND NOT EXISTS { (o)<-[:ATTRIBUTED_TO]-(:Ring) }
DETACH DELETE o
"""

OPERATOR_TOTALS = """
MATCH (o:Operator)
OPTIONAL MATCH (o)<-[:ATTRIBUTED_TO]-(r:Ring)
WITH o, count(r) AS rings, sum(r.size) AS accounts
SET o.rings = rings, o.accounts = coalesce(accounts, 0)
"""


STORED_OPERATIONS = "MATCH (o:Operation) RETURN o.operation_id AS id"

DROP_OPERATIONS = "UNWIND $ids AS id MATCH (o:Operation {operation_id: id}) DETACH DELETE o"

OPERATIONS = """
UNWIND $rows AS row
MERGE (o:Operation {operation_id: row.operation_id})
SET o = row.props, o.operation_id = row.operation_id
WITH o, row
UNWIND row.ring_ids AS id
MATCH (r:Ring {ring_id: id})
OPTIONAL MATCH (r)-[old:PART_OF]->(other:Operation) WHERE other <> o
DELETE old
MERGE (r)-[:PART_OF]->(o)
"""


def ring_diff(stored: dict[str, list[str]], rings: list[Ring], members: list[dict[str, str]]
              ) -> tuple[list[str], list[tuple[str, str]]]:
    """(stored rings to delete, stored (ring, account) memberships to drop) so only ``rings`` remain; pure.

    Memberships of deleted rings are dropped too, so their accounts lose ``ring_id``.

    >>> ring_diff({"r1": ["a", "b"], "r2": ["c"]}, [], [{"ring_id": "r1", "account_id": "a"}])
    (['r1', 'r2'], [('r1', 'b'), ('r2', 'c')])
    """
    keep = {r.ring_id for r in rings}
    now = {(m["ring_id"], m["account_id"]) for m in members}
    drop_rings = sorted(set(stored) - keep)
    drop_members = sorted((r, a) for r, accounts in stored.items() for a in accounts if (r, a) not in now)
    return drop_rings, drop_members


def write_rings(writer: Writer, rings: list[Ring], members: list[dict[str, str]], operations: Sequence[Operation] = (), *,
                size: int = rows.BATCH_ROWS) -> None:
    """Make the stored rings, memberships, operations and unattributed operators exactly the run's."""
    with writer.step("rings", len(rings), nodes_per_row=1, rels_per_row=1) as step:
        stored = {r["ring_id"]: r["members"] for r in writer.query("stored rings", STORED_RINGS)}
        drop_rings, drop_members = ring_diff(stored, rings, members)
        for i in range(0, len(drop_members), size):
            part = drop_members[i:i + size]
            writer.query("drop memberships", DROP_MEMBERS, {"ring": [r for r, _ in part], "account": [a for _, a in part]})
        for i in range(0, len(drop_rings), 1000):
            writer.query("drop rings", DROP_RINGS, {"ids": drop_rings[i:i + 1000]})
        ring_rows = rows.ring_rows(rings)
        for i in range(0, len(ring_rows), 1000):
            writer.query("rings", RINGS, {"rows": ring_rows[i:i + 1000]})
            step.sent(len(ring_rows[i:i + 1000]))
        writer.query("unattributed operators", DROP_ORPHAN_OPERATORS)
    score = {r.ring_id: r.score for r in rings}
    with writer.step("MEMBER_OF relationships", len(members)) as step:
        for i in range(0, len(members), size):
            chunk = members[i:i + size]
            ring_ids, ri = positions([m["ring_id"] for m in chunk])
            writer.query("members", MEMBERS, {"rings": ring_ids, "ri": ri, "account_id": [m["account_id"] for m in chunk],
                                              "score": [score.get(m["ring_id"]) for m in chunk]})
            step.sent(len(chunk))
        writer.query("operator totals", OPERATOR_TOTALS)
    write_operations(writer, operations)


def write_operations(writer: Writer, operations: Sequence[Operation]) -> None:
    """Operation nodes and their rings' ``PART_OF``, replacing the stored ones (rings are written first)."""
    op_rows = rows.operation_rows(operations)
    with writer.step("operations", len(op_rows), nodes_per_row=1, rels_per_row=0) as step:
        keep = {r["operation_id"] for r in op_rows}
        stale = sorted(r["id"] for r in writer.query("stored operations", STORED_OPERATIONS) if r["id"] not in keep)
        for i in range(0, len(stale), 1000):
            writer.query("drop operations", DROP_OPERATIONS, {"ids": stale[i:i + 1000]})
        for i in range(0, len(op_rows), 1000):
            writer.query("operations", OPERATIONS, {"rows": op_rows[i:i + 1000]})
            step.sent(len(op_rows[i:i + 1000]))


__all__ = ["write_links", "merge_links", "replace_links", "write_rings", "write_operations", "diff_links", "ring_diff", "link_props", "create_links", "update_links"]
