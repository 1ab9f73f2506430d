"""Ring lineage: which of today's rings continue, merge or split the rings earlier batches found.

A pure function of member (and tool) sets, so it is tested without files or a run.

**Continuation.** Today's ring ``N`` continues a known ring ``O`` when they share at least
:data:`MIN_SHARED` members and the shared members are at least :data:`MIN_OVERLAP` of the
smaller ring (the overlap coefficient ``|N ∩ O| / min(|N|, |O|)``). The overlap coefficient,
not Jaccard: a ring of 20 that grew to 200 in a day is the same ring, and Jaccard (0.1) would
call it new. When ``N`` shares no member with any known ring, and a known ring ``O`` was
continued by no ring today (its accounts went quiet), ``N`` continues ``O`` by tools: they
share at least :data:`MIN_SHARED_TOOLS` linking entities (cards, proxy exits, devices,
template n-grams… used by two members or more) and the Jaccard of the two tool sets is at
least :data:`MIN_TOOL_JACCARD`. Tools are a weaker tie than members (two rings of one
operation share the operation's tools), hence only between rings with no member tie at all.

**Who keeps an id.** Each known ring has one *heir*: of the rings continuing it, the one
sharing most of its members (then most tools, the larger, the smaller provisional id). A ring
that is heir of one or more known rings keeps the id of the *oldest* of them (earliest
``first_detected``, then the largest, then the smallest id); every ring it continues goes into
``previous_ids``. So:

- ``continuing``: heir of exactly one known ring, and continuing no other; keeps its id;
- ``merged``: continues two known rings or more and is heir of at least one; keeps the oldest id;
- ``split``: continues known rings but is heir of none (a larger part of its parent kept the
  id): gets its own id (the member-set id a stateless run gives), ``previous_ids`` its parents,
  and ``first_detected`` the current batch;
- ``new``: continues nothing; its own id, ``first_detected`` the current batch.

``new_members`` are the members of a ring that were in none of the rings it continues
(every member, for a new ring). Everything is sorted, so the same input gives the same ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Least shared members for a continuation, and least overlap coefficient.
MIN_SHARED = 2
MIN_OVERLAP = 0.5
#: For a continuation by tools (no member shared): least shared linking entities, least Jaccard.
MIN_SHARED_TOOLS = 3
MIN_TOOL_JACCARD = 0.5

STATUSES = ("new", "continuing", "merged", "split")


@dataclass(frozen=True)
class KnownRing:
    """A ring an earlier batch recorded in the state: its id, members, tools and first batch."""

    ring_id: str
    members: frozenset[str]
    first_detected: str
    tools: frozenset[str] = frozenset()


@dataclass(frozen=True)
class TodayRing:
    """A ring of this batch before lineage: its provisional (member-set) id, members and tools."""

    ring_id: str
    members: frozenset[str]
    tools: frozenset[str] = frozenset()


@dataclass
class Lineage:
    """Where one of today's rings comes from (``rings.json``: ``ring.lineage``)."""

    status: str
    first_detected: str
    previous_ids: list[str] = field(default_factory=list)
    new_members: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "first_detected": self.first_detected, "previous_ids": list(self.previous_ids),
                "new_members": {"count": len(self.new_members), "ids": list(self.new_members)}}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Lineage:
        new = doc.get("new_members") or {}
        ids = new.get("ids", []) if isinstance(new, Mapping) else list(new)
        return cls(status=str(doc.get("status", "new")), first_detected=str(doc.get("first_detected", "")),
                   previous_ids=[str(p) for p in doc.get("previous_ids") or []], new_members=[str(m) for m in ids])


@dataclass
class Prior:
    """What a run with state matches its rings against: the known rings and the batch it runs on.

    ``tools`` is filled by the run (``analysis.assemble``): each final ring id's linking entities,
    which the state keeps for the next batch's matching by tools.
    """

    rings: tuple[KnownRing, ...]
    batch_id: str
    tools: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Edge:
    """A continuation from known ring ``old`` to today's ring ``new``, and how strong it is."""

    new: str
    old: str
    shared_members: int
    shared_tools: int


def overlap(a: frozenset[str], b: frozenset[str]) -> float:
    """Overlap coefficient ``|a ∩ b| / min(|a|, |b|)`` (0 when either is empty)."""
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def continuations(today: Iterable[TodayRing], known: Iterable[KnownRing]) -> list[Edge]:
    """Every continuation edge (module docstring), sorted by new ring then known ring."""
    today, known = list(today), list(known)
    owner: dict[str, list[KnownRing]] = {}
    for k in known:
        for m in k.members:
            owner.setdefault(m, []).append(k)
    edges: list[Edge] = []
    for n in today:
        candidates = {k.ring_id: k for m in n.members for k in owner.get(m, ())}
        for k in candidates.values():
            shared = len(n.members & k.members)
            if shared >= MIN_SHARED and overlap(n.members, k.members) >= MIN_OVERLAP:
                edges.append(Edge(n.ring_id, k.ring_id, shared, len(n.tools & k.tools)))
    tied_new = {e.new for e in edges}
    tied_old = {e.old for e in edges}
    touched = {m for n in today for m in n.members}
    for n in today:
        if n.ring_id in tied_new or not n.tools or any(m in owner for m in n.members):
            continue
        for k in known:
            if k.ring_id in tied_old or k.members & touched or not k.tools:
                continue
            shared = len(n.tools & k.tools)
            if shared >= MIN_SHARED_TOOLS and jaccard(n.tools, k.tools) >= MIN_TOOL_JACCARD:
                edges.append(Edge(n.ring_id, k.ring_id, 0, shared))
    return sorted(edges, key=lambda e: (e.new, e.old))


def match(today: Iterable[TodayRing], known: Iterable[KnownRing], batch_id: str) -> dict[str, tuple[str, Lineage]]:
    """``{provisional id: (final ring id, lineage)}`` for every ring of today (module docstring)."""
    today = sorted(today, key=lambda n: n.ring_id)
    known_by = {k.ring_id: k for k in known}
    size = {n.ring_id: len(n.members) for n in today}
    edges = continuations(today, known_by.values())
    heir: dict[str, Edge] = {}
    for e in edges:  # the strongest continuation of each known ring inherits it
        best = heir.get(e.old)
        if best is None or _rank(e, size) < _rank(best, size):
            heir[e.old] = e
    inherits: dict[str, list[str]] = {}
    for old, e in heir.items():
        inherits.setdefault(e.new, []).append(old)
    parents: dict[str, list[str]] = {}
    for e in edges:
        parents.setdefault(e.new, []).append(e.old)
    out: dict[str, tuple[str, Lineage]] = {}
    for n in today:
        olds = sorted(parents.get(n.ring_id, []))
        before = frozenset().union(*(known_by[o].members for o in olds)) if olds else frozenset()
        fresh = sorted(n.members - before)
        kept = inherits.get(n.ring_id)
        if kept:
            oldest = min((known_by[o] for o in kept), key=lambda k: (k.first_detected, -len(k.members), k.ring_id))
            status = "merged" if len(olds) >= 2 else "continuing"
            out[n.ring_id] = (oldest.ring_id, Lineage(status, oldest.first_detected, olds, fresh))
        elif olds:
            out[n.ring_id] = (n.ring_id, Lineage("split", batch_id, olds, fresh))
        else:
            out[n.ring_id] = (n.ring_id, Lineage("new", batch_id, [], fresh))
    return out


def _rank(e: Edge, size: Mapping[str, int]) -> tuple[int, int, int, str]:
    """Smaller is stronger: most shared members, then tools, then the larger ring, then the smaller id."""
    return (-e.shared_members, -e.shared_tools, -size.get(e.new, 0), e.new)


__all__ = ["KnownRing", "TodayRing", "Lineage", "Prior", "Edge", "match", "continuations", "overlap", "jaccard",
           "MIN_SHARED", "MIN_OVERLAP", "MIN_SHARED_TOOLS", "MIN_TOOL_JACCARD", "STATUSES"]
