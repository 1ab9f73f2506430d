"""A ``linkage detect`` run as export sees it: flagged rings grouped by actor and by operation.

The folder is read by :class:`linkage.run.RunFolder` (typed rings, the run's own config, evidence
as DuckDB views), so selecting indicators is SQL over Parquet and a seed-scale run is never pulled
into Python. Two groupings of the flagged rings travel:

- an **actor** per intrusion set: the rings' operator, or the run's ``unattributed-…`` cluster for
  an operation found without a name (``Ring.cluster``). Indicators indicate actors, because the
  receiving lab reads an intrusion set's name as an intel operator;
- an **operation** (``linkage.operations``: the rings one operator runs, tied by reused tools) per
  campaign, attributed to the actors its rings fall under. When only some rings of an operation
  carry their own intel, this is what tells the receiving lab they belong together.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd

from ..config import Config
from ..results import Ring
from ..run import RunFolder

#: Evidence tables export reads.
EVIDENCE = ("accounts", "incidence", "entities", "shingle_texts")


@dataclass(frozen=True)
class Actor:
    """The flagged rings one intrusion set stands for: an intel operator's, or one unattributed cluster's."""

    key: str  # Ring.cluster: the operator's name, else the run's ``unattributed-…`` cluster
    operator: str | None
    ring_ids: tuple[str, ...]
    accounts: int
    requests: int
    first_seen: str | None
    last_seen: str | None


@dataclass(frozen=True)
class Campaign:
    """One of the run's operations, as a campaign attributed to the actors of its rings."""

    operation_id: str
    actors: tuple[str, ...]
    ring_ids: tuple[str, ...]
    accounts: int
    requests: int
    first_seen: str | None
    last_seen: str | None
    #: Per family, how many tools (entities used mostly by its rings) the operation reuses.
    tools: dict[str, int]


@dataclass
class Run:
    """A detect output folder, opened for export.

    ``con`` has views ``accounts``, ``incidence``, ``entities``, ``shingle_texts`` and table
    ``export_members(ring_id, actor, aid)`` holding the flagged rings' members.
    """

    folder: RunFolder
    con: duckdb.DuckDBPyConnection
    rings: list[Ring]
    actors: dict[str, Actor]
    campaigns: dict[str, Campaign]
    config: Config
    batch_id: str
    #: End of the batch's observations: the fixed ``modified`` time of every exported object.
    observed_until: dt.datetime


def read_run(out: str | Path) -> Run:
    """Open the detect output folder ``out``; raise InputError naming what is missing."""
    folder = RunFolder(out, need=EVIDENCE)
    config = folder.config
    # rings.json lists flagged rings only; the threshold check keeps that true if it ever lists more.
    rings = [r for r in folder.rings if r.score >= config.threshold]
    con = folder.connect(EVIDENCE)
    members = pd.DataFrame([(r.ring_id, r.cluster, str(a)) for r in rings for a in r.members],
                           columns=["ring_id", "actor", "account_id"])
    con.register("members_df", members)
    con.execute("""CREATE TABLE export_members AS SELECT m.ring_id, m.actor, a.aid
                   FROM members_df m JOIN accounts a USING (account_id)""")
    con.unregister("members_df")
    until = con.execute("SELECT max(last_seen) FROM accounts").fetchall()[0][0]
    if until is None:
        until = pd.Timestamp(folder.doc.get("generated_at") or "1970-01-01T00:00:00Z").to_pydatetime()
    return Run(folder=folder, con=con, rings=rings, actors=_actors(rings), campaigns=_campaigns(folder, rings),
               config=config, batch_id=str((folder.doc.get("input") or {}).get("batch_id") or ""),
               observed_until=until.astimezone(dt.timezone.utc).replace(microsecond=0))


def _span(rings: list[Ring]) -> tuple[str | None, str | None]:
    firsts = [r.first_seen for r in rings if r.first_seen]
    lasts = [r.last_seen for r in rings if r.last_seen]
    return (min(firsts) if firsts else None), (max(lasts) if lasts else None)


def _actors(rings: list[Ring]) -> dict[str, Actor]:
    groups: dict[str, list[Ring]] = {}
    for ring in rings:
        groups.setdefault(ring.cluster, []).append(ring)
    return {key: Actor(key, group[0].operator, tuple(sorted(r.ring_id for r in group)),
                       sum(r.size for r in group), sum(r.requests for r in group), *_span(group))
            for key, group in sorted(groups.items())}


def _campaigns(folder: RunFolder, rings: list[Ring]) -> dict[str, Campaign]:
    """One per operation of the flagged rings (none for a run older than operations)."""
    tools = {o.operation_id: o.tools for o in folder.operations}
    groups: dict[str, list[Ring]] = {}
    for ring in rings:
        if ring.operation:
            groups.setdefault(ring.operation, []).append(ring)
    return {op: Campaign(op, tuple(sorted({r.cluster for r in group})), tuple(sorted(r.ring_id for r in group)),
                         sum(r.size for r in group), sum(r.requests for r in group), *_span(group),
                         tools={f: int(t.get("tools") or 0) for f, t in sorted((tools.get(op) or {}).items())
                                if isinstance(t, dict) and t.get("tools")})
            for op, group in sorted(groups.items())}


__all__ = ["Actor", "Campaign", "Run", "read_run"]
