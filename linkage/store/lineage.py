"""Rings and operations of a later batch, added to what earlier batches stored (the default of ``load``).

A team loads day after day. Each run's rings are its view of the accounts it
saw, not of the whole history, so a later batch must not wipe the rings of
earlier ones. The rule, one statement per account and per ring:

- the run's rings are written (merged on ``ring_id``) with ``batch_id`` set to
  the run's batch and ``status: 'active'``; a ring that continues from an earlier
  batch (its ``lineage``, when the run has one, or simply the same ``ring_id``)
  keeps its node and gets the run's new members;
- a member *leaves* a ring only when the run saw the account (it is in the
  run's accounts) and put it elsewhere or nowhere: for one of the run's rings,
  its stored members the run holds but no longer places in it; for any other
  ring, its stored members the run places in a ring of its own (an account is
  in the ring the latest run that saw it put it in);
- a stored ring the run names as a predecessor (``lineage.previous_ids``) is
  kept and marked ``status: 'merged'`` (one successor) or ``'split'`` (several),
  with ``merged_into``/``successors``; one that lost every member to the run's
  rings without lineage saying so is marked ``'superseded'`` the same way;
- stored rings the run does not mention keep their node, members and marks.

Operations follow their rings: the run's are merged and take their rings'
``PART_OF``; an earlier operation left with no ring is marked ``superseded``.
So loading the same run twice changes nothing, and a load killed midway is
completed by running it again (every step re-reads what is stored).

``linkage load --replace-rings`` (and ``linkage rings``, which recomputes over
everything stored) instead make the stored rings exactly the run's
(``writeback.write_rings``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import duckdb

from ..lineage import Lineage
from ..results import Operation, Ring
from . import rows
from .load import Writer, positions
from .rows import lineage_props
from .writeback import DROP_ORPHAN_OPERATORS, MEMBERS, OPERATIONS, OPERATOR_TOTALS, RINGS


def lineages(rings: Iterable[Ring]) -> dict[str, Lineage]:
    """``ring_id → Lineage`` of the run's rings that carry one (a run of ``detect --state``); pure.

    >>> lineages([Ring("a", 0.9, 1, ["x"], None, 0.0, "u", lineage=Lineage("new", "b1")),
    ...           Ring("b", 0.9, 1, ["y"], None, 0.0, "u")])
    {'a': Lineage(status='new', first_detected='b1', previous_ids=[], new_members=[])}
    """
    return {r.ring_id: r.lineage for r in rings if r.lineage is not None}


@dataclass(frozen=True)
class RingPlan:
    """What a run changes in the stored rings besides writing its own (``plan``)."""

    #: (ring, account) memberships to drop: members that left, or moved to one of the run's rings.
    drop_members: list[tuple[str, str]]
    #: stored ring → (status, successors), for rings the run replaced.
    marks: dict[str, tuple[str, list[str]]]


def plan(stored: Mapping[str, Iterable[str]], members: Iterable[tuple[str, str]], in_run: set[str],
         lineage: Mapping[str, Lineage]) -> RingPlan:
    """The memberships a run ends and the stored rings it marks (see the module docstring); pure.

    ``stored``: ring → its stored members; ``members``: the run's (ring, account);
    ``in_run``: the stored members that are among the run's accounts.

    >>> p = plan({"r1": ["a", "b", "x"], "r2": ["c"], "old": ["z"]}, [("r1", "a"), ("r3", "c")],
    ...          {"a", "b", "c"}, {"r3": Lineage("merged", "b1", ["r2"])})
    >>> p.drop_members, p.marks
    ([('r1', 'b'), ('r2', 'c')], {'r2': ('merged', ['r3'])})
    """
    run_of: dict[str, set[str]] = {}
    for ring, account in members:
        run_of.setdefault(ring, set()).add(account)
    placed = {a for accounts in run_of.values() for a in accounts}
    drop: list[tuple[str, str]] = []
    took: dict[str, set[str]] = {}
    for ring, accounts in stored.items():
        for account in accounts:
            if ring in run_of:
                if account in in_run and account not in run_of[ring]:
                    drop.append((ring, account))
            elif account in placed:
                drop.append((ring, account))
                took.setdefault(ring, set()).update(r for r, accs in run_of.items() if account in accs)
    successors: dict[str, set[str]] = {}
    for ring, lin in lineage.items():
        for prev in lin.previous_ids:
            if prev != ring and prev in stored and prev not in run_of:
                successors.setdefault(prev, set()).add(ring)
    marks = {old: ("merged" if len(s) == 1 else "split", sorted(s)) for old, s in successors.items()}
    dropped = {(r, a) for r, a in drop}
    for ring, into in took.items():
        if ring not in marks and all((ring, a) in dropped for a in stored[ring]):
            marks[ring] = ("superseded", sorted(into))
    return RingPlan(sorted(drop), dict(sorted(marks.items())))


# --- Cypher: fixed text, values only as parameters --------------------------------------------

STORED_RINGS = """
MATCH (r:Ring)
RETURN r.ring_id AS ring_id, [(a:Account)-[:MEMBER_OF]->(r) | a.account_id] AS members
"""

DROP_MEMBERS = """
UNWIND range(0, size($ring) - 1) AS i
MATCH (:Account {account_id: $account[i]})-[m:MEMBER_OF]->(:Ring {ring_id: $ring[i]})
DELETE m
"""

#: ``ring_id``/``ring_score`` of accounts that left a ring: the best ring they are still in, else none.
RING_OF = """
UNWIND $accounts AS k
MATCH (a:Account {account_id: k})
OPTIONAL MATCH (a)-[:MEMBER_OF]->(r:Ring)
WITH a, r ORDER BY r.score DESC, r.ring_id
WITH a, collect(r)[0] AS r
SET a.ring_id = r.ring_id, a.ring_score = r.score
"""

MARK_RINGS = """
UNWIND range(0, size($ring) - 1) AS i
MATCH (r:Ring {ring_id: $ring[i]})
SET r.status = $status[i], r.successors = $successors[i],
    r.merged_into = CASE WHEN size($successors[i]) = 1 THEN $successors[i][0] ELSE null END
"""

MARK_OPERATIONS = """
MATCH (o:Operation) WHERE NOT o.operation_id IN $keep AND NOT EXISTS { (:Ring)-[:PART_OF]->(o) }
  AND coalesce(o.status, 'active') <> 'superseded'
SET o.status = 'superseded'
"""

def _in_run(con: duckdb.DuckDBPyConnection, accounts: set[str]) -> set[str]:
    """Which of ``accounts`` the run holds (its ``accounts`` view)."""
    if not accounts:
        return set()
    return {r[0] for r in con.execute("SELECT x FROM unnest(?::VARCHAR[]) t(x) SEMI JOIN accounts a "
                                      "ON a.account_id = t.x", [sorted(accounts)]).fetchall()}


def add_rings(writer: Writer, con: duckdb.DuckDBPyConnection, batch: str, rings: list[Ring],
              members: list[dict[str, str]],
              operations: list[Operation], lineage: Mapping[str, Lineage], *, size: int = rows.BATCH_ROWS) -> None:
    """Write the run's rings and operations onto the stored ones, by the rule of the module docstring.

    ``con``: the run's evidence views (which accounts the run saw).
    """
    pairs = [(m["ring_id"], m["account_id"]) for m in members]
    with writer.step("rings", len(rings), nodes_per_row=1, rels_per_row=1) as step:
        ring_rows = rows.ring_rows(rings)
        for row in ring_rows:
            row["props"] = {**row["props"], "status": "active", "batch_id": batch}  # lineage: rows.ring_rows
        for i in range(0, len(ring_rows), 1000):
            writer.query("rings", RINGS, {"rows": ring_rows[i:i + 1000]})
            step.sent(len(ring_rows[i:i + 1000]))
    score = {r.ring_id: r.score for r in rings}
    with writer.step("MEMBER_OF relationships", len(members)) as step:
        for i in range(0, len(pairs), size):
            part = pairs[i:i + size]
            ring_ids, ri = positions([r for r, _ in part])
            writer.query("members", MEMBERS, {"rings": ring_ids, "ri": ri, "account_id": [a for _, a in part],
                                              "score": [score.get(r) for r, _ in part]})
            step.sent(len(part))
    with writer.step("ring lineage", rels_per_row=0) as step:
        stored = {r["ring_id"]: r["members"] for r in writer.query("stored rings", STORED_RINGS)}
        todo = plan(stored, pairs, _in_run(con, {a for accs in stored.values() for a in accs}), lineage)
        marked = list(todo.marks.items())  # marked before members leave: a re-run after a kill plans the same
        for i in range(0, len(marked), 1000):
            marks = marked[i:i + 1000]
            writer.query("mark rings", MARK_RINGS, {"ring": [r for r, _ in marks], "status": [s for _, (s, _) in marks],
                                                    "successors": [succ for _, (_, succ) in marks]})
        for i in range(0, len(todo.drop_members), size):
            left = todo.drop_members[i:i + size]

            def work(tx: Any, part: list[tuple[str, str]] = left) -> None:
                tx.run(DROP_MEMBERS, ring=[r for r, _ in part], account=[a for _, a in part]).consume()
                tx.run(RING_OF, accounts=sorted({a for _, a in part})).consume()
            writer.write("members left", work)
        step.sent(len(todo.drop_members) + len(marked), left=len(todo.drop_members), marked=len(marked))
        writer.query("unattributed operators", DROP_ORPHAN_OPERATORS)
        writer.query("operator totals", OPERATOR_TOTALS)
    op_rows = rows.operation_rows(operations)
    for row in op_rows:  # active in this batch, as its rings are; written by the full load's statement
        row["props"] = {**row["props"], "status": "active", "batch_id": batch}
    with writer.step("operations", len(op_rows), nodes_per_row=1, rels_per_row=0) as step:
        for i in range(0, len(op_rows), 1000):
            writer.query("operations", OPERATIONS, {"rows": op_rows[i:i + 1000]})
            step.sent(len(op_rows[i:i + 1000]))
        writer.query("superseded operations", MARK_OPERATIONS, {"keep": [r["operation_id"] for r in op_rows]})


__all__ = ["lineages", "lineage_props", "RingPlan", "plan", "add_rings"]
